"""How each library model's points behave: one table row per model (a process and point rules).

Rules are in the point's own unit (the model's ``unit``), so a reader can check them against
the model. Points a row does not name, and models without a row, get a rule inferred from the
point's type and range (``infer_rule``), so any valid Thing Model can be simulated.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from indunet.core import InvalidInput
from indunet.devices import Point, ThingModel
from indunet.sim import processes
from indunet.sim.processes import Process

RuleKind = Literal["follow", "var", "setpoint", "integral", "text"]
ActionFn = Callable[[Process, str, Any], Any]


@dataclass(frozen=True)
class Rule:
    """How one point's value is made from the process variables, each step.

    - ``follow``: ``lo + (hi - lo) * vars[source]``, lagged by ``tau`` seconds;
    - ``var``: ``vars[source] * gain``;
    - ``setpoint``: a writable value, ``init`` until someone writes it;
    - ``integral``: accumulates ``gain * <source> * dt`` (source: a point or a variable),
      starting from ``vars[start]``;
    - ``text``: ``fmt.format(vars[source])``.

    Then white ``noise`` (standard deviation), a slow ``drift`` (an Ornstein–Uhlenbeck wander
    with that standard deviation and correlation time ``drift_tau``) and a fixed per-device
    scatter (``spread``, a fraction) are added, and the value is clamped to the point's range.
    """

    kind: RuleKind = "follow"
    source: str = "load"
    lo: float = 0.0
    hi: float = 1.0
    tau: float = 0.0
    noise: float = 0.0
    drift: float = 0.0
    drift_tau: float = 600.0
    spread: float = 0.0
    gain: float = 1.0
    init: float = 0.0
    start: str | None = None
    fmt: str = "{:.0f}"
    digits: int = 3


@dataclass(frozen=True)
class Behaviour:
    """A model's row: its process, rules per point, the points faults act on, its actions."""

    process: Callable[[Process], None]
    rules: Mapping[str, Rule] = field(default_factory=dict)
    fault_points: Mapping[str, str] = field(default_factory=dict)  # "bearing" -> point name
    action: ActionFn | None = None


def _cnc_action(p: Process, name: str, payload: Any) -> Any:
    return processes.cnc_command(p, name)


def _excavator_action(p: Process, name: str, payload: Any) -> Any:
    if name != "engine_lock":
        raise InvalidInput(f"an excavator has no action {name!r}")
    if not isinstance(payload, bool):
        raise InvalidInput("engine_lock takes true (lock) or false (unlock)")
    locked = payload
    p.memo["locked"] = locked
    return {"locked": locked}


def _compressor(pressure: str, setpoint: str) -> Callable[[Process], None]:
    def step(p: Process) -> None:
        pt = p.model.points[pressure]
        lo, hi = pt.minimum or 0.0, pt.maximum or 1.0
        processes.compressor(p, (lo, hi), setpoint if setpoint in p.model.points else None)

    return step


def _cnc(p: Process) -> None:
    processes.cnc(p, "feed_override")


BEHAVIOURS: dict[str, Behaviour] = {
    "indunet:cnc-machine": Behaviour(
        process=_cnc,
        rules={
            "spindle_speed": Rule(source="speed", lo=0, hi=14_400, tau=1, noise=8),
            "spindle_load": Rule(source="load", lo=2, hi=92, tau=1, noise=1.2),
            "feed_rate": Rule(source="feed", lo=0, hi=6000, tau=1, noise=10, digits=1),
            "bearing_temp": Rule(source="load", lo=31, hi=58, tau=300, noise=0.1, spread=0.05),
            "vibration": Rule(source="load", lo=0.4, hi=3.2, tau=1, noise=0.12),
            "part_count": Rule(kind="var", source="parts"),
            "running": Rule(kind="var", source="running"),
            "program": Rule(kind="text", source="program", fmt="O{:04.0f}"),
            "feed_override": Rule(kind="setpoint", init=100),
        },
        fault_points={"bearing": "bearing_temp", "vibration": "vibration"},
        action=_cnc_action,
    ),
    "indunet:air-compressor": Behaviour(
        process=_compressor("discharge_pressure", "pressure_setpoint"),
        rules={
            "discharge_pressure": Rule(kind="var", source="pressure", noise=0.002, digits=4),
            "motor_temp": Rule(source="load", lo=48, hi=86, tau=180, noise=0.15, spread=0.04),
            "bearing_temp": Rule(source="load", lo=34, hi=63, tau=300, noise=0.1, spread=0.05),
            "motor_current": Rule(source="load", lo=8, hi=150, tau=2, noise=1.5, spread=0.1),
            "vibration": Rule(source="load", lo=0.8, hi=3.0, tau=2, noise=0.12),
            "run_hours": Rule(kind="var", source="run_hours"),
            "running": Rule(kind="var", source="running"),
            "pressure_setpoint": Rule(kind="setpoint", init=0.8),
        },
        fault_points={"bearing": "bearing_temp", "vibration": "vibration"},
    ),
    "indunet:power-meter": Behaviour(
        process=processes.power_meter,
        rules={
            **{
                f"voltage_{ph}": Rule(
                    source="plant", lo=223, hi=216, tau=10, noise=0.6, spread=0.01
                )
                for ph in "abc"
            },
            **{
                f"current_{ph}": Rule(source="plant", lo=15, hi=480, tau=3, noise=3, spread=0.05)
                for ph in "abc"
            },
            "active_power": Rule(source="plant", lo=9, hi=295, tau=3, noise=1.5),
            "power_factor": Rule(source="plant", lo=0.82, hi=0.95, tau=30, noise=0.003),
            "frequency": Rule(source="plant", lo=50, hi=50, noise=0.005, drift=0.02, drift_tau=60),
            "energy_kwh": Rule(
                kind="integral", source="active_power", gain=1 / 3600, start="energy"
            ),
        },
        fault_points={},
    ),
    "indunet:excavator": Behaviour(
        process=processes.excavator,
        rules={
            "engine_rpm": Rule(source="engine", lo=0, hi=2350, tau=2, noise=12, digits=0),
            "engine_temp": Rule(source="engine", lo=20, hi=96, tau=240, noise=0.2, spread=0.03),
            "hydraulic_pressure": Rule(source="hydraulic", lo=0.8, hi=34, tau=1, noise=0.3),
            "fuel_level": Rule(kind="var", source="fuel", gain=100, digits=1),
            "latitude": Rule(kind="var", source="lat", digits=6),
            "longitude": Rule(kind="var", source="lon", digits=6),
            "working": Rule(kind="var", source="working"),
            "operating_hours": Rule(kind="var", source="engine_hours", digits=2),
        },
        fault_points={"bearing": "engine_temp", "vibration": "hydraulic_pressure"},
        action=_excavator_action,
    ),
    "indunet:env-sensor": Behaviour(
        process=processes.env_sensor,
        rules={
            "temperature": Rule(
                source="warmth", lo=21, hi=28.5, tau=900, noise=0.05, drift=0.8, drift_tau=1800
            ),
            "humidity": Rule(
                source="warmth", lo=74, hi=56, tau=900, noise=0.3, drift=4, drift_tau=3600, digits=1
            ),
            "pm25": Rule(
                source="activity",
                lo=12,
                hi=55,
                tau=300,
                noise=1.2,
                drift=6,
                drift_tau=1200,
                digits=1,
            ),
            "noise": Rule(source="activity", lo=46, hi=80, tau=5, noise=1.5, digits=1),
        },
        fault_points={"bearing": "temperature"},
    ),
}

_COUNTER_SUFFIXES = ("_count", "_total", "_hours", "_kwh", "_energy")


def infer_rule(point: Point) -> Rule:
    """A plausible rule for a point no table row names, from its type, range and name."""
    if point.writable:
        if point.type == "boolean":
            return Rule(kind="setpoint", init=0)
        if point.type == "string":
            return Rule(kind="setpoint", init=0)
        lo, hi = point.minimum or 0.0, point.maximum if point.maximum is not None else 100.0
        return Rule(kind="setpoint", init=lo + (hi - lo) / 2)
    if point.type == "boolean":
        return Rule(kind="var", source="running")
    if point.type == "string":
        return Rule(kind="text", source="state", fmt="S{:.0f}")
    lo = point.minimum if point.minimum is not None else 0.0
    hi = point.maximum if point.maximum is not None else lo + 100.0
    span = hi - lo
    if point.name.endswith(_COUNTER_SUFFIXES):
        return Rule(kind="integral", source="load", gain=1 / 60)
    return Rule(
        source="load",
        lo=lo + 0.2 * span,
        hi=lo + 0.6 * span,
        tau=5,
        noise=0.004 * span,
        drift=0.02 * span,
        drift_tau=300,
    )


@functools.cache
def _fallback(model_id: str) -> Behaviour:
    return Behaviour(process=processes.idle)


def behaviour_for(model: ThingModel) -> tuple[Behaviour, dict[str, Rule]]:
    """The model's table row (or a generic one) and a rule for every one of its points."""
    row = BEHAVIOURS.get(model.id) or _fallback(model.id)
    rules = {name: row.rules.get(name) or infer_rule(pt) for name, pt in model.points.items()}
    return row, rules
