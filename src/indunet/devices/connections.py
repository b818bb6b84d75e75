"""Connection settings of polled devices (Modbus TCP, OPC UA): the typed table and its checks.

The registry stores what the connectors will read, so its table lists every setting the
Modbus and OPC UA connectors understand, with their bounds (``tests/connect`` keeps the two in
step). Values come typed from the API, or as text from CSV files and the CLI; they are stored
typed. Errors name the setting and say what would be accepted.
"""

from __future__ import annotations

import contextlib
import re
from dataclasses import dataclass
from typing import Any, Literal

from indunet.core import InvalidInput

Kind = Literal["host", "endpoint", "int", "seconds", "choice", "text"]
SECURITY_POLICIES = ("None", "Basic256Sha256", "Aes128_Sha256_RsaOaep", "Aes256_Sha256_RsaPss")
SECURITY_MODES = ("None", "Sign", "SignAndEncrypt")
MAX_TEXT = 1000
_HOST = re.compile(r"[A-Za-z0-9.:\[\]_-]{1,253}\Z")
_ENDPOINT = re.compile(r"opc\.tcp://(\[[0-9A-Fa-f:.]+\]|[^\s/:\[\]]+):(?P<port>\d{1,5})(/\S*)?\Z")


@dataclass(frozen=True)
class Setting:
    """One connection setting: its kind, bounds, default (filled in when given) and secrecy."""

    name: str
    kind: Kind
    low: float = 0
    high: float = 0
    default: Any = None
    choices: tuple[str, ...] = ()
    secret: bool = False


MODBUS: tuple[Setting, ...] = (
    Setting("host", "host"),
    Setting("port", "int", 1, 65535, default=502),
    Setting("unit", "int", 0, 255, default=1),
    Setting("timeout", "seconds", 0.01, 60, default=3.0),
    Setting("retries", "int", 0, 10),
    Setting("poll_interval", "seconds", 0.01, 86400),
    Setting("max_gap", "int", 0, 125),
    Setting("max_block", "int", 1, 125),
    Setting("max_bits", "int", 1, 2000),
    Setting("offline_after", "int", 1, 1000),
    Setting("connections", "int", 1, 16),
)
"""Modbus TCP settings, as ``connect.modbus`` reads them."""

OPCUA: tuple[Setting, ...] = (
    Setting("endpoint", "endpoint"),
    Setting("security_policy", "choice", choices=SECURITY_POLICIES),
    Setting("security_mode", "choice", choices=SECURITY_MODES),
    Setting("certificate", "text"),
    Setting("private_key", "text", secret=True),
    Setting("private_key_password", "text", secret=True),
    Setting("server_certificate", "text"),
    Setting("application_uri", "text"),
    Setting("username", "text"),
    Setting("password", "text", secret=True),
    Setting("timeout", "seconds", 0.1, 300),
    Setting("watchdog_interval", "seconds", 0.1, 300),
)
"""OPC UA settings, as ``connect.opcua`` reads them."""

SETTINGS: dict[str, tuple[Setting, ...]] = {"modbus": MODBUS, "opcua": OPCUA}
SECRET_KEYS = frozenset(s.name for table in SETTINGS.values() for s in table if s.secret)
"""Settings shown as ``***`` in API answers."""
CSV_COLUMNS: tuple[str, ...] = tuple(dict.fromkeys(s.name for t in SETTINGS.values() for s in t))
"""Every setting name once, in table order: the connection columns of a device CSV file."""


def check_connection(protocol: str, raw: Any) -> dict[str, Any]:
    """Connection settings typed per protocol, with defaults filled in."""
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise InvalidInput("connection must be an object")
    conn = {k: v for k, v in raw.items() if v is not None and v != ""}
    table = SETTINGS.get(protocol)
    if table is None:
        if conn:
            raise InvalidInput(
                f"a {protocol} device takes no connection settings (it connects to the "
                f"platform), got {', '.join(sorted(map(str, conn)))}"
            )
        return {}
    known = [s.name for s in table]
    extra = sorted(map(str, set(conn) - set(known)))
    if extra:
        raise InvalidInput(
            f"unknown {protocol} connection setting(s) {', '.join(extra)}; "
            f"known: {', '.join(known)}"
        )
    out: dict[str, Any] = {}
    for setting in table:
        if setting.name in conn:
            out[setting.name] = _value(setting, conn[setting.name])
        elif setting.default is not None:
            out[setting.name] = setting.default
    return _modbus(out) if protocol == "modbus" else _opcua(out)


def _value(s: Setting, v: Any) -> Any:
    """One setting's value, typed (text from CSV files is converted), or ``InvalidInput``."""
    if s.kind == "int":
        if isinstance(v, str) and v.strip().isdigit():
            v = int(v)
        if isinstance(v, bool) or not isinstance(v, int) or not s.low <= v <= s.high:
            raise InvalidInput(
                f"connection {s.name} {v!r} must be a whole number from {s.low:g} to {s.high:g}",
                reason="device_connection_number",
                params={"name": s.name, "value": str(v)[:100], "low": s.low, "high": s.high},
            )
        return v
    if s.kind == "seconds":
        num: float = -1.0
        if not isinstance(v, bool):
            with contextlib.suppress(TypeError, ValueError):
                num = float(v)
        if not s.low <= num <= s.high:
            raise InvalidInput(
                f"connection {s.name} {v!r} must be {s.low:g} to {s.high:g} seconds",
                reason="device_connection_seconds",
                params={"name": s.name, "value": str(v)[:100], "low": s.low, "high": s.high},
            )
        return num
    if not isinstance(v, str) or len(v) > MAX_TEXT or any(ord(c) < 32 for c in v):
        raise InvalidInput(f"connection {s.name} must be text of at most {MAX_TEXT} characters")
    if s.kind == "choice" and v not in s.choices:
        raise InvalidInput(f"{s.name} {v!r} is not one of {', '.join(s.choices)}")
    return v


def _modbus(conn: dict[str, Any]) -> dict[str, Any]:
    host = conn.get("host")
    if not isinstance(host, str) or not _HOST.match(host):
        raise InvalidInput(
            "a modbus device needs connection host: an IP address or host name",
            reason="device_modbus_host",
        )
    return conn


def _opcua(conn: dict[str, Any]) -> dict[str, Any]:
    endpoint = conn.get("endpoint", "")
    m = _ENDPOINT.match(endpoint)
    if not m or not 0 < int(m["port"]) < 65536:
        raise InvalidInput(
            f"an opcua device needs connection endpoint opc.tcp://host:port[/path], not {endpoint!r}",
            reason="device_opcua_endpoint",
            params={"endpoint": str(endpoint)[:200]},
        )
    policy = conn.setdefault("security_policy", "None")
    mode = conn.setdefault("security_mode", "None" if policy == "None" else "SignAndEncrypt")
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
    if policy == "None" and (has_cert or conn.get("private_key_password")):
        raise InvalidInput(
            "certificate, private_key and private_key_password need a security_policy "
            "other than None"
        )
    if bool(conn.get("username")) != bool(conn.get("password")):
        raise InvalidInput("give both username and password, or neither")
    order = [s.name for s in OPCUA]
    return {k: conn[k] for k in order if k in conn}
