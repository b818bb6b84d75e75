"""``BusWorker``: a worker process's consumers, from JetStream into the store.

Each partition the worker owns has one durable pull consumer with explicit acknowledgement.
A fetch takes up to ``fetch`` envelopes; their samples go through the worker's ``Pipeline``
(checked against the device models, dead letters recorded, batched into one store write,
rules run on what was stored). That pipeline has no disk buffer, so an envelope is
acknowledged only once its samples are in the store (or dead-lettered for their content).

A failure is never a blocked partition:
- an envelope that does not decode (``EnvelopeInvalid``) is dead-lettered with its reason
  and acknowledged at once: retrying cannot mend it;
- a store that does not take a batch (down, failing over) gets the envelope back
  (``nak`` with a capped delay) as many times as it takes: JetStream keeps it meanwhile;
- any other failure is retried until the envelope failed ``max_deliver`` times (deliveries
  the store refused do not count), then it is dead-lettered as ``poison`` with the error
  and terminated.

A consumer task never ends on an error: a failed fetch, a consumer deleted on the server
(or a server that came back without its store) or a bug in handling makes it log, wait a
capped doubling delay, and subscribe again (which makes the durable consumer anew if needed).

Lag (messages not yet delivered plus delivered but unacknowledged) is read from the
consumer every few seconds for the metrics and the console; ``read_lag`` reads it at once,
also while the worker does not consume.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy
from nats.js.errors import NotFoundError

from indunet.core.backoff import Backoff
from indunet.telemetry import Overloaded, Pipeline
from indunet.telemetry.checks import said

from .backbone import Backbone
from .envelope import MAX_LETTER, Batch, EnvelopeInvalid, decode

log = logging.getLogger(__name__)
MAX_TRACKED = 100_000
"""Envelopes whose failures a worker counts at once (beyond, it forgets the counts)."""
STOP_RECANCEL_S = 1.0
"""How often ``stop`` cancels again a consumer task that has not ended."""
POISON = "poison"
"""The dead-letter reason of an envelope that failed ``max_deliver`` times (one of
``telemetry.REASONS``)."""


@dataclass
class PartitionLag:
    """One consumer's position, as JetStream reports it."""

    pending: int = 0
    ack_pending: int = 0
    redelivered: int = 0


@dataclass
class WorkerStats:
    """What a worker did since start."""

    envelopes: int = 0
    samples: int = 0
    acked: int = 0
    retried: int = 0
    undecodable: int = 0
    poison: int = 0
    fetch_errors: int = 0
    restarts: int = 0
    lag: dict[int, PartitionLag] = field(default_factory=dict)


class BusWorker:
    """Consumes the partitions ``partitions`` into ``pipeline``."""

    def __init__(
        self,
        backbone: Backbone,
        pipeline: Pipeline,
        partitions: list[int],
        *,
        fetch: int = 64,
        max_deliver: int = 5,
        ack_wait: float = 60.0,
        retry_cap: float = 10.0,
        lag_every: float = 5.0,
        refresh: Callable[[], Awaitable[None]] | None = None,
    ) -> None:
        self.backbone = backbone
        self.pipeline = pipeline
        self.partitions = partitions
        self.fetch = fetch
        self.max_deliver = max_deliver
        self.ack_wait = ack_wait
        self.retry_cap = retry_cap
        self.lag_every = lag_every
        self.refresh = refresh
        self.stats = WorkerStats()
        self._tasks: list[asyncio.Task[None]] = []
        self._failures: dict[int, int] = {}  # stream sequence → failures not of the store
        self._inflight = 0  # samples handed to the pipeline and not yet answered
        self._room: asyncio.Condition | None = None

    async def start(self) -> None:
        """Start one consumer task per partition (each waits for the backbone)."""
        self._tasks = [
            asyncio.create_task(self._run(p), name=f"bus-worker-p{p}") for p in self.partitions
        ]

    async def stop(self) -> None:
        """Stop fetching; what was fetched and not acknowledged is redelivered later.

        A task that lost its cancellation (nats.py's ``next_msg`` on Python 3.11 can turn it
        into a fetch timeout when both arrive together) is cancelled again each second, so
        stopping never hangs on it.
        """
        pending = set(self._tasks)
        while pending:
            for t in pending:
                t.cancel()
            _, pending = await asyncio.wait(pending, timeout=STOP_RECANCEL_S)
        for t in self._tasks:
            if not t.cancelled() and (exc := t.exception()) is not None:
                log.warning("a partition consumer ended with %r while stopping", exc)
        self._tasks = []

    def lag(self) -> int:
        """Envelopes waiting across this worker's partitions (at the last reading)."""
        return sum(x.pending + x.ack_pending for x in self.stats.lag.values())

    async def read_lag(self) -> dict[int, PartitionLag]:
        """Read every owned partition's lag from JetStream now (whether or not this worker
        consumes at the moment: a stopped or stuck worker's backlog shows too)."""
        for partition in self.partitions:
            await self._read_lag(partition)
        return dict(self.stats.lag)

    async def _read_lag(self, partition: int) -> bool:
        """Update one partition's lag; False when its consumer does not exist (any more)."""
        names = self.backbone.names
        try:
            info = await self.backbone.jetstream().consumer_info(
                names.telemetry_stream, names.durable(partition), timeout=2.0
            )
        except NotFoundError:
            return False
        except Exception:  # not connected, slow: the last reading stands
            return True
        self.stats.lag[partition] = PartitionLag(
            pending=int(info.num_pending or 0),
            ack_pending=int(info.num_ack_pending or 0),
            redelivered=int(info.num_redelivered or 0),
        )
        return True

    async def _run(self, partition: int) -> None:
        """Consume one partition for ever: whatever fails, log it, wait, subscribe again."""
        backoff = Backoff(base=0.2, cap=self.retry_cap)
        while True:
            await self.backbone.ready.wait()
            try:
                await self._consume(partition)
                backoff.reset()
            except Exception as exc:
                _cancelled_meanwhile()
                log.warning("partition %d: consumer failed (%s); starting again", partition, exc)
            self.stats.restarts += 1
            await asyncio.sleep(backoff.next())

    async def _consume(self, partition: int) -> None:
        """Fetch and handle until a fetch fails or the consumer is gone (then return)."""
        names = self.backbone.names
        sub = await self.backbone.jetstream().pull_subscribe(
            names.partition_filter(partition),
            durable=names.durable(partition),
            stream=names.telemetry_stream,
            config=ConsumerConfig(
                ack_policy=AckPolicy.EXPLICIT,
                deliver_policy=DeliverPolicy.ALL,
                ack_wait=self.ack_wait,
                max_ack_pending=self.fetch * 4,
                max_deliver=-1,
            ),
        )
        loop = asyncio.get_running_loop()
        next_lag = 0.0
        try:
            while True:
                if loop.time() >= next_lag:
                    next_lag = loop.time() + self.lag_every
                    if not await self._read_lag(partition):
                        log.warning(
                            "partition %d: its consumer is gone; making it again", partition
                        )
                        return
                try:
                    msgs = await sub.fetch(self.fetch, timeout=1.0)
                except TimeoutError:
                    _cancelled_meanwhile()
                    continue
                except Exception as exc:  # connection lost, consumer gone: subscribe again
                    _cancelled_meanwhile()
                    self.stats.fetch_errors += 1
                    log.warning("partition %d: fetch failed (%s); retrying", partition, exc)
                    return
                await self.handle(msgs)
        finally:
            with contextlib.suppress(Exception):
                await sub.unsubscribe()

    async def handle(self, msgs: list[Any]) -> None:
        """Store (or dead-letter) a fetched set of envelopes, then acknowledge each."""
        batches: list[tuple[Any, Batch]] = []
        for msg in msgs:
            self.stats.envelopes += 1
            try:
                env = decode(msg.data)
            except EnvelopeInvalid as exc:
                if exc.reason:  # said in the console as letter.<reason>, with the subject
                    why = said(exc.reason, **{**exc.params, "subject": msg.subject})
                else:
                    why = said("envelope_undecodable", subject=msg.subject, message=exc.message)
                text = f"{exc.message} (on {msg.subject})"
                if await self._dead(msg, "undecodable", text, why):
                    self.stats.undecodable += 1
                continue
            batches.append((msg, env))
        if not batches:
            return
        if self.refresh is not None:
            try:
                await self.refresh()
            except Exception as exc:  # not the envelopes' fault: they come again
                log.warning("refreshing before a fetch failed (%s); envelopes come again", exc)
                for msg, _ in batches:
                    await self._retry(msg)
                return
        try:
            async with self._admitted(sum(len(b.samples) for _, b in batches)):
                results = await asyncio.gather(
                    *(self.pipeline.ingest(b.samples, source=b.source) for _, b in batches),
                    return_exceptions=True,
                )
        except asyncio.CancelledError:  # stopping: another worker may take them now, not
            for msg, _ in batches:  # after ack_wait (stored twice at worst: writes are idempotent)
                with contextlib.suppress(Exception):
                    await msg.nak()
            raise
        for (msg, batch), result in zip(batches, results, strict=True):
            if isinstance(result, BaseException):
                if not isinstance(result, Exception):
                    raise result
                await self._failed(msg, result)
                continue
            self.stats.samples += len(batch.samples)
            await self._ack(msg)

    @contextlib.asynccontextmanager
    async def _admitted(self, samples: int) -> AsyncIterator[None]:
        """Hold ``samples`` of the pipeline's queue bound while they are ingested.

        The partitions together never hand the pipeline more than it queues: beyond that it
        refuses samples as ``Overloaded``, and each refused envelope would come back only
        after a nak delay (a backlog of 16 partitions x 64 envelopes is 640,000 samples
        against a bound of 200,000: bench/bus_ingest.py measured 6,000 points/s instead of
        ~60,000 before this).
        """
        if self._room is None:
            self._room = asyncio.Condition()
        room, limit = self._room, self.pipeline.max_queued
        async with room:
            await room.wait_for(lambda: self._inflight == 0 or self._inflight + samples <= limit)
            self._inflight += samples
        try:
            yield
        finally:
            async with room:
                self._inflight -= samples
                room.notify_all()

    async def _ack(self, msg: Any) -> None:
        self._failures.pop(_sequence(msg), None)
        with contextlib.suppress(Exception):  # a lost ack is a redelivery, stored once
            await msg.ack()
        self.stats.acked += 1

    async def _failed(self, msg: Any, exc: Exception) -> None:
        """Retry, or dead-letter an envelope that failed ``max_deliver`` times for itself.

        Deliveries the store refused (``Overloaded``) do not count: an envelope that waited
        out a long database outage is not poison for failing once afterwards.
        """
        if isinstance(exc, Overloaded):
            await self._retry(msg)
            return
        key = _sequence(msg)
        failed = self._failures.get(key, 0) + 1
        if failed < self.max_deliver:
            if len(self._failures) >= MAX_TRACKED:  # forgetting only means more retries
                self._failures.clear()
            self._failures[key] = failed
            await self._retry(msg)
            return
        self._failures.pop(key, None)
        log.error("envelope on %s failed %d times (%s): dead-lettered", msg.subject, failed, exc)
        why = said("poison", times=str(failed), error=str(exc))
        if await self._dead(msg, POISON, f"failed {failed} times: {exc}", why, terminate=True):
            self.stats.poison += 1

    async def _retry(self, msg: Any) -> None:
        """Give the envelope back to JetStream, to come again after a capped doubling delay."""
        self.stats.retried += 1
        wait = min(0.5 * 2 ** min(_delivered(msg), 10), self.retry_cap)
        with contextlib.suppress(Exception):
            await msg.nak(delay=wait)

    async def _dead(
        self,
        msg: Any,
        kind: str,
        reason: str,
        why: tuple[str, dict[str, str]],
        *,
        terminate: bool = False,
    ) -> bool:
        """Record ``msg`` as a dead letter (``why``: its detail's name and parameters), then
        settle it; False when the letter failed."""
        payload = bytes(msg.data[:MAX_LETTER]).decode("utf-8", "replace")
        try:
            await self.pipeline.reject(
                None,
                source="bus",
                reason=reason,
                payload=payload,
                kind=kind,
                why=why[0],
                params=why[1],
            )
        except Exception as exc:  # the dead letters are down too: let JetStream keep it
            log.warning("dead letter for %s not recorded (%s); retrying later", msg.subject, exc)
            with contextlib.suppress(Exception):
                await msg.nak(delay=self.retry_cap)
            return False
        with contextlib.suppress(Exception):
            await (msg.term() if terminate else msg.ack())
        return True


def _cancelled_meanwhile() -> None:
    """Raise ``CancelledError`` when this task was asked to stop although the awaited call
    answered otherwise (a library that caught the cancellation and raised a timeout)."""
    task = asyncio.current_task()
    if task is not None and task.cancelling():
        raise asyncio.CancelledError


def _sequence(msg: Any) -> int:
    """``msg``'s sequence number in its stream (-1 when it has none)."""
    try:
        return int(msg.metadata.sequence.stream)
    except Exception:  # not a JetStream message (no reply subject to read it from)
        return -1


def _delivered(msg: Any) -> int:
    """How many times JetStream delivered ``msg`` (this time included)."""
    try:
        return int(msg.metadata.num_delivered or 1)
    except Exception:  # not a JetStream message (no reply subject to read it from)
        return 1
