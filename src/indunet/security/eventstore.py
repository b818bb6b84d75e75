"""The security event store: every event the hub handles, written in batches, kept for
``INDUNET_SECURITY_EVENT_DAYS`` days (default 30) and at most ``INDUNET_SECURITY_EVENT_ROWS``
rows (default 5,000,000; the oldest written go first; pruned a minute after start, then every
ten minutes), listed with search and paging behind
the access rule (an enterprise sees its own events, overseers every event).

Writes are idempotent: an event whose id is stored already is not written again (a source
read again after a crash, a sensor resending a batch). The database work is synchronous; the
hub subscriber runs it in a thread (``asyncio.to_thread``), so the event loop never waits on
the database, and the hub waits for it (a slow database slows the sources, nothing is lost).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from indunet.core import User, access
from indunet.core.paged import page_of_rows

from .events import RawFields, SecurityEvent, plain
from .eventtables import security_events as t

log = logging.getLogger(__name__)
DEFAULT_DAYS = 30.0
DEFAULT_ROWS = 5_000_000
PRUNE_S = 600.0
FIRST_PRUNE_S = 60.0
PRUNE_CHUNK = 50_000
_IN_CHUNK = 500
HISTOGRAM_SPAN_S = 7 * 86_400.0
"""The histogram's span when the search names no time range."""


def settings_from(env: Mapping[str, str]) -> tuple[float, int]:
    """(days, rows) from ``INDUNET_SECURITY_EVENT_DAYS`` / ``_ROWS``; bad values are named."""
    days, rows = DEFAULT_DAYS, DEFAULT_ROWS
    raw = env.get("INDUNET_SECURITY_EVENT_DAYS")
    if raw:
        days = float(raw)
        if not 0 < days <= 3650:
            raise ValueError(f"INDUNET_SECURITY_EVENT_DAYS={raw!r}: days from 0 to 3650")
    raw = env.get("INDUNET_SECURITY_EVENT_ROWS")
    if raw:
        rows = int(raw)
        if not 1_000 <= rows <= 2_000_000_000:
            raise ValueError(f"INDUNET_SECURITY_EVENT_ROWS={raw!r}: from 1,000 rows")
    return days, rows


@dataclass
class StoreStats:
    written: int = 0
    already: int = 0
    pruned_age: int = 0
    pruned_rows: int = 0
    errors: int = 0


@dataclass(frozen=True)
class EventQuery:
    """A search of the store; every part optional."""

    q: str = ""
    source: str = ""
    kind: str = ""
    protocol: str = ""
    ip: str = ""
    since: float | None = None
    until: float | None = None
    min_severity: int = 0
    enterprise_id: int | None = None


def _search_text(e: SecurityEvent) -> str:
    parts = (e.message[:300], e.action, e.user, e.observer, e.kind, e.protocol, e.src_ip, e.dst_ip)
    return " ".join(p for p in parts if p).lower()[:600]


def stored_fields(e: SecurityEvent) -> Any:
    """The value the ``fields`` column is given: details still held as their source's JSON
    text as they are (``FieldsJSON`` writes the text), others as a plain dict."""
    return e.fields if type(e.fields) is RawFields else plain(e.fields)


def _row(e: SecurityEvent) -> dict[str, Any]:
    return {
        "id": e.id,
        "ts": e.ts,
        "enterprise_id": e.enterprise_id,
        "source": e.source,
        "observer": e.observer[:200],
        "kind": e.kind,
        "protocol": e.protocol,
        "action": e.action,
        "outcome": e.outcome,
        "src_ip": e.src_ip,
        "src_port": e.src_port,
        "dst_ip": e.dst_ip,
        "dst_port": e.dst_port,
        "src_mac": e.src_mac,
        "dst_mac": e.dst_mac,
        "user": e.user,
        "severity": e.severity,
        "message": e.message,
        "fields": stored_fields(e),
        "search": _search_text(e),
    }


def _like(q: str) -> str:
    text = q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{text}%"


class EventStore:
    """The ``security_events`` table: written by the hub, read by the API and the console."""

    def __init__(
        self, engine: sa.Engine, days: float = DEFAULT_DAYS, max_rows: int = DEFAULT_ROWS
    ) -> None:
        self.engine = engine
        self.days = days
        self.max_rows = max_rows
        self.stats = StoreStats()
        self._task: asyncio.Task[None] | None = None

    # --- the hub's side -----------------------------------------------------------------

    async def handle(self, batch: Sequence[SecurityEvent]) -> None:
        """The hub subscriber: write the batch off the event loop."""
        try:
            await asyncio.to_thread(self.write, batch)
        except Exception:
            self.stats.errors += 1
            raise

    def write(self, batch: Sequence[SecurityEvent]) -> int:
        """Store the events not stored yet (by id); how many were written."""
        if not batch:
            return 0
        unique = list({e.id: e for e in batch}.values())
        with self.engine.begin() as conn:
            known: set[str] = set()
            for i in range(0, len(unique), _IN_CHUNK):
                ids = [e.id for e in unique[i : i + _IN_CHUNK]]
                known.update(conn.execute(sa.select(t.c.id).where(t.c.id.in_(ids))).scalars())
            rows = [_row(e) for e in unique if e.id not in known]
            if rows:
                conn.execute(t.insert(), rows)
        self.stats.written += len(rows)
        self.stats.already += len(batch) - len(rows)
        return len(rows)

    async def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._prune_loop(), name="security-event-prune")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _prune_loop(self) -> None:
        await asyncio.sleep(FIRST_PRUNE_S)  # not while the process is starting
        while True:
            try:
                await asyncio.to_thread(self.prune)
            except Exception:
                log.exception("pruning security events failed")
            await asyncio.sleep(PRUNE_S)

    def prune(self, now: float | None = None) -> tuple[int, int]:
        """Delete events older than ``days`` and the oldest beyond ``max_rows``, in chunks;
        (by age, by the row cap)."""
        cutoff = (time.time() if now is None else now) - self.days * 86_400
        by_age = by_rows = 0
        while True:
            with self.engine.begin() as conn:
                seqs = list(
                    conn.execute(
                        sa.select(t.c.seq).where(t.c.ts < cutoff).limit(PRUNE_CHUNK)
                    ).scalars()
                )
                if not seqs:
                    break
                for i in range(0, len(seqs), _IN_CHUNK):
                    conn.execute(t.delete().where(t.c.seq.in_(seqs[i : i + _IN_CHUNK])))
            by_age += len(seqs)
        with self.engine.begin() as conn:
            edge = conn.execute(
                sa.select(t.c.seq).order_by(t.c.seq.desc()).offset(self.max_rows).limit(1)
            ).scalar()
            if edge is not None:
                by_rows = int(conn.execute(t.delete().where(t.c.seq <= edge)).rowcount)
        self.stats.pruned_age += by_age
        self.stats.pruned_rows += by_rows
        if by_age or by_rows:
            log.info("security events pruned: %d by age, %d over the row cap", by_age, by_rows)
        return by_age, by_rows

    # --- the readers' side --------------------------------------------------------------

    def _where(self, user: User, query: EventQuery) -> tuple[list[sa.ColumnElement[bool]], bool]:
        where: list[sa.ColumnElement[bool]] = []
        eid = access.scope(user, query.enterprise_id)
        if eid is not None:
            where.append(t.c.enterprise_id == eid)
        scan = False
        if query.q:
            where.append(t.c.search.like(_like(query.q.lower()), escape="\\"))
            scan = True
        for column, value in (
            (t.c.source, query.source),
            (t.c.kind, query.kind),
            (t.c.protocol, query.protocol),
        ):
            if value:
                where.append(column == value)
        if query.ip:
            where.append(sa.or_(t.c.src_ip == query.ip, t.c.dst_ip == query.ip))
        if query.since is not None:
            where.append(t.c.ts >= query.since)
        if query.until is not None:
            where.append(t.c.ts < query.until)
        if query.min_severity:
            where.append(t.c.severity >= query.min_severity)
        return where, scan

    def search(
        self, user: User, query: EventQuery, *, offset: int = 0, limit: int = 50
    ) -> tuple[list[dict[str, Any]], int]:
        """One page of the events ``user`` may see, newest first, and how many match."""
        where, scan = self._where(user, query)
        columns = [c for c in t.c if c.name not in ("search", "seq")]
        with self.engine.connect() as conn:
            rows, total = page_of_rows(
                conn,
                t,
                columns,
                where,
                [t.c.ts.desc(), t.c.seq.desc()],
                offset=offset,
                limit=limit,
                scan=scan,
            )
        return [{str(k): v for k, v in r.items()} for r in rows], total

    def histogram(self, user: User, query: EventQuery, buckets: int = 48) -> dict[str, Any]:
        """Events over time for the same search, as ``{"start", "step", "counts"}``:
        ``buckets`` equal spans over the query's range; without one, over the
        ``HISTOGRAM_SPAN_S`` before the newest matching event (read by the time index), so
        the count never scans more than that span of a large store."""
        where, _ = self._where(user, query)
        with self.engine.connect() as conn:
            end = query.until
            if end is None:
                end = conn.execute(
                    sa.select(t.c.ts).where(*where).order_by(t.c.ts.desc()).limit(1)
                ).scalar()
                if end is None:
                    return {"start": None, "step": 0, "counts": []}
                end = float(end) + 1
            start = query.since if query.since is not None else end - HISTOGRAM_SPAN_S
            if query.since is None:
                low = conn.execute(
                    sa.select(sa.func.min(t.c.ts)).where(*where, t.c.ts >= start)
                ).scalar()
                start = float(low) if low is not None else start
            step = max(1.0, (float(end) - float(start)) / buckets)
            offset = (t.c.ts - float(start)) / step
            if conn.dialect.name != "sqlite":  # SQLite's cast truncates, which is floor here
                offset = sa.func.floor(offset)
            slot = sa.cast(offset, sa.Integer).label("slot")
            counts = [0] * buckets
            span = [*where, t.c.ts >= float(start), t.c.ts < float(end)]
            for n, c in conn.execute(sa.select(slot, sa.func.count()).where(*span).group_by(slot)):
                if n is not None and 0 <= int(n) < buckets:
                    counts[int(n)] += int(c)
        return {"start": float(start), "step": step, "counts": counts}


def store_from_env(engine: sa.Engine, env: Mapping[str, str] | None = None) -> EventStore:
    days, rows = settings_from(os.environ if env is None else env)
    return EventStore(engine, days, rows)
