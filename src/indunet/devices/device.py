"""A registered device and the checks of what a user may say about one (id, connection, tags).

Everything a caller sends is validated here before anything is written: the device id, the
protocol, the location and the tags (connection settings: ``connections``). Errors name the
field and say what would be accepted.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal, cast

from indunet.core import InvalidInput
from indunet.devices.connections import SECRET_KEYS
from indunet.devices.connections import check_connection as check_connection
from indunet.devices.models import ModbusForm, MqttForm, OpcUaForm, ThingModel

Protocol = Literal["mqtt", "modbus", "opcua", "http"]
Status = Literal["online", "offline", "unknown"]
PROTOCOLS: tuple[Protocol, ...] = ("mqtt", "modbus", "opcua", "http")
DEVICE_ID = re.compile(r"[a-z0-9][a-z0-9_-]{0,62}\Z")
MIN_SECRET = 16
_TAG = re.compile(r"[\w.:-]{1,32}\Z")
_MAX_TAGS = 20
_MAX_LOCATION_KEYS = 20


@dataclass(frozen=True)
class Device:
    """A device of an enterprise, bound to one model version and one protocol."""

    id: str
    enterprise_id: int
    name: str
    model_id: str
    model_version: str
    protocol: Protocol
    connection: dict[str, Any] = field(default_factory=dict)
    location: dict[str, Any] = field(default_factory=dict)
    tags: tuple[str, ...] = ()
    manufacturer: str = ""
    serial: str = ""
    identifier: str = ""
    status: Status = "unknown"
    last_seen: float | None = None
    created_at: datetime | None = None

    @property
    def model_ref(self) -> str:
        """``model_id@model_version``."""
        return f"{self.model_id}@{self.model_version}"

    def to_json(self) -> dict[str, Any]:
        """API shape; passwords and private keys in the connection are masked."""
        conn = {k: ("***" if k in SECRET_KEYS and v else v) for k, v in self.connection.items()}
        return {
            "id": self.id,
            "enterprise_id": self.enterprise_id,
            "name": self.name,
            "model": self.model_ref,
            "model_id": self.model_id,
            "model_version": self.model_version,
            "protocol": self.protocol,
            "connection": conn,
            "location": self.location,
            "tags": list(self.tags),
            "manufacturer": self.manufacturer,
            "serial": self.serial,
            "identifier": self.identifier,
            "status": self.status,
            "last_seen": iso_utc(self.last_seen),
            "created_at": self.created_at.isoformat() if self.created_at else None,
        }


def iso_utc(at: float | None) -> str | None:
    """Seconds since 1970 as ISO 8601 in UTC (``2026-12-06T05:50:50.123000+00:00``)."""
    return None if at is None else datetime.fromtimestamp(at, UTC).isoformat()


def check_device_id(value: Any) -> str:
    """A device id (lowercase, an MQTT topic level and handle suffix), or ``InvalidInput``."""
    if not isinstance(value, str) or not DEVICE_ID.match(value):
        raise InvalidInput(
            f"device id {value!r} must be 1-63 characters: lowercase letters, digits, '_' or '-', "
            "starting with a letter or digit (e.g. cnc-0001)",
            reason="device_id_invalid",
            params={"id": str(value)[:100]},
        )
    return value


def check_text(spec: dict[str, Any], key: str, *, required: bool = False, limit: int = 200) -> str:
    """A short text field of a device spec."""
    v = spec.get(key)
    if v is None or v == "":
        if required:
            raise InvalidInput(
                f"device {key} is required", reason="device_field_required", params={"field": key}
            )
        return ""
    if not isinstance(v, str) or len(v) > limit or any(ord(c) < 32 for c in v):
        raise InvalidInput(
            f"device {key} must be text of at most {limit} characters",
            reason="device_field_text",
            params={"field": key, "limit": limit},
        )
    return v.strip()


def check_tags(value: Any) -> tuple[str, ...]:
    """Tags: up to 20 words of letters, digits, '_', '.', ':' or '-' (duplicates dropped)."""
    if value is None:
        return ()
    if isinstance(value, str):
        value = [t for t in re.split(r"[;,|]", value) if t.strip()]
    if not isinstance(value, list | tuple):
        raise InvalidInput("tags must be a list of words")
    out: list[str] = []
    for t in value:
        tag = t.strip() if isinstance(t, str) else t
        if not isinstance(tag, str) or not _TAG.match(tag):
            raise InvalidInput(
                f"tag {t!r} must be 1-32 letters, digits, '_', '.', ':' or '-' (no spaces)",
                reason="device_tag_invalid",
                params={"tag": str(t)[:100]},
            )
        if tag not in out:
            out.append(tag)
    if len(out) > _MAX_TAGS:
        raise InvalidInput(
            f"a device has at most {_MAX_TAGS} tags, not {len(out)}",
            reason="device_too_many_tags",
            params={"limit": _MAX_TAGS, "count": len(out)},
        )
    return tuple(out)


def check_location(value: Any) -> dict[str, Any]:
    """Location: an object of text or numbers; ``latitude``/``longitude`` in degrees if given."""
    if value is None:
        return {}
    if not isinstance(value, dict) or len(value) > _MAX_LOCATION_KEYS:
        raise InvalidInput(f"location must be an object of at most {_MAX_LOCATION_KEYS} fields")
    out: dict[str, Any] = {}
    for k, v in value.items():
        if not isinstance(k, str) or not k or len(k) > 32:
            raise InvalidInput("location field names must be 1-32 characters")
        if isinstance(v, bool) or not isinstance(v, str | int | float) or v == "":
            raise InvalidInput(f"location {k} must be text or a number")
        if isinstance(v, str) and len(v) > 200:
            raise InvalidInput(f"location {k} must be at most 200 characters")
        out[k] = v
    for key, bound in (("latitude", 90.0), ("longitude", 180.0)):
        if key in out:
            v = out[key]
            try:
                num = float(v)
            except ValueError:
                raise InvalidInput(f"location {key} {v!r} must be a number") from None
            if not math.isfinite(num) or abs(num) > bound:
                raise InvalidInput(f"location {key} {v!r} must be between -{bound:g} and {bound:g}")
            out[key] = num
    return out


def check_protocol(value: Any) -> Protocol:
    """One of mqtt, modbus, opcua, http."""
    if value not in PROTOCOLS:
        raise InvalidInput(f"protocol {value!r} is not one of {', '.join(PROTOCOLS)}")
    return cast(Protocol, value)


_BINDINGS: tuple[tuple[type, Protocol], ...] = (
    (ModbusForm, "modbus"),
    (OpcUaForm, "opcua"),
    (MqttForm, "mqtt"),
)


def bound_protocols(model: ThingModel) -> list[Protocol]:
    """Protocols at least one of the model's points has a form for (Modbus, OPC UA, MQTT)."""
    forms = [f for p in model.points.values() for f in p.forms]
    return [proto for kind, proto in _BINDINGS if any(isinstance(f, kind) for f in forms)]


def default_protocol(model: ThingModel) -> Protocol:
    """The protocol a model's forms suggest: Modbus, then OPC UA, then MQTT."""
    bound = bound_protocols(model)
    return bound[0] if bound else "mqtt"


def check_model_protocol(model: ThingModel, protocol: Protocol) -> None:
    """Refuse a protocol the model has no forms for (MQTT also takes a model without forms)."""
    bound = bound_protocols(model)
    if protocol == "http" or protocol in bound or (protocol == "mqtt" and not bound):
        return
    raise InvalidInput(
        f"model {model.ref} has no {protocol} forms; use protocol {default_protocol(model)} "
        "or a model that binds its points to " + protocol,
        reason="device_model_protocol",
        params={"model": model.ref, "protocol": protocol, "suggested": default_protocol(model)},
    )
