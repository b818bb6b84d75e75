"""Which enterprise owns a device, and the device's model.

Who may see and change an enterprise's things is ``indunet.core.access``: the one rule.
"""

from __future__ import annotations

from typing import Protocol

from indunet.core import NotFound
from indunet.devices import ThingModel


class Owned(Protocol):
    """Anything that belongs to an enterprise (a ``devices.Device``)."""

    @property
    def enterprise_id(self) -> int:
        """The owning enterprise."""


class DeviceDirectory(Protocol):
    """Finds devices and their models (``devices.DeviceRegistry`` is one)."""

    def lookup(self, device_id: str) -> Owned | None:
        """The device, or None when there is none."""

    def model_of(self, device_id: str) -> ThingModel | None:
        """The model the device is bound to, or None for an unknown device."""


def device_of(devices: DeviceDirectory, device_id: str) -> tuple[ThingModel, int]:
    """The device's model and enterprise, or ``NotFound``."""
    device = devices.lookup(device_id)
    model = devices.model_of(device_id) if device is not None else None
    if device is None or model is None:
        raise NotFound(f"no device {device_id!r}")
    return model, device.enterprise_id
