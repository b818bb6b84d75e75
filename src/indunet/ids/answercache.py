"""A node's cache of its own answers: the records it holds, with their encoded REST bodies.

The authoritative path reads a record from the database for every request; this cache keeps
the successful answers a node gave (and their serialised bodies) so that a repeated ``GET``
is a dictionary lookup. It never serves a stale record for long, because every writer drops
what it changes: ``Node.put``/``delete`` and the bulk import drop the keys in this process,
and ``ids.changes`` tells every other process (a CLI write, another server on the database)
within one poll. An entry also expires after the shortest TTL of its values, capped by
``max_ttl``, so a missed invalidation heals by itself.

Bodies hold public values only (``Answer.body``); the ``Answer`` kept beside a body holds
every value, exactly as a database read would return it, so callers that filter or authorise
see the same thing either way.

A read that raced a write must not put the record it read before the write back into the
cache: ``ticket()`` before the read and ``put(..., ticket)`` after it refuse the entry when
anything was dropped in between.
"""

from __future__ import annotations

import threading

import orjson

from indunet.ids.answers import Answer
from indunet.ids.cache import TTLCache

#: How a success body begins (``Answer.body``); ``echo`` splices the asked handle after it.
SUCCESS_HEAD = b'{"responseCode":1,"handle":'


def echo(answer: Answer, body: bytes, asked: str) -> bytes:
    """``body`` with ``handle`` as the client wrote it (Handle.Net echoes the asked form)."""
    if asked == answer.handle:
        return body
    head = SUCCESS_HEAD + orjson.dumps(answer.handle)
    if body.startswith(head):  # a few bytes copied instead of a serialisation
        return SUCCESS_HEAD + orjson.dumps(asked) + body[len(head) :]
    return orjson.dumps(answer.to_json() | {"handle": asked})


class AnswerCache:
    """Successful answers of one node by lookup key, each with its body and routing prefix."""

    def __init__(self, max_entries: int = 100_000, max_ttl: int = 300) -> None:
        self.max_ttl = max_ttl
        self._entries: TTLCache[tuple[Answer, bytes, str]] = TTLCache(max_entries)
        self._lock = threading.Lock()
        self._generation = 0

    def ticket(self) -> int:
        """A mark to take before reading a record that ``put`` will cache."""
        return self._generation

    def get(self, key: str) -> tuple[Answer, bytes, str] | None:
        """``(answer, body, routing prefix)`` for ``key``, or ``None``."""
        return self._entries.get(key)

    def put(self, key: str, answer: Answer, routing: str, ticket: int) -> None:
        """Keep a successful ``answer`` unless something was dropped since ``ticket``."""
        ttl = min(answer.min_ttl, self.max_ttl)
        if ttl <= 0:
            return
        body = answer.body()
        with self._lock:
            if ticket != self._generation:
                return
            self._entries.put(key, (answer, body, routing), ttl)

    def drop(self, key: str) -> None:
        """Forget ``key`` (its record changed)."""
        with self._lock:
            self._generation += 1
            self._entries.drop(key)

    def clear(self) -> None:
        """Forget everything (many records changed, or a prefix was revoked)."""
        with self._lock:
            self._generation += 1
            self._entries.clear()

    def __len__(self) -> int:
        return len(self._entries)

    @property
    def hits(self) -> int:
        """Lookups answered from the cache."""
        return self._entries.hits

    @property
    def misses(self) -> int:
        """Lookups that were not."""
        return self._entries.misses
