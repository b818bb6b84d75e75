"""The Connector protocol: one small interface for every industrial protocol."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

from indunet.devices import ThingModel
from indunet.telemetry import CommandFailed, Sample, Value

__all__ = ["ChecksWrites", "CommandFailed", "Connector", "DeviceLink", "Health", "StatusSink"]
# CommandFailed is telemetry's: what a connector raises is what ``Commands`` records and the
# API answers (502), one class whichever layer it comes from.


@dataclass(frozen=True)
class DeviceLink:
    """What a connector needs to talk to one device."""

    id: str
    model: ThingModel
    connection: Mapping[str, Any] = field(default_factory=dict)


@dataclass
class Health:
    """A connector's own view of itself, for metrics and the console."""

    protocol: str
    connected: int = 0  # devices (or sessions) currently online
    devices: int = 0
    reconnects: int = 0
    errors: int = 0
    detail: dict[str, Any] = field(default_factory=dict)


class StatusSink(Protocol):
    """Told when a device goes online or offline."""

    def device_status(self, device_id: str, online: bool) -> None:
        """Record the device's new status (called on the event loop; must not block)."""


class Connector(Protocol):
    """A protocol connector: a transport plus a codec, run on the process's asyncio loop.

    ``start`` returns once the connector runs in background tasks; it must not raise for an
    unreachable device: it reconnects with capped, jittered backoff instead. Samples go to
    the ``SampleSink`` given at construction, statuses to the ``StatusSink``.
    """

    protocol: str

    async def start(self) -> None:
        """Begin connecting and reading."""

    async def stop(self) -> None:
        """Stop every task and close every connection."""

    def add(self, device: DeviceLink) -> None:
        """Start serving ``device`` (idempotent; replaces a device with the same id)."""

    def remove(self, device_id: str) -> None:
        """Stop serving ``device_id``."""

    async def read(self, device_id: str, points: Sequence[str] | None = None) -> list[Sample]:
        """Read current values on demand (polling protocols) or return the last received."""

    async def write(self, device_id: str, point: str, value: Value) -> Any:
        """Write one point; return the device's output if it gives one (MQTT), else None.

        Raise ``CommandFailed`` naming the reason.
        """

    async def invoke(self, device_id: str, action: str, payload: Any) -> Any:
        """Invoke an action; return its output or raise ``CommandFailed``."""

    def health(self) -> Health:
        """Counters and connection state."""


@runtime_checkable
class ChecksWrites(Protocol):
    """A connector that can tell, before anything is sent or recorded, that it refuses a value.

    ``check_write`` raises ``InvalidInput`` for a value the connector's ``write`` would refuse
    without asking the device (12.34 to an ``int16`` register scaled by 0.1, 40000 to an OPC UA
    ``Int16`` node); it says nothing about the device's own answer, and passes when it cannot
    know (an OPC UA node whose type is not known while disconnected).
    """

    async def check_write(self, device_id: str, point: str, value: Value) -> None:
        """Raise ``InvalidInput`` when ``write`` would refuse ``value`` for ``point``."""
