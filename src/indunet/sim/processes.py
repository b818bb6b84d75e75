"""What goes on inside each kind of machine: duty cycles that drive its points.

A process updates named variables (``Process.vars``) once per step: fractions in ``[0, 1]``
(``load``, ``speed``), states (``running``), counters (``parts``) or physical values in the
units of the point they feed (``pressure`` in the pressure point's unit, ``lat``/``lon``).
Points then follow these variables through the rules in ``behaviours.py``.
"""

from __future__ import annotations

import itertools
import math
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from indunet.core import Conflict, InvalidInput
from indunet.devices import ThingModel

# Local time of the plants (Asia/Shanghai has no daylight saving): UTC+8.
_UTC_OFFSET_S = 8 * 3600
# Plant electrical load over a working day: (hour, fraction of peak), linearly interpolated.
_DAY_LOAD = (
    (0.0, 0.28),
    (6.0, 0.3),
    (7.5, 0.75),
    (10.5, 0.95),
    (12.0, 0.85),
    (12.5, 0.6),
    (13.5, 0.9),
    (16.0, 0.95),
    (18.0, 0.7),
    (20.0, 0.45),
    (24.0, 0.28),
)
# Ambient temperature over the day as a fraction: coldest before dawn, warmest mid-afternoon.
_DAY_WARMTH = ((0.0, 0.25), (5.5, 0.0), (14.5, 1.0), (24.0, 0.25))
# Where the excavators work: construction sites around Xiamen (厦门), Fujian.
XIAMEN = (24.53, 118.13)
_M_PER_DEG_LAT = 111_320.0


def local_hour(now: float) -> float:
    """Hour of the day (0–24, fractional) in China Standard Time for a Unix time."""
    return ((now + _UTC_OFFSET_S) % 86_400) / 3600.0


def _interpolate(table: tuple[tuple[float, float], ...], x: float) -> float:
    for (x0, y0), (x1, y1) in itertools.pairwise(table):
        if x0 <= x <= x1:
            return y0 + (y1 - y0) * (x - x0) / (x1 - x0)
    return table[-1][1]


def day_load(now: float) -> float:
    """The plant's electrical load shape (fraction of peak) at a Unix time."""
    return _interpolate(_DAY_LOAD, local_hour(now))


def day_warmth(now: float) -> float:
    """How warm the day is (0 before dawn, 1 mid-afternoon) at a Unix time."""
    return _interpolate(_DAY_WARMTH, local_hour(now))


@dataclass
class Process:
    """The state of one machine's process; ``vars`` feed the point rules."""

    model: ThingModel
    rng: random.Random
    setpoints: dict[str, Any] = field(default_factory=dict)
    vars: dict[str, float] = field(default_factory=dict)
    memo: dict[str, Any] = field(default_factory=dict)
    now: float = 0.0
    dt: float = 1.0

    def timer(self, name: str) -> bool:
        """Count a timer down by one step; True when it has run out."""
        left = float(self.memo.get(name, 0.0)) - self.dt
        self.memo[name] = left
        return left <= 0

    def setpoint(self, name: str | None, default: float) -> float:
        """The current value of a writable point, or ``default`` when the model has none."""
        if name is None or name not in self.setpoints:
            return default
        return float(self.setpoints[name])


ProcessStep = Callable[[Process], None]


def _cnc_init(p: Process) -> None:
    v, m, rng = p.vars, p.memo, p.rng
    if "programs" in m:
        return
    m["programs"] = {
        1000 + i: [(rng.uniform(0.35, 0.95), rng.uniform(8, 45)) for _ in range(rng.randint(3, 6))]
        for i in range(1, 9)
    }
    v.update(running=0.0, state=0.0, program=1001.0, speed=0.0, feed=0.0, load=0.05)
    v["parts"] = float(rng.randint(0, 5000))
    v["run_hours"] = rng.uniform(500, 20_000)
    m["state"], m["idle"], m["program"], m["step"] = "idle", rng.uniform(0, 60), 1001, 0


def cnc_command(p: Process, name: str) -> dict[str, str]:
    """Operate a CNC machine: ``start`` a batch, ``stop`` it, ``reset`` an alarm."""
    _cnc_init(p)
    m = p.memo
    if name == "start":
        if m["state"] == "alarm":
            raise Conflict("the machine is in alarm: reset it before starting")
        if m["state"] != "running":
            m["state"], m["idle"] = "idle", 0.0  # starts a batch at the next step
    elif name == "stop":
        m["state"] = "stopped"
    elif name == "reset":
        if m["state"] == "alarm":
            m["state"], m["idle"] = "idle", p.rng.uniform(30, 120)
    else:
        raise InvalidInput(f"a CNC machine has no action {name!r}")
    return {"state": m["state"]}


def cnc(p: Process, feed_point: str | None = None) -> None:
    """A CNC machine: runs programs (~80% of the time), each a sequence of spindle speed steps."""
    _cnc_init(p)
    v, m, rng = p.vars, p.memo, p.rng
    feed = p.setpoint(feed_point, 100.0) / 100.0
    if m["state"] == "idle" and p.timer("idle"):
        m["state"], m["program"] = "running", rng.choice(list(m["programs"]))
        m["batch"], m["step"] = rng.randint(4, 16), 0
        m["step_left"] = m["programs"][m["program"]][0][1]
    elif m["state"] == "alarm" and p.timer("alarm"):
        m["state"], m["idle"] = "idle", rng.uniform(30, 120)
    if m["state"] == "running":
        steps = m["programs"][m["program"]]
        m["step_left"] -= p.dt * max(feed, 0.05)
        if m["step_left"] <= 0:
            m["step"] += 1
            if m["step"] >= len(steps):  # one part done
                m["step"], v["parts"] = 0, v["parts"] + 1
                m["batch"] -= 1
            if m["batch"] <= 0:
                if rng.random() < 0.05:
                    m["state"], m["alarm"] = "alarm", rng.uniform(60, 300)
                else:
                    m["state"], m["idle"] = "idle", rng.uniform(60, 420)
            else:
                m["step_left"] += steps[m["step"]][1]
    running = m["state"] == "running"
    speed = m["programs"][m["program"]][m["step"]][0] if running else 0.0
    v["running"] = 1.0 if running else 0.0
    v["state"] = {"idle": 0.0, "stopped": 0.0, "running": 1.0, "alarm": 2.0}[m["state"]]
    v["program"] = float(m["program"])
    v["speed"] = speed
    v["feed"] = min(1.0, speed * feed) if running else 0.0
    v["load"] = min(1.0, 0.08 + 0.8 * speed * feed + rng.gauss(0, 0.02)) if running else 0.05
    v["run_hours"] += p.dt / 3600.0 if running else 0.0


def compressor(p: Process, pressure: tuple[float, float], setpoint_point: str | None) -> None:
    """An air compressor: loads until the upper pressure, unloads until the lower (a sawtooth)."""
    v, m, rng = p.vars, p.memo, p.rng
    lo_range, hi_range = pressure
    span = hi_range - lo_range
    upper = min(hi_range, p.setpoint(setpoint_point, lo_range + 0.7 * span))
    band = 0.07 * span
    if "pressure" not in v:
        v["pressure"] = upper - rng.uniform(0, band)
        v["loaded"], v["running"] = 1.0, 1.0
        v["run_hours"] = rng.uniform(1000, 30_000)
        v["load_hours"] = v["run_hours"] * rng.uniform(0.5, 0.7)
        m["capacity"] = rng.uniform(0.8, 1.2)
    demand = min(1.0, 0.35 + 0.55 * day_load(p.now) + rng.gauss(0, 0.03))
    v["demand"] = demand
    rise = band / 25.0 * m["capacity"]
    fall = band / 40.0 * demand
    if v["loaded"]:
        v["pressure"] += (rise - fall) * p.dt
        if v["pressure"] >= upper:
            v["pressure"], v["loaded"] = upper, 0.0
    else:
        v["pressure"] -= fall * p.dt
        if v["pressure"] <= upper - band:
            v["pressure"], v["loaded"] = upper - band, 1.0
    v["pressure"] = min(hi_range, max(lo_range, v["pressure"]))
    v["load"] = 0.9 + rng.gauss(0, 0.02) if v["loaded"] else 0.28 + rng.gauss(0, 0.01)
    v["run_hours"] += p.dt / 3600.0
    v["load_hours"] += p.dt / 3600.0 if v["loaded"] else 0.0


def power_meter(p: Process) -> None:
    """A power meter on a feeder: follows the plant's load over the day, with wander."""
    v, m, rng = p.vars, p.memo, p.rng
    if "share" not in m:
        m["share"], m["wander"] = rng.uniform(0.55, 0.95), 0.0
        v["energy"] = rng.uniform(1e4, 5e5)
    m["wander"] += -0.02 * m["wander"] * p.dt + rng.gauss(0, 0.01) * math.sqrt(p.dt)
    v["plant"] = max(0.02, min(1.0, m["share"] * day_load(p.now) + m["wander"]))
    v["load"] = v["plant"]


def excavator(p: Process) -> None:
    """An excavator on a site near Xiamen: digs in cycles, idles, travels between spots."""
    v, m, rng = p.vars, p.memo, p.rng
    if "site" not in m:
        lat0, lon0 = XIAMEN
        m["site"] = (lat0 + rng.uniform(-0.12, 0.12), lon0 + rng.uniform(-0.15, 0.15))
        v["lat"], v["lon"] = m["site"]
        v["fuel"] = rng.uniform(0.4, 1.0)
        v["engine_hours"] = rng.uniform(200, 12_000)
        m["state"], m["left"], m["phase"] = "idle", rng.uniform(5, 60), rng.uniform(0, 20)
    m["left"] -= p.dt
    if m["left"] <= 0:
        m["state"] = rng.choices(["working", "idle", "travelling"], [0.6, 0.25, 0.15])[0]
        m["left"] = {"working": (300, 1200), "idle": (60, 300), "travelling": (30, 150)}[m["state"]]
        m["left"] = rng.uniform(*m["left"])
        if m["state"] == "travelling":
            lat0, lon0 = m["site"]
            r, a = 250 * math.sqrt(rng.random()), rng.uniform(0, 2 * math.pi)
            m["target"] = (
                lat0 + r * math.cos(a) / _M_PER_DEG_LAT,
                lon0 + r * math.sin(a) / (_M_PER_DEG_LAT * math.cos(math.radians(lat0))),
            )
    locked = bool(m.get("locked"))  # remotely locked: engine off, nothing moves
    state = "idle" if locked else m["state"]
    m["phase"] = (m["phase"] + p.dt) % 20.0
    if state == "working":
        cycle = 0.5 + 0.5 * math.sin(2 * math.pi * m["phase"] / 20.0)
        v["engine"], v["hydraulic"] = 0.75 + 0.15 * cycle, 0.35 + 0.6 * cycle
    elif state == "travelling":
        v["engine"], v["hydraulic"] = 0.7, 0.25
        lat, lon = v["lat"], v["lon"]
        tlat, tlon = m["target"]
        dy = (tlat - lat) * _M_PER_DEG_LAT
        dx = (tlon - lon) * _M_PER_DEG_LAT * math.cos(math.radians(lat))
        dist = math.hypot(dx, dy)
        step = min(dist, 1.2 * p.dt)  # ~4 km/h crawler speed
        if dist > 0:
            v["lat"] += (dy / dist) * step / _M_PER_DEG_LAT
            v["lon"] += (dx / dist) * step / (_M_PER_DEG_LAT * math.cos(math.radians(lat)))
    else:
        v["engine"], v["hydraulic"] = 0.3, 0.05
    if locked:
        v["engine"], v["hydraulic"] = 0.0, 0.0
    v["working"] = 1.0 if state == "working" else 0.0
    v["state"] = {"idle": 0.0, "working": 1.0, "travelling": 2.0}[state]
    v["load"] = v["engine"]
    v["fuel"] -= 2.2e-5 * v["engine"] * p.dt
    if v["fuel"] < 0.08:
        v["fuel"] = rng.uniform(0.9, 1.0)  # the bowser came by
    v["engine_hours"] += p.dt / 3600.0 if v["engine"] > 0 else 0.0


def env_sensor(p: Process) -> None:
    """An environment sensor in a workshop: slow drift with the day's warmth and activity."""
    v = p.vars
    v["warmth"] = day_warmth(p.now)
    v["activity"] = day_load(p.now)
    v["load"] = v["activity"]


def idle(p: Process) -> None:
    """A machine with no known process: a slow random wander of its load."""
    v = p.vars
    load = v.get("load", p.rng.uniform(0.3, 0.7))
    v["load"] = min(1.0, max(0.0, load + p.rng.gauss(0, 0.01) * math.sqrt(p.dt)))
    v["running"] = 1.0
