"""The ingest queue and how it is cut into batches: at once when a caller is alone, gathered
when callers are many.

Each submission is a *job* (its samples and the future its caller awaits). The batch task
asks ``next_batch`` for the next batch: the oldest jobs, up to ``max_batch`` samples. The
queue fills by itself while the previous batch is being written, so under load batches grow
with no timer (group commit). Waiting on a timer only pays when more callers are about to
arrive, so the batcher waits (at most ``max_delay``, until ``max_batch`` samples are queued)
only when the previous batch gathered more than one submission. A lone caller (one sequential
gateway, one QoS 1 message on an idle server) is written at once instead of waiting ``max_delay``
for companions that are not coming.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from collections.abc import Callable, Sequence

from indunet.telemetry.samples import Sample

Job = tuple[Sequence[Sample], "asyncio.Future[None]"]
"""One submission: its samples and the future its caller awaits."""


class Batcher:
    """A FIFO of jobs and the adaptive rule that cuts it into batches."""

    def __init__(self, max_batch: int, max_delay: float) -> None:
        self.max_batch = max_batch
        self.max_delay = max_delay
        self.jobs: deque[Job] = deque()
        self.queued = 0  # samples queued or being written
        self.inflight: list[Job] = []  # the batch being written
        self.concurrent = False  # the last batch gathered several submissions
        self._wake = asyncio.Event()
        self._full = asyncio.Event()

    def add(self, samples: Sequence[Sample]) -> asyncio.Future[None]:
        """Queue a submission; the returned future resolves once it is stored."""
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.jobs.append((samples, done))
        self.queued += len(samples)
        if self.queued >= self.max_batch:
            self._full.set()
        self._wake.set()
        return done

    def wake(self) -> None:
        """Stop waiting (at stop: what is queued goes now)."""
        self._wake.set()
        self._full.set()

    async def next_batch(self, stopping: Callable[[], bool]) -> tuple[list[Job], int] | None:
        """The next batch and its sample count; None once ``stopping()`` and nothing is left."""
        while not self.jobs:
            if stopping():
                return None
            self._wake.clear()
            await self._wake.wait()
        if self.concurrent and self.queued < self.max_batch and not stopping():
            self._full.clear()
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self.max_delay):
                    await self._full.wait()
        jobs = [self.jobs.popleft()]
        size = len(jobs[0][0])
        while self.jobs and size + len(self.jobs[0][0]) <= self.max_batch:
            jobs.append(self.jobs.popleft())
            size += len(jobs[-1][0])
        self.concurrent = len(jobs) > 1
        self.inflight = jobs
        return jobs, size

    def written(self, size: int) -> None:
        """The batch taken last is answered (stored, buffered or failed)."""
        self.queued -= size
        self.inflight = []

    def take_all(self) -> list[Job]:
        """Empty the queue (jobs not yet taken into a batch) and return its jobs."""
        jobs = list(self.jobs)
        self.jobs.clear()
        return jobs
