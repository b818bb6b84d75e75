"""Passive identification: what a device says about itself in a protocol's answers, as the
sensor puts it in an ``ot.transaction`` event's ``fields.details``, turned into asset
attributes (vendor, model, firmware, serial, model numbers, hostname).

The keys read per protocol (the sensor's contract; docs/security/assets.md):

- ``modbus`` (function 43/14, Read Device Identification): ``VendorName``, ``ProductCode``,
  ``MajorMinorRevision``, ``ProductName``, ``ModelName``, ``VendorUrl``.
- ``opcua`` (GetEndpoints / the server's BuildInfo): ``manufacturerName``, ``productName``,
  ``productUri``, ``softwareVersion``, ``buildNumber``, ``applicationUri``,
  ``applicationName``.
- ``s7comm`` (SZL 0x0011 module identification, 0x001c component identification):
  ``order_number``, ``firmware``, ``module_type``, ``serial_number``, ``module_name``,
  ``plant_id``.
- ``enip`` (ListIdentity): ``vendor_id`` (named from ``ODVA_VENDORS``), ``product_name``,
  ``product_code``, ``revision``, ``serial_number``, ``device_type``.
- ``dnp3``: ``outstation_address`` (kept as a model number ``dnp3:<address>``).

The sensor (``security.sensor``) nests them by what answered: ``device_identification``
(Modbus), ``build_info`` (``ProductName``, ``ProductUri``, ``ManufacturerName``,
``SoftwareVersion``, ``BuildNumber``) and ``server`` (``application_uri``, ``product_uri``)
(OPC UA), ``module_identification`` and ``component_identification`` (S7), ``identity``
(ENIP, the serial as ``0x…`` text); ``flatten`` reads those as the keys above. A DNP3
transaction's ``unit`` is the outstation's address.

Every value is cut to the attribute's length; a value of the wrong type is ignored, never an
error (the wire is hostile: the sensor forwards what it saw).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .attributes import MAX_TEXT

#: ODVA CIP vendor ids of common makers (the full list is ODVA's; an id not here is kept as
#: ``ODVA vendor <id>``).
ODVA_VENDORS: dict[int, str] = {
    1: "Rockwell Automation/Allen-Bradley",
    26: "Festo",
    40: "WAGO",
    46: "ABB",
    47: "Omron",
    57: "Pepperl+Fuchs",
    68: "Eaton",
    82: "Mitsubishi Electric Automation",
    90: "HMS Industrial Networks",
    94: "Advantech",
    108: "Beckhoff Automation",
    109: "National Instruments",
    143: "GE",
    145: "Siemens",
    161: "Mitsubishi Electric",
    243: "Schneider Electric",
    250: "Yokogawa",
    283: "Hilscher",
    309: "ProSoft Technology",
    319: "Fuji Electric",
    326: "GE Fanuc",
    345: "Endress+Hauser",
    367: "Keyence",
}


#: The sensor's nested sections, per protocol, and the names of their keys read here.
SECTIONS: dict[str, tuple[str, ...]] = {
    "modbus": ("device_identification",),
    "opcua": ("build_info", "server"),
    "s7comm": ("module_identification", "component_identification"),
    "enip": ("identity",),
}
_OPCUA_NAMES = {
    "ProductName": "productName",
    "ProductUri": "productUri",
    "ManufacturerName": "manufacturerName",
    "SoftwareVersion": "softwareVersion",
    "BuildNumber": "buildNumber",
    "application_uri": "applicationUri",
    "product_uri": "productUri",
}


def flatten(protocol: str, details: Mapping[str, Any]) -> dict[str, Any]:
    """``details`` with the sensor's nested sections of ``protocol`` read as top-level keys
    (a top-level key already there wins)."""
    out: dict[str, Any] = {}
    for section in SECTIONS.get(protocol, ()):
        nested = details.get(section)
        if isinstance(nested, Mapping):
            for key, value in nested.items():
                name = _OPCUA_NAMES.get(str(key), str(key)) if protocol == "opcua" else str(key)
                out.setdefault(name, value)
    return {**out, **details}


def _text(details: Mapping[str, Any], *keys: str) -> str:
    for key in keys:
        value = details.get(key)
        if isinstance(value, str | int) and not isinstance(value, bool):
            text = "".join(c for c in str(value) if c.isprintable()).strip()
            if text:
                return text[:MAX_TEXT]
    return ""


def _modbus(d: Mapping[str, Any]) -> dict[str, Any]:
    numbers = [_text(d, "ProductCode")]
    return {
        "vendor": _text(d, "VendorName"),
        "model": _text(d, "ModelName", "ProductName", "ProductCode"),
        "firmware": _text(d, "MajorMinorRevision"),
        "model_numbers": [n for n in numbers if n],
    }


def _opcua(d: Mapping[str, Any]) -> dict[str, Any]:
    version = _text(d, "softwareVersion")
    build = _text(d, "buildNumber")
    if version and build and build not in version:
        version = f"{version} build {build}"[:MAX_TEXT]
    numbers = [_text(d, "productUri")]
    return {
        "vendor": _text(d, "manufacturerName"),
        "model": _text(d, "productName"),
        "firmware": version or build,
        "model_numbers": [n for n in numbers if n],
        "hostname": _host_of(_text(d, "applicationUri")),
    }


def _host_of(uri: str) -> str:
    """The host of ``urn:host:app`` or ``opc.tcp://host:4840`` (not an IP), else ""."""
    if uri.startswith("urn:"):
        parts = uri.split(":")
        host = parts[1] if len(parts) > 2 else ""
    elif "://" in uri:
        host = uri.split("://", 1)[1].split("/", 1)[0].rsplit(":", 1)[0]
    else:
        return ""
    if not host or host.replace(".", "").isdigit() or host in ("localhost",):
        return ""
    return host[:MAX_TEXT]


def _s7(d: Mapping[str, Any]) -> dict[str, Any]:
    order = _text(d, "order_number")
    return {
        "vendor": "Siemens",
        "model": _text(d, "module_type", "order_number"),
        "firmware": _text(d, "firmware"),
        "serial": _text(d, "serial_number"),
        "model_numbers": [order] if order else [],
        "hostname": _text(d, "module_name", "plant_id"),
    }


def _enip(d: Mapping[str, Any]) -> dict[str, Any]:
    vendor = ""
    vid = d.get("vendor_id")
    if isinstance(vid, int) and not isinstance(vid, bool) and 0 <= vid <= 0xFFFF:
        vendor = ODVA_VENDORS.get(vid, f"ODVA vendor {vid}")
    code = _text(d, "product_code")
    serial = d.get("serial_number")
    if isinstance(serial, int) and not isinstance(serial, bool):
        serial = f"{serial:08x}"
    elif isinstance(serial, str) and serial.lower().startswith("0x"):
        serial = serial[2:].lower()
    return {
        "vendor": vendor,
        "model": _text(d, "product_name"),
        "firmware": _text(d, "revision"),
        "serial": serial if isinstance(serial, str) else "",
        "model_numbers": [f"{vid}:{code}"] if code and vendor else [],
    }


def _dnp3(d: Mapping[str, Any]) -> dict[str, Any]:
    addr = d.get("outstation_address")
    if isinstance(addr, int) and not isinstance(addr, bool) and 0 <= addr <= 0xFFFF:
        return {"model_numbers": [f"dnp3:{addr}"]}
    return {}


_READERS = {"modbus": _modbus, "opcua": _opcua, "s7comm": _s7, "enip": _enip, "dnp3": _dnp3}


def identify(protocol: str | None, details: Any, unit: Any = None) -> dict[str, Any]:
    """Asset attributes from a transaction's ``details`` (empty when there are none);
    ``unit`` is the transaction's unit (a DNP3 request's outstation address)."""
    reader = _READERS.get(protocol or "")
    if reader is None:
        return {}
    details = details if isinstance(details, Mapping) else {}
    if protocol == "dnp3" and "outstation_address" not in details and unit is not None:
        details = {**details, "outstation_address": unit}
    if not details:
        return {}
    values = reader(flatten(protocol or "", details))
    if not any(v for k, v in values.items() if k != "vendor") and protocol == "s7comm":
        return {}  # an S7 answer that said nothing of itself
    return {k: v for k, v in values.items() if v}
