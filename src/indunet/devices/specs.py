"""Device specs: the fields a create or update may carry, checked into column values, device
secrets, and rows read back into ``Device``s. ``DeviceRegistry`` uses these; they hold no state.

Errors a console user can meet carry a ``reason`` and ``params`` (texts in the console's
``devices.json`` catalogues); the English message is the API's.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import UTC, datetime
from typing import Any, cast

from indunet.core import Conflict, InvalidInput, NotFound
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
MAX_SECRET = 200


def missing(device_id: str) -> NotFound:
    """The error for a device that does not exist (or that the asker may not see)."""
    return NotFound(f"no device {device_id!r}", reason="device_not_found", params={"id": device_id})


def exists(device_id: str, *, purging: bool = False) -> Conflict:
    """The error for registering an id that is taken (or held until its data is purged)."""
    if purging:
        return Conflict(
            f"device {device_id} was deleted and its data is still being purged; "
            "try again in a minute or choose another id",
            reason="device_purging",
            params={"id": device_id},
        )
    return Conflict(
        f"device {device_id} already exists; device ids are platform-wide",
        reason="device_exists",
        params={"id": device_id},
    )


def secret_digest(secret: str) -> str:
    """How a device secret is stored (it is random and high-entropy: SHA-256 is enough)."""
    return hashlib.sha256(secret.encode()).hexdigest()


def check_secret(value: Any) -> str:
    """The secret a spec gives, or a new random one when it gives none."""
    if value is None:
        return secrets.token_urlsafe(24)
    if (
        not isinstance(value, str)
        or not dv.MIN_SECRET <= len(value) <= MAX_SECRET
        or value != value.strip()
    ):
        raise InvalidInput(
            f"a device secret must be {dv.MIN_SECRET}-{MAX_SECRET} characters without "
            "surrounding spaces",
            reason="device_secret_invalid",
            params={"low": dv.MIN_SECRET, "high": MAX_SECRET},
        )
    return value


def resolve_model(
    models: ModelRegistry, spec: dict[str, Any], current: Device | None, enterprise_id: int
) -> ThingModel:
    """The model version a spec names (or the current one), usable by ``enterprise_id``'s
    devices: platform and library models, and its own; another enterprise's is not found."""
    raw = spec.get("model", current.model_id if current else None)
    if not isinstance(raw, str) or not raw:
        raise InvalidInput(
            "a device needs a model, e.g. indunet:cnc-machine or id@1.0.0",
            reason="device_model_required",
        )
    mid, _, ref_version = raw.partition("@")
    version: Any = spec.get("model_version") or ref_version or None
    if version is None and current is not None and "model" not in spec:
        version = current.model_version
    if version is not None and not isinstance(version, str):
        raise InvalidInput(
            "model_version must be text such as 1.0.0", reason="device_model_version_text"
        )
    owner = models.owner(mid)
    try:
        if owner is not None and owner != enterprise_id:  # another tenant's model: not found
            raise NotFound(f"no model {mid}")
        return models.get(mid, version)
    except NotFound:
        what = f"{mid}@{version}" if version else mid
        raise NotFound(
            f"no model {what}; list them with GET /api/v1/models",
            reason="device_model_unknown",
            params={"model": what},
        ) from None


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
        known = ", ".join(sorted(allowed))
        raise InvalidInput(
            f"unknown device field(s) {', '.join(extra)}; known: {known}",
            reason="device_unknown_fields",
            params={"fields": ", ".join(extra), "known": known},
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
