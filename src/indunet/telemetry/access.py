"""Which enterprise owns a device, and who may read and change an enterprise's things.

Platform admins may do everything; regulators read everything and change nothing; enterprise
admins and users read their own enterprise's things, and only enterprise admins change them.
Things of another enterprise are reported as not found, so that their ids leak nothing.
"""

from __future__ import annotations

from typing import Protocol

from indunet.core import NotFound, PermissionDenied, Role, User
from indunet.devices import ThingModel

OVERSEERS = frozenset({Role.PLATFORM_ADMIN, Role.REGULATOR})


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


def can_read(user: User, enterprise_id: int | None) -> bool:
    """Whether ``user`` may see things of ``enterprise_id``."""
    return user.role in OVERSEERS or (
        user.enterprise_id is not None and user.enterprise_id == enterprise_id
    )


def check_read(user: User, enterprise_id: int | None, what: str) -> None:
    """Raise ``NotFound`` naming ``what`` unless ``user`` may see it."""
    if not can_read(user, enterprise_id):
        raise NotFound(f"no {what}")


def check_manage(
    user: User, enterprise_id: int | None, what: str, *, users_too: bool = False
) -> None:
    """Raise unless ``user`` may change ``what`` (enterprise users too when ``users_too``)."""
    check_read(user, enterprise_id, what)
    allowed = {Role.PLATFORM_ADMIN, Role.ENTERPRISE_ADMIN}
    if users_too:
        allowed.add(Role.ENTERPRISE_USER)
    if user.role not in allowed:
        who = "a user" if users_too else "an admin"
        raise PermissionDenied(
            f"{user.username} ({user.role}) may not change {what}; "
            f"that needs a platform admin or {who} of the enterprise"
        )


def scope(user: User, enterprise_id: int | None) -> int | None:
    """The enterprise a listing is limited to: the user's own unless they oversee all."""
    if user.role in OVERSEERS:
        return enterprise_id
    if enterprise_id is not None and enterprise_id != user.enterprise_id:
        raise PermissionDenied(f"{user.username} may list only its own enterprise's things")
    if user.enterprise_id is None:
        raise PermissionDenied(f"{user.username} belongs to no enterprise")
    return user.enterprise_id
