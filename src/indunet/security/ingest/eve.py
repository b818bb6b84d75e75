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

``fields`` is the whole record as Suricata wrote it (an industrial record's function code
added), kept as the line's text until something reads it (``events.RawFields``): the event
store writes that text as it is.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

import msgspec
import orjson
from orjson import JSONDecodeError

from ..events import MAX_FIELDS_BYTES, RawFields, SecurityEvent, lenient_json
from .common import (
    IPS,
    MAX_LINE,
    BadLine,
    LineError,
    action_name,
    bounded_fields,
    event_id,
    ip,
    name,
    port,
)
from .otcodes import function_of

_OT_ORDER = ("modbus", "dnp3", "enip", "cip", "bacnet", "iec104", "s7comm", "opcua")
_OT = frozenset(_OT_ORDER)
_SKIP = frozenset({"stats"})
_SEVERITIES = {1: 12, 2: 9, 3: 6}
MAX_TS = 4_102_444_800.0
_loads = orjson.loads
# event_id's hash with the format's prefix fed, copied for each line (cheaper than joining
# the prefix to the line first); a test checks that both agree
_EVE_HASH = hashlib.sha256(b"eve\x00")
_ENDS = (b"\n", b"\r")


def severity_of(priority: Any) -> int:
    """Suricata's alert priority (1 most severe) on the 0–15 scale."""
    if isinstance(priority, bool) or not isinstance(priority, int) or priority < 1:
        return 6
    return _SEVERITIES.get(priority, 3)


class Clock:
    """The second last read in Suricata's shape: its text to the seconds, its zone, and its
    microseconds since the epoch (one per reader: its lines come in time order)."""

    __slots__ = ("base", "second", "zone")

    def __init__(self) -> None:
        # no text starts so: nothing matches before a first time is read in full
        self.second, self.zone, self.base = "\x00", "\x00", 0


def timestamp(text: Any, clock: Clock | None = None) -> float:
    """An EVE ``timestamp`` as seconds since the epoch. Suricata writes one shape,
    ``2017-04-07T22:24:37.251547+0100``, and many lines a second: a line in the second that
    ``clock`` read last adds only its microseconds (computed as ``datetime.timestamp()``
    computes them, so both ways give the same float)."""
    if (
        clock is not None
        and type(text) is str
        and len(text) == 31
        and text.startswith(clock.second)
        and text.endswith(clock.zone)
    ):
        micro = text[20:26]
        if text[19] == "." and micro.isdigit() and micro.isascii():
            return (clock.base + int(micro)) / 1_000_000
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
    if clock is not None and len(text) == 31 and text[19] == ".":
        clock.second, clock.zone, clock.base = text[:19], text[26:], int(ts) * 1_000_000
    return ts


class _Head(msgspec.Struct, gc=False):
    """What of an EVE record becomes the event's own fields; the decoder that reads it
    checks the whole line but builds nothing else (the rest stays text: ``RawFields``)."""

    event_type: Any = None
    timestamp: Any = None
    src_ip: Any = None
    src_port: Any = None
    dest_ip: Any = None
    dest_port: Any = None
    app_proto: Any = None
    ether: Any = None
    alert: Any = None
    anomaly: Any = None
    modbus: Any = None
    dnp3: Any = None
    enip: Any = None
    cip: Any = None
    bacnet: Any = None
    iec104: Any = None
    s7comm: Any = None
    opcua: Any = None


_head = msgspec.json.Decoder(_Head).decode
_HEAD_KEYS = _Head.__struct_fields__
_HEAD_FAILS = (msgspec.DecodeError, msgspec.ValidationError, RecursionError, UnicodeError)


def _lenient_or_none(line: bytes | str) -> Any:
    """A line orjson refuses, read as the checking decoder reads it: the one difference is a
    number beyond a float's range, kept as its text (None: not JSON either way)."""
    try:
        return lenient_json(line)
    except _HEAD_FAILS:
        return None


def _head_of(r: dict[str, Any]) -> _Head:
    """The head of a record decoded in full."""
    return _Head(*map(r.get, _HEAD_KEYS))


def read_lines(
    lines: Sequence[bytes | str],
    first: int,
    file: str,
    observer: str,
    enterprise_id: int | None = None,
    clock: Clock | None = None,
) -> tuple[list[SecurityEvent], list[LineError]]:
    """The events of ``lines`` (numbered from ``first``; a line may keep its end of line)
    and the lines that did not read. Blank lines and ``stats`` records are no events.

    Every line of a busy sensor comes through here, so a whole chunk is read in one frame:
    the common fields inline, the helpers only for what a line has. A line read as
    bytes, ASCII and short (as Suricata's lines are) is read by a decoder that
    checks all of it but builds only the fields the event lifts; its ``fields`` stay the
    line's text until read (``RawFields``). Any other line (text, non-ASCII, long, or one
    that decoder refuses) is decoded in full, so what is wrong with it is named as before."""
    clock = clock if clock is not None else Clock()
    second, zone, base = clock.second, clock.zone, clock.base
    events: list[SecurityEvent] = []
    errors: list[LineError] = []
    add, loads, head, prefixed, ips = events.append, _loads, _head, _EVE_HASH.copy, IPS
    fails = _HEAD_FAILS
    number = first - 1
    for raw in lines:
        number += 1
        if isinstance(raw, bytes):
            line: bytes | str = raw.rstrip(b"\r\n") if raw[-1:] in _ENDS else raw
            short = len(line) <= MAX_FIELDS_BYTES // 2
        else:  # text: as its UTF-8 bytes for the id
            line = raw.rstrip("\r\n")
            short = len(line) <= MAX_FIELDS_BYTES // 8
        if not line:
            continue
        if len(line) > MAX_LINE:
            errors.append(LineError(file, number, f"over {MAX_LINE:,} bytes", overlong=True))
            continue
        try:
            h = None
            r: dict[str, Any] | None = None
            if short and type(line) is bytes and line.isascii():
                try:  # noqa: SIM105 - a context manager a line costs more than the try
                    h = head(line)
                except fails:
                    pass  # read in full below: the error named as ever
            if h is None:
                try:
                    r = loads(line)
                except JSONDecodeError as exc:
                    if line.isspace():
                        continue
                    r = _lenient_or_none(line)
                    if r is None:
                        raise BadLine(f"not JSON: {exc}") from None
                if type(r) is not dict:
                    raise BadLine("not a JSON object")
                h = _head_of(r)
            etype = h.event_type
            if type(etype) is not str or not etype:
                raise BadLine("no event_type")
            if etype in _SKIP:
                continue
            if type(line) is bytes:  # event_id("eve", line), inline
                hashed = prefixed()
                hashed.update(line)
                eid = hashed.hexdigest()[:32]
            else:
                eid = event_id("eve", line)
            text = h.timestamp
            if (
                type(text) is str
                and len(text) == 31
                and text.startswith(second)
                and text.endswith(zone)
                and text[19] == "."
                and (micro := text[20:26]).isdigit()
                and micro.isascii()
            ):
                ts = (base + int(micro)) / 1_000_000
            else:
                ts = timestamp(text, clock)
                second, zone, base = clock.second, clock.zone, clock.base
            app = h.app_proto
            protocol = (
                app if type(app) is str and 0 < len(app) <= 64 and app.strip() == app else name(app)
            )
            if etype == "flow":
                kind, did, outcome, severity, message = "net.connection", None, "unknown", 0, ""
                extra = None
            else:
                kind, did, outcome, severity, message, protocol, extra = _typed(etype, h, protocol)
            if r is None:
                fields: Mapping[str, Any] = RawFields(line, extra)  # type: ignore[arg-type]
            else:
                if extra:
                    r.update(extra)
                # what is left is the record's own detail; a line that is short enough
                # cannot make it larger than the bound, so only long ones are measured
                fields = r if short else bounded_fields(r)
            src_ip, dst_ip = h.src_ip, h.dest_ip
            src_port, dst_port = h.src_port, h.dest_port
            ether = h.ether
            src_mac = dst_mac = None
            if type(ether) is dict:
                src_mac, dst_mac = _mac(ether.get("src_mac")), _mac(ether.get("dest_mac"))
            # positional, in the field order of SecurityEvent: a keyword call costs three
            # times as much for its 19 fields (test_parsers pins every field of each type)
            add(
                SecurityEvent(
                    ts,
                    "suricata",
                    kind,
                    enterprise_id,
                    observer,
                    protocol,
                    did,
                    outcome,
                    ips.get(src_ip) or ip(src_ip, "src_ip") if type(src_ip) is str else ip(src_ip),
                    src_port
                    if type(src_port) is int and 0 <= src_port <= 65535
                    else port(src_port),
                    ips.get(dst_ip) or ip(dst_ip, "dest_ip") if type(dst_ip) is str else ip(dst_ip),
                    dst_port
                    if type(dst_port) is int and 0 <= dst_port <= 65535
                    else port(dst_port),
                    src_mac,
                    dst_mac,
                    None,  # user
                    severity,
                    message,
                    fields,
                    eid,
                )
            )
        except BadLine as exc:
            errors.append(LineError(file, number, str(exc)))
    return events, errors


def _typed(
    etype: str, h: _Head, protocol: str | None
) -> tuple[str, str | None, str, int, str, str | None, dict[str, Any] | None]:
    """Kind, action, outcome, severity, message and protocol of a record that is no flow,
    and what it adds to the record's fields (an industrial function's code)."""
    if etype == "alert":
        body = h.alert
        if type(body) is not dict:
            raise BadLine("an alert without its alert object")
        sid = body.get("signature_id")
        return (
            "ids.alert",
            f"sid:{sid}" if sid is not None else None,
            "failure" if body.get("action") == "blocked" else "unknown",
            severity_of(body.get("severity")),
            str(body.get("signature") or "")[:2000],
            protocol,
            None,
        )
    if etype in _OT:
        code, did, outcome = _ot_action(getattr(h, etype))
        code, did, write = function_of(etype, code, did)
        extra = {"function": code, "write": write} if code is not None else None
        return "ot.transaction", did, outcome, 0, "", etype, extra
    if etype == "anomaly":
        body = h.anomaly
        if type(body) is dict:
            return (
                "net.anomaly",
                action_name(body.get("event")),
                "unknown",
                3,
                str(body.get("event") or "")[:2000],
                protocol,
                None,
            )
        return "net.anomaly", None, "unknown", 3, "", protocol, None
    return f"net.{action_name(etype) or 'event'}", None, "unknown", 0, "", protocol, None


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
