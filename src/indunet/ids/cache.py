"""The recursive node's cache: answers, 'not found' answers and referrals, each with a TTL."""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from dataclasses import dataclass
from typing import Generic, TypeVar

T = TypeVar("T")


@dataclass(slots=True)
class _Entry(Generic[T]):
    value: T
    expires: float


class TTLCache(Generic[T]):
    """A bounded LRU map whose entries expire; ``hits`` and ``misses`` are counted.

    Thread-safe: the event loop reads and fills it while writes made in worker threads
    (``Node.put`` and ``delete`` run in the thread pool) drop entries, so every operation
    holds one lock. The critical sections are a few dictionary steps, never I/O.
    """

    def __init__(self, max_entries: int) -> None:
        self._data: OrderedDict[str, _Entry[T]] = OrderedDict()
        self._max = max_entries
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    def get(self, key: str, now: float | None = None) -> T | None:
        """The live value for ``key``, or ``None``."""
        with self._lock:
            entry = self._data.get(key)
            if entry is None:
                self.misses += 1
                return None
            if entry.expires <= (now if now is not None else time.monotonic()):
                del self._data[key]
                self.misses += 1
                return None
            self._data.move_to_end(key)
            self.hits += 1
            return entry.value

    def put(self, key: str, value: T, ttl: float) -> None:
        """Keep ``value`` for ``ttl`` seconds (nothing is kept for a TTL of 0)."""
        with self._lock:
            if ttl <= 0:
                self._data.pop(key, None)
                return
            self._data[key] = _Entry(value, time.monotonic() + ttl)
            self._data.move_to_end(key)
            if len(self._data) > self._max:
                self._data.popitem(last=False)

    def drop(self, key: str) -> None:
        """Forget ``key``."""
        with self._lock:
            self._data.pop(key, None)

    def clear(self) -> None:
        """Forget everything."""
        with self._lock:
            self._data.clear()

    def __len__(self) -> int:
        return len(self._data)

    @property
    def hit_rate(self) -> float:
        """Share of lookups answered from the cache."""
        total = self.hits + self.misses
        return self.hits / total if total else 0.0
