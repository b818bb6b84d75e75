"""Samples accepted and stored per minute, for the overview's ingest-rate chart.

The pipeline counts totals since start (``IngestStats``); ``IngestRate`` turns those totals
into a per-minute series by observing them every few seconds (the platform's housekeeping
does) and keeping the differences in a bounded ring of minutes (a day by default); what was
counted before the first observation falls in its minute. It lives in memory only: a
restarted process starts with an empty series, and minutes in which nobody observed (the
process was down) are absent. Counters that go backwards (a new pipeline) start a new
baseline instead of a negative rate.
"""

from __future__ import annotations

import threading
from collections import deque
from dataclasses import dataclass

MINUTE_MS = 60_000
DAY_MINUTES = 24 * 60


@dataclass(frozen=True, slots=True)
class Minute:
    """What the pipeline did in the minute starting at ``start`` (ms since 1970)."""

    start: int
    accepted: int
    stored: int


class IngestRate:
    """A bounded per-minute series of accepted and stored samples (thread-safe)."""

    def __init__(self, minutes: int = DAY_MINUTES) -> None:
        self._minutes: deque[list[int]] = deque(maxlen=max(1, minutes))
        self._last = (0, 0)  # the pipeline's counters start at zero with the process
        self._lock = threading.Lock()

    def observe(self, now_ms: int, accepted: int, stored: int) -> None:
        """Record the pipeline's totals at ``now_ms``; the growth since the last observation
        is added to the minute ``now_ms`` falls in."""
        with self._lock:
            last, self._last = self._last, (accepted, stored)
            if accepted < last[0] or stored < last[1]:
                return  # a new pipeline (counters from zero again): a new baseline
            start = now_ms - now_ms % MINUTE_MS
            if not self._minutes or self._minutes[-1][0] < start:
                self._minutes.append([start, 0, 0])
            current = self._minutes[-1]
            if current[0] != start:
                return  # a clock that went back: drop rather than misfile
            current[1] += accepted - last[0]
            current[2] += stored - last[1]

    def series(self, since_ms: int = 0) -> list[Minute]:
        """The minutes starting at or after ``since_ms``, oldest first."""
        with self._lock:
            return [Minute(s, a, st) for s, a, st in self._minutes if s >= since_ms]
