"""Handing stored samples to a subscriber (the rule engine) without letting it slow ingest.

Stored batches wait in a bounded queue that one task delivers in order. A subscriber that
falls more than ``max_queued`` samples behind misses batches (counted in
``on_stored_dropped``, one warning per episode); its exceptions are counted
(``on_stored_errors``) and logged, the first and every hundredth with a traceback.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Awaitable, Callable, Sequence

from indunet.telemetry.ingest_stats import IngestStats
from indunet.telemetry.samples import Sample

log = logging.getLogger(__name__)

OnStored = Callable[[list[Sample]], Awaitable[None]]
"""A subscriber: called with each stored batch."""


class Notifier:
    """A bounded, ordered hand-off of stored batches to one subscriber."""

    def __init__(self, on_stored: OnStored | None, max_queued: int, counts: IngestStats) -> None:
        self.on_stored = on_stored
        self.max_queued = max_queued
        self.counts = counts
        self._notes: deque[list[Sample]] = deque()
        self._noted = 0
        self._wake = asyncio.Event()
        self._dropping = False

    def notify(self, samples: Sequence[Sample]) -> None:
        """Queue a stored batch for the subscriber (or drop it, counted, if it is behind)."""
        if self.on_stored is None:
            return
        n = len(samples)
        if self._noted + n > self.max_queued:
            self.counts.on_stored_dropped += n
            if not self._dropping:
                self._dropping = True
                log.warning("the on_stored subscriber is behind: stored samples skip it")
            return
        self._dropping = False
        self._notes.append(samples if isinstance(samples, list) else list(samples))
        self._noted += n
        self._wake.set()

    def wake(self) -> None:
        """Look at the queue again (at stop: deliver what is left, then end)."""
        self._wake.set()

    async def run(self, stopping: Callable[[], bool]) -> None:
        """Deliver queued batches in order; return once ``stopping()`` and nothing is left."""
        while True:
            if not self._notes:
                if stopping():
                    return
                self._wake.clear()
                await self._wake.wait()
                continue
            samples = self._notes.popleft()
            self._noted -= len(samples)
            assert self.on_stored is not None
            try:
                await self.on_stored(samples)
            except Exception:
                self.counts.on_stored_errors += 1
                n = self.counts.on_stored_errors
                if n == 1 or n % 100 == 0:
                    log.exception("on_stored failed (%d failures so far)", n)
