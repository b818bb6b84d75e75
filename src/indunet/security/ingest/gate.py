"""What stands between a source and the hub: its counters, the duplicate window and the rate.

Every source (a tailed file, a syslog listener, the HTTP endpoint, the platform's own events)
has one ``SourceStats``: lines read, events parsed, bad lines, overlong lines, duplicates (the
same content within the window), rate-limited and dropped events, events handed on. They are
the metrics' ``indunet_security_source_*`` lines and ``GET /api/v1/security/sources``.

A ``Gate`` removes duplicates (an event id, which is a hash of the line, seen within
``window_s``) and meters the rate: a source that can wait (a file) is slowed down
(``wait``), one that cannot (a UDP datagram, a TCP peer over its rate) has the excess
counted as ``rate_limited`` (``take``).
"""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from operator import attrgetter

from ..events import SecurityEvent

DEDUP_WINDOW_S = 600.0
DEDUP_MAX = 100_000
"""Ids remembered per source at most (the oldest are forgotten first)."""
_ID = attrgetter("id")


@dataclass
class SourceStats:
    """One source's counters (all only grow)."""

    name: str
    kind: str  # file, directory, udp, tcp, http, platform, cli
    format: str
    enterprise_id: int | None = None
    read: int = 0
    parsed: int = 0
    bad: int = 0
    overlong: int = 0
    duplicates: int = 0
    rate_limited: int = 0
    dropped: int = 0
    submitted: int = 0
    refused: int = 0  # connections refused (over the limit)
    last_error: str = ""

    def to_dict(self) -> dict[str, object]:
        return asdict(self)


class Bucket:
    """A token bucket: ``rate`` per second, ``burst`` at once."""

    def __init__(self, rate: float, burst: float | None = None) -> None:
        self.rate = rate
        self.burst = burst if burst is not None else max(rate, 1.0)
        self.tokens = self.burst
        self.at = time.monotonic()

    def _fill(self) -> None:
        now = time.monotonic()
        self.tokens = min(self.burst, self.tokens + (now - self.at) * self.rate)
        self.at = now

    def take(self, n: int) -> int:
        """How many of ``n`` may pass now (the rest are over the rate)."""
        self._fill()
        allowed = min(n, int(self.tokens))
        self.tokens -= allowed
        return allowed

    async def wait(self, n: int) -> None:
        """Wait until ``n`` may pass (a batch larger than the burst waits for its share)."""
        self._fill()
        self.tokens -= n
        if self.tokens < 0:
            await asyncio.sleep(-self.tokens / self.rate)


class Gate:
    """A source's duplicate window and rate, counting into its ``SourceStats``."""

    def __init__(
        self,
        stats: SourceStats,
        rate: float | None = None,
        window_s: float = DEDUP_WINDOW_S,
        remember: int = DEDUP_MAX,
    ) -> None:
        self.stats = stats
        self.bucket = Bucket(rate) if rate else None
        self.window_s = window_s
        self.remember = remember
        self._seen: OrderedDict[str, float] = OrderedDict()

    def fresh(self, events: Sequence[SecurityEvent]) -> list[SecurityEvent]:
        """``events`` without those seen within the window (counted as duplicates)."""
        now = time.monotonic()
        seen = self._seen
        while seen:
            oldest = next(iter(seen.values()))
            if now - oldest <= self.window_s and len(seen) <= self.remember:
                break
            seen.popitem(last=False)
        ids = list(map(_ID, events))
        if seen.keys().isdisjoint(ids) and len(set(ids)) == len(ids):  # all new: in C
            seen.update(dict.fromkeys(ids, now))
            return list(events)
        out: list[SecurityEvent] = []
        for e in events:
            if e.id in seen:
                continue
            seen[e.id] = now
            out.append(e)
        self.stats.duplicates += len(events) - len(out)
        return out

    def take(self, events: list[SecurityEvent]) -> list[SecurityEvent]:
        """What the rate lets through now; the rest is counted ``rate_limited``."""
        if self.bucket is None:
            return events
        allowed = self.bucket.take(len(events))
        self.stats.rate_limited += len(events) - allowed
        return events[:allowed]

    async def wait(self, n: int) -> None:
        """Slow down to the rate (back-pressure for sources that can wait)."""
        if self.bucket is not None and n:
            await self.bucket.wait(n)
