"""Device specs: the fields a create or update may carry, checked into column values, and rows
read back into ``Device``s. ``DeviceRegistry`` uses these; they hold no state.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, cast

from indunet.core import InvalidInput, NotFound
from indunet.devices import device as dv
from indunet.devices.catalog import ModelRegistry
from indunet.devices.device import Device, Protocol, Status
from indunet.devices.models import ThingModel

#: Fields of a device spec when registering one.
CREATE_KEYS = frozenset(
    {
        "id",
        "name",
        "model",
        "model_version",
        "protocol",
        "connection",
        "location",
        "tags",
        "manufacturer",
        "serial",
        "secret",
        "prefix",
    }
)
#: Fields a change may carry (the id, secret and identifier prefix are fixed).
UPDATE_KEYS = CREATE_KEYS - {"id", "secret", "prefix"}


def resolve_model(
    models: ModelRegistry, spec: dict[str, Any], current: Device | None, enterprise_id: int
) -> ThingModel:
    """The model version a spec names (or the current one), usable by ``enterprise_id``'s
    devices: platform and library models, and its own; another enterprise's is not found."""
    raw = spec.get("model", current.model_id if current else None)
    if not isinstance(raw, str) or not raw:
        raise InvalidInput("a device needs a model, e.g. indunet:cnc-machine or id@1.0.0")
    mid, _, ref_version = raw.partition("@")
    version: Any = spec.get("model_version") or ref_version or None
    if version is None and current is not None and "model" not in spec:
        version = current.model_version
    if version is not None and not isinstance(version, str):
        raise InvalidInput("model_version must be text such as 1.0.0")
    owner = models.owner(mid)
    if owner is not None and owner != enterprise_id:  # another tenant's model: not found
        raise NotFound(f"no model {mid}; list them with GET /api/v1/models")
    return models.get(mid, version)


def fields(
    models: ModelRegistry, spec: dict[str, Any], current: Device | None, enterprise_id: int
) -> dict[str, Any]:
    """Validated column values from a create or update spec (``current`` for updates)."""
    model = resolve_model(models, spec, current, enterprise_id)
    if "protocol" in spec:
        protocol = dv.check_protocol(spec["protocol"])
    elif current is not None:
        protocol = current.protocol
    else:
        protocol = dv.default_protocol(model)
    dv.check_model_protocol(model, protocol)
    if "connection" in spec:
        connection = dv.check_connection(protocol, spec["connection"])
    elif current is not None and protocol == current.protocol:
        connection = current.connection
    else:
        connection = dv.check_connection(protocol, {})
    return {
        "name": dv.check_text(spec, "name", required=True)
        if current is None or "name" in spec
        else current.name,
        "model_id": model.id,
        "model_version": model.version,
        "protocol": protocol,
        "connection": connection,
        "location": dv.check_location(spec["location"])
        if "location" in spec
        else (current.location if current else {}),
        "tags": list(dv.check_tags(spec["tags"]))
        if "tags" in spec
        else list(current.tags if current else ()),
        "manufacturer": dv.check_text(spec, "manufacturer")
        if "manufacturer" in spec or current is None
        else current.manufacturer,
        "serial": dv.check_text(spec, "serial")
        if "serial" in spec or current is None
        else current.serial,
    }


def known_keys(spec: dict[str, Any], allowed: frozenset[str]) -> None:
    """Refuse fields a device spec does not have, naming them and the known ones."""
    extra = sorted(set(spec) - allowed)
    if extra:
        raise InvalidInput(
            f"unknown device field(s) {', '.join(extra)}; known: {', '.join(sorted(allowed))}"
        )


def from_row(r: Any) -> Device:
    """A device from its ``dev_devices`` row (connection secrets still sealed)."""
    return Device(
        id=r["id"],
        enterprise_id=r["enterprise_id"],
        name=r["name"],
        model_id=r["model_id"],
        model_version=r["model_version"],
        protocol=cast(Protocol, r["protocol"]),
        connection=dict(r["connection"]),
        location=dict(r["location"]),
        tags=tuple(r["tags"]),
        manufacturer=r["manufacturer"],
        serial=r["serial"],
        identifier=r["identifier"],
        status=cast(Status, r["status"]),
        last_seen=r["last_seen"],
        created_at=utc(r["created_at"]),
    )


def utc(at: datetime | None) -> datetime | None:
    """SQLite hands back naive datetimes; they were stored in UTC."""
    return at.replace(tzinfo=UTC) if at is not None and at.tzinfo is None else at
