"""An in-memory connector: a device double for tests and for trying commands without hardware.

Like httpx's ``MockTransport`` it ships in the package. It holds point values per device,
answers ``read`` from them, applies ``write`` to them (refusing points the model does not
declare writable), and lets a test take devices offline.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any

from indunet.connect.connector import CommandFailed, DeviceLink, Health, StatusSink
from indunet.telemetry import Sample, Value

ActionHandler = Callable[[str, str, Any], Any]


class MemoryConnector:
    """Devices that live in a dict; ``values[device][point]`` is what the device holds."""

    def __init__(
        self,
        protocol: str = "memory",
        status: StatusSink | None = None,
        on_action: ActionHandler | None = None,
    ) -> None:
        self.protocol = protocol
        self.devices: dict[str, DeviceLink] = {}
        self.values: dict[str, dict[str, Value]] = {}
        self.offline: set[str] = set()
        self.writes: list[tuple[str, str, Value]] = []
        self.running = False
        self._status = status
        self._on_action = on_action

    async def start(self) -> None:
        """Mark every device online."""
        self.running = True
        for device_id in self.devices:
            self._report(device_id)

    async def stop(self) -> None:
        """Mark every device offline."""
        self.running = False
        if self._status is not None:
            for device_id in self.devices:
                self._status.device_status(device_id, False)

    def add(self, device: DeviceLink) -> None:
        """Serve ``device``."""
        self.devices[device.id] = device
        self.values.setdefault(device.id, {})
        if self.running:
            self._report(device.id)

    def remove(self, device_id: str) -> None:
        """Forget ``device_id``."""
        self.devices.pop(device_id, None)
        self.values.pop(device_id, None)

    def set_offline(self, device_id: str, offline: bool = True) -> None:
        """Take a device off the (pretend) network, or bring it back."""
        if offline:
            self.offline.add(device_id)
        else:
            self.offline.discard(device_id)
        self._report(device_id)

    def _report(self, device_id: str) -> None:
        if self._status is not None:
            self._status.device_status(device_id, device_id not in self.offline)

    def _device(self, device_id: str) -> DeviceLink:
        device = self.devices.get(device_id)
        if device is None:
            raise CommandFailed(
                f"device {device_id} is not served by the {self.protocol} connector"
            )
        if device_id in self.offline:
            raise CommandFailed(f"device {device_id} is offline")
        return device

    async def read(self, device_id: str, points: Sequence[str] | None = None) -> list[Sample]:
        """The values the device holds now."""
        self._device(device_id)
        now = int(time.time() * 1000)
        held = self.values[device_id]
        names = points if points is not None else list(held)
        return [Sample(device_id, p, now, held[p]) for p in names if p in held]

    async def write(self, device_id: str, point: str, value: Value) -> None:
        """Set a writable point."""
        device = self._device(device_id)
        spec = device.model.points.get(point)
        if spec is None or not spec.writable:
            raise CommandFailed(f"point {point} of device {device_id} is not writable")
        self.values[device_id][point] = value
        self.writes.append((device_id, point, value))

    async def invoke(self, device_id: str, action: str, payload: Any) -> Any:
        """Run ``on_action`` for a declared action."""
        device = self._device(device_id)
        if action not in device.model.actions:
            raise CommandFailed(f"device {device_id} has no action {action}")
        return self._on_action(device_id, action, payload) if self._on_action else None

    def health(self) -> Health:
        """How many devices are served and online."""
        online = sum(1 for d in self.devices if d not in self.offline)
        return Health(
            protocol=self.protocol,
            connected=online if self.running else 0,
            devices=len(self.devices),
        )
