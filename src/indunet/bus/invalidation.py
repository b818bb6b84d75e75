"""Cache invalidation across processes: a write here tells the others what to forget.

A process that changes something other processes keep in memory (an identifier record held
in their resolver caches, a device in their registries) calls ``Invalidation.tell(kind,
key)``; the keys are gathered for one turn of the event loop and published with core NATS on
``<prefix>.inval.<kind>`` as ``{"origin": ..., "keys": [...]}``. Every other process runs
the handlers registered for ``kind`` with those keys; its own messages it ignores.

Core NATS delivers at most once: a process disconnected at that moment misses the message.
That is accepted, because nothing relies on it alone: resolver answers expire by their TTL
(``INDUNET_CACHE_MAX_TTL``, 300 s at most) and device registries compare the device table
every 2 s; the message only makes the change visible at once instead of then.

``tell`` may be called from worker threads (identifier writes run in the thread pool).
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import logging
import re
import uuid
from collections import defaultdict
from collections.abc import Awaitable, Callable, Iterable, Sequence
from typing import Any

import orjson
from nats.aio.msg import Msg

from indunet.core.backoff import Backoff
from indunet.ids import Node, Resolver
from indunet.ids.syntax import handle

from .backbone import Backbone

log = logging.getLogger(__name__)
Forget = Callable[[Sequence[str]], Awaitable[None] | None]

MAX_KEY = 512
MAX_KEYS = 500
"""Keys per message: more are sent in several messages."""
MAX_MESSAGE = 512 * 1024
PENDING_MAX = 100_000
"""Keys gathered at most before a flush; past it the kind is sent as ``*`` (forget all)."""
EVERYTHING = "*"
KIND = re.compile(r"[a-z][a-z0-9_]{0,31}")


class Invalidation:
    """Publishes what this process changed and forgets what others changed."""

    def __init__(self, backbone: Backbone, *, origin: str | None = None) -> None:
        self.backbone = backbone
        self.origin = origin or uuid.uuid4().hex
        self.sent = 0
        self.received = 0
        self.ignored = 0
        self.failures = 0
        self._handlers: dict[str, list[Forget]] = defaultdict(list)
        self._pending: dict[str, set[str]] = defaultdict(set)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._flushing: asyncio.Task[None] | None = None
        self._subs: list[Any] = []
        self._task: asyncio.Task[None] | None = None

    def on(self, kind: str, forget: Forget) -> None:
        """Call ``forget(keys)`` when another process changed ``keys`` of ``kind``
        (``["*"]``: forget every entry of the kind)."""
        if not KIND.fullmatch(kind):
            raise ValueError(f"invalidation kind {kind!r}: a-z, digits and _")
        self._handlers[kind].append(forget)

    def tell(self, kind: str, keys: Iterable[str]) -> None:
        """Tell the other processes to forget ``keys`` of ``kind`` (from any thread)."""
        loop = self._loop
        if loop is None or loop.is_closed():
            return  # not started: nobody to tell yet
        wanted = [k for k in keys if isinstance(k, str) and 0 < len(k) <= MAX_KEY]
        if not wanted:
            return
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is loop:
            self._add(kind, wanted)
        else:
            with contextlib.suppress(RuntimeError):  # the loop closed meanwhile
                loop.call_soon_threadsafe(self._add, kind, wanted)

    async def start(self) -> None:
        """Listen for the kinds registered so far (once the backbone is connected)."""
        self._loop = asyncio.get_running_loop()
        if self._task is None:
            self._task = asyncio.create_task(self._subscribe(), name="invalidation")

    async def stop(self) -> None:
        """Send what is gathered, stop listening."""
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None
        if self._flushing is not None:
            await asyncio.gather(self._flushing, return_exceptions=True)
        await self._flush()
        for sub in self._subs:
            with contextlib.suppress(Exception):
                await sub.unsubscribe()
        self._subs.clear()
        self._loop = None

    # -- sending ---------------------------------------------------------------------------
    def _add(self, kind: str, keys: list[str]) -> None:
        pending = self._pending[kind]
        if EVERYTHING not in pending:
            pending.update(keys)
            if len(pending) > PENDING_MAX:
                pending.clear()
                pending.add(EVERYTHING)
        if self._flushing is None or self._flushing.done():
            self._flushing = asyncio.ensure_future(self._flush())

    async def _flush(self) -> None:
        await asyncio.sleep(0)  # gather what the same turn of the loop adds
        while self._pending:
            pending, self._pending = self._pending, defaultdict(set)
            for kind, keys in pending.items():
                ordered = sorted(keys)
                for at in range(0, len(ordered), MAX_KEYS):
                    await self._publish(kind, ordered[at : at + MAX_KEYS])

    async def _publish(self, kind: str, keys: list[str]) -> None:
        body = orjson.dumps({"origin": self.origin, "keys": keys})
        try:
            await self.backbone.client().publish(self.backbone.names.invalidate_subject(kind), body)
            self.sent += 1
        except Exception as exc:  # at most once: the TTL or the next poll catches up
            self.failures += 1
            log.warning("could not tell other processes to forget %s (%s)", kind, exc)

    # -- receiving -------------------------------------------------------------------------
    async def _subscribe(self) -> None:
        """Subscribe once connected, retrying (nats-py keeps the subscription across
        reconnections from then on)."""
        every = self.backbone.names.invalidate_subject("*")
        backoff = Backoff(base=0.5, cap=10.0)
        while True:
            await self.backbone.ready.wait()
            try:
                self._subs.append(await self.backbone.client().subscribe(every, cb=self._receive))
                return
            except Exception as exc:
                log.warning("cannot listen for invalidations yet (%s); retrying", exc)
                await asyncio.sleep(backoff.next())

    async def _receive(self, msg: Msg) -> None:
        kind = msg.subject.rpartition(".")[2]
        handlers = self._handlers.get(kind, ())
        keys = self.keys_of(msg.data) if handlers else None
        if keys is None:
            return
        self.received += 1
        for forget in handlers:
            try:
                done = forget(keys)
                if inspect.isawaitable(done):
                    await done
            except Exception:
                log.exception("forgetting %s %s failed", kind, keys[:3])

    def keys_of(self, raw: bytes) -> list[str] | None:
        """The keys of a message from another process; ``None`` for this process's own or
        one that cannot be read (counted as ignored)."""
        if len(raw) > MAX_MESSAGE:
            self.ignored += 1
            return None
        try:
            doc = orjson.loads(raw)
        except orjson.JSONDecodeError:
            self.ignored += 1
            return None
        if not isinstance(doc, dict) or not isinstance(doc.get("keys"), list):
            self.ignored += 1
            return None
        if doc.get("origin") == self.origin:
            return None
        keys = [k for k in doc["keys"][:MAX_KEYS] if isinstance(k, str) and 0 < len(k) <= MAX_KEY]
        if not keys:
            self.ignored += 1
            return None
        return keys


IDS = "ids"
"""Identifier records: keys are normalised handle keys (``88.100/PUMP-1``)."""
DEVICES = "devices"
"""Devices: keys are device ids."""
PREFIX_RECORD = "0.NA/"


def share_resolver(invalidation: Invalidation, resolver: Resolver, nodes: Sequence[Node]) -> None:
    """Identifier writes here make other processes' resolvers and nodes' answer caches forget
    the record, and theirs this one's; a prefix record (``0.NA/…``) also drops the referral
    and reloads every node's delegations (in a worker thread)."""
    resolver.on_forget.append(lambda key: invalidation.tell(IDS, [key]))

    async def forget(keys: Sequence[str]) -> None:
        delegations = False
        for key in keys:
            if key == EVERYTHING:
                resolver.answers.clear()
                resolver.referrals.clear()
                for node in nodes:
                    node.answers.clear()
                delegations = True
                continue
            resolver.answers.drop(key)
            for node in nodes:  # the authoritative answers a node here keeps (ids.answercache)
                node.answers.drop(key)
            if key.upper().startswith(PREFIX_RECORD):
                resolver.referrals.drop(handle.normalise_prefix(key[len(PREFIX_RECORD) :]))
                delegations = True
        if delegations:
            await asyncio.to_thread(_reload_delegations, nodes)

    invalidation.on(IDS, forget)


def _reload_delegations(nodes: Sequence[Node]) -> None:
    for node in nodes:
        node.load_delegations()
