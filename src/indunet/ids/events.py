"""What ids publishes on the bus about resolutions, declared once: every resolution answered
(Handle HTTP API, the native resolve route, GS1 Digital Link, the Handle protocol over UDP
and TCP) as a signal record, batched by ``core.signals``.

A producer adds ``(source address or None, handle as asked (text or the wire's bytes),
response code, way in: ``http``, ``api``, ``gs1``, ``udp`` or ``tcp``)``; ``RESOLUTIONS.shape`` makes it the JSON consumers read:
``{"src", "handle", "outcome", "rc", "via"}``, the handle decoded and cut to
``MAX_HANDLE`` characters, the outcome read from the code (``outcome_of``).
"""

from __future__ import annotations

from typing import Any

from indunet.core import EventType
from indunet.core.signals import Record, SignalType
from indunet.ids.errors import RC

SOURCE = "ids"
MAX_HANDLE = 512
"""Characters of the handle a record keeps."""

RESOLVED = EventType(
    "ids.resolutions",
    1,
    SOURCE,
    "identifier resolutions answered: source address, handle, outcome, way in "
    "(at most 1,000 a second per process, the rest counted)",
)


def outcome_of(rc: int) -> str:
    """``success`` when the identifier exists (answered, or a type/index filter left no
    value), ``failure`` when it does not, ``unknown`` for anything else (a referral, a busy
    or refusing server, a handle that does not parse)."""
    if rc in (RC.SUCCESS, RC.VALUES_NOT_FOUND):
        return "success"
    if rc == RC.HANDLE_NOT_FOUND:
        return "failure"
    return "unknown"


def _shape(record: Record) -> dict[str, Any]:
    src, handle, rc, via = record
    text = handle.decode("utf-8", "replace") if isinstance(handle, bytes) else str(handle)
    return {
        "src": src or None,
        "handle": text[:MAX_HANDLE],
        "outcome": outcome_of(rc),
        "rc": int(rc),
        "via": via,
    }


RESOLUTIONS = SignalType(RESOLVED, _shape)
"""The signal of resolutions answered (``core.signals.Signals.of(RESOLUTIONS)``)."""
