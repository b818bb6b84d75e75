"""Linking an active identifier (主动标识) to the device record it announces itself as.

When a device's signed announcement names a device id (``ids.active.announce``), the platform
links the two records: the active identifier gets the device's identifier (``device``, index
2105) and the device's record the active identifier (``active_id``, index 2110). It links
only a device of the enterprise that holds the active identifier's prefix and that has an
identifier; it keeps a link once made (another active identifier naming the same device is
refused), and an active identifier the enterprise bound to a device at enrolment may name
that device only.
"""

from __future__ import annotations

from dataclasses import dataclass

from indunet import ids
from indunet.core import Conflict, NotFound, PermissionDenied
from indunet.devices.registry import DeviceRegistry
from indunet.ids import active
from indunet.ids.owners import prefix_owner

PLATFORM = ids.Principal(actor="platform:active-link", identity=None, prefixes=None)


@dataclass(frozen=True, slots=True)
class Link:
    """The outcome: the device and its identifier, and whether a write was needed."""

    device_id: str
    identifier: str
    written: bool


def unknown_device(device_id: str) -> NotFound:
    """The refusal of a device id that is missing, another enterprise's or has no identifier."""
    return NotFound(
        f"no device {device_id} of this identifier's enterprise has an identifier to link",
        reason="active_device_unknown",
        params={"device": device_id},
    )


def link(
    node: ids.Node, registry: DeviceRegistry, handle: str, device_id: str, *, dry_run: bool = False
) -> Link:
    """Link active identifier ``handle`` and device ``device_id`` (both ways), or refuse;
    ``dry_run`` only checks that it would link them."""
    h = ids.handle.parse(handle)
    with node.engine.connect() as conn:
        owner = prefix_owner(conn, h.prefix)
    device = registry.lookup(device_id)
    if device is None or owner is None or device.enterprise_id != owner or not device.identifier:
        raise unknown_device(device_id)
    rec = node.record(h.text)
    if rec is None:
        raise active.not_active(h.text)
    bound = active.linked_device(rec)
    if bound is not None and ids.handle.parse(bound).key != ids.handle.parse(device.identifier).key:
        raise PermissionDenied(
            f"{h.text} is bound to {bound}; it may not announce itself as device {device_id}",
            reason="active_device_mismatch",
            params={"handle": h.text, "bound": bound, "device": device_id},
        )
    dev_rec = node.record(device.identifier)
    if dev_rec is None:
        raise unknown_device(device_id)
    other = active.linked_active(dev_rec)
    if other is not None and ids.handle.parse(other).key != h.key:
        raise Conflict(
            f"device {device_id} is linked to {other} already; the enterprise unlinks it first",
            reason="active_device_taken",
            params={"device": device_id, "other": other},
        )
    if dry_run:
        return Link(device_id, device.identifier, False)
    written = False
    if other is None:
        value = {
            "index": active.ACTIVE_ID_INDEX,
            "type": "active_id",
            "data": {"format": "string", "value": h.text},
        }
        dev_prefix = ids.handle.normalise_prefix(ids.handle.parse(device.identifier).prefix)
        active.ensure_template(node, dev_prefix, actor=PLATFORM.actor)  # its `active_id` type
        node.put(device.identifier, [value], PLATFORM, indices=[active.ACTIVE_ID_INDEX])
        written = True
    if bound is None:
        value = {
            "index": active.DEVICE_INDEX,
            "type": "device",
            "data": {"format": "string", "value": device.identifier},
        }
        node.put(h.text, [value], PLATFORM, indices=[active.DEVICE_INDEX])
        written = True
    return Link(device_id, device.identifier, written)
