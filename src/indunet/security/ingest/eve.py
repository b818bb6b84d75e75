"""Suricata EVE JSON: one object a line, as Suricata 6–8 write ``eve.json``.

- ``alert`` → ``ids.alert``: action ``alert.signature_id`` (as ``sid:<n>``), message
  ``alert.signature``, severity from ``alert.severity`` (Suricata's priority, 1 = most
  severe): 1 → 12, 2 → 9, 3 → 6, 4 and beyond → 3; outcome ``failure`` when Suricata blocked
  it (``alert.action: blocked``), else ``unknown``. Signature, category, gid, rev, metadata
  stay in ``fields``.
- ``flow`` → ``net.connection`` (protocol: ``app_proto``; the ``flow`` object in ``fields``).
- ``anomaly`` → ``net.anomaly`` (action: ``anomaly.event``; severity 3).
- ``modbus``, ``dnp3``, ``enip`` (and other industrial ones) → ``ot.transaction``: action the
  request's function (``modbus.request.function_code``, ``dnp3.application.function_code``,
  ``enip.request.command``…) as lower snake case; outcome ``failure`` on a Modbus exception.
- ``stats`` records are no events (None); any other type → ``net.<event_type>``.

Time: ``timestamp`` (``2017-04-07T22:24:37.251547+0100``; a time without a zone is UTC).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import orjson

from ..events import MAX_FIELDS_BYTES, SecurityEvent
from .common import BadLine, action_name, bounded_fields, ip, name, port

_OT = frozenset({"modbus", "dnp3", "enip", "cip", "bacnet", "iec104", "s7comm", "opcua"})
_SKIP = frozenset({"stats"})
MAX_TS = 4_102_444_800.0


def severity_of(priority: Any) -> int:
    """Suricata's alert priority (1 most severe) on the 0–15 scale."""
    if isinstance(priority, bool) or not isinstance(priority, int) or priority < 1:
        return 6
    return {1: 12, 2: 9, 3: 6}.get(priority, 3)


def timestamp(text: Any) -> float:
    """An EVE ``timestamp`` as seconds since the epoch."""
    if not isinstance(text, str):
        raise BadLine("no timestamp")
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise BadLine(f"timestamp {text[:40]!r} is not ISO 8601") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    ts = moment.timestamp()
    if not 0 <= ts < MAX_TS:
        raise BadLine(f"timestamp {text[:40]!r} is out of range")
    return ts


def parse(line: str | bytes, *, observer: str, eid: str) -> SecurityEvent | None:
    """The event of one EVE line; None for records that are no events (``stats``)."""
    try:
        r = orjson.loads(line)
    except orjson.JSONDecodeError as exc:
        raise BadLine(f"not JSON: {exc}") from None
    if not isinstance(r, dict):
        raise BadLine("not a JSON object")
    etype = r.get("event_type")
    if not isinstance(etype, str) or not etype:
        raise BadLine("no event_type")
    if etype in _SKIP:
        return None
    ts = timestamp(r.get("timestamp"))
    app = name(r.get("app_proto"))
    kind, protocol, did, outcome, severity, message = "", app, None, "unknown", 0, ""
    body = r.get(etype)
    if etype == "alert":
        if not isinstance(body, dict):
            raise BadLine("an alert without its alert object")
        sid = body.get("signature_id")
        kind, did = "ids.alert", f"sid:{sid}" if sid is not None else None
        severity = severity_of(body.get("severity"))
        message = str(body.get("signature") or "")
        outcome = "failure" if body.get("action") == "blocked" else "unknown"
    elif etype == "flow":
        kind = "net.connection"
    elif etype == "anomaly":
        kind, severity = "net.anomaly", 3
        if isinstance(body, dict):
            did = action_name(body.get("event"))
            message = str(body.get("event") or "")
    elif etype in _OT:
        kind, protocol = "ot.transaction", etype
        did, outcome = _ot_action(body)
    else:
        kind = f"net.{action_name(etype) or 'event'}"
    pop = r.pop
    pop("timestamp", None)
    src_ip, src_port = pop("src_ip", None), pop("src_port", None)
    dst_ip, dst_port = pop("dest_ip", None), pop("dest_port", None)
    ether = pop("ether", None)
    if not isinstance(ether, dict):
        ether = {}
    # what is left is the record's own detail; a line that is short enough cannot make it
    # larger than the bound, so only long lines are measured (bounded_fields)
    fields = r if len(line) <= MAX_FIELDS_BYTES // 2 else bounded_fields(r)
    return SecurityEvent(
        ts=ts,
        source="suricata",
        kind=kind,
        observer=observer,
        protocol=protocol,
        action=did,
        outcome=outcome,
        src_ip=ip(src_ip, "src_ip"),
        src_port=port(src_port),
        dst_ip=ip(dst_ip, "dest_ip"),
        dst_port=port(dst_port),
        src_mac=_mac(ether.get("src_mac")),
        dst_mac=_mac(ether.get("dest_mac")),
        severity=severity,
        message=message[:2000],
        fields=fields,
        id=eid,
    )


def _ot_action(body: Any) -> tuple[str | None, str]:
    if not isinstance(body, dict):
        return None, "unknown"
    outcome = "unknown"
    response = body.get("response")
    if isinstance(response, dict):
        flags = str(response.get("error_flags") or "NONE")
        outcome = "failure" if "exception" in response or flags != "NONE" else "success"
    for part in ("request", "application", "response"):
        inner = body.get(part)
        if isinstance(inner, dict):
            for key in ("function_code", "command", "service", "function"):
                if inner.get(key) not in (None, ""):
                    return action_name(inner[key]), outcome
    for key in ("function_code", "command", "service"):
        if body.get(key) not in (None, ""):
            return action_name(body[key]), outcome
    return None, outcome


def _mac(value: Any) -> str | None:
    if isinstance(value, str) and len(value) == 17 and value.count(":") == 5:
        return value.lower()
    return None
