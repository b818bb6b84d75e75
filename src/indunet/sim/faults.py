"""Faults injected into simulated devices: a drifting temperature, vibration spikes, drop-outs.

A fault is written ``DEVICE:KIND[@START][,key=value...]``, e.g. ``cnc-0002:bearing_drift@60s``,
``cnc-0001:vibration_spike@2m,for=30s``, ``meter-0001:offline@10s,for=20s`` or
``compressor-0001:drift,point=motor_temp,rate=0.5``. Kinds:

- ``bearing_drift`` / ``drift``: the point (the model's bearing temperature unless ``point=``)
  climbs by ``rate`` units per second (default 0.25 °C/s: +30 °C in two minutes) until the
  fault ends (``for=``, default: never), then cools back;
- ``vibration_spike`` / ``spike``: the point (the model's vibration unless ``point=``) jumps
  to 3–6 times its value in random seconds (``rate``: chance per second, default 0.3);
- ``offline``: the device drops off the network for ``for=`` seconds (default 30).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, replace

from indunet.core import InvalidInput
from indunet.devices import ThingModel
from indunet.sim.behaviours import behaviour_for
from indunet.sim.signals import Value, clamp, device_rng

KINDS = {
    "bearing_drift": ("drift", "bearing"),
    "drift": ("drift", None),
    "vibration_spike": ("spike", "vibration"),
    "spike": ("spike", None),
    "offline": ("offline", None),
}
DEFAULT_RATE = {"drift": 0.25, "spike": 0.3, "offline": 0.0}
DEFAULT_OFFLINE_S = 30.0
COOLING_TAU_S = 120.0
_SPEC = re.compile(
    r"(?P<device>[a-z0-9][a-z0-9_-]{0,62}):(?P<kind>[a-z_]+)(?:@(?P<at>[^,]+))?(?P<opts>(?:,[^,]+)*)\Z"
)
_DURATION = re.compile(r"(?P<n>\d+(?:\.\d+)?)(?P<unit>ms|s|m|h)?\Z")
_UNIT_S = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, None: 1.0}


def parse_duration(text: str) -> float:
    """Seconds from ``90``, ``90s``, ``1.5m``, ``2h`` or ``500ms``."""
    m = _DURATION.match(text.strip())
    if not m:
        raise InvalidInput(f"{text!r} is not a duration (write 60, 60s, 2m or 1h)")
    return float(m["n"]) * _UNIT_S[m["unit"]]


@dataclass(frozen=True)
class Fault:
    """A fault for one device: what, from when (seconds after start), for how long, how hard."""

    device: str
    kind: str
    at: float = 0.0
    duration: float | None = None
    rate: float | None = None
    point: str | None = None

    @property
    def effect(self) -> str:
        """``drift``, ``spike`` or ``offline``."""
        return KINDS[self.kind][0]

    def spec(self) -> str:
        """The fault written back in the ``DEVICE:KIND@START,...`` form."""
        out = f"{self.device}:{self.kind}@{self.at:g}s"
        if self.duration is not None:
            out += f",for={self.duration:g}s"
        if self.rate is not None:
            out += f",rate={self.rate:g}"
        if self.point:
            out += f",point={self.point}"
        return out


def parse_fault(text: str) -> Fault:
    """A fault from its written form; anything unclear is refused with the reason."""
    m = _SPEC.match(text.strip())
    if not m:
        raise InvalidInput(
            f"fault {text!r} is not DEVICE:KIND[@START][,for=N][,rate=R][,point=NAME], "
            "e.g. cnc-0002:bearing_drift@60s"
        )
    if m["kind"] not in KINDS:
        raise InvalidInput(f"unknown fault kind {m['kind']!r}; known: {', '.join(KINDS)}")
    fault = Fault(m["device"], m["kind"], at=parse_duration(m["at"]) if m["at"] else 0.0)
    for opt in filter(None, m["opts"].split(",")):
        key, sep, val = opt.partition("=")
        if not sep:
            raise InvalidInput(f"fault option {opt!r} is not key=value")
        if key == "for":
            fault = replace(fault, duration=parse_duration(val))
        elif key == "rate":
            try:
                rate = float(val)
            except ValueError:
                raise InvalidInput(f"rate={val!r} is not a number") from None
            if not math.isfinite(rate) or rate <= 0:
                raise InvalidInput(f"rate must be a positive number, not {val!r}")
            fault = replace(fault, rate=rate)
        elif key == "point":
            fault = replace(fault, point=val)
        else:
            raise InvalidInput(f"unknown fault option {key!r} (use for=, rate= or point=)")
    return fault


def fault_point(model: ThingModel, fault: Fault) -> str | None:
    """The point a drift or spike acts on, checked against the model; None for ``offline``."""
    effect, role = KINDS[fault.kind]
    if effect == "offline":
        return None
    numeric = [n for n, p in model.points.items() if p.type in ("number", "integer")]
    name = fault.point
    if name is None and role is not None:
        name = behaviour_for(model)[0].fault_points.get(role)
    if name is None:
        raise InvalidInput(
            f"{fault.kind} needs point=NAME for {model.id}; its numeric points: {', '.join(numeric)}"
        )
    if name not in numeric:
        raise InvalidInput(
            f"{model.id} has no numeric point {name!r}; its numeric points: {', '.join(numeric)}"
        )
    return name


@dataclass
class _Active:
    fault: Fault
    point: str | None
    start: float  # simulated seconds since the factory started

    def on(self, t: float) -> bool:
        if t < self.start:
            return False
        duration = self.fault.duration
        if duration is None and self.fault.effect == "offline":
            duration = DEFAULT_OFFLINE_S
        return duration is None or t < self.start + duration

    def over(self, t: float) -> bool:
        return t >= self.start and not self.on(t)


class FaultSet:
    """The faults of one device and their lingering effects (a hot bearing cools slowly)."""

    def __init__(self, model: ThingModel, device_id: str, seed: int = 0) -> None:
        self.model = model
        self.device_id = device_id
        self.rng = device_rng(seed, device_id, "faults")
        self.active: list[_Active] = []
        self.offsets: dict[str, float] = {}
        self.online = True

    def add(self, fault: Fault, start: float) -> None:
        """Schedule ``fault`` to begin at simulated time ``start``; bad faults are refused."""
        if fault.device != self.device_id:
            raise InvalidInput(f"fault for {fault.device} given to {self.device_id}")
        self.active.append(_Active(fault, fault_point(self.model, fault), start))

    def clear(self, kind: str | None = None) -> int:
        """End faults (all, or of one kind) now; returns how many were ended."""
        keep = [a for a in self.active if kind is not None and a.fault.kind != kind]
        ended = len(self.active) - len(keep)
        self.active = keep
        return ended

    def apply(self, values: dict[str, Value], t: float, dt: float) -> None:
        """Change this step's values (and ``online``) by the faults in force at time ``t``."""
        self.online = True
        drifting: set[str] = set()
        for a in self.active:
            if not a.on(t):
                continue
            effect = a.fault.effect
            rate = a.fault.rate if a.fault.rate is not None else DEFAULT_RATE[effect]
            if effect == "offline":
                self.online = False
            elif effect == "drift" and a.point:
                self.offsets[a.point] = self.offsets.get(a.point, 0.0) + rate * dt
                drifting.add(a.point)
            elif effect == "spike" and a.point and self.rng.random() < min(1.0, rate * dt):
                self._spike(values, a.point)
        self.active = [a for a in self.active if not a.over(t)]
        decay = math.exp(-dt / COOLING_TAU_S)
        for name in list(self.offsets):
            if name not in drifting:
                self.offsets[name] *= decay
                if abs(self.offsets[name]) < 0.01:
                    del self.offsets[name]
                    continue
            self._shift(values, name, self.offsets[name])

    def _shift(self, values: dict[str, Value], name: str, offset: float) -> None:
        point, value = self.model.points[name], values.get(name)
        if isinstance(value, int | float) and not isinstance(value, bool):
            shifted = clamp(point, value + offset)
            values[name] = int(shifted) if point.type == "integer" else round(shifted, 3)

    def _spike(self, values: dict[str, Value], name: str) -> None:
        point, value = self.model.points[name], values.get(name)
        if isinstance(value, int | float) and not isinstance(value, bool):
            span = (point.maximum or 0.0) - (point.minimum or 0.0) or 1.0
            spiked = value * self.rng.uniform(3.0, 6.0) if value > 0 else value + 0.2 * span
            values[name] = clamp(point, spiked)
            if point.type == "integer":
                values[name] = int(values[name])
            else:
                values[name] = round(float(values[name]), 3)
