"""Server-Sent Events: the open streams a process allows, and how an event is written.

A stream holds a connection (and a poll of the database every ``StreamLimits.poll_s``) for up
to ``max_s`` seconds, so each is counted: at most ``per_user`` open at once for one user and
``total`` for the process. A stream over the limit is refused before it starts (429
``too_many_streams`` with ``Retry-After``); its slot is given back when it ends, whether it
ran to its end, hit its time limit or the client went away.
"""

from __future__ import annotations

import json
import threading
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

from starlette.responses import StreamingResponse
from starlette.types import Receive, Scope, Send

from indunet.core import IndunetError

#: What a stream answers with.
MEDIA_TYPE = "text/event-stream"
#: Headers of a stream: never cached or buffered by a proxy.
HEADERS = {"Cache-Control": "no-store", "X-Accel-Buffering": "no"}


@dataclass(frozen=True, slots=True)
class StreamLimits:
    """Bounds of the process's event streams (times in seconds)."""

    per_user: int = 4
    total: int = 64  # each polls the database 4 times a second: about 0.4 ms a read
    max_s: float = 600.0  # a stream ends after this long; the client may open a new one
    poll_s: float = 0.25  # how often the source is read
    keepalive_s: float = 15.0  # a comment line after this long without an event
    retry_ms: int = 2000  # what the client waits before reconnecting (``retry:``)


class TooManyStreams(IndunetError):
    """This user (or the process) has as many streams open as allowed."""

    code = "too_many_streams"
    status = 429

    def __init__(self, limit: int, *, per_user: bool) -> None:
        self.retry_after = 5
        super().__init__(
            f"{limit} event streams are open {'for this user' if per_user else 'on this server'};"
            " close one or poll instead",
            reason="too_many_streams",
            params={"max": limit},
            detail={"retry_after": self.retry_after},
        )

    def headers(self) -> dict[str, str]:
        """The ``Retry-After`` header for HTTP answers."""
        return {"Retry-After": str(self.retry_after)}


@dataclass
class StreamSlots:
    """The open streams of this process, by user; thread-safe."""

    limits: StreamLimits = field(default_factory=StreamLimits)
    _open: dict[str, int] = field(default_factory=dict, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def take(self, user: str) -> None:
        """Count a new stream of ``user``, or ``TooManyStreams`` (nothing counted then)."""
        with self._lock:
            if self._open.get(user, 0) >= self.limits.per_user:
                raise TooManyStreams(self.limits.per_user, per_user=True)
            if sum(self._open.values()) >= self.limits.total:
                raise TooManyStreams(self.limits.total, per_user=False)
            self._open[user] = self._open.get(user, 0) + 1

    def give_back(self, user: str) -> None:
        """A stream of ``user`` ended."""
        with self._lock:
            left = self._open.get(user, 0) - 1
            if left > 0:
                self._open[user] = left
            else:
                self._open.pop(user, None)

    def open(self, user: str) -> int:
        """How many streams ``user`` has open."""
        with self._lock:
            return self._open.get(user, 0)


class EventStream(StreamingResponse):
    """A stream of events holding one of ``slots``' slots for ``user`` (taken already); the
    slot is given back when the answer ends, however it ends, even if the events were never
    read (a client gone before the first)."""

    def __init__(
        self, events: AsyncIterator[bytes], slots: StreamSlots, user: str, retry_ms: int
    ) -> None:
        super().__init__(_with_retry(events, retry_ms), media_type=MEDIA_TYPE, headers=HEADERS)
        self._slots, self._user, self._held = slots, user, True

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            if self._held:
                self._held = False
                self._slots.give_back(self._user)


async def _with_retry(events: AsyncIterator[bytes], retry_ms: int) -> AsyncIterator[bytes]:
    yield f"retry: {retry_ms}\n\n".encode()
    async for chunk in events:
        yield chunk


def event(name: str, data: dict[str, Any], *, event_id: str | None = None) -> bytes:
    """One event: its name, an optional id and its data as one line of JSON."""
    lines = [f"event: {name}"]
    if event_id is not None:
        lines.append(f"id: {event_id}")
    lines.append("data: " + json.dumps(data, ensure_ascii=False, separators=(",", ":")))
    return ("\n".join(lines) + "\n\n").encode()


def comment(text: str) -> bytes:
    """A comment line, which clients ignore (keeps idle connections open)."""
    return f": {text}\n\n".encode()
