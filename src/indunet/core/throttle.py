"""Login throttling: failed attempts per key (an account, a source address) with backoff.

The first ``free`` failures of a key cost nothing; each later one locks the key for
``min(base * 2**(failures - free - 1), cap)`` seconds from that failure (1, 2, 4 … s); attempts while it is locked are refused without checking the
password and do not count. A success clears the account's key, never the source's (an
attacker must not reset their address by logging in to an account of their own). A key
whose last failure is older than ``forget_after`` starts again from zero.

State lives in memory, one ``Throttle`` per process, bounded to ``max_keys`` keys (the
least recently failed are dropped first). It is thread-safe: logins run in worker threads.
"""

from __future__ import annotations

import math
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

from indunet.core.errors import IndunetError


class TooManyAttempts(IndunetError):
    """Too many failed logins for this account or from this address; retry later."""

    code = "too_many_attempts"
    status = 429

    def __init__(self, retry_after: float) -> None:
        self.retry_after = max(1, math.ceil(retry_after))
        super().__init__(
            f"too many failed logins; try again in {self.retry_after} s",
            detail={"retry_after": self.retry_after},
        )

    def headers(self) -> dict[str, str]:
        """The ``Retry-After`` header for HTTP answers."""
        return {"Retry-After": str(self.retry_after)}


@dataclass(frozen=True, slots=True)
class Backoff:
    """How many failures are free, and the lock after each later one (doubling to ``cap``)."""

    free: int
    base: float = 1.0
    cap: float = 900.0
    forget_after: float = 3600.0

    def lock_for(self, failures: int) -> float:
        """Seconds a key stays locked after its ``failures``-th failure."""
        extra = failures - self.free - 1
        if extra < 0:
            return 0.0
        return min(self.base * 2.0 ** min(extra, 64), self.cap)


ACCOUNT = Backoff(free=5)
SOURCE = Backoff(free=20)  # addresses may be shared (NAT, a proxy): more slack
MAX_KEYS = 100_000


@dataclass(slots=True)
class _Entry:
    failures: int
    last: float


class Throttle:
    """Failure counts per key, each key with its ``Backoff`` (chosen by the key's kind)."""

    def __init__(
        self,
        policies: dict[str, Backoff] | None = None,
        *,
        max_keys: int = MAX_KEYS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.policies = policies or {"account": ACCOUNT, "source": SOURCE}
        self.max_keys = max_keys
        self.clock = clock
        self._entries: OrderedDict[tuple[str, str], _Entry] = OrderedDict()
        self._lock = threading.Lock()

    def _live(self, key: tuple[str, str], now: float) -> _Entry | None:
        entry = self._entries.get(key)
        if entry is not None and now - entry.last > self.policies[key[0]].forget_after:
            del self._entries[key]
            return None
        return entry

    def retry_after(self, *keys: tuple[str, str]) -> float:
        """Seconds until every key may try again (0 if they may now)."""
        now = self.clock()
        wait = 0.0
        with self._lock:
            for key in keys:
                entry = self._live(key, now)
                if entry is not None:
                    until = entry.last + self.policies[key[0]].lock_for(entry.failures)
                    wait = max(wait, until - now)
        return wait

    def check(self, *keys: tuple[str, str]) -> None:
        """Raise ``TooManyAttempts`` while any key is locked."""
        wait = self.retry_after(*keys)
        if wait > 0:
            raise TooManyAttempts(wait)

    def failed(self, *keys: tuple[str, str]) -> list[tuple[tuple[str, str], float]]:
        """Count one failure against every key; the keys this failure locks, each with the
        seconds of its lock (a locked key takes no attempts, so each lock begins once)."""
        now = self.clock()
        locked: list[tuple[tuple[str, str], float]] = []
        with self._lock:
            for key in keys:
                entry = self._live(key, now)
                if entry is None:
                    entry = self._entries[key] = _Entry(0, now)
                entry.failures += 1
                entry.last = now
                self._entries.move_to_end(key)
                seconds = self.policies[key[0]].lock_for(entry.failures)
                if seconds > 0:
                    locked.append((key, seconds))
            while len(self._entries) > self.max_keys:
                self._entries.popitem(last=False)
        return locked

    def succeeded(self, key: tuple[str, str]) -> None:
        """Forget the failures of ``key`` (an account that just proved its password)."""
        with self._lock:
            self._entries.pop(key, None)

    def __len__(self) -> int:
        return len(self._entries)
