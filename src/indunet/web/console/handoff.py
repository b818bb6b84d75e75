"""One-time downloads: a file a console page hands to the user who caused it, once.

A bulk device import makes secrets that must not be printed on the page (150 of them on a
screen is a screen photo away from a leak) yet must reach the operator. The page keeps them
here, under a random handle, for ``TTL_S`` seconds: only the same user may take them, with a
POST (so the CSRF guard checks it), and taking them removes them. The store is bounded
(``MAX_FILES`` in all, ``MAX_PER_USER`` each, the oldest dropped first) and lives in the
process's memory only: a restart forgets every handle, which is the safe way to fail.
"""

from __future__ import annotations

import secrets
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass

TTL_S = 600.0
MAX_FILES = 256
MAX_PER_USER = 8


@dataclass(frozen=True, slots=True)
class Handoff:
    """A file waiting for its owner."""

    owner: str
    filename: str
    media_type: str
    body: bytes
    expires: float


class Handoffs:
    """Files kept for their owners until taken or expired (thread-safe)."""

    def __init__(self, *, ttl: float = TTL_S, max_files: int = MAX_FILES) -> None:
        self.ttl = ttl
        self.max_files = max_files
        self._files: OrderedDict[str, Handoff] = OrderedDict()
        self._lock = threading.Lock()

    def _expire(self, now: float) -> None:
        for handle in [h for h, f in self._files.items() if f.expires <= now]:
            del self._files[handle]

    def put(self, owner: str, filename: str, body: bytes, media_type: str = "text/csv") -> str:
        """Keep ``body`` for ``owner``; return the handle to take it with."""
        now = time.monotonic()
        handle = secrets.token_urlsafe(24)
        with self._lock:
            self._expire(now)
            mine = [h for h, f in self._files.items() if f.owner == owner]
            for old in mine[: max(0, len(mine) - MAX_PER_USER + 1)]:
                del self._files[old]
            while len(self._files) >= self.max_files:
                self._files.popitem(last=False)
            self._files[handle] = Handoff(owner, filename, media_type, body, now + self.ttl)
        return handle

    def take(self, owner: str, handle: str) -> Handoff | None:
        """The file under ``handle`` if it is ``owner``'s and still there, removed from the
        store; None otherwise (another user's handle stays, for its owner)."""
        with self._lock:
            self._expire(time.monotonic())
            found = self._files.get(handle)
            if found is None or found.owner != owner:
                return None
            del self._files[handle]
            return found


#: The console process's one store.
HANDOFFS = Handoffs()

__all__ = ["HANDOFFS", "MAX_FILES", "MAX_PER_USER", "TTL_S", "Handoff", "Handoffs"]
