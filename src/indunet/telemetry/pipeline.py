"""The ingest pipeline: validate, batch, store durably, and only then acknowledge.

Every connector hands samples to ``Pipeline.submit``. Samples are checked against their
device's model (bad ones become dead letters with the reason), then queued; one batching task
gathers the queue into batches of up to ``max_batch`` samples (``batching.Batcher``: at once
for a lone caller, waiting at most ``max_delay`` for a batch to fill when callers are many)
and one writer thread stores them. A caller's ``submit`` returns only when its samples are
durable, so MQTT PUBACKs and HTTP 200s mean "stored".

When the store fails, or falls behind so far that the in-memory queue passes its bound,
batches go to the on-disk ``DiskBuffer`` instead (the caller is answered once the batch is on
disk) and a drain task replays the buffer oldest-first, retrying with a capped doubling delay.
While the buffer holds anything, new batches join it behind the old ones, so on restart its
content is delivered first. When the buffer is full, ``submit`` raises ``Overloaded``. The
buffer's own reads and removals are retried like store writes (a transient disk error delays
the drain, never ends it), and every task runs supervised: one that dies is logged and
restarted.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from enum import Enum
from itertools import chain
from pathlib import Path
from typing import Any

from indunet.core import InvalidInput
from indunet.devices import ThingModel
from indunet.telemetry.batching import Batcher, Job
from indunet.telemetry.buffer import DiskBuffer
from indunet.telemetry.checks import (
    REFUSED,
    UNDECODABLE,
    UNKNOWN_DEVICE,
    Checks,
    Letter,
    said,
    sample_text,
)
from indunet.telemetry.deadletters import DeadLetters
from indunet.telemetry.ingest_stats import IngestStats
from indunet.telemetry.notifier import Notifier, OnStored
from indunet.telemetry.samples import Sample
from indunet.telemetry.sink import Overloaded
from indunet.telemetry.store import BatchWriter
from indunet.telemetry.supervise import supervised

log = logging.getLogger(__name__)

_ERRORS_SHOWN = 5


class _NoBuffer(DiskBuffer):
    """The buffer of a pipeline without one: always empty, never opened, refuses appends."""

    def __init__(self) -> None:
        super().__init__(Path("/nonexistent/no-buffer.db"), 0)

    @property
    def full(self) -> bool:
        return True

    async def open(self) -> None:
        return None

    async def append(self, samples: Sequence[Sample]) -> None:
        raise Overloaded("this pipeline keeps no disk buffer; retry later")

    async def oldest(self, max_samples: int) -> list[tuple[int, list[Sample]]]:
        return []

    async def close(self) -> None:
        return None


class _StoreDown(Exception):
    """The store failed recently: send the batch to the buffer without trying."""


class Run(Enum):
    """Whether the pipeline takes samples."""

    STOPPED = "stopped"
    RUNNING = "running"
    STOPPING = "stopping"  # refuses new samples, writes what is queued


class Route(Enum):
    """Where new batches go."""

    STORE = "store"  # straight to the store
    BUFFER = "buffer"  # behind the buffer's content, which the drain task replays
    STORE_DOWN = "store_down"  # to the buffer; the store failed and the drain task probes it


@dataclass(frozen=True, slots=True)
class Receipt:
    """What became of one submission: samples accepted and dead-lettered, first reasons,
    and the device ids no registered device has (their samples were dead-lettered)."""

    accepted: int
    dead_lettered: int
    errors: list[str] = field(default_factory=list)
    unknown: frozenset[str] = frozenset()


class Pipeline:
    """Validates, batches and durably stores samples; implements ``SampleSink``.

    Without a buffer (``buffer=None``: a worker fed by the bus, which keeps each batch until
    it is acknowledged), a batch the store does not take fails its callers with
    ``Overloaded`` instead of going to disk, so "returned" always means "in the store".

    ``start`` opens the buffer and starts the tasks; ``stop`` refuses new samples, writes
    what is queued (to the store, or to the buffer if the store fails) and closes the buffer.
    The store is not closed: its owner does that after ``stop``.
    """

    def __init__(
        self,
        store: BatchWriter,
        lookup: Callable[[str], ThingModel | None],
        dead_letters: DeadLetters,
        buffer: DiskBuffer | None,
        *,
        max_batch: int = 10_000,
        max_delay: float = 0.02,
        on_stored: OnStored | None = None,
        max_queued: int | None = None,
        retry_base: float = 0.1,
        retry_cap: float = 5.0,
        model_ttl: float = 5.0,
        stop_timeout: float = 30.0,
    ) -> None:
        self.store = store
        self.dead_letters = dead_letters
        self.durable_buffer = buffer is not None
        self.buffer: DiskBuffer = buffer if buffer is not None else _NoBuffer()
        self.checks = Checks(lookup, ttl=model_ttl)
        self.max_batch = max_batch
        self.max_queued = max_queued if max_queued is not None else 20 * max_batch
        self.retry_base = retry_base
        self.retry_cap = retry_cap
        self.stop_timeout = stop_timeout
        self.counts = IngestStats()
        self._batcher = Batcher(max_batch, max_delay)
        self._run = Run.STOPPED
        self._route = Route.STORE
        self._drain_wake = asyncio.Event()
        self._notifier = Notifier(on_stored, self.max_queued, self.counts)
        self._tasks: list[asyncio.Task[None]] = []
        self._writer: ThreadPoolExecutor | None = None
        self._appending = 0  # samples on their way into the buffer
        self._overload_episode = False

    @property
    def on_stored(self) -> OnStored | None:
        """The subscriber given stored batches (the rule engine), if any."""
        return self._notifier.on_stored

    @property
    def max_delay(self) -> float:
        """Longest a batch waits to fill when callers are many (seconds)."""
        return self._batcher.max_delay

    # -- lifecycle ---------------------------------------------------------------------------
    async def start(self) -> None:
        """Open the buffer and start batching; an earlier run's buffer is delivered first."""
        if self._run is not Run.STOPPED:
            return
        await self.buffer.open()
        self._writer = ThreadPoolExecutor(1, thread_name_prefix="tel-writer")
        self._run = Run.RUNNING
        if self.buffer.rows:
            log.info("ingest buffer holds %d samples from an earlier run", self.buffer.samples)
            self._route = Route.BUFFER
            self._drain_wake.set()
        self._tasks = [
            self._supervise("ingest-batches", self._batch_loop),
            self._supervise("ingest-drain", self._drain_loop),
            self._supervise("ingest-notify", lambda: self._notifier.run(self._stopping)),
        ]

    def _supervise(self, name: str, loop: Callable[[], Awaitable[None]]) -> asyncio.Task[None]:
        def restarted() -> None:
            self.counts.task_restarts += 1

        return asyncio.create_task(supervised(name, loop, on_restart=restarted), name=name)

    def _stopping(self) -> bool:
        return self._run is Run.STOPPING

    async def stop(self) -> None:
        """Refuse new samples, write what is queued, close the buffer.

        A store still hanging in a write after ``stop_timeout`` seconds is left behind: the
        callers of that write get ``Overloaded``, the rest of the queue goes to the buffer.
        """
        if self._run is not Run.RUNNING:
            return
        self._run = Run.STOPPING
        self._batcher.wake()
        batcher, drainer, notifier = self._tasks
        hung = False
        try:
            async with asyncio.timeout(self.stop_timeout):
                await asyncio.shield(batcher)
        except TimeoutError:
            hung = True
            await self._abandon_store(batcher)
        drainer.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await drainer
        self._notifier.wake()  # it delivers what is left (2 s at most), then ends
        with contextlib.suppress(TimeoutError, asyncio.CancelledError):
            async with asyncio.timeout(2.0):
                await notifier
        await self.dead_letters.close()
        if self._writer is not None:
            await asyncio.to_thread(self._writer.shutdown, wait=not hung, cancel_futures=hung)
        await self.buffer.close()
        self._run = Run.STOPPED

    async def _abandon_store(self, batcher: asyncio.Task[None]) -> None:
        """The store hangs in a write: answer its callers, keep the queue on disk, go on."""
        log.error(
            "the store has not finished a write in %s s; stopping without it "
            "(queued samples go to the disk buffer)",
            self.stop_timeout,
        )
        inflight = self._batcher.inflight  # the batcher forgets them when cancelled
        batcher.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await batcher
        refused = Overloaded("the store hangs and ingest is stopping; retry later")
        for _, done in inflight:
            if not done.done():
                done.set_exception(refused)
        jobs, outcome = self._batcher.take_all(), None
        if jobs:
            try:
                await self.buffer.append(list(chain.from_iterable(j[0] for j in jobs)))
            except Exception as exc:
                outcome = exc
        for _, done in jobs:
            if done.done():
                continue
            if outcome is None:
                done.set_result(None)
            else:
                done.set_exception(outcome)

    # -- the SampleSink protocol ---------------------------------------------------------
    async def submit(self, samples: Sequence[Sample], *, source: str) -> None:
        """Return once every sample is stored, buffered on disk or dead-lettered."""
        await self.ingest(samples, source=source)

    async def reject(
        self,
        device: str | None,
        *,
        source: str,
        reason: str,
        payload: bytes | str,
        kind: str = UNDECODABLE,
        why: str | None = None,
        params: Mapping[str, str] | None = None,
    ) -> None:
        """Record a payload that could not be decoded (or was not allowed) as a dead letter;
        ``why`` and ``params`` name its detail stably (``checks.said``)."""
        text = payload.decode("utf-8", "replace") if isinstance(payload, bytes) else payload
        self.counts.dead[kind] += 1
        letter = Letter(device, None, source, kind, reason, text, why, dict(params or {}))
        await self.dead_letters.record([letter])

    def invalidate(self, device: str | None = None) -> None:
        """Forget the cached model of ``device`` (every device when None), after an edit."""
        self.checks.invalidate(device)

    async def ingest(self, samples: Sequence[Sample], *, source: str) -> Receipt:
        """Like ``submit``, and say how many samples were accepted and dead-lettered, and why."""
        if self._run is not Run.RUNNING:
            raise Overloaded("the ingest pipeline is not running (starting or stopping); retry")
        if self._route is not Route.STORE and self.buffer.full:
            raise self._overload(
                f"the ingest buffer is full ({self.buffer.bytes:,} of {self.buffer.max_bytes:,} "
                "bytes) while the store catches up; retry later"
            )
        valid, letters = self.checks.split(samples, source)
        if not letters:
            if valid:
                await self._enqueue(valid)
                self.counts.accepted += len(valid)
            return Receipt(len(valid), 0)
        for letter in letters:
            self.counts.dead[letter.reason] += 1
        recorded = asyncio.ensure_future(self.dead_letters.record(letters))
        try:
            if valid:
                await self._enqueue(valid)
                self.counts.accepted += len(valid)
        finally:
            await recorded
        errors = [f"{x.reason}: {x.detail}" for x in letters[:_ERRORS_SHOWN]]
        unknown = frozenset(
            x.device for x in letters if x.reason == UNKNOWN_DEVICE and x.device is not None
        )
        return Receipt(len(valid), len(letters), errors, unknown)

    # -- queue and batches ---------------------------------------------------------------
    def _enqueue(self, samples: Sequence[Sample]) -> Awaitable[None]:
        if self._route is not Route.STORE or self._batcher.queued + len(samples) > self.max_queued:
            if not self.durable_buffer:
                raise self._overload(
                    f"{self._batcher.queued:,} samples wait for the store; retry later"
                )
            return self._to_buffer(samples)
        return self._batcher.add(samples)

    async def _batch_loop(self) -> None:
        while (batch := await self._batcher.next_batch(self._stopping)) is not None:
            jobs, size = batch
            try:
                await self._write_jobs(jobs, size)
            except Exception as exc:  # answer the callers before the supervisor restarts us
                for _, done in jobs:
                    if not done.done():
                        done.set_exception(exc)
                raise
            finally:
                self._batcher.written(size)

    async def _write_jobs(self, jobs: list[Job], size: int) -> None:
        samples = jobs[0][0] if len(jobs) == 1 else list(chain.from_iterable(j[0] for j in jobs))
        try:
            if self._route is Route.STORE_DOWN:  # the drain task probes the store
                raise _StoreDown
            await self._write(samples)
        except InvalidInput as exc:  # refused for its content, not because the store is down
            if len(jobs) > 1:  # find whose samples it refuses
                for job in jobs:
                    await self._write_jobs([job], len(job[0]))
                return
            try:
                await self._refused(samples, exc)
            except Exception as failed:
                jobs[0][1].set_exception(failed)
                return
        except Exception as exc:
            if not self.durable_buffer:  # the caller keeps the batch (a bus redelivers it)
                self.counts.store_failures += 1
                unstored = Overloaded(f"the store did not take the batch ({exc}); retry later")
                for _, done in jobs:
                    if not done.done():
                        done.set_exception(unstored)
                return
            if not isinstance(exc, _StoreDown):
                self._store_failed(exc)
            try:
                await self._to_buffer(samples)
            except Exception as failed:
                for _, done in jobs:
                    if not done.done():
                        done.set_exception(failed)
                return
        else:
            self.counts.stored += size
            self._notifier.notify(samples)
        for _, done in jobs:
            if not done.done():
                done.set_result(None)

    async def _write(self, samples: Sequence[Sample]) -> None:
        """Store one batch on the writer thread."""
        assert self._writer is not None
        seconds = await asyncio.get_running_loop().run_in_executor(
            self._writer, self._timed_write, samples
        )
        self.counts.batches += 1
        self.counts.write_seconds += seconds

    def _timed_write(self, samples: Sequence[Sample]) -> float:
        t0 = time.perf_counter()
        self.store.write_batch(samples)
        return time.perf_counter() - t0

    # -- the disk buffer -----------------------------------------------------------------
    async def _to_buffer(self, samples: Sequence[Sample]) -> None:
        n = len(samples)
        if self._route is Route.STORE:
            self._route = Route.BUFFER
            log.warning(
                "the store is behind (%d samples queued in memory): "
                "batches go to the disk buffer until it catches up",
                self._batcher.queued,
            )
        self._appending += n
        try:
            await self.buffer.append(samples)
        except Overloaded as exc:
            raise self._overload(exc.message) from None
        finally:
            self._appending -= n
        self.counts.buffered_total += n
        self._end_overload()
        self._drain_wake.set()

    async def _refused(self, samples: Sequence[Sample], exc: InvalidInput) -> None:
        """Dead-letter a batch the store refuses outright, so it cannot block the buffer."""
        log.warning("the store refused %d samples: %s", len(samples), exc.message)
        self.counts.dead[REFUSED] += len(samples)
        why, params = said(exc.reason, **exc.params) if exc.reason else ("store_refused", {})
        await self.dead_letters.record(
            [
                Letter(s[0], s[1], "store", REFUSED, exc.message, sample_text(s), why, params)
                for s in samples
            ]
        )

    async def _drain_loop(self) -> None:
        """Replay the buffer oldest first; store and buffer errors alike are retried with a
        capped doubling delay (a row written twice is stored once: writes are idempotent)."""
        delay = self.retry_base
        limit = self.max_batch
        while True:
            await self._drain_wake.wait()
            try:
                rows = await self.buffer.oldest(limit)
            except Exception as exc:
                self._buffer_failed("read", exc)
                await asyncio.sleep(delay)
                delay = min(delay * 2, self.retry_cap)
                continue
            if not rows:
                if self._appending:
                    await asyncio.sleep(self.max_delay or 0.001)
                    continue
                self._drain_wake.clear()
                if self._route is not Route.STORE:
                    self._route = Route.STORE
                    self._end_overload()
                    log.info("the disk buffer is empty: batches go straight to the store again")
                continue
            samples = (
                rows[0][1] if len(rows) == 1 else list(chain.from_iterable(r[1] for r in rows))
            )
            try:
                await self._write(samples)
            except InvalidInput as exc:
                if len(rows) > 1:
                    limit = 1  # one row at a time until the refused one is found
                else:
                    await self._refused(samples, exc)
                    await self._remove([rows[0][0]])
                continue
            except Exception as exc:
                self._store_failed(exc)
                await asyncio.sleep(delay)
                delay = min(delay * 2, self.retry_cap)
                continue
            self._store_recovered()
            if not await self._remove([row_id for row_id, _ in rows]):
                await asyncio.sleep(delay)
                delay = min(delay * 2, self.retry_cap)
                continue  # the rows come again and are stored once
            delay, limit = self.retry_base, self.max_batch
            self.counts.stored += len(samples)
            self._notifier.notify(samples)

    async def _remove(self, ids: list[int]) -> bool:
        """Delete delivered rows from the buffer; False (logged) when the buffer fails."""
        try:
            await self.buffer.remove(ids)
        except Exception as exc:
            self._buffer_failed("remove", exc)
            return False
        return True

    def _buffer_failed(self, what: str, exc: Exception) -> None:
        self.counts.buffer_failures += 1
        log.warning("the disk buffer failed to %s (%s); retrying", what, exc)

    def _store_failed(self, exc: Exception) -> None:
        self.counts.store_failures += 1
        if self._route is not Route.STORE_DOWN:
            self._route = Route.STORE_DOWN
            log.warning("the store failed (%s): batches go to the disk buffer; retrying", exc)

    def _store_recovered(self) -> None:
        if self._route is Route.STORE_DOWN:
            self._route = Route.BUFFER
            log.info("the store accepts writes again: replaying the disk buffer oldest first")

    def _overload(self, message: str) -> Overloaded:
        self.counts.overloaded += 1
        if not self._overload_episode:
            self._overload_episode = True
            log.warning("ingest overloaded, refusing samples until the buffer drains: %s", message)
        return Overloaded(message)

    def _end_overload(self) -> None:
        if self._overload_episode:
            self._overload_episode = False
            log.info(
                "ingest accepts samples again after %d refused submissions", self.counts.overloaded
            )

    # -- metrics -------------------------------------------------------------------------
    def settled(self) -> bool:
        """Whether every sample accepted so far is in the store: none queued or being written,
        none in the disk buffer (a deleted device is purged only then, so nothing of it can be
        written after its purge)."""
        return self._batcher.queued == 0 and self.buffer.rows == 0 and self._route is Route.STORE

    def stats(self) -> dict[str, Any]:
        """Counters since start, for metrics and the stats API."""
        return self.counts.snapshot(
            queued=self._batcher.queued,
            buffering=self._route is not Route.STORE,
            buffered=self.buffer.samples,
            buffer_rows=self.buffer.rows,
            buffer_bytes=self.buffer.bytes,
            buffer_max_bytes=self.buffer.max_bytes,
        )
