"""What every log parser shares: the error naming file and line, the stable event id, the
bounded ``fields`` object, and small value readers.

A parser reads one line (or record) and returns a ``SecurityEvent``, ``None`` for a line
that carries no event (a Zeek header, a Suricata ``stats`` record), or raises ``BadLine``;
``BadLine`` says what is wrong, the caller adds the file and line number (``LineError``).
"""

from __future__ import annotations

import hashlib
import ipaddress
import re
from dataclasses import dataclass
from typing import Any

import orjson

from ..events import MAX_FIELDS_BYTES, MAX_NAME

MAX_LINE = 65_536
"""Bytes of one log line at most (beyond: counted as overlong and skipped)."""
FORMATS = ("zeek", "zeek-json", "eve", "syslog")
_VALUE_CUT = 512


class BadLine(ValueError):
    """A line that is not what its format (or its file's header) says."""


@dataclass(frozen=True, slots=True)
class LineError:
    """One line that was not read: where, and why."""

    file: str
    line: int
    error: str
    overlong: bool = False  # longer than MAX_LINE (counted apart from bad lines)

    def __str__(self) -> str:
        return f"{self.file}, line {self.line}: {self.error}"

    def to_dict(self) -> dict[str, Any]:
        return {"file": self.file, "line": self.line, "error": self.error}


def event_id(fmt: str, line: bytes | str) -> str:
    """A stable id from the line's content: the same line read again is the same event
    (the hub recognises it), whichever file or connection it came by. SHA-256 of the format
    and the line, cut to 128 bits (SHA-256 runs on the CPU's hash instructions: a third
    faster here than BLAKE2b)."""
    data = line.encode("utf-8", "surrogateescape") if isinstance(line, str) else line
    prefix = _PREFIXES.get(fmt) or fmt.encode()[:16] + b"\x00"
    return _sha256(prefix + data).hexdigest()[:32]


_PREFIXES = {f: f.encode() + b"\x00" for f in FORMATS}
_sha256 = hashlib.sha256


def bounded_fields(data: dict[str, Any]) -> dict[str, Any]:
    """``data`` as it is when its JSON fits ``MAX_FIELDS_BYTES``; otherwise long values are
    cut (marked ``…``) and, if still too big, the largest values are left out and named in
    ``_omitted``: the event is kept, never refused for a verbose source."""
    raw = orjson.dumps(data, default=str)
    if len(raw) <= MAX_FIELDS_BYTES:
        return data
    out: dict[str, Any] = {}
    for key, value in data.items():
        text = orjson.dumps(value, default=str)
        if len(text) > _VALUE_CUT:
            out[key] = text[:_VALUE_CUT].decode("utf-8", "ignore") + "…"
        else:
            out[key] = orjson.loads(text)
    omitted: list[str] = []
    while len(orjson.dumps(out)) > MAX_FIELDS_BYTES - 1_000 and out:
        biggest = max(out, key=lambda k: len(orjson.dumps(out[k])))
        omitted.append(biggest)
        del out[biggest]
    if omitted:
        out["_omitted"] = omitted[:50]
    return out


def name(value: Any) -> str | None:
    """A short text field (kind, action, user…) or None: cut to the schema's length."""
    if value is None:
        return None
    text = str(value).strip()
    if not text:
        return None
    return text[:MAX_NAME]


_SNAKE = re.compile(r"[^0-9a-z]+")


def action_name(value: Any) -> str | None:
    """A function or service name as lower snake case: ``READ_HOLDING_REGISTERS``,
    ``Read Holding Registers`` and ``read-holding-registers`` read alike."""
    text = name(value)
    if text is None:
        return None
    snake = _SNAKE.sub("_", text.lower()).strip("_")
    return snake[:MAX_NAME] or None


def port(value: Any) -> int | None:
    """A port number or None (Zeek writes ``502``, JSON may say ``"502/tcp"``)."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, str):
        value = value.split("/", 1)[0]
        if not value.isdigit():
            return None
        value = int(value)
    if isinstance(value, int) and 0 <= value <= 65535:
        return value
    return None


def ip(value: Any, what: str = "address") -> str | None:
    """An IP address in its canonical text, None for an empty value; ``BadLine`` naming
    ``what`` for anything else."""
    found = IPS.get(value) if isinstance(value, str) else None
    if found is not None:
        return found
    if value is None or value in ("", "-"):
        return None
    if not isinstance(value, str) or len(value) > 64:
        raise BadLine(f"{what} {str(value)[:60]!r} is not an IP address")
    found = _canonical_ip(value)
    if found is None:
        raise BadLine(f"{what} {value[:60]!r} is not an IP address")
    return found


def _canonical_ip(text: str) -> str | None:
    """An address's canonical text (remembered in ``IPS``: a plant's addresses are few and
    repeat; the memory is emptied when it holds ``_MAX_IPS``)."""
    try:
        found = str(ipaddress.ip_address(text))
    except ValueError:
        return None
    if len(IPS) >= _MAX_IPS:
        IPS.clear()
    IPS[text] = found
    return found


IPS: dict[str, str] = {}
"""Addresses read so far, as written → canonical text (parsers look here first)."""
_MAX_IPS = 65_536
