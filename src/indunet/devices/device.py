"""A registered device and the checks of what a user may say about one (id, connection, tags).

Everything a caller sends is validated here before anything is written: the device id, the
protocol and its connection settings, the location and the tags. Errors name the field and
say what would be accepted.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal, cast

from indunet.core import InvalidInput
from indunet.devices.models import ModbusForm, MqttForm, OpcUaForm, ThingModel

Protocol = Literal["mqtt", "modbus", "opcua", "http"]
Status = Literal["online", "offline", "unknown"]
PROTOCOLS: tuple[Protocol, ...] = ("mqtt", "modbus", "opcua", "http")
DEVICE_ID = re.compile(r"[a-z0-9][a-z0-9_-]{0,62}\Z")
SECURITY_POLICIES = ("None", "Basic256Sha256", "Aes128_Sha256_RsaOaep", "Aes256_Sha256_RsaPss")
SECURITY_MODES = ("None", "Sign", "SignAndEncrypt")
SECRET_KEYS = ("password", "private_key")
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
            "last_seen": self.last_seen,
            "created_at": self.created_at.isoformat() if self.created_at else None,
        }


def check_device_id(value: Any) -> str:
    """A device id (lowercase, an MQTT topic level and handle suffix), or ``InvalidInput``."""
    if not isinstance(value, str) or not DEVICE_ID.match(value):
        raise InvalidInput(
            f"device id {value!r} must be 1-63 characters: lowercase letters, digits, '_' or '-', "
            "starting with a letter or digit (e.g. cnc-0001)"
        )
    return value


def check_text(spec: dict[str, Any], key: str, *, required: bool = False, limit: int = 200) -> str:
    """A short text field of a device spec."""
    v = spec.get(key)
    if v is None or v == "":
        if required:
            raise InvalidInput(f"device {key} is required")
        return ""
    if not isinstance(v, str) or len(v) > limit or any(ord(c) < 32 for c in v):
        raise InvalidInput(f"device {key} must be text of at most {limit} characters")
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
                f"tag {t!r} must be 1-32 letters, digits, '_', '.', ':' or '-' (no spaces)"
            )
        if tag not in out:
            out.append(tag)
    if len(out) > _MAX_TAGS:
        raise InvalidInput(f"a device has at most {_MAX_TAGS} tags, not {len(out)}")
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
        "or a model that binds its points to " + protocol
    )


def check_connection(protocol: Protocol, raw: Any) -> dict[str, Any]:
    """Connection settings typed per protocol, with defaults filled in."""
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise InvalidInput("connection must be an object")
    conn = {k: v for k, v in raw.items() if v not in (None, "")}
    if protocol == "modbus":
        return _modbus(conn)
    if protocol == "opcua":
        return _opcua(conn)
    if conn:
        raise InvalidInput(
            f"a {protocol} device takes no connection settings (it connects to the platform), "
            f"got {', '.join(sorted(conn))}"
        )
    return {}


def _unknown(conn: dict[str, Any], allowed: tuple[str, ...], protocol: str) -> None:
    extra = sorted(set(conn) - set(allowed))
    if extra:
        raise InvalidInput(
            f"unknown {protocol} connection setting(s) {', '.join(extra)}; "
            f"known: {', '.join(allowed)}"
        )


def _int(conn: dict[str, Any], key: str, default: int, low: int, high: int) -> int:
    v = conn.get(key, default)
    if isinstance(v, str) and v.strip().isdigit():
        v = int(v)
    if isinstance(v, bool) or not isinstance(v, int) or not low <= v <= high:
        raise InvalidInput(f"connection {key} {v!r} must be a whole number from {low} to {high}")
    return v


def _modbus(conn: dict[str, Any]) -> dict[str, Any]:
    _unknown(conn, ("host", "port", "unit", "timeout"), "modbus")
    host = conn.get("host")
    if not isinstance(host, str) or not re.fullmatch(r"[A-Za-z0-9.:\[\]_-]{1,253}", host):
        raise InvalidInput("a modbus device needs connection host: an IP address or host name")
    timeout = conn.get("timeout", 3.0)
    try:
        timeout = float(timeout)
    except (TypeError, ValueError):
        timeout = -1.0
    if isinstance(conn.get("timeout"), bool) or not 0 < timeout <= 60:
        raise InvalidInput(f"connection timeout {conn.get('timeout')!r} must be 0-60 seconds")
    return {
        "host": host,
        "port": _int(conn, "port", 502, 1, 65535),
        "unit": _int(conn, "unit", 1, 0, 255),
        "timeout": timeout,
    }


def _opcua(conn: dict[str, Any]) -> dict[str, Any]:
    allowed = (
        "endpoint",
        "security_policy",
        "security_mode",
        "certificate",
        "private_key",
        "username",
        "password",
    )
    _unknown(conn, allowed, "opcua")
    for k, v in conn.items():
        if not isinstance(v, str) or len(v) > 1000:
            raise InvalidInput(f"connection {k} must be text")
    endpoint = conn.get("endpoint", "")
    if not re.fullmatch(r"opc\.tcp://[^\s/]+(/\S*)?", endpoint):
        raise InvalidInput(
            f"an opcua device needs connection endpoint opc.tcp://host:port[/path], not {endpoint!r}"
        )
    policy = conn.get("security_policy", "None")
    mode = conn.get("security_mode", "None" if policy == "None" else "SignAndEncrypt")
    if policy not in SECURITY_POLICIES:
        raise InvalidInput(
            f"security_policy {policy!r} is not one of {', '.join(SECURITY_POLICIES)}"
        )
    if mode not in SECURITY_MODES:
        raise InvalidInput(f"security_mode {mode!r} is not one of {', '.join(SECURITY_MODES)}")
    if (policy == "None") != (mode == "None"):
        raise InvalidInput(
            "security_policy None goes with security_mode None, and a policy with Sign or "
            "SignAndEncrypt"
        )
    has_cert = bool(conn.get("certificate")) + bool(conn.get("private_key"))
    if policy != "None" and has_cert != 2:
        raise InvalidInput(
            f"security_policy {policy} needs a client certificate and private_key (file paths)"
        )
    if policy == "None" and has_cert:
        raise InvalidInput("certificate and private_key need a security_policy other than None")
    if bool(conn.get("username")) != bool(conn.get("password")):
        raise InvalidInput("give both username and password, or neither")
    out = {"endpoint": endpoint, "security_policy": policy, "security_mode": mode}
    for k in ("certificate", "private_key", "username", "password"):
        if conn.get(k):
            out[k] = conn[k]
    return out
