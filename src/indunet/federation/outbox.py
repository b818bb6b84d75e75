"""The sending side: a transactional outbox, and the loop that delivers it until acknowledged.

``put`` adds a message in the caller's own transaction, so a message exists exactly when the
change it reports was committed; its number is the next for its recipient (``fed_links``,
moved in the same transaction). ``Sender`` delivers each peer's pending messages in order, a
batch at a time, signed with this instance's key, and marks them acknowledged up to the
number the peer says it has applied; a peer that reports a gap gets the messages again from
the number it expects. While a delivery is in flight the next one is read and signed; it is
sent only if the first was acknowledged in full, else built again from what the peer has. A peer that cannot be reached is tried again with growing waits; its
messages wait in the outbox (the backlog is counted per peer, never dropped).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import httpx
import orjson
import sqlalchemy as sa

from indunet.core.signing import PrivateKey

from .envelope import KIND, MAX_BATCH, MAX_BATCH_BYTES, MAX_BODY_BYTES, Envelope, new_id, seal
from .tables import links, outbox, peers

log = logging.getLogger(__name__)
PATH = "/api/v1/federation/messages"
"""Where an instance takes deliveries."""


class OutboxRefused(ValueError):
    """A message that cannot be put: ``reason`` (a catalogue code)."""

    def __init__(self, message: str, reason: str) -> None:
        super().__init__(message)
        self.reason = reason


# The statements ``put`` runs for every message, built once (SQLAlchemy then reuses their
# cache keys and compiled forms: a relay calls ``put`` for each message it passes on).
_NEXT_SEQ = (
    links.update()
    .where(
        links.c.recipient == sa.bindparam("to"),
        sa.exists().where(peers.c.name == sa.bindparam("to"), peers.c.status == "active"),
    )
    .values(next_seq=links.c.next_seq + 1)
    .returning(links.c.next_seq)
)
_STATUS = sa.select(peers.c.status).where(peers.c.name == sa.bindparam("to"))
_FIRST_LINK = links.insert()
_ADD = outbox.insert()


def put(conn: sa.Connection, recipient: str, kind: str, body: Mapping[str, Any]) -> int:
    """Add a message to ``recipient`` in ``conn``'s transaction; its number."""
    if not KIND.match(kind):
        raise OutboxRefused(f"kind {kind[:60]!r} is not a dotted name", "federation_kind")
    text = orjson.dumps(dict(body)).decode()
    if len(text) > MAX_BODY_BYTES:
        raise OutboxRefused(
            f"body is over {MAX_BODY_BYTES:,} bytes as JSON", "federation_message_too_large"
        )
    # the next number, moved only while the recipient is an active peer (one statement)
    seq = conn.execute(_NEXT_SEQ, {"to": recipient}).scalar()
    if seq is None:  # no active peer of that name, or its first message
        if conn.execute(_STATUS, {"to": recipient}).scalar() != "active":
            raise OutboxRefused(f"{recipient!r} is no enrolled peer", "federation_peer_unknown")
        conn.execute(_FIRST_LINK, {"recipient": recipient, "next_seq": 1, "acked_seq": 0})
        seq = 1
    conn.execute(
        _ADD,
        {
            "recipient": recipient,
            "seq": seq,
            "id": new_id(),
            "kind": kind,
            "ts": time.time(),
            "body": text,
            "acked": False,
        },
    )
    return int(seq)


def backlog(conn: sa.Connection) -> dict[str, int]:
    """Messages not yet acknowledged, per recipient."""
    rows = conn.execute(
        sa.select(outbox.c.recipient, sa.func.count())
        .where(outbox.c.acked.is_(False))
        .group_by(outbox.c.recipient)
    )
    return {r[0]: int(r[1]) for r in rows}


@dataclass
class SenderStats:
    sent: int = 0
    acknowledged: int = 0
    failures: Counter[str] = field(default_factory=Counter)


class Sender:
    """Delivers every active peer's pending messages, signed by ``key`` as ``me``."""

    def __init__(
        self,
        engine: sa.Engine,
        me: str,
        key: PrivateKey,
        *,
        client: httpx.AsyncClient | None = None,
        check_url: Callable[[str], None] | None = None,
        idle_s: float = 0.5,
        max_wait_s: float = 60.0,
    ) -> None:
        self.engine = engine
        self.me = me
        self.key = key
        self.client = client or httpx.AsyncClient(timeout=httpx.Timeout(10.0, connect=5.0))
        self.check_url = check_url
        self.idle_s = idle_s
        self.max_wait_s = max_wait_s
        self.stats = SenderStats()
        self._waits: dict[str, tuple[float, float]] = {}  # peer -> (until, last wait)
        # peer -> (the number it follows, the next delivery being prepared): one at most each
        self._ready: dict[str, tuple[int, asyncio.Task[tuple[bytes, int] | None]]] = {}
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="federation-sender")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        for name in list(self._ready):
            await self._drop_ready(name)

    async def _run(self) -> None:
        while True:
            try:
                moved = await self.pass_once()
            except asyncio.CancelledError:
                raise
            except Exception:  # the loop keeps going; the backlog shows what waits
                log.exception("federation delivery pass failed")
                moved = 0
            if not moved:
                await asyncio.sleep(self.idle_s)

    async def pass_once(self) -> int:
        """One delivery to each peer with pending messages; how many were acknowledged."""
        targets = await asyncio.to_thread(self._targets)
        moved = 0
        now = time.monotonic()
        for name, url in targets:
            until, _ = self._waits.get(name, (0.0, 0.0))
            if now < until:
                continue
            moved += await self.deliver(name, url)
        return moved

    def _targets(self) -> list[tuple[str, str]]:
        with self.engine.connect() as conn:
            rows = conn.execute(
                sa.select(peers.c.name, peers.c.url)
                .where(peers.c.status == "active")
                .where(
                    sa.exists().where(outbox.c.recipient == peers.c.name, outbox.c.acked.is_(False))
                )
            ).all()
        return [(r[0], r[1]) for r in rows]

    def _batch(self, name: str, after: int = 0) -> tuple[bytes, int] | None:
        """The first pending messages to ``name`` (numbered above ``after``), signed, as a
        delivery's body, and the last one's number."""
        with self.engine.connect() as conn:
            rows = conn.execute(
                sa.select(outbox)
                .where(outbox.c.recipient == name, outbox.c.acked.is_(False), outbox.c.seq > after)
                .order_by(outbox.c.seq)
                .limit(MAX_BATCH)
            ).all()
        if not rows:
            return None
        parts: list[bytes] = []
        size = len(b'{"messages":[]}')
        last = 0
        for r in rows:  # at most MAX_BATCH_BYTES a delivery (a message alone always fits)
            env = Envelope(r.id, self.me, name, r.kind, int(r.seq), r.ts, orjson.loads(r.body))
            part = orjson.dumps(seal(env, self.key))
            if parts and size + len(part) + 1 > MAX_BATCH_BYTES:
                break
            parts.append(part)
            size += len(part) + 1
            last = int(r.seq)
        return b'{"messages":[' + b",".join(parts) + b"]}", last

    async def _next_batch(self, name: str) -> tuple[bytes, int] | None:
        """The delivery to send ``name`` now: the one prepared while the last was in flight
        if that one was acknowledged in full, else built now."""
        ready = self._ready.pop(name, None)
        if ready is not None:
            after, task = ready
            batch = await task
            acked = await asyncio.to_thread(self._acked, name)
            if batch is not None and acked == after:  # right after what the peer applied
                return batch
        return await asyncio.to_thread(self._batch, name)

    def _acked(self, name: str) -> int:
        with self.engine.connect() as conn:
            return int(
                conn.execute(sa.select(links.c.acked_seq).where(links.c.recipient == name)).scalar()
                or 0
            )

    async def deliver(self, name: str, url: str) -> int:
        """Send ``name``'s first pending messages once; how many it acknowledged."""
        batch = await self._next_batch(name)
        if batch is None:
            return 0
        body, last = batch
        # the next delivery is read and signed while this one is in flight; it is sent only
        # if this one is acknowledged in full (``_next_batch``)
        self._ready[name] = (last, asyncio.create_task(asyncio.to_thread(self._batch, name, last)))
        try:
            if self.check_url is not None:
                await asyncio.to_thread(self.check_url, url)
            answer = await self.client.post(
                url.rstrip("/") + PATH,
                content=body,
                headers={"Content-Type": "application/json"},
            )
        except (httpx.HTTPError, ValueError) as exc:
            await self._drop_ready(name)
            return self._failed(name, type(exc).__name__, str(exc))
        self.stats.sent += body.count(b'"sig":')
        try:
            data = answer.json()
        except ValueError:
            data = {}
        if not isinstance(data, dict):
            data = {}
        through = data.get("through")
        detail = data.get("detail")
        if answer.status_code == 409 and isinstance(detail, dict):
            expected = detail.get("expected")
            if isinstance(expected, int) and not isinstance(expected, bool):
                through = expected - 1  # it has everything before what it expects
        if not isinstance(through, int) or isinstance(through, bool):
            await self._drop_ready(name)
            return self._failed(
                name, str(data.get("reason") or answer.status_code), answer.text[:200]
            )
        acked = await asyncio.to_thread(self._acknowledge, name, through)
        self._waits.pop(name, None)
        if through != last:
            await self._drop_ready(name)
        return acked

    async def _drop_ready(self, name: str) -> None:
        """Forget the delivery prepared for ``name`` (this one was not acknowledged in full)."""
        ready = self._ready.pop(name, None)
        if ready is not None:
            with contextlib.suppress(Exception):
                await ready[1]

    def _acknowledge(self, name: str, through: int) -> int:
        with self.engine.begin() as conn:
            done = conn.execute(
                outbox.update()
                .where(
                    outbox.c.recipient == name, outbox.c.seq <= through, outbox.c.acked.is_(False)
                )
                .values(acked=True)
            ).rowcount
            conn.execute(
                links.update()
                .where(links.c.recipient == name, links.c.acked_seq < through)
                .values(acked_seq=through)
            )
        self.stats.acknowledged += done
        return int(done)

    def _failed(self, name: str, reason: str, detail: str) -> int:
        self.stats.failures[reason] += 1
        _, last = self._waits.get(name, (0.0, 0.0))
        wait = min(self.max_wait_s, max(1.0, last * 2))
        self._waits[name] = (time.monotonic() + wait, wait)
        log.warning(
            "delivery to %s failed (%s): %s; next try in %.0f s", name, reason, detail, wait
        )
        return 0
