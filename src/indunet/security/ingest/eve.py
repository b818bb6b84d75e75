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
from .common import IPS, BadLine, action_name, bounded_fields, ip, name, port
from .otcodes import function_of

_OT = frozenset({"modbus", "dnp3", "enip", "cip", "bacnet", "iec104", "s7comm", "opcua"})
_SKIP = frozenset({"stats"})
MAX_TS = 4_102_444_800.0
_loads = orjson.loads


def severity_of(priority: Any) -> int:
    """Suricata's alert priority (1 most severe) on the 0–15 scale."""
    if isinstance(priority, bool) or not isinstance(priority, int) or priority < 1:
        return 6
    return {1: 12, 2: 9, 3: 6}.get(priority, 3)


def timestamp(text: Any) -> float:
    """An EVE ``timestamp`` as seconds since the epoch."""
    global _second, _zone, _base
    if type(text) is str and len(text) == 31 and text[:19] == _second and text[26:] == _zone:
        # Suricata writes one shape, 2017-04-07T22:24:37.251547+0100, and many lines a
        # second: a line in the second read last adds only its microseconds (computed as
        # datetime.timestamp() computes them, so both ways give the same float)
        micro = text[20:26]
        if text[19] == "." and micro.isdigit() and micro.isascii():
            return (_base + int(micro)) / 1_000_000
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
    if len(text) == 31 and text[19] == ".":
        _second, _zone, _base = text[:19], text[26:], int(ts) * 1_000_000
    return ts


# the second last read in Suricata's shape: its text to the seconds, its zone, and its
# microseconds since the epoch
_second, _zone, _base = "", "", 0


def parse(
    line: str | bytes, observer: str, eid: str, enterprise_id: int | None = None
) -> SecurityEvent | None:
    """The event of one EVE line; None for records that are no events (``stats``).

    Every line of a busy sensor comes through here, so it is written for few calls: the
    common fields are read inline and the helpers run only for what a line has."""
    try:
        r = _loads(line)
    except orjson.JSONDecodeError as exc:
        raise BadLine(f"not JSON: {exc}") from None
    if type(r) is not dict:
        raise BadLine("not a JSON object")
    etype = r.get("event_type")
    if type(etype) is not str or not etype:
        raise BadLine("no event_type")
    if etype in _SKIP:
        return None
    pop = r.pop
    ts = timestamp(pop("timestamp", None))
    app = r.get("app_proto")
    protocol = app if type(app) is str and 0 < len(app) <= 64 and app.strip() == app else name(app)
    did: str | None = None
    outcome, severity, message = "unknown", 0, ""
    if etype == "flow":
        kind = "net.connection"
    elif etype == "alert":
        body = r.get("alert")
        if type(body) is not dict:
            raise BadLine("an alert without its alert object")
        sid = body.get("signature_id")
        kind, did = "ids.alert", f"sid:{sid}" if sid is not None else None
        severity = severity_of(body.get("severity"))
        message = str(body.get("signature") or "")[:2000]
        outcome = "failure" if body.get("action") == "blocked" else "unknown"
    elif etype in _OT:
        kind, protocol = "ot.transaction", etype
        code, did, outcome = _ot_action(r.get(etype))
        code, did, write = function_of(etype, code, did)
        if code is not None:
            r["function"], r["write"] = code, write
    elif etype == "anomaly":
        kind, severity = "net.anomaly", 3
        body = r.get("anomaly")
        if type(body) is dict:
            did = action_name(body.get("event"))
            message = str(body.get("event") or "")[:2000]
    else:
        kind = f"net.{action_name(etype) or 'event'}"
    src_ip, dst_ip = pop("src_ip", None), pop("dest_ip", None)
    src_port, dst_port = pop("src_port", None), pop("dest_port", None)
    ether = pop("ether", None)
    src_mac = dst_mac = None
    if type(ether) is dict:
        src_mac, dst_mac = _mac(ether.get("src_mac")), _mac(ether.get("dest_mac"))
    # what is left is the record's own detail; a line that is short enough cannot make it
    # larger than the bound, so only long lines are measured (bounded_fields)
    short = len(line) <= (MAX_FIELDS_BYTES // 2 if type(line) is bytes else MAX_FIELDS_BYTES // 8)
    # positional, in the field order of SecurityEvent: a keyword call costs three times as
    # much for its 19 fields (test_eve pins every field of each record type)
    return SecurityEvent(
        ts,
        "suricata",
        kind,
        enterprise_id,
        observer,
        protocol,
        did,
        outcome,
        IPS.get(src_ip) or ip(src_ip, "src_ip") if type(src_ip) is str else ip(src_ip),
        src_port if type(src_port) is int and 0 <= src_port <= 65535 else port(src_port),
        IPS.get(dst_ip) or ip(dst_ip, "dest_ip") if type(dst_ip) is str else ip(dst_ip),
        dst_port if type(dst_port) is int and 0 <= dst_port <= 65535 else port(dst_port),
        src_mac,
        dst_mac,
        None,  # user
        severity,
        message,
        r if short else bounded_fields(r),
        eid,
    )


def _ot_action(body: Any) -> tuple[Any, str | None, str]:
    """The function code as the tool wrote it (if it did), the function's name (lower snake
    case) and the outcome of an industrial record's body."""
    if not isinstance(body, dict):
        return None, None, "unknown"
    outcome = "unknown"
    response = body.get("response")
    if isinstance(response, dict):
        flags = str(response.get("error_flags") or "NONE")
        outcome = "failure" if "exception" in response or flags != "NONE" else "success"
    for part in ("request", "application", "response"):
        inner = body.get(part)
        if isinstance(inner, dict):
            for key in ("function_code", "command", "service", "function"):
                value = inner.get(key)
                if value not in (None, ""):
                    code = inner.get("function_raw", value)
                    return code, action_name(value), outcome
    for key in ("function_code", "command", "service"):
        value = body.get(key)
        if value not in (None, ""):
            return value, action_name(value), outcome
    return None, None, outcome


def _mac(value: Any) -> str | None:
    if isinstance(value, str) and len(value) == 17 and value.count(":") == 5:
        return value.lower()
    return None
