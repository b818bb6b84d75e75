"""Per-node statistics: counters, resolutions per minute, latency percentiles, Prometheus text."""

from __future__ import annotations

import math
import time
from collections import deque
from dataclasses import dataclass, field

from indunet.ids.daily import DailyTally

# Latency buckets grow by 2**(1/4) from 10 µs: about 19 % wide, enough for percentiles.
_BASE_US = 10.0
_STEP = 2**0.25
_NBUCKETS = 80


def _bucket(us: float) -> int:
    if us <= _BASE_US:
        return 0
    return min(_NBUCKETS - 1, int(math.log(us / _BASE_US, _STEP)) + 1)


def _upper_us(i: int) -> float:
    return _BASE_US * _STEP**i


@dataclass
class NodeStats:
    """What a node counts about itself."""

    resolutions: int = 0
    seconds_total: float = 0.0
    registrations: int = 0
    errors: int = 0
    daily: DailyTally = field(default_factory=DailyTally)  # per hour and prefix (ids.daily)
    _lat: list[int] = field(default_factory=lambda: [0] * _NBUCKETS)
    _minutes: deque[tuple[int, int]] = field(default_factory=lambda: deque(maxlen=60))

    def resolved(self, seconds: float) -> None:
        """Count one resolution that took ``seconds``."""
        self.resolutions += 1
        self.seconds_total += seconds
        self._lat[_bucket(seconds * 1e6)] += 1
        minute = int(time.time() // 60)
        if self._minutes and self._minutes[-1][0] == minute:
            self._minutes[-1] = (minute, self._minutes[-1][1] + 1)
        else:
            self._minutes.append((minute, 1))

    def percentile_ms(self, q: float) -> float:
        """Latency at quantile ``q`` (0-1) in milliseconds, from bucket upper bounds."""
        total = sum(self._lat)
        if not total:
            return 0.0
        # Nearest rank: the sample at position ceil(q * total), at least the first one.
        rank, seen = max(1, math.ceil(q * total - 1e-9)), 0
        for i, n in enumerate(self._lat):
            seen += n
            if seen >= rank:
                return _upper_us(i) / 1000
        return _upper_us(_NBUCKETS - 1) / 1000

    def per_minute(self) -> list[tuple[int, int]]:
        """Resolutions per minute for the last hour: ``(unix minute, count)``, oldest first."""
        now = int(time.time() // 60)
        counts = dict(self._minutes)
        return [(m, counts.get(m, 0)) for m in range(now - 59, now + 1)]

    def latency_buckets(self) -> list[tuple[float, int]]:
        """Cumulative ``(upper bound seconds, count)`` pairs for a Prometheus histogram."""
        out, acc = [], 0
        for i, n in enumerate(self._lat):
            acc += n
            out.append((_upper_us(i) / 1e6, acc))
        return out
