"""One simulated machine: its signals and faults, current values, network state and counters."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

from indunet.devices import ThingModel
from indunet.sim.faults import Fault, FaultSet
from indunet.sim.plan import SimDevice
from indunet.sim.signals import Signals, Value


@dataclass
class Counters:
    """What a device produced, so a benchmark can compare with what the platform stored.

    ``produced``: point values made while online (one per point per step);
    ``changed``: those that differ from the step before (what an OPC UA subscription, which
    reports changes only, delivers);
    ``published``: point values in MQTT messages the broker acknowledged (QoS 1);
    ``requests``: Modbus requests answered and MQTT commands answered;
    ``writes`` / ``actions``: writes and actions honoured; ``refused``: those refused;
    ``offline_steps``: steps spent off the network.
    """

    produced: int = 0
    changed: int = 0
    published: int = 0
    requests: int = 0
    writes: int = 0
    actions: int = 0
    refused: int = 0
    offline_steps: int = 0

    def to_dict(self) -> dict[str, int]:
        """The counters as a plain dict."""
        return asdict(self)


class Equipment:
    """A simulated device: steps its signals, applies faults, and takes writes and actions."""

    def __init__(self, device: SimDevice, model: ThingModel, seed: int = 0) -> None:
        self.device = device
        self.id = device.id
        self.model = model
        self.signals = Signals(model, device.id, seed)
        self.faults = FaultSet(model, device.id, seed)
        self.values: dict[str, Value] = {}
        self.ts_ms = 0
        self.online = True
        self.t = 0.0  # simulated seconds since the factory started
        self.counters = Counters()
        self.on_write: Callable[[str, Value], None] | None = None

    @property
    def samples(self) -> int:
        """What the platform can have received: published (MQTT), changes (OPC UA), or
        produced (Modbus, polled each step)."""
        if self.device.protocol == "mqtt":
            return self.counters.published
        if self.device.protocol == "opcua":
            return self.counters.changed
        return self.counters.produced

    def tick(self, now: float, dt: float = 1.0) -> None:
        """One step: new values at Unix time ``now``, faults applied, counters updated."""
        self.t += dt
        values = self.signals.step(now, dt)
        self.faults.apply(values, self.t, dt)
        before, was_online = self.values, self.online
        self.values = values
        self.ts_ms = round(now * 1000)
        self.online = self.faults.online
        if self.online:
            self.counters.produced += len(values)
            if was_online:
                self.counters.changed += sum(1 for k, v in values.items() if before.get(k) != v)
            else:
                self.counters.changed += len(values)
        else:
            self.counters.offline_steps += 1

    def inject(self, fault: Fault, delay: float = 0.0) -> None:
        """Start a fault ``delay`` simulated seconds from now (its ``at`` is ignored)."""
        self.faults.add(fault, self.t + delay)

    def schedule(self, fault: Fault) -> None:
        """Start a fault at its ``at``, counted from the factory's start."""
        self.faults.add(fault, fault.at)

    def write(self, point: str, value: Any) -> Value:
        """Honour a write to a writable point; a bad one raises and changes nothing."""
        try:
            checked = self.signals.write(point, value)
        except Exception:
            self.counters.refused += 1
            raise
        if point in self.values:
            self.values[point] = checked
        self.counters.writes += 1
        if self.on_write is not None:
            self.on_write(point, checked)
        return checked

    def invoke(self, action: str, payload: Any = None) -> Any:
        """Perform an action of the model; a bad one raises and changes nothing."""
        try:
            result = self.signals.invoke(action, payload)
        except Exception:
            self.counters.refused += 1
            raise
        self.counters.actions += 1
        return result
