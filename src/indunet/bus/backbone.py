"""The connection to NATS and JetStream's streams, kept up for the life of the process.

``Backbone.start`` returns at once: it connects in a task, retrying with capped backoff, so a
connector or api process starts (and buffers) while NATS is still down. Once connected,
nats-py reconnects by itself after a loss; the streams are created, or updated to the
configured limits, at the first connection and again after every reconnection (JetStream
keeps them across server restarts, but a server that comes back without its store, or a new
node, would otherwise leave every producer failing). The telemetry stream keeps envelopes
until a worker acknowledged them (a work queue: what is stored frees its room), bounded by
age and bytes; when full it refuses new ones (``discard: new``), so a producer learns it must
hold back: nothing a device was told is stored is ever dropped to make room. ``close`` is
bounded in time: a server that is gone or hangs does not hold up the process's shutdown.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Coroutine
from dataclasses import dataclass
from typing import Any

import nats
from nats.aio.client import Client as NATS
from nats.js import JetStreamContext
from nats.js.api import DiscardPolicy, RetentionPolicy, StorageType, StreamConfig
from nats.js.errors import APIError, BadRequestError, NotFoundError

from indunet.core import IndunetError, Settings
from indunet.core.backoff import Backoff

from .subjects import Names

log = logging.getLogger(__name__)
PING_INTERVAL_S = 5
MAX_OUTSTANDING_PINGS = 3
"""A connection whose server misses this many pings in a row is lost (about 15-20 s), and
nats-py reconnects on a new one. With nats-py's defaults (120 s, 2) a silently dropped
connection (a network cut, no RST) was noticed only after 4 minutes: after a 60 s cut the
old connection waited another 50 s for TCP's backed-off retransmission
(tests/integration/test_multihost.py)."""


def shown(urls: list[str] | str) -> str:
    """Bus URLs as they may be printed or logged: a password replaced by ``***``."""
    out = []
    for url in urls.split(",") if isinstance(urls, str) else urls:
        scheme, sep, rest = url.strip().partition("://")
        userinfo, at, host = rest.rpartition("@")
        if at and ":" in userinfo:
            userinfo = userinfo.split(":", 1)[0] + ":***"
        elif at:
            userinfo = "***"  # a token alone is the whole secret
        out.append(f"{scheme}{sep}{userinfo}{at}{host}")
    return ",".join(out)


class BusUnavailable(IndunetError):
    """The backbone cannot take a message now: retry later."""

    code = "bus_unavailable"
    status = 503


@dataclass(frozen=True, slots=True)
class StreamLimits:
    """What the streams keep: bytes and age, copies, and the deduplication window."""

    max_bytes: int = 8 * 1024**3
    max_age_s: float = 7 * 86400
    replicas: int = 1
    duplicate_window_s: float = 600.0
    events_max_age_s: float = 86400.0
    events_max_bytes: int = 256 * 1024**2
    keep_stored: bool = False
    """Keep telemetry envelopes after a worker stored them (limits retention), so several
    consumers can read one stream again (benchmarks). Never in production: the stream then
    fills up after ``max_bytes`` of traffic and every producer buffers until ``max_age_s``."""


class Backbone:
    """One process's connection to the NATS cluster, with JetStream."""

    def __init__(
        self,
        urls: list[str],
        names: Names,
        limits: StreamLimits | None = None,
        *,
        client_name: str = "indunet",
        connect_timeout: float = 2.0,
        retry_cap: float = 10.0,
        close_timeout: float = 5.0,
    ) -> None:
        self.urls = urls
        self.names = names
        self.limits = limits or StreamLimits()
        self.client_name = client_name
        self.connect_timeout = connect_timeout
        self.retry_cap = retry_cap
        self.close_timeout = close_timeout
        self.nc: NATS | None = None
        self.js: JetStreamContext | None = None
        self.ready = asyncio.Event()
        self.lost = asyncio.Event()
        """Set while the connection is lost (until nats-py reconnects)."""
        self.reconnects = 0
        self._erring = False  # an outage's first error was logged at WARNING
        self._task: asyncio.Task[None] | None = None
        self._ensuring: asyncio.Task[None] | None = None

    @classmethod
    def from_settings(cls, settings: Settings, role: str) -> Backbone:
        """The backbone of ``settings.bus_url`` for a process of ``role``."""
        if not settings.bus_url:
            raise ValueError("no bus URL: the backbone is for INDUNET_BUS_URL=nats://…")
        names = Names(settings.bus_prefix, settings.bus_partitions)
        limits = StreamLimits(
            max_bytes=settings.bus_max_bytes,
            max_age_s=float(settings.bus_max_age_s),
            replicas=settings.bus_replicas,
        )
        urls = [u.strip() for u in settings.bus_url.split(",") if u.strip()]
        return cls(urls, names, limits, client_name=f"indunet-{role}-{settings.shard}")

    @property
    def connected(self) -> bool:
        """Whether the connection is up now."""
        return self.nc is not None and self.nc.is_connected and self.ready.is_set()

    def jetstream(self) -> JetStreamContext:
        """The JetStream context; ``BusUnavailable`` before the first connection."""
        if self.js is None or not self.ready.is_set():
            raise BusUnavailable("the NATS backbone is not connected yet; retry later")
        return self.js

    def client(self) -> NATS:
        """The NATS client; ``BusUnavailable`` before the first connection."""
        if self.nc is None or not self.ready.is_set():
            raise BusUnavailable("the NATS backbone is not connected yet; retry later")
        return self.nc

    async def start(self) -> None:
        """Begin connecting (in a task); ``wait_ready`` waits for it."""
        if self._task is None:
            self._task = asyncio.create_task(self._connect_loop(), name="bus-connect")

    async def wait_ready(self, seconds: float) -> bool:
        """Wait up to ``seconds`` for the connection and streams; True when ready."""
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(seconds):
                await self.ready.wait()
        return self.ready.is_set()

    async def close(self) -> None:
        """Stop connecting; drain and close the connection, in ``close_timeout`` s at most each.

        (nats-py's ``drain`` does not end on cancellation while the server hangs: it waits out
        its own flush timeout, so it runs in a task that is left behind when too slow.)
        """
        for task in (self._task, self._ensuring):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        self._task = self._ensuring = None
        self.ready.clear()
        nc = self.nc
        if nc is None or nc.is_closed:
            return
        if nc.is_connected:
            await _bounded(nc.drain(), self.close_timeout, "drain")
        if not nc.is_closed:
            await _bounded(nc.close(), self.close_timeout, "close")

    async def _connect_loop(self) -> None:
        backoff = Backoff(base=0.2, cap=self.retry_cap)
        while True:
            try:
                nc = await nats.connect(
                    servers=self.urls,
                    name=self.client_name,
                    connect_timeout=self.connect_timeout,
                    allow_reconnect=True,
                    max_reconnect_attempts=-1,
                    reconnect_time_wait=1,
                    ping_interval=PING_INTERVAL_S,
                    max_outstanding_pings=MAX_OUTSTANDING_PINGS,
                    disconnected_cb=self._disconnected,
                    reconnected_cb=self._reconnected,
                    error_cb=self._error,
                )
            except Exception as exc:  # no server answers yet: keep trying
                log.warning("NATS at %s unavailable (%s); retrying", shown(self.urls), exc)
                await asyncio.sleep(backoff.next())
                continue
            self.nc, self.js = nc, nc.jetstream(timeout=5)
            break
        await self._ensure_until_done()
        self.ready.set()
        self._erring = False
        url = nc.connected_url
        log.info("NATS backbone connected at %s", url.hostname if url is not None else "?")

    async def ensure_streams(self) -> None:
        """Create the streams, or bring an existing one to the configured limits."""
        assert self.js is not None
        n, lim = self.names, self.limits
        for cfg in (
            StreamConfig(
                name=n.telemetry_stream,
                subjects=[n.telemetry_subjects],
                retention=RetentionPolicy.LIMITS if lim.keep_stored else RetentionPolicy.WORK_QUEUE,
                max_bytes=lim.max_bytes,
                max_age=lim.max_age_s,
                discard=DiscardPolicy.NEW,
                duplicate_window=lim.duplicate_window_s,
                num_replicas=lim.replicas,
                storage=StorageType.FILE,
            ),
            StreamConfig(
                name=n.events_stream,
                subjects=[n.event_subjects],
                retention=RetentionPolicy.LIMITS,
                max_bytes=lim.events_max_bytes,
                max_age=lim.events_max_age_s,
                discard=DiscardPolicy.OLD,
                duplicate_window=lim.duplicate_window_s,
                num_replicas=lim.replicas,
                storage=StorageType.FILE,
            ),
        ):
            try:
                await self.js.stream_info(cfg.name or "")
            except NotFoundError:
                try:
                    await self.js.add_stream(cfg)
                    continue
                except BadRequestError:  # another process made it meanwhile
                    pass
            try:
                await self.js.update_stream(cfg)
            except APIError as exc:  # a change JetStream refuses (the retention kind: 2.9
                # answers 500, later servers 400); the stream exists and serves as it is
                log.error(
                    "stream %s keeps its configuration: JetStream refused the update (%s); "
                    "delete the stream once its workers have emptied it to apply it",
                    cfg.name,
                    exc.description,
                )

    async def _disconnected(self) -> None:
        self.lost.set()
        log.warning("NATS backbone disconnected; reconnecting")

    async def _reconnected(self) -> None:
        self._erring = False
        self.reconnects += 1
        self.lost.clear()
        log.info("NATS backbone reconnected")
        if self.ready.is_set() and (self._ensuring is None or self._ensuring.done()):
            self._ensuring = asyncio.create_task(self._ensure_until_done(), name="bus-streams")

    async def _ensure_until_done(self) -> None:
        """Make the streams, retrying: at the first connection, and after a reconnection
        (a server that lost its store)."""
        backoff = Backoff(base=0.2, cap=self.retry_cap)
        while True:
            try:
                await self.ensure_streams()
                return
            except Exception as exc:
                log.warning("JetStream streams not ready (%s); retrying", exc)
                await asyncio.sleep(backoff.next())

    async def _error(self, exc: Exception) -> None:
        """nats-py's errors: the first of an outage at WARNING (naming the servers, never
        their password), the repeats of its retries at DEBUG."""
        if self._erring:
            log.debug("NATS: %s", exc)
            return
        self._erring = True
        log.warning("NATS at %s: %s (retrying)", shown(self.urls), exc)


async def _bounded(job: Coroutine[Any, Any, None], seconds: float, what: str) -> None:
    """Run ``job`` for ``seconds`` at most; a job still running then is cancelled, not awaited."""
    task = asyncio.ensure_future(job)
    done, _ = await asyncio.wait({task}, timeout=seconds)
    if not done:
        log.warning("NATS %s did not finish in %g s; going on without it", what, seconds)
        task.cancel()
        task.add_done_callback(_forget)
        return
    _forget(task)


def _forget(task: asyncio.Future[None]) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.debug("NATS: %s", task.exception())


def describe(stream: Any) -> dict[str, Any]:
    """A stream's state as plain numbers (messages, bytes, first and last sequence)."""
    state = stream.state
    return {
        "messages": state.messages,
        "bytes": state.bytes,
        "first_seq": state.first_seq,
        "last_seq": state.last_seq,
    }
