"""Events between processes: ``NatsEventBus``, the ``core.EventBus`` of the scaled mode.

``publish`` puts the event on JetStream's events stream, on ``<prefix>.evt.<type>``, with the
event's id as ``Nats-Msg-Id`` (the stream drops a duplicate inside its window). When NATS
cannot take it now, the event waits in a bounded outbox, sent in order once the backbone is
back (a full outbox drops its oldest event and counts it; a crash loses what it held).

Subscribers are served in one of two ways:

- every process (``durable=None``): for each event type subscribed, the process reads an
  ephemeral push consumer of its own (``Feed``), delivering new events, in stream order, each
  once. A feed that skips (a gap in the consumer's sequence) or stalls (no heartbeat in two
  intervals, as after a server restart) is opened again just after the last event it
  delivered, so an outage delays events rather than losing them.
- once per installation (``durable="notify"``): one durable pull consumer ``evt-notify`` over
  every event subject, read from the first subscription on (subscribers subscribe every
  type they want at once), each acknowledged after the handlers ran. Only the process that should
  handle such events (the notification dispatcher's: role ``all`` or worker 0) builds this
  bus with subscribers; the others publish through ``HandledElsewhere``.

Handlers are called one event at a time; a handler's error is logged and counted and never
stops delivery. An undecodable message is counted and skipped.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
from collections import defaultdict, deque
from collections.abc import Awaitable, Callable
from enum import StrEnum
from typing import Any

from nats.aio.msg import Msg
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy

from indunet.core import Event, EventBus, InvalidInput
from indunet.core.backoff import Backoff

from .backbone import Backbone

log = logging.getLogger(__name__)
Handler = Callable[[Event], Awaitable[None]]

MAX_EVENT_BYTES = 256 * 1024
"""Largest encoded event (NATS takes 1 MiB by default; events are small facts, not payloads)."""
OUTBOX = 10_000
"""Events held at most while NATS cannot take them."""
HEARTBEAT_S = 5.0
PUBLISH_TIMEOUT_S = 2.0
RETRY_S = 0.5
STOP_FLUSH_S = 2.0
FETCH = 64
FETCH_WAIT_S = 1.0
CONSUMING = "events-once"
TYPE = re.compile(r"[a-z][a-z0-9_-]{0,31}(\.[a-z0-9_-]{1,32}){0,3}")
DURABLE = re.compile(r"[a-z][a-z0-9_-]{0,31}")


def subject_token(event_type: str) -> str:
    """``event_type`` if it may stand in a subject (``alarm.raised``), else ``InvalidInput``."""
    if not TYPE.fullmatch(event_type):
        raise InvalidInput(
            f"event type {event_type[:64]!r} must be dot-separated words of a-z, digits, _ and -"
        )
    return event_type


class Stage(StrEnum):
    """Where a bus is in its life."""

    NEW = "new"
    RUNNING = "running"
    STOPPED = "stopped"


class NatsEventBus:
    """``core.EventBus`` on JetStream (see the module docstring)."""

    def __init__(
        self,
        backbone: Backbone,
        *,
        durable: str | None = None,
        outbox: int = OUTBOX,
        heartbeat: float = HEARTBEAT_S,
        publish_timeout: float = PUBLISH_TIMEOUT_S,
    ) -> None:
        if durable is not None and not DURABLE.fullmatch(durable):
            raise ValueError(f"durable {durable!r}: a-z, digits, _ and -, at most 32")
        self.backbone = backbone
        self.names = backbone.names
        self.durable = durable
        self.outbox_max = outbox
        self.heartbeat = heartbeat
        self.publish_timeout = publish_timeout
        self.stage = Stage.NEW
        self._handlers: dict[str, list[Handler]] = defaultdict(list)
        self._outbox: deque[tuple[str, bytes, str]] = deque()
        self._feeds: dict[str, Feed] = {}
        self._tasks: list[asyncio.Task[None]] = []
        self._opening: set[asyncio.Task[None]] = set()
        self.published = 0
        self.held = 0
        self.dropped = 0
        self.delivered = 0
        self.errors = 0
        self.undecodable = 0
        self.reopened = 0

    # -- EventBus --------------------------------------------------------------------------
    async def publish(self, event: Event) -> None:
        """Put ``event`` on the stream; when NATS cannot take it now, hold it to send later."""
        subject = self.names.event_subject(subject_token(event.type))
        wire = event.encode()
        if len(wire) > MAX_EVENT_BYTES:
            raise InvalidInput(
                f"event {event.type} is {len(wire)} bytes encoded; at most {MAX_EVENT_BYTES}"
            )
        if not self._outbox and self.backbone.connected:
            try:
                await self._send(subject, wire, event.id)
                return
            except Exception as exc:
                log.warning("event %s %s not published (%s); holding it", event.type, event.id, exc)
        self._hold(subject, wire, event.id)

    def subscribe(self, event_type: str, handler: Handler) -> None:
        """Call ``handler`` for each event of ``event_type`` (see the module docstring)."""
        subject_token(event_type)
        self._handlers[event_type].append(handler)
        if self.stage is not Stage.RUNNING:
            return
        if self.durable is not None:
            self._consume()
        elif self.backbone.connected:
            self._spawn_open(event_type)

    # -- life ------------------------------------------------------------------------------
    async def start(self) -> None:
        """Begin delivering (once the backbone is connected) and sending held events."""
        if self.stage is not Stage.NEW:
            return
        self.stage = Stage.RUNNING
        self._tasks = [asyncio.create_task(self._drain_outbox(), name="events-outbox")]
        if self.durable is None:
            self._tasks.append(asyncio.create_task(self._watch_feeds(), name="events-feeds"))
        else:
            self._consume()

    def _consume(self) -> None:
        """Start fetching from the durable consumer, once there are handlers: what is fetched
        before would be acknowledged unhandled (a backlog the lead process restarts to)."""
        if not self._handlers or any(t.get_name() == CONSUMING for t in self._tasks):
            return
        self._tasks.append(asyncio.create_task(self._consume_durable(), name=CONSUMING))

    async def stop(self) -> None:
        """Stop delivering; send what the outbox holds for a moment, then give up on it."""
        if self.stage is not Stage.RUNNING:
            self.stage = Stage.STOPPED
            return
        self.stage = Stage.STOPPED
        # A fetch under way ends within FETCH_WAIT_S: let it, so that no pull request is left
        # on the server to take events to nobody (they would wait out ack_wait).
        consuming = [t for t in self._tasks if t.get_name() == CONSUMING]
        if consuming:
            await asyncio.wait(consuming, timeout=FETCH_WAIT_S + 1)
        for task in [*self._tasks, *self._opening]:
            task.cancel()
        await asyncio.gather(*self._tasks, *self._opening, return_exceptions=True)
        self._tasks.clear()
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(STOP_FLUSH_S):
                await self._flush()
        if self._outbox:
            log.warning("%d events were never published (NATS unavailable)", len(self._outbox))
        for feed in list(self._feeds.values()):
            await feed.close()
        self._feeds.clear()

    # -- publishing ------------------------------------------------------------------------
    async def _send(self, subject: str, wire: bytes, event_id: str) -> None:
        js = self.backbone.jetstream()
        await js.publish(
            subject, wire, timeout=self.publish_timeout, headers={"Nats-Msg-Id": event_id}
        )
        self.published += 1

    def _hold(self, subject: str, wire: bytes, event_id: str) -> None:
        if len(self._outbox) >= self.outbox_max:
            _, _, lost = self._outbox.popleft()
            self.dropped += 1
            log.error("event outbox full (%d): event %s dropped", self.outbox_max, lost)
        self._outbox.append((subject, wire, event_id))
        self.held += 1

    async def _flush(self) -> None:
        while self._outbox and self.backbone.connected:
            subject, wire, event_id = self._outbox[0]
            await self._send(subject, wire, event_id)
            self._outbox.popleft()

    async def _drain_outbox(self) -> None:
        while True:
            await asyncio.sleep(RETRY_S)
            try:
                await self._flush()
            except Exception as exc:
                log.warning(
                    "held events not published yet (%s); %d waiting", exc, len(self._outbox)
                )

    # -- delivering ------------------------------------------------------------------------
    async def deliver(self, raw: bytes) -> None:
        """Decode one message and call the handlers of its type; never raises."""
        try:
            event = Event.decode(raw)
        except InvalidInput as exc:
            self.undecodable += 1
            log.warning("an undecodable event on the backbone was skipped: %s", exc.message)
            return
        handlers = self._handlers.get(event.type, ())
        if handlers:
            self.delivered += 1
        for handler in handlers:
            try:
                await handler(event)
            except Exception:
                self.errors += 1
                log.exception("a handler of %s event %s failed", event.type, event.id)

    def _spawn_open(self, event_type: str) -> None:
        if event_type in self._feeds:
            return
        feed = Feed(self, self.names.event_subject(event_type))
        self._feeds[event_type] = feed
        task = asyncio.create_task(feed.reopen(), name=f"events-feed-{event_type}")
        self._opening.add(task)
        task.add_done_callback(self._opening.discard)

    async def _watch_feeds(self) -> None:
        """Open a feed per subscribed type once connected; reopen those that stall."""
        await self.backbone.ready.wait()
        while True:
            for event_type in list(self._handlers):
                self._spawn_open(event_type)
            for feed in list(self._feeds.values()):
                if self.backbone.connected and not feed.alive():
                    self.reopened += 1
                    task = asyncio.create_task(feed.reopen())
                    self._opening.add(task)
                    task.add_done_callback(self._opening.discard)
            await asyncio.sleep(2 * self.heartbeat)  # a live feed has a heartbeat in between

    async def _consume_durable(self) -> None:
        """Fetch from the installation's durable consumer; acknowledge after the handlers."""
        assert self.durable is not None
        name = f"evt-{self.durable}"
        backoff = Backoff(base=RETRY_S, cap=10.0)
        while True:
            await self.backbone.ready.wait()
            try:
                js = self.backbone.jetstream()
                psub = await js.pull_subscribe(
                    self.names.event_subjects,
                    durable=name,
                    stream=self.names.events_stream,
                    config=ConsumerConfig(
                        durable_name=name,
                        ack_policy=AckPolicy.EXPLICIT,
                        deliver_policy=DeliverPolicy.NEW,
                        ack_wait=30.0,
                        max_deliver=5,
                        max_ack_pending=1000,
                    ),
                )
                backoff.reset()
                try:
                    while self.stage is Stage.RUNNING:
                        try:
                            msgs = await psub.fetch(FETCH, timeout=FETCH_WAIT_S)
                        except TimeoutError:
                            continue
                        for msg in msgs:
                            await self.deliver(msg.data)
                            with contextlib.suppress(Exception):
                                await msg.ack()
                finally:
                    with contextlib.suppress(Exception):
                        await psub.unsubscribe()
                return
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                delay = backoff.next()
                log.warning("the %s event consumer failed (%s); again in %g s", name, exc, delay)
                await asyncio.sleep(delay)


class Feed:
    """One process's ordered, ephemeral view of one event subject (see the module docstring).

    ``last`` is the stream sequence of the last event delivered; ``expect`` the consumer
    sequence of the next message. A heartbeat or message marks the feed seen; a feed not seen
    for two heartbeats is reopened by the bus's watcher.
    """

    def __init__(self, bus: NatsEventBus, subject: str) -> None:
        self.bus = bus
        self.subject = subject
        self.last = 0
        self.expect = 1
        self.opened = False  # once open, a reopening starts just after ``last``
        self.consumer: str | None = None
        self.sub: Any = None
        self._seen = True
        self._lock = asyncio.Lock()

    def alive(self) -> bool:
        """Whether a message or heartbeat came since the last call (then forgets it)."""
        seen, self._seen = self._seen, False
        return seen

    async def reopen(self) -> None:
        """Drop the consumer (if any) and open a new one just after the last event delivered."""
        async with self._lock:
            await self.close()
            try:
                await self._open()
            except Exception as exc:
                log.warning("event feed %s not open (%s); retrying", self.subject, exc)
                self._seen = False

    async def _open(self) -> None:
        bb = self.bus.backbone
        nc, js = bb.client(), bb.jetstream()
        inbox = nc.new_inbox()
        self.sub = await nc.subscribe(inbox, cb=self._on_message)
        hb = self.bus.heartbeat
        config = ConsumerConfig(
            deliver_subject=inbox,
            filter_subject=self.subject,
            ack_policy=AckPolicy.NONE,
            max_deliver=1,
            flow_control=True,
            idle_heartbeat=hb,
            mem_storage=True,
            num_replicas=1,
            inactive_threshold=max(30.0, 6 * hb),
        )
        if self.opened:
            stream = await js.stream_info(bb.names.events_stream)
            if stream.state.last_seq < self.last:  # a new stream (a server lost its store)
                self.last = 0
            config.deliver_policy = DeliverPolicy.BY_START_SEQUENCE
            config.opt_start_seq = self.last + 1
        else:
            config.deliver_policy = DeliverPolicy.NEW
        self.expect = 1
        info = await js.add_consumer(bb.names.events_stream, config=config)
        self.consumer = info.name
        if not self.opened and info.delivered is not None:
            self.last = info.delivered.stream_seq or 0
        self.opened = True
        self._seen = True

    async def close(self) -> None:
        """Unsubscribe and delete the consumer, as far as NATS lets us now.

        Not connected, the consumer is left to the server (an ephemeral consumer goes once
        unused): asking would wait out the JetStream timeout (5 s) for every feed, and a
        process stopped while NATS was unreachable took 25 s (test_multihost).
        """
        sub, consumer, self.sub, self.consumer = self.sub, self.consumer, None, None
        if sub is not None:
            with contextlib.suppress(Exception):
                await sub.unsubscribe()
        if consumer is not None and self.bus.backbone.connected:
            with contextlib.suppress(Exception):
                js = self.bus.backbone.jetstream()
                await js.delete_consumer(self.bus.names.events_stream, consumer)

    async def _on_message(self, msg: Msg) -> None:
        self._seen = True
        headers = msg.headers or {}
        if headers.get("Status") == "100":  # idle heartbeat or flow control request
            if msg.reply:
                with contextlib.suppress(Exception):
                    await self.bus.backbone.client().publish(msg.reply, b"")
            last = headers.get("Nats-Last-Consumer")
            if last is not None and last.isdigit() and int(last) != self.expect - 1:
                self._seen = False  # messages were lost on the way: reopen
            return
        try:
            meta = msg.metadata
        except Exception:
            self.bus.undecodable += 1
            return
        if meta.sequence.consumer != self.expect:
            self._seen = False  # a gap: the watcher reopens after ``last``
            return
        self.expect += 1
        if meta.sequence.stream <= self.last:
            return  # delivered already (before a reopen)
        self.last = meta.sequence.stream
        await self.bus.deliver(msg.data)


class HandledElsewhere:
    """The bus of events handled once per installation, in a process that does not handle
    them: it publishes through ``bus`` and takes no subscribers (another process does)."""

    def __init__(self, bus: EventBus) -> None:
        self.bus = bus

    async def publish(self, event: Event) -> None:
        """Publish through the process's bus."""
        await self.bus.publish(event)

    def subscribe(self, event_type: str, handler: Handler) -> None:
        """Ignored: the installation's lead process handles these events."""
        log.debug("%s events are handled by the lead process, not here", event_type)
