"""Syslog messages: RFC 5424 and the older BSD form (RFC 3164).

RFC 5424: ``<PRI>1 TIMESTAMP HOSTNAME APP-NAME PROCID MSGID STRUCTURED-DATA [MSG]``; ``-`` is
the NILVALUE; structured data is ``[id name="value" ...]...`` (``\\"``, ``\\\\`` and ``\\]``
escaped in values); a message starting with the UTF-8 BOM is UTF-8 without it. The timestamp
carries its own zone (``Z`` or ``+08:00``).

RFC 3164: ``<PRI>Mmm dd hh:mm:ss HOSTNAME TAG[PID]: MSG``. It states neither year nor zone:
the time is read in the zone configured for the source (UTC unless set), in the year it was
received; a time that would then lie more than a day in the future is of the year before
(a December line received in January).

Severity (syslog 0 emergency … 7 debug) on the 0–15 scale: 0 → 15, 1 → 13, 2 → 11, 3 → 8,
4 → 6, 5 → 4, 6 → 2, 7 → 0. Kind ``log.auth`` for the auth and authpriv facilities (4, 10),
``log.syslog`` otherwise; action is the app name (tag), the facility and structured data go
into ``fields``.
"""

from __future__ import annotations

import re
import time
from datetime import UTC, datetime, tzinfo
from typing import Any

from ..events import MAX_TEXT, SecurityEvent
from .common import BadLine, bounded_fields, name

SEVERITY = (15, 13, 11, 8, 6, 4, 2, 0)
"""Our 0–15 level for syslog severities 0 (emergency) … 7 (debug)."""
FACILITIES = (
    *("kern", "user", "mail", "daemon", "auth", "syslog", "lpr", "news", "uucp", "cron"),
    *("authpriv", "ftp", "ntp", "audit", "alert", "clock"),
    *("local0", "local1", "local2", "local3", "local4", "local5", "local6", "local7"),
)
_MONTH_NAMES = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
_AUTH = frozenset({4, 10})
_PRI = re.compile(r"<(\d{1,3})>")
_BSD = re.compile(
    r"(Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) ([ \d]\d) (\d\d):(\d\d):(\d\d) "
)
_MONTHS = {m: i for i, m in enumerate(_MONTH_NAMES, 1)}
_TAG = re.compile(r"([^\s:\[]{1,48})(?:\[([^\]]{1,32})\])?:\s?")
BOM = "\ufeff"


def parse(
    line: str,
    *,
    observer: str,
    eid: str,
    zone: tzinfo = UTC,
    now: float | None = None,
    peer: str | None = None,
) -> SecurityEvent:
    """The event of one syslog message (either form); ``BadLine`` naming what is wrong.
    ``peer``: the sender's address when it came over the network."""
    m = _PRI.match(line)
    if m is None:
        raise BadLine("no <PRI> at the start")
    pri = int(m.group(1))
    if pri > 191:
        raise BadLine(f"PRI {pri} is over 191")
    rest = line[m.end() :]
    if rest.startswith("1 "):
        parts = _rfc5424(rest[2:])
    else:
        parts = _rfc3164(rest, zone, time.time() if now is None else now)
    ts, host, app, procid, msgid, sd, msg = parts
    facility, level = divmod(pri, 8)
    fields: dict[str, Any] = {"facility": FACILITIES[facility], "syslog_severity": level}
    for key, value in (("host", host), ("procid", procid), ("msgid", msgid), ("peer", peer)):
        if value:
            fields[key] = value
    if sd:
        fields["sd"] = sd
    return SecurityEvent(
        ts=ts,
        source="syslog",
        kind="log.auth" if facility in _AUTH else "log.syslog",
        observer=observer or (host or ""),
        action=name(app),
        severity=SEVERITY[level],
        message=msg if len(msg) <= MAX_TEXT else msg[: MAX_TEXT - 1] + "…",
        fields=bounded_fields(fields),
        id=eid,
    )


_Parts = tuple[float, str | None, str | None, str | None, str | None, dict[str, Any], str]


def _nil(part: str) -> str | None:
    return None if part == "-" else part


def _rfc5424(text: str) -> _Parts:
    head = text.split(" ", 5)
    if len(head) < 6:
        raise BadLine("an RFC 5424 header needs TIMESTAMP HOSTNAME APP-NAME PROCID MSGID SD")
    stamp, host, app, procid, msgid, rest = head
    if stamp == "-":
        ts = time.time()
    else:
        try:
            moment = datetime.fromisoformat(stamp.replace("Z", "+00:00"))
        except ValueError:
            raise BadLine(f"timestamp {stamp[:40]!r} is not RFC 3339") from None
        if moment.tzinfo is None:
            raise BadLine(f"timestamp {stamp[:40]!r} has no zone")
        ts = moment.timestamp()
    sd, msg = _structured(rest)
    if msg.startswith(BOM):
        msg = msg[1:]
    return ts, _nil(host), _nil(app), _nil(procid), _nil(msgid), sd, msg


def _structured(text: str) -> tuple[dict[str, Any], str]:
    """The structured data elements and the message after them."""
    if text.startswith("-"):
        return {}, text[2:] if text.startswith("- ") else text[1:]
    if not text.startswith("["):
        raise BadLine("structured data must be - or start with [")
    out: dict[str, Any] = {}
    i, n = 0, len(text)
    while i < n and text[i] == "[":
        end_id = i + 1
        while end_id < n and text[end_id] not in " ]":
            end_id += 1
        sd_id = text[i + 1 : end_id]
        if not sd_id or "=" in sd_id or '"' in sd_id:
            raise BadLine(f"structured data at column {i + 1}: a bad SD-ID")
        params: dict[str, str] = {}
        i = end_id
        while i < n and text[i] == " ":
            eq = text.find("=", i)
            if eq < 0 or eq + 1 >= n or text[eq + 1] != '"':
                raise BadLine(f'structured data at column {i + 1}: expected name="value"')
            pname = text[i + 1 : eq]
            if not pname or any(c in pname for c in ' ]"'):
                raise BadLine(f"structured data at column {i + 2}: a bad parameter name")
            value, i = _quoted(text, eq + 2)
            params[pname] = value
        if i >= n or text[i] != "]":
            raise BadLine(f"structured data at column {i + 1}: expected ]")
        i += 1
        out[sd_id] = params
    if i < n and text[i] != " ":
        raise BadLine(f"structured data at column {i + 1}: expected a space before the message")
    return out, text[i + 1 :]


def _quoted(text: str, i: int) -> tuple[str, int]:
    chars: list[str] = []
    n = len(text)
    while i < n:
        c = text[i]
        if c == "\\" and i + 1 < n and text[i + 1] in '"\\]':
            chars.append(text[i + 1])
            i += 2
            continue
        if c == '"':
            return "".join(chars), i + 1
        chars.append(c)
        i += 1
    raise BadLine("structured data: a value without its closing quote")


def _rfc3164(text: str, zone: tzinfo, now: float) -> _Parts:
    m = _BSD.match(text)
    if m is None:
        raise BadLine("neither RFC 5424 (<PRI>1 …) nor RFC 3164 (<PRI>Mmm dd hh:mm:ss …)")
    month, day = _MONTHS[m.group(1)], int(m.group(2))
    hh, mm, ss = int(m.group(3)), int(m.group(4)), int(m.group(5))
    year = datetime.fromtimestamp(now, zone).year
    try:
        ts = datetime(year, month, day, hh, mm, ss, tzinfo=zone).timestamp()
        if ts > now + 86_400:
            ts = datetime(year - 1, month, day, hh, mm, ss, tzinfo=zone).timestamp()
    except ValueError:
        raise BadLine(f"{text[:15]!r} is not a date") from None
    rest = text[m.end() :]
    host, _, rest = rest.partition(" ")
    app = procid = None
    tag = _TAG.match(rest)
    if tag is not None:
        app, procid = tag.group(1), tag.group(2)
        rest = rest[tag.end() :]
    return ts, host or None, app, procid, None, {}, rest
