"""What an asset is described by: CISA's OT asset-inventory attributes as typed fields, the
ATT&CK for ICS asset types, criticality, and the checks of what a person or a CSV file says.

Every check raises ``InvalidInput`` naming the field (``reason="asset_field"``), so the API
and the CSV import (which adds the line) say exactly what is wrong.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable, Mapping
from typing import Any

from indunet.core import InvalidInput

#: ATT&CK for ICS assets (x-mitre-asset, v18.1): id → name. tests/security/assets pins this
#: against the vendored bundle (data/ics-attack.json), so a newer bundle is noticed.
ASSET_TYPES: dict[str, str] = {
    "A0001": "Workstation",
    "A0002": "Human-Machine Interface (HMI)",
    "A0003": "Programmable Logic Controller (PLC)",
    "A0004": "Remote Terminal Unit (RTU)",
    "A0005": "Intelligent Electronic Device (IED)",
    "A0006": "Data Historian",
    "A0007": "Control Server",
    "A0008": "Application Server",
    "A0009": "Data Gateway",
    "A0010": "Safety Controller",
    "A0011": "Virtual Private Network (VPN) Server",
    "A0012": "Jump Host",
    "A0013": "Field I/O",
    "A0014": "Routers",
    "A0015": "Switch",
    "A0016": "Firewall",
    "A0017": "Distributed Control System (DCS) Controller",
    "A0018": "Programmable Automation Controller (PAC)",
}
CRITICALITIES = ("low", "medium", "high", "critical")
ROLES = ("server", "client")
#: Who said a value, most trusted first: a person's edit, a CSV import, the platform's device
#: registry, what a device said about itself on the wire, what the sensor inferred.
PRECEDENCE = ("manual", "csv", "platform", "identification", "observation")
RANK = {name: len(PRECEDENCE) - i for i, name in enumerate(PRECEDENCE)}
#: The origin shown in an asset's sources (identification and observation are the sensor's).
ORIGIN = {
    "manual": "manual",
    "csv": "csv",
    "platform": "platform",
    "identification": "sensor",
    "observation": "sensor",
}
TEXT_FIELDS = (
    "name",
    "vendor",
    "model",
    "firmware",
    "serial",
    "hostname",
    "location",
    "logging",
)
CHOICE_FIELDS = ("asset_type", "role", "criticality")
#: List fields and how many values each keeps at most (the oldest beyond are dropped).
LIST_FIELDS: dict[str, int] = {
    "ips": 32,
    "macs": 16,
    "protocols": 16,
    "ports": 64,
    "accounts": 64,
    "model_numbers": 8,
}
LINK_FIELDS = ("device_id", "identifier")
EDITABLE = (*TEXT_FIELDS, *CHOICE_FIELDS, *LIST_FIELDS, *LINK_FIELDS, "zone_id")
MAX_TEXT = 200
_PROTOCOL = re.compile(r"[a-z0-9][a-z0-9_.-]{0,31}\Z")
_ACCOUNT = re.compile(r"[^\x00-\x1f,;]{1,64}\Z")
_IDENTIFIER = re.compile(r"[^\s\x00-\x1f]{1,255}\Z")
_DEVICE = re.compile(r"[a-z0-9][a-z0-9_-]{0,62}\Z")


def bad(name: str, why: str) -> InvalidInput:
    """The error naming attribute ``name``."""
    return InvalidInput(f"{name} {why}", reason="asset_field", params={"field": name})


def norm_ip(value: Any, name: str = "ips") -> str:
    try:
        return str(ipaddress.ip_address(str(value).strip()))
    except ValueError:
        raise bad(name, f"holds {str(value)[:50]!r}, not an IPv4 or IPv6 address") from None


def norm_mac(value: Any, name: str = "macs") -> str:
    text = str(value).strip().lower().replace("-", ":")
    if len(text) == 12 and ":" not in text:
        text = ":".join(text[i : i + 2] for i in range(0, 12, 2))
    parts = text.split(":")
    if len(parts) != 6 or not all(
        len(p) == 2 and all(c in "0123456789abcdef" for c in p) for p in parts
    ):
        raise bad(name, f"holds {str(value)[:50]!r}, not a MAC address such as 00:1b:1b:aa:bb:cc")
    return text


def _port(value: Any) -> int:
    try:
        port = int(str(value).strip())
    except ValueError:
        port = -1
    if isinstance(value, bool) or not 0 < port <= 65535:
        raise bad("ports", f"holds {str(value)[:20]!r}, not a port number from 1 to 65535")
    return port


def _protocol(value: Any) -> str:
    text = str(value).strip().lower()
    if not _PROTOCOL.match(text):
        raise bad("protocols", f"holds {text[:40]!r}: a protocol name is a short word (modbus)")
    return text


def _account(value: Any) -> str:
    text = str(value).strip()
    if not _ACCOUNT.match(text):
        raise bad("accounts", "holds an account that is empty, too long or has control characters")
    return text


def _model_number(value: Any) -> str:
    return check_text("model_numbers", value)


def _ports(value: Any, name: str = "ports") -> int:
    return _port(value)


def _protocols(value: Any, name: str = "protocols") -> str:
    return _protocol(value)


def _accounts(value: Any, name: str = "accounts") -> str:
    return _account(value)


def _model_numbers(value: Any, name: str = "model_numbers") -> str:
    return _model_number(value)


_ITEM: dict[str, Callable[[Any, str], Any]] = {
    "ips": norm_ip,
    "macs": norm_mac,
    "ports": _ports,
    "protocols": _protocols,
    "accounts": _accounts,
    "model_numbers": _model_numbers,
}


def check_text(name: str, value: Any) -> str:
    if value is None:
        return ""
    if not isinstance(value, str | int) or isinstance(value, bool):
        raise bad(name, "must be text")
    text = str(value).strip()
    if len(text) > MAX_TEXT or any(ord(c) < 32 for c in text):
        raise bad(name, f"must be text of at most {MAX_TEXT} characters on one line")
    return text


def check_list(name: str, value: Any) -> list[Any]:
    """A list field from a JSON list or a text of values split by ``;``, ``,`` or spaces."""
    if value is None or value == "":
        return []
    if isinstance(value, str):
        value = [v for v in re.split(r"[;,\s]+", value) if v]
    if not isinstance(value, list | tuple):
        raise bad(name, "must be a list")
    limit = LIST_FIELDS[name]
    if len(value) > limit:
        raise bad(name, f"has more than {limit} values")
    out: list[Any] = []
    for item in value:
        v = _ITEM[name](item, name)
        if v not in out:
            out.append(v)
    return sorted(out) if name == "ports" else out


def check_choice(name: str, value: Any) -> str:
    text = check_text(name, value)
    if not text:
        return ""
    if name == "asset_type":
        text = text.upper()
        if text not in ASSET_TYPES:
            # a name ("Data Historian") is accepted for the id
            by_name = {n.lower(): k for k, n in ASSET_TYPES.items()}
            found = by_name.get(text.lower())
            if found is None:
                raise bad(name, "must be an ATT&CK for ICS asset id (A0001–A0018)")
            text = found
        return text
    text = text.lower()
    allowed = CRITICALITIES if name == "criticality" else ROLES
    if text not in allowed:
        raise bad(name, f"must be one of {', '.join(allowed)}")
    return text


def check_link(name: str, value: Any) -> str | None:
    text = check_text(name, value)
    if not text:
        return None
    pattern = _DEVICE if name == "device_id" else _IDENTIFIER
    if not pattern.match(text):
        raise bad(
            name,
            "is not a device id (lowercase, 1–63)"
            if name == "device_id"
            else "is not an identifier (no spaces)",
        )
    return text


def check_spec(spec: Mapping[str, Any], *, partial: bool = False) -> dict[str, Any]:
    """The attributes a person (the API, the console, a CSV row) gave, checked and typed;
    unknown keys are refused. ``zone_id`` is an int or None (its owner is checked later)."""
    if not isinstance(spec, Mapping):
        raise InvalidInput("an asset is a JSON object", reason="asset_shape", params={})
    unknown = sorted(set(spec) - set(EDITABLE))
    if unknown:
        raise bad(unknown[0][:40], "is not an asset attribute")
    out: dict[str, Any] = {}
    for key, value in spec.items():
        if key in TEXT_FIELDS:
            out[key] = check_text(key, value)
        elif key in CHOICE_FIELDS:
            out[key] = check_choice(key, value)
        elif key in LIST_FIELDS:
            out[key] = check_list(key, value)
        elif key in LINK_FIELDS:
            out[key] = check_link(key, value)
        elif key == "zone_id":
            out[key] = _zone(value)
    named = out.get("name") or out.get("ips") or out.get("macs") or out.get("hostname")
    if not partial and not named:
        raise bad("name", "is required (or an IP address, MAC address or hostname)")
    return out


def _zone(value: Any) -> int | None:
    if value is None or value == "":
        return None
    try:
        zid = int(str(value))
    except ValueError:
        raise bad("zone_id", "must be a zone's number") from None
    if zid <= 0 or isinstance(value, bool):
        raise bad("zone_id", "must be a zone's number")
    return zid
