"""The hub: every normalised event passes through it once, in order, to the subscribers
(the detection engine, passive asset discovery, conversation statistics, the event store).

Sources push batches. The queue is bounded in events: ``submit`` waits for room (back-pressure:
a tailed file is read no faster than it is handled, an HTTP sender gets 503 and retries from
its own buffer), ``offer`` never waits and counts what did not fit (a UDP syslog datagram
cannot be pushed back). Nothing is dropped silently: every drop, duplicate and subscriber
failure is a counter (``stats``) shown in the metrics and the console.

Events whose ``id`` was seen among the last ``SEEN_IDS`` are duplicates (a sensor that sends a
batch again after a lost acknowledgement) and are counted, not handled again.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import Counter
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from operator import attrgetter

from indunet.core import IndunetError

from .events import SecurityEvent

log = logging.getLogger(__name__)
MAX_QUEUED = 50_000
"""Events waiting for the subscribers at most."""
SEEN_IDS = 100_000
"""Event ids remembered for deduplication, as 64-bit hashes in two generations of sets (the
newest ``SEEN_IDS / 2`` to ``SEEN_IDS`` ids; a few MB)."""
BATCH = 2_000
"""Events handed to the subscribers at once at most."""

Handler = Callable[[Sequence[SecurityEvent]], Awaitable[None]]
_ID = attrgetter("id")


class HubFull(IndunetError):
    """The hub's queue stayed full: retry later (the sender keeps its events)."""

    code = "overloaded"
    status = 503

    def headers(self) -> dict[str, str]:
        return {"Retry-After": "5"}


@dataclass(frozen=True, slots=True)
class Receipt:
    """What became of a batch: queued, recognised as already seen, dropped for want of room."""

    accepted: int
    duplicates: int
    dropped: int = 0


@dataclass
class HubStats:
    received: int = 0
    accepted: int = 0
    duplicates: int = 0
    dropped: int = 0
    handled: int = 0
    handler_errors: dict[str, int] = field(default_factory=dict)
    by_source: dict[str, int] = field(default_factory=dict)


class Hub:
    """A bounded queue of events and the subscribers it feeds."""

    def __init__(self, max_queued: int = MAX_QUEUED, seen_ids: int = SEEN_IDS) -> None:
        self.max_queued = max_queued
        self.seen_ids = seen_ids
        self.stats = HubStats()
        self._handlers: list[tuple[str, Handler]] = []
        self._queue: list[SecurityEvent] = []
        self._seen: set[int] = set()  # this generation's id hashes
        self._older: set[int] = set()  # the generation before
        self._changed = asyncio.Event()
        self._room = asyncio.Event()
        self._room.set()
        self._idle = asyncio.Event()
        self._idle.set()
        self._task: asyncio.Task[None] | None = None

    def subscribe(self, name: str, handler: Handler) -> None:
        """Have ``handler`` called with each batch of events, in order (``name`` for the
        counters and logs); a handler that fails is logged and counted, the others go on."""
        self._handlers.append((name, handler))

    @property
    def queued(self) -> int:
        return len(self._queue)

    async def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="security-hub")

    async def stop(self) -> None:
        """Hand what is queued to the subscribers (5 s at most), then stop."""
        if self._task is None:
            return
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(5):
                await self.drained()
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task
        self._task = None

    async def drained(self) -> None:
        """Wait until every queued event was handed to the subscribers."""
        while self._queue or not self._idle.is_set():
            await self._idle.wait()

    def offer(self, events: Sequence[SecurityEvent]) -> Receipt:
        """Queue what fits now; the rest is dropped and counted (sources that cannot wait)."""
        fresh = self._fresh(events)
        room = max(0, self.max_queued - len(self._queue))
        taken, dropped = fresh[:room], len(fresh) - min(room, len(fresh))
        for e in fresh[room:]:  # not taken: not seen either (a resend is no duplicate)
            self._seen.discard(hash(e.id))
            self._older.discard(hash(e.id))
        self._put(taken)
        self.stats.dropped += dropped
        if dropped:
            log.warning("security hub full: %d events dropped (counted)", dropped)
        return Receipt(len(taken), len(events) - len(fresh), dropped)

    async def submit(self, events: Sequence[SecurityEvent], wait: float = 10.0) -> Receipt:
        """Queue every event, waiting up to ``wait`` s for room; ``HubFull`` when there is
        none by then (nothing of the batch is queued, so the sender may send it all again)."""
        if len(self._queue) + len(events) > self.max_queued and self._queue:
            try:
                async with asyncio.timeout(wait):
                    while len(self._queue) + len(events) > self.max_queued and self._queue:
                        self._room.clear()
                        await self._room.wait()
            except TimeoutError:
                raise HubFull(
                    f"the security event queue is full ({len(self._queue):,} waiting); retry later",
                    reason="security_hub_full",
                ) from None
        fresh = self._fresh(events)
        self._put(fresh)
        return Receipt(len(fresh), len(events) - len(fresh))

    def _fresh(self, events: Sequence[SecurityEvent]) -> list[SecurityEvent]:
        """The events whose id was not seen before (now remembered), in order."""
        seen, older, half = self._seen, self._older, max(1, self.seen_ids // 2)
        keys = list(map(hash, map(_ID, events)))
        if (  # the common case, in C: all new, no two alike, room in this generation
            len(seen) + len(keys) < half
            and seen.isdisjoint(keys)
            and older.isdisjoint(keys)
            and len(set(keys)) == len(keys)
        ):
            seen.update(keys)
            self.stats.received += len(events)
            return list(events)
        out: list[SecurityEvent] = []
        for e in events:
            key = hash(e.id)  # 64 bits: a collision among 100,000 ids is ~3e-10 likely
            if key in seen or key in older:
                continue
            if len(seen) >= half:  # a new generation; the oldest is forgotten
                older, seen = seen, set()
            seen.add(key)
            out.append(e)
        self._seen, self._older = seen, older
        self.stats.received += len(events)
        self.stats.duplicates += len(events) - len(out)
        return out

    def _put(self, events: Sequence[SecurityEvent]) -> None:
        if not events:
            return
        self._queue.extend(events)
        self.stats.accepted += len(events)
        by_source = self.stats.by_source
        sources = {e.source for e in events}
        if len(sources) == 1:  # the common case: a batch from one source
            (source,) = sources
            by_source[source] = by_source.get(source, 0) + len(events)
        else:
            for source, n in Counter(e.source for e in events).items():
                by_source[source] = by_source.get(source, 0) + n
        self._idle.clear()
        self._changed.set()

    async def _run(self) -> None:
        while True:
            if not self._queue:
                self._idle.set()
                self._changed.clear()
                await self._changed.wait()
                continue
            if len(self._queue) <= BATCH:  # the common case: take the queue as it is
                batch, self._queue = self._queue, []
            else:
                batch, self._queue = self._queue[:BATCH], self._queue[BATCH:]
            self._room.set()
            for name, handler in self._handlers:
                try:
                    await handler(batch)
                except Exception:
                    self.stats.handler_errors[name] = self.stats.handler_errors.get(name, 0) + 1
                    log.exception("security subscriber %s failed on %d events", name, len(batch))
            self.stats.handled += len(batch)
            del batch  # freed now, not held while the next batch is read
