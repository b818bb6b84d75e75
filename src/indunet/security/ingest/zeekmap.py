"""A Zeek record as a ``SecurityEvent``, by its log path.

- ``conn`` → ``net.connection`` (protocol: ``service``; outcome by ``conn_state``).
- ``notice`` → ``ids.notice`` (action: ``note``; message: ``msg``; severity 8).
- ``weird`` → ``net.weird`` (action: ``name``; severity 3).
- Industrial protocol logs (Zeek's own ``modbus``, ``dnp3``; CISA ICSNPP's
  ``modbus_detailed``, ``modbus_mask_write_register``, ``modbus_read_write_multiple_registers``,
  ``modbus_read_device_identification``, ``cotp``, ``s7comm``, ``s7comm_read_szl``,
  ``s7comm_upload_download``, ``s7comm_plus``, ``s7comm_known_devices``, ``enip``, ``cip``,
  ``cip_io``, ``cip_identity``, ``dnp3_control``, ``dnp3_objects``, ``bacnet*``…) →
  ``ot.transaction``: protocol from the path, action from the function or service field
  (``func``, ``function_name``, ``cip_service``, ``enip_command``…, as lower snake case),
  outcome from the exception or status field; unit, addresses, values stay in ``fields``.
- Any other path → ``net.<path>`` with its fields kept.

Addresses: ICSNPP's direction-aware ``source_h``/``source_p``/``destination_h``/
``destination_p`` when present, else the connection's ``id.orig_h``… (also nested ``id``
objects of JSON logs written with ``json_nest``).
"""

from __future__ import annotations

from typing import Any

from ..events import SecurityEvent
from .common import BadLine, action_name, bounded_fields, ip, name, port
from .otcodes import function_of

_PROTOCOLS = (
    ("modbus", "modbus"),
    ("s7comm", "s7comm"),
    ("cotp", "s7comm"),
    ("enip", "enip"),
    ("cip", "enip"),
    ("dnp3", "dnp3"),
    ("bacnet", "bacnet"),
    ("bsap", "bsap"),
    ("ge_srtp", "ge_srtp"),
    ("genisys", "genisys"),
    ("opcua", "opcua"),
    ("profinet", "profinet"),
    ("c1222", "c1222"),
    ("hart_ip", "hart_ip"),
    ("omron_fins", "omron_fins"),
    ("synchrophasor", "synchrophasor"),
    ("iec104", "iec104"),
    ("iec60870_5_104", "iec104"),
)
# The field naming what was done, in the order looked for.
_ACTIONS = (
    "func",
    "function_name",
    "cip_service",
    "enip_command",
    "opcode_name",
    "pdu_service",
    "service_choice",
    "pdu_name",
    "fc_request",
    "function_code",
    "method",
    "command",
)
_STATE_OK = frozenset({"SF", "S1", "S2", "S3", "RSTO", "RSTR"})
_STATE_FAILED = frozenset({"REJ", "S0", "RSTOS0", "RSTRH", "SH", "SHR", "OTH"})
_ADDRESS_FIELDS = frozenset(
    {
        "ts",
        "id.orig_h",
        "id.orig_p",
        "id.resp_h",
        "id.resp_p",
        "source_h",
        "source_p",
        "destination_h",
        "destination_p",
        "orig_l2_addr",
        "resp_l2_addr",
    }
)
MAX_TS = 4_102_444_800.0


def protocol_of(path: str) -> str | None:
    """The industrial protocol a log path is about, or None."""
    for prefix, protocol in _PROTOCOLS:
        if path.startswith(prefix):
            return protocol
    return None


def to_event(path: str, record: dict[str, Any], *, observer: str, eid: str) -> SecurityEvent:
    """The event for one Zeek record of log ``path``; ``BadLine`` when it lacks a time."""
    nested = record.get("id")
    if isinstance(nested, dict):  # JSON written with the id record nested
        for k, v in nested.items():
            record.setdefault(f"id.{k}", v)
        del record["id"]
    ts = record.get("ts")
    if isinstance(ts, bool) or not isinstance(ts, int | float) or not 0 <= ts < MAX_TS:
        raise BadLine("no ts (seconds since the epoch) in the record")
    src_h, src_p = record.get("source_h"), record.get("source_p")
    dst_h, dst_p = record.get("destination_h"), record.get("destination_p")
    if src_h is None:
        src_h, src_p = record.get("id.orig_h"), record.get("id.orig_p")
    if dst_h is None:
        dst_h, dst_p = record.get("id.resp_h"), record.get("id.resp_p")
    kind, protocol, did, outcome, severity, message = _meaning(path, record)
    fields = {k: v for k, v in record.items() if k not in _ADDRESS_FIELDS}
    fields["zeek_path"] = path
    if kind == "ot.transaction" and protocol is not None:
        code, did, write = function_of(protocol, record.get("function_code"), did)
        if code is not None:
            fields["function"], fields["write"] = code, write
    return SecurityEvent(
        ts=float(ts),
        source="zeek",
        kind=kind,
        observer=observer,
        protocol=protocol,
        action=did,
        outcome=outcome,
        src_ip=ip(src_h, "source address"),
        src_port=port(src_p),
        dst_ip=ip(dst_h, "destination address"),
        dst_port=port(dst_p),
        src_mac=_mac(record.get("orig_l2_addr")),
        dst_mac=_mac(record.get("resp_l2_addr")),
        severity=severity,
        message=message,
        fields=bounded_fields(fields),
        id=eid,
    )


def _meaning(path: str, r: dict[str, Any]) -> tuple[str, str | None, str | None, str, int, str]:
    """kind, protocol, action, outcome, severity, message."""
    if path == "conn":
        state = r.get("conn_state")
        outcome = (
            "success" if state in _STATE_OK else "failure" if state in _STATE_FAILED else "unknown"
        )
        service = r.get("service")
        if isinstance(service, list):
            service = ",".join(str(s) for s in service)
        return "net.connection", name(service), None, outcome, 0, ""
    if path == "notice":
        return "ids.notice", None, action_name(r.get("note")), "unknown", 8, str(r.get("msg", ""))
    if path == "weird":
        return "net.weird", None, action_name(r.get("name")), "unknown", 3, str(r.get("addl", ""))
    protocol = protocol_of(path)
    if protocol is None:
        return f"net.{action_name(path) or 'log'}", name(r.get("service")), None, "unknown", 0, ""
    did = next((action_name(r[f]) for f in _ACTIONS if r.get(f) not in (None, "")), None)
    return "ot.transaction", protocol, did, _outcome(r), 0, ""


def _outcome(r: dict[str, Any]) -> str:
    exception = r.get("exception_code") or r.get("exception")
    if exception:
        return "failure"
    error = r.get("error_class") or r.get("error_code")
    if error and str(error).lower() not in ("0", "0x00", "no error", "0x0000"):
        return "failure"
    status = r.get("cip_status_code") or r.get("enip_status") or r.get("status_code")
    if status is not None:
        text = str(status).lower()
        return "success" if text in ("0x00", "0", "success", "0x00000000") else "failure"
    return "unknown"


def _mac(value: Any) -> str | None:
    if not isinstance(value, str):
        return None
    text = value.lower()
    parts = text.split(":")
    if len(parts) == 6 and all(len(p) == 2 for p in parts):
        try:
            bytes.fromhex("".join(parts))
        except ValueError:
            return None
        return text
    return None
