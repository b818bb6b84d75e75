"""Plausible point values for one simulated device, step by step, from its model and a seed.

The model says what each point is (type, unit, range, writable); ``behaviours.py`` says how it
moves. The same model, device id and seed always give the same values for the same steps.
"""

from __future__ import annotations

import math
import random
from typing import Any

from indunet.core import InvalidInput
from indunet.devices import Point, ThingModel
from indunet.sim.behaviours import Rule, behaviour_for
from indunet.sim.processes import Process

Value = float | int | bool | str


def device_rng(seed: int, device_id: str, purpose: str = "signals") -> random.Random:
    """A random generator private to one device and purpose: stable across runs and hosts."""
    return random.Random(f"{seed}/{device_id}/{purpose}")


def clamp(point: Point, value: float) -> float:
    """``value`` limited to the point's declared range."""
    if point.minimum is not None and value < point.minimum:
        return point.minimum
    if point.maximum is not None and value > point.maximum:
        return point.maximum
    return value


def coerce(point: Point, value: Any, *, digits: int = 3) -> Value:
    """A raw number (or text) shaped as the point's type, inside its range."""
    if point.type == "boolean":
        return bool(value > 0.5) if isinstance(value, int | float) else bool(value)
    if point.type == "string":
        return str(value)
    number = clamp(point, float(value))
    if point.type == "integer":
        return int(clamp(point, float(math.floor(number + 0.5))))
    return round(number, digits)


def check_value(point: Point, value: Any) -> Value:
    """A value a client wants to write, checked against the point's type and range."""
    ok = {
        "boolean": isinstance(value, bool),
        "integer": isinstance(value, int) and not isinstance(value, bool),
        "number": isinstance(value, int | float) and not isinstance(value, bool),
        "string": isinstance(value, str),
    }[point.type]
    if point.type == "integer" and isinstance(value, float) and value.is_integer():
        value, ok = int(value), True
    if not ok:
        raise InvalidInput(f"{point.name} takes a {point.type}, not {value!r}")
    if isinstance(value, int | float) and not isinstance(value, bool):
        if isinstance(value, float) and not math.isfinite(value):
            raise InvalidInput(f"{point.name} takes a finite number, not {value!r}")
        lo, hi = point.minimum, point.maximum
        if (lo is not None and value < lo) or (hi is not None and value > hi):
            raise InvalidInput(f"{point.name} must be within [{lo}, {hi}]; {value!r} is not")
    return value  # type: ignore[no-any-return]


class Signals:
    """The point values of one device over time; deterministic for a seed."""

    def __init__(self, model: ThingModel, device_id: str, seed: int = 0) -> None:
        self.model = model
        self.device_id = device_id
        self.rng = device_rng(seed, device_id)
        self.behaviour, self.rules = behaviour_for(model)
        self.process = Process(model=model, rng=self.rng)
        self.values: dict[str, Value] = {}
        self._lag: dict[str, float] = {}
        self._drift: dict[str, float] = {}
        self._scatter = {
            name: 1.0 + self.rng.uniform(-rule.spread, rule.spread)
            for name, rule in self.rules.items()
        }
        for name, rule in self.rules.items():
            if rule.kind == "setpoint":
                self.process.setpoints[name] = coerce(model.points[name], rule.init)

    def step(self, now: float, dt: float = 1.0) -> dict[str, Value]:
        """Advance the process by ``dt`` seconds (``now`` is the Unix time) and return values."""
        p = self.process
        p.now, p.dt = now, dt
        self.behaviour.process(p)
        out: dict[str, Value] = {}
        for name, rule in self.rules.items():
            point = self.model.points[name]
            out[name] = coerce(point, self._raw(name, point, rule, out, dt), digits=rule.digits)
        self.values = out
        return out

    def _raw(self, name: str, point: Point, rule: Rule, out: dict[str, Value], dt: float) -> Any:
        v = self.process.vars
        if rule.kind == "setpoint":
            return self.process.setpoints[name]
        if rule.kind == "text":
            return rule.fmt.format(v.get(rule.source, 0.0))
        if rule.kind == "integral":
            src = out.get(rule.source, self.values.get(rule.source, v.get(rule.source, 0.0)))
            start = v.get(rule.start, 0.0) if rule.start else (point.minimum or 0.0)
            acc = self._lag.get(name, start) + rule.gain * float(src) * dt
            self._lag[name] = acc
            return acc
        if rule.kind == "var":
            x = v.get(rule.source, 0.0) * rule.gain
        else:
            target = rule.lo + (rule.hi - rule.lo) * v.get(rule.source, 0.0)
            prev = self._lag.get(name, target)
            x = prev + (target - prev) * min(1.0, dt / rule.tau) if rule.tau > 0 else target
            self._lag[name] = x
            x *= self._scatter[name]
        if point.type == "boolean":
            return x
        if rule.noise:
            x += self.rng.gauss(0.0, rule.noise)
        if rule.drift:
            decay = math.exp(-dt / rule.drift_tau)
            d = self._drift.get(name, self.rng.gauss(0.0, rule.drift))
            d = d * decay + rule.drift * math.sqrt(1 - decay * decay) * self.rng.gauss(0.0, 1.0)
            self._drift[name] = d
            x += d
        return x

    def write(self, name: str, value: Any) -> Value:
        """Take a new value for a writable point (a setpoint); bad values change nothing."""
        point = self.model.points.get(name)
        if point is None:
            raise InvalidInput(f"{self.model.id} has no point {name!r}")
        if not point.writable:
            raise InvalidInput(f"{name} is read-only")
        checked = check_value(point, value)
        self.process.setpoints[name] = checked
        if name in self.values:
            self.values[name] = checked
        return checked

    def invoke(self, action: str, payload: Any = None) -> Any:
        """Perform one of the model's actions; unknown actions or bad input change nothing."""
        if action not in self.model.actions:
            raise InvalidInput(f"{self.model.id} has no action {action!r}")
        if self.behaviour.action is None:
            return {"done": action}
        return self.behaviour.action(self.process, action, payload)
