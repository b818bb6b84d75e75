"""How far each worker is behind and how full the backbone is, read from JetStream itself.

Any process connected to the backbone can read this (the api process runs no worker, so it
cannot count for itself): the telemetry stream's messages and bytes against its limits, and
for each partition its durable consumer ``tel-p<n>``: envelopes not yet delivered
(``pending``), delivered but not acknowledged, redelivered, pull requests waiting (a worker
is fetching), and when it last delivered and was last acknowledged. A consumer that does not
exist yet (no worker has started on its partition) is ``NOT_STARTED``; one that did not
answer within the time budget is ``UNKNOWN``.

Reading is bounded: at most ``names.partitions`` consumers, ``CONCURRENCY`` requests in
flight, and ``within`` seconds in all; what did not answer by then is left out as
``UNKNOWN`` rather than waited for.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from nats.js import JetStreamContext
from nats.js.errors import NotFoundError

from .backbone import Backbone

READ_TIMEOUT = 2.0
"""Seconds ``read_status`` spends in all."""
CONCURRENCY = 32
"""JetStream API requests ``read_status`` keeps in flight at once."""


class ConsumerState(StrEnum):
    """Whether a partition's consumer could be read."""

    ACTIVE = "active"
    NOT_STARTED = "not_started"
    UNKNOWN = "unknown"


class Problem(StrEnum):
    """Why the status is incomplete."""

    NOT_CONNECTED = "not_connected"
    NO_STREAM = "no_stream"
    TIMEOUT = "timeout"
    FAILED = "failed"


@dataclass(frozen=True, slots=True)
class StreamStatus:
    """The telemetry stream: what it holds and its limits (``-1``: no limit)."""

    name: str
    messages: int
    bytes: int
    max_bytes: int
    max_msgs: int
    max_age_s: float
    first_seq: int
    last_seq: int
    consumers: int
    #: ``limits`` (kept until age or size remove them) or ``workqueue`` (removed once acked).
    retention: str = "limits"

    @property
    def bytes_used(self) -> float | None:
        """The share of ``max_bytes`` in use (0 to 1), ``None`` without a byte limit."""
        if self.max_bytes <= 0:
            return None
        return min(1.0, self.bytes / self.max_bytes)

    @property
    def msgs_used(self) -> float | None:
        """The share of ``max_msgs`` in use (0 to 1), ``None`` without a message limit."""
        if self.max_msgs <= 0:
            return None
        return min(1.0, self.messages / self.max_msgs)


@dataclass(frozen=True, slots=True)
class ConsumerStatus:
    """One partition's durable consumer, as JetStream reports it."""

    partition: int
    durable: str
    state: ConsumerState
    pending: int = 0
    ack_pending: int = 0
    redelivered: int = 0
    waiting: int = 0
    delivered_seq: int = 0
    acked_seq: int = 0
    last_delivered: datetime | None = None
    last_acked: datetime | None = None

    @property
    def lag(self) -> int:
        """Envelopes the partition's worker has not acknowledged yet (pending + unacked)."""
        return self.pending + self.ack_pending


@dataclass(frozen=True, slots=True)
class BackboneStatus:
    """What one reading found; ``problem`` says why parts are missing."""

    connected: bool
    stream: StreamStatus | None
    consumers: tuple[ConsumerStatus, ...]
    problem: Problem | None
    read_at: datetime

    @property
    def lag(self) -> int:
        """Envelopes not acknowledged across the consumers read."""
        return sum(c.lag for c in self.consumers)

    def count(self, state: ConsumerState) -> int:
        """How many consumers are in ``state``."""
        return sum(1 for c in self.consumers if c.state is state)

    @property
    def lagging(self) -> int:
        """How many consumers have envelopes waiting."""
        return sum(1 for c in self.consumers if c.lag > 0)


def stream_status(info: Any) -> StreamStatus:
    """A ``StreamStatus`` of nats-py's ``StreamInfo``."""
    cfg, state = info.config, info.state
    return StreamStatus(
        name=str(cfg.name or ""),
        messages=int(state.messages or 0),
        bytes=int(state.bytes or 0),
        max_bytes=int(cfg.max_bytes if cfg.max_bytes is not None else -1),
        max_msgs=int(cfg.max_msgs if cfg.max_msgs is not None else -1),
        max_age_s=float(cfg.max_age or 0.0),
        first_seq=int(state.first_seq or 0),
        last_seq=int(state.last_seq or 0),
        consumers=int(state.consumer_count or 0),
        retention=str(getattr(cfg.retention, "value", cfg.retention) or "limits"),
    )


def consumer_status(partition: int, info: Any) -> ConsumerStatus:
    """A ``ConsumerStatus`` of nats-py's ``ConsumerInfo``."""
    delivered, acked = info.delivered, info.ack_floor
    return ConsumerStatus(
        partition=partition,
        durable=str(info.name),
        state=ConsumerState.ACTIVE,
        pending=int(info.num_pending or 0),
        ack_pending=int(info.num_ack_pending or 0),
        redelivered=int(info.num_redelivered or 0),
        waiting=int(info.num_waiting or 0),
        delivered_seq=int(delivered.stream_seq or 0) if delivered else 0,
        acked_seq=int(acked.stream_seq or 0) if acked else 0,
        last_delivered=delivered.last_active if delivered else None,
        last_acked=acked.last_active if acked else None,
    )


async def _stream(js: JetStreamContext, name: str) -> StreamStatus | None:
    try:
        return stream_status(await js.stream_info(name))
    except NotFoundError:
        return None


async def _consumer(
    js: JetStreamContext, gate: asyncio.Semaphore, stream: str, partition: int, durable: str
) -> ConsumerStatus:
    async with gate:
        try:
            info = await js.consumer_info(stream, durable)
        except NotFoundError:  # no worker has made it yet (or the stream is missing)
            return ConsumerStatus(partition, durable, ConsumerState.NOT_STARTED)
        except Exception:
            return ConsumerStatus(partition, durable, ConsumerState.UNKNOWN)
    return consumer_status(partition, info)


async def read_status(backbone: Backbone, *, within: float = READ_TIMEOUT) -> BackboneStatus:
    """The telemetry stream and every partition's consumer, read within ``within`` seconds."""
    names = backbone.names
    now = datetime.now(UTC)
    if not backbone.connected:
        return BackboneStatus(False, None, (), Problem.NOT_CONNECTED, now)
    js = backbone.jetstream()
    stream = names.telemetry_stream
    gate = asyncio.Semaphore(CONCURRENCY)
    stream_task = asyncio.create_task(_stream(js, stream))
    consumer_tasks = [
        asyncio.create_task(_consumer(js, gate, stream, p, names.durable(p)))
        for p in range(names.partitions)
    ]
    tasks: list[asyncio.Task[Any]] = [stream_task, *consumer_tasks]
    try:
        _done, late = await asyncio.wait(tasks, timeout=within)
    finally:  # what did not answer in time (or everything, if the caller gave up) stops
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    problem: Problem | None = Problem.TIMEOUT if late else None
    found: StreamStatus | None = None
    if stream_task not in late:
        if stream_task.exception() is not None:
            problem = Problem.FAILED
        else:
            found = stream_task.result()
            if found is None:
                problem = Problem.NO_STREAM
    consumers = tuple(
        t.result()
        if t not in late and t.exception() is None
        else ConsumerStatus(p, names.durable(p), ConsumerState.UNKNOWN)
        for p, t in enumerate(consumer_tasks)
    )
    if problem is None and any(c.state is ConsumerState.UNKNOWN for c in consumers):
        problem = Problem.FAILED
    return BackboneStatus(True, found, consumers, problem, now)
