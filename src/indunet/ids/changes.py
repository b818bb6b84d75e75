"""Changes to identifier records noted in the database, so that every process's caches drop them.

A node caches the answers it gives (``ids.answercache``) and a front node's resolver caches
other nodes' answers. A write made by another process — ``indunet id`` on a server's data
directory, a second server on the same PostgreSQL — reaches neither by a function call. So
every writer notes the keys it changed in ``ids_changes`` inside its own transaction
(``note``), and each server polls the table every ``POLL_S`` seconds (``ChangeFeed``) and
drops those keys. A poll is one indexed query; there is no PostgreSQL-only path (LISTEN/NOTIFY
would save a query a quarter of a second and add a connection held open per process).

``EVERYTHING`` as a key means "every record of the node": a bulk batch of more than
``MAX_KEYS`` records, or a prefix revocation (the poller then also reloads revocations).

Sequence numbers are taken at insert time, so on PostgreSQL a transaction holding a lower
number may commit after a poll saw a higher one. Each poll therefore also reads the rows
noted in the last ``WINDOW_S`` seconds and acts on those it has not seen. Rows older than
``KEEP_S`` are pruned; a poller that could not poll for that long (a suspended process, a
database outage) drops everything instead of trusting what it cached.

``note`` also appends the keys to the durable change log (``ids.changelog``), numbered per
node in commit order and kept for days, which disaster-recovery copies replay.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Sequence

import sqlalchemy as sa

from indunet.ids import changelog
from indunet.ids.changelog import EVERYTHING as EVERYTHING
from indunet.ids.tables import changes as rows_of_changes

log = logging.getLogger(__name__)

POLL_S = 0.25
WINDOW_S = 5.0
KEEP_S = 120.0
#: More keys than this in one transaction are noted as ``EVERYTHING``.
MAX_KEYS = 500
#: More rows than this in one poll: drop everything rather than each key.
MAX_ROWS = 5000

Change = tuple[str, str]
"""``(node, key)``: the record ``key`` of ``node`` changed (``EVERYTHING``: all of them)."""


def note(conn: sa.Connection, node: str, keys: Sequence[str]) -> None:
    """Note, in the caller's write transaction, that ``node``'s records ``keys`` changed:
    here for the caches, and in the durable change log (``ids.changelog``) for copies."""
    if not keys:
        return
    changelog.append(conn, node, keys)
    now = time.time()
    wanted = [EVERYTHING] if len(keys) > MAX_KEYS else list(dict.fromkeys(keys))
    conn.execute(rows_of_changes.insert(), [{"node": node, "hkey": k, "at": now} for k in wanted])


class ChangeFeed:
    """Polls ``ids_changes`` and hands what other writers changed to ``forget``.

    ``forget`` receives the changes of one poll (``[(node, EVERYTHING)]`` with node ``""``
    when the feed lost track); it runs in a worker thread, so it must only touch
    thread-safe caches.
    """

    def __init__(
        self,
        engine: sa.Engine,
        forget: Callable[[Sequence[Change]], None],
        *,
        every: float = POLL_S,
    ) -> None:
        self.engine = engine
        self.forget = forget
        self.every = every
        self.last = 0
        self.polls = 0
        self._seen: dict[int, float] = {}  # seq -> at, for rows inside the window
        self._polled = 0.0
        self._pruned = 0.0
        self._task: asyncio.Task[None] | None = None

    def begin(self) -> None:
        """Start from the newest change: what was cached before this process began is
        nothing (blocking)."""
        with self.engine.connect() as conn:
            self.last = int(
                conn.execute(sa.select(sa.func.max(rows_of_changes.c.seq))).scalar() or 0
            )
        self._polled = time.time()

    def poll(self) -> list[Change]:
        """Read what changed since the last poll, hand it to ``forget``, return it (blocking)."""
        now = time.time()
        c = rows_of_changes.c
        q = (
            sa.select(c.seq, c.node, c.hkey, c.at)
            .where(sa.or_(c.seq > self.last, c.at >= now - WINDOW_S))
            .order_by(c.seq)
            .limit(MAX_ROWS + 1)
        )
        top = 0
        with self.engine.connect() as conn:
            rows = conn.execute(q).all()
            if len(rows) > MAX_ROWS:
                top = int(conn.execute(sa.select(sa.func.max(c.seq))).scalar() or 0)
        lost = now - self._polled > KEEP_S
        self._polled = now
        self.polls += 1
        found: list[Change] = []
        for seq, node, key, at in rows:
            if seq in self._seen:
                continue
            self._seen[seq] = at
            self.last = max(self.last, seq)
            found.append((node, key))
        edge = now - 2 * WINDOW_S
        self._seen = {s: a for s, a in self._seen.items() if a >= edge}
        if top or lost:  # too much to go through one by one, or track was lost
            self.last = max(self.last, top)
            found = [("", EVERYTHING)]
        if found:
            self.forget(found)
        if now - self._pruned > KEEP_S / 4:
            self._pruned = now
            with self.engine.begin() as conn:
                conn.execute(rows_of_changes.delete().where(c.at < now - KEEP_S))
        return found

    async def start(self) -> None:
        """Begin at the newest change and poll in the background."""
        await asyncio.to_thread(self.begin)
        self._task = asyncio.create_task(self._run(), name="ids-changes")

    async def stop(self) -> None:
        """Stop polling."""
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None

    async def _run(self) -> None:
        failing = False
        while True:
            await asyncio.sleep(self.every)
            try:
                await asyncio.to_thread(self.poll)
            except Exception:
                if not failing:  # once per outage, not four times a second
                    log.exception("reading identifier changes failed; trying again")
                failing = True
            else:
                if failing:
                    log.warning("reading identifier changes works again")
                failing = False
