"""Learning mode: what is normal on an enterprise's OT network, learned from its own traffic.

While an enterprise learns (``start``: 7 days by default, by the events' own time), every
``ot.transaction`` adds its conversation (source, destination, protocol, destination port)
and its function (protocol, destination, function code) to the baseline; after, ``learned:``
conditions are true for anything the baseline lacks. Items are kept in memory (bounded per
enterprise) and written to ``security_detect_baseline_items`` in batches off the event loop
(``flush``); the baseline can be listed, searched, added to and removed from.
Events of no enterprise (the installation's own) are not learned.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from indunet.core.paged import page_of_rows
from indunet.security import detecttables as t
from indunet.security.events import SecurityEvent

log = logging.getLogger(__name__)
DEFAULT_DAYS = 7
MAX_ITEMS = 200_000
"""Baseline items per enterprise at most (beyond: not learned, counted)."""
KINDS = ("conversation", "function")


@dataclass(frozen=True, slots=True)
class Item:
    enterprise_id: int
    kind: str  # conversation | function
    src_ip: str | None
    dst_ip: str
    protocol: str
    dst_port: int | None = None
    function: str | None = None
    origin: str = "learned"
    first_seen: float = 0.0

    @property
    def key(self) -> str:
        if self.kind == "conversation":
            return f"{self.src_ip}|{self.dst_ip}|{self.protocol}|{self.dst_port}"
        return f"{self.protocol}|{self.dst_ip}|{self.function}"


def items_of(event: SecurityEvent) -> list[Item]:
    """The baseline items an event shows (none for events without a conversation)."""
    if event.enterprise_id is None or not event.dst_ip or not event.protocol:
        return []
    out = []
    if event.src_ip:
        out.append(
            Item(
                event.enterprise_id,
                "conversation",
                event.src_ip,
                event.dst_ip,
                event.protocol,
                event.dst_port,
                first_seen=event.ts,
            )
        )
    function = event.fields.get("function") if event.kind == "ot.transaction" else None
    if isinstance(function, int | str) and not isinstance(function, bool):
        out.append(
            Item(
                event.enterprise_id,
                "function",
                None,
                event.dst_ip,
                event.protocol,
                function=str(function)[:64],
                first_seen=event.ts,
            )
        )
    return out


@dataclass
class Period:
    mode: str  # learning | enforcing
    started_at: float
    until: float


class Baseline:
    """The baselines of every enterprise, in memory, with the rows still to write."""

    def __init__(self) -> None:
        self.periods: dict[int, Period] = {}
        self.keys: dict[int, dict[str, set[str]]] = {}
        self.hosts: dict[int, set[str]] = {}
        self.pending: list[Item] = []
        self.overflow = 0
        self.version = 0
        """Grows with every change to what the tests below answer (items, periods): the
        engine keeps its verdicts only while it stays the same."""

    def start(self, enterprise: int, now: float, days: float = DEFAULT_DAYS) -> Period:
        period = Period("learning", now, now + days * 86_400)
        self.periods[enterprise] = period
        self.version += 1
        return period

    def stop(self, enterprise: int, now: float) -> Period | None:
        period = self.periods.get(enterprise)
        if period is not None:
            period.mode, period.until = "enforcing", min(period.until, now)
        self.version += 1
        return period

    def learning(self, enterprise: int | None, ts: float) -> bool:
        period = self.periods.get(enterprise) if enterprise is not None else None
        if period is None or period.mode != "learning":
            return False
        if ts > period.until:
            period.mode = "enforcing"
            self.version += 1
            return False
        return True

    def add(self, item: Item, *, persist: bool = True) -> bool:
        """Add ``item``; False when it was there (or the enterprise's baseline is full)."""
        kinds = self.keys.setdefault(item.enterprise_id, {k: set() for k in KINDS})
        bucket = kinds[item.kind]
        if item.key in bucket:
            return False
        if sum(len(b) for b in kinds.values()) >= MAX_ITEMS:
            self.overflow += 1
            return False
        bucket.add(item.key)
        self.version += 1
        hosts = self.hosts.setdefault(item.enterprise_id, set())
        hosts.add(item.dst_ip)
        if item.src_ip:
            hosts.add(item.src_ip)
        if persist:
            self.pending.append(item)
        return True

    def remove(self, item: Item) -> None:
        bucket = self.keys.get(item.enterprise_id, {}).get(item.kind)
        if bucket is not None:
            bucket.discard(item.key)
        self.version += 1

    def observe(self, event: SecurityEvent) -> None:
        period = self.periods.get(event.enterprise_id) if event.enterprise_id is not None else None
        if (
            period is not None
            and period.mode == "learning"
            and self.learning(event.enterprise_id, event.ts)
        ):
            for item in items_of(event):
                self.add(item)

    def is_new(self, what: str, event: SecurityEvent) -> bool:
        """Whether the baseline lacks what ``event`` shows (False while learning or with no
        baseline); ``what`` is ``host``, ``conversation`` or ``function``."""
        if what == "host":
            return self.new_host(event)
        if what == "conversation":
            return self.new_conversation(event)
        return self.new_function(event)

    # The three tests run for every event and learned rule: keys are built as ``Item.key``
    # builds them, without making items, and the learning check runs only while learning.

    def _enforcing(self, event: SecurityEvent) -> bool:
        ent = event.enterprise_id
        period = self.periods.get(ent) if ent is not None else None
        if period is None:
            return False
        return period.mode != "learning" or not self.learning(ent, event.ts)

    def new_host(self, event: SecurityEvent) -> bool:
        host, ent = event.src_ip, event.enterprise_id
        if not host or ent is None or (period := self.periods.get(ent)) is None:
            return False
        if period.mode == "learning" and self.learning(ent, event.ts):
            return False
        return host not in self.hosts.get(ent, ())

    def new_conversation(self, event: SecurityEvent) -> bool:
        ent = event.enterprise_id
        if ent is None or not event.dst_ip or not event.protocol or not event.src_ip:
            return False
        if (period := self.periods.get(ent)) is None:
            return False
        if period.mode == "learning" and self.learning(ent, event.ts):
            return False
        kinds = self.keys.get(ent)
        key = f"{event.src_ip}|{event.dst_ip}|{event.protocol}|{event.dst_port}"
        return kinds is None or key not in kinds["conversation"]

    def new_function(self, event: SecurityEvent) -> bool:
        ent = event.enterprise_id
        if ent is None or event.kind != "ot.transaction" or not event.dst_ip:
            return False
        function = event.fields.get("function")
        if not isinstance(function, int | str) or isinstance(function, bool):
            return False
        if not event.protocol or not self._enforcing(event):
            return False
        kinds = self.keys.get(ent)
        key = f"{event.protocol}|{event.dst_ip}|{str(function)[:64]}"
        return kinds is None or key not in kinds["function"]

    def take_pending(self) -> list[Item]:
        batch, self.pending = self.pending, []
        return batch


class BaselineStore:
    """The baseline's rows: loaded at start, written in batches in a worker thread."""

    def __init__(self, engine: sa.Engine, baseline: Baseline, interval: float = 5.0) -> None:
        self.engine, self.baseline, self.interval = engine, baseline, interval
        self._task: asyncio.Task[None] | None = None
        self.write_errors = 0

    def load(self) -> None:
        with self.engine.connect() as conn:
            for row in conn.execute(sa.select(t.baselines)):
                self.baseline.periods[row.enterprise_id] = Period(
                    row.mode, row.started_at, row.until
                )
                self.baseline.version += 1
            for row in conn.execute(sa.select(t.baseline_items)):
                self.baseline.add(_item(row._mapping), persist=False)

    async def start(self) -> None:
        await asyncio.to_thread(self.load)
        self._task = asyncio.create_task(self._run(), name="security-baseline")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        await self.flush()

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self.interval)
            try:
                await self.flush()
            except Exception:
                self.write_errors += 1
                log.exception("baseline items not written (kept for the next try)")

    async def flush(self) -> int:
        batch = self.baseline.take_pending()
        if not batch:
            return 0
        try:
            await asyncio.to_thread(self.write, batch)
        except Exception:
            self.baseline.pending[:0] = batch
            raise
        return len(batch)

    def write(self, items: Iterable[Item]) -> None:
        rows = [_row(i) for i in items]
        with self.engine.begin() as conn:
            for ent in {r["enterprise_id"] for r in rows}:
                have = set(
                    conn.execute(
                        sa.select(t.baseline_items.c.kind, t.baseline_items.c.key).where(
                            t.baseline_items.c.enterprise_id == ent,
                            sa.tuple_(t.baseline_items.c.kind, t.baseline_items.c.key).in_(
                                [(r["kind"], r["key"]) for r in rows if r["enterprise_id"] == ent]
                            ),
                        )
                    ).all()
                )
                fresh = [
                    r
                    for r in rows
                    if r["enterprise_id"] == ent and (r["kind"], r["key"]) not in have
                ]
                if fresh:
                    conn.execute(sa.insert(t.baseline_items), fresh)

    def save_period(self, enterprise: int, period: Period, by: str) -> None:
        with self.engine.begin() as conn:
            conn.execute(sa.delete(t.baselines).where(t.baselines.c.enterprise_id == enterprise))
            conn.execute(
                sa.insert(t.baselines).values(
                    enterprise_id=enterprise,
                    mode=period.mode,
                    started_at=period.started_at,
                    until=period.until,
                    updated_by=by,
                )
            )

    def page(
        self, enterprise: int | None, q: str, kind: str, offset: int, limit: int
    ) -> tuple[list[dict[str, Any]], int]:
        """One page of baseline items (``enterprise`` None: every enterprise's), by id;
        ``q`` searches the item's key (addresses, protocol, port, function)."""
        items = t.baseline_items
        where = [] if enterprise is None else [items.c.enterprise_id == enterprise]
        if kind:
            where.append(items.c.kind == kind)
        if q:
            where.append(items.c.key.contains(q, autoescape=True))
        with self.engine.connect() as conn:
            return page_of_rows(
                conn,
                items,
                list(items.c),
                where,
                [items.c.id],
                offset=offset,
                limit=limit,
                scan=bool(q),
            )

    def delete(self, enterprise: int, item_id: int) -> Item | None:
        with self.engine.begin() as conn:
            row = conn.execute(
                sa.select(t.baseline_items).where(
                    t.baseline_items.c.id == item_id, t.baseline_items.c.enterprise_id == enterprise
                )
            ).first()
            if row is None:
                return None
            conn.execute(sa.delete(t.baseline_items).where(t.baseline_items.c.id == item_id))
        item = _item(row._mapping)
        self.baseline.remove(item)
        return item


def _row(item: Item) -> dict[str, Any]:
    return {
        "enterprise_id": item.enterprise_id,
        "kind": item.kind,
        "key": item.key[:300],
        "src_ip": item.src_ip,
        "dst_ip": item.dst_ip,
        "protocol": item.protocol[:32],
        "dst_port": item.dst_port,
        "function": item.function,
        "origin": item.origin,
        "first_seen": item.first_seen,
    }


def _item(row: Any) -> Item:
    return Item(
        row["enterprise_id"],
        row["kind"],
        row["src_ip"],
        row["dst_ip"],
        row["protocol"],
        row["dst_port"],
        row["function"],
        row["origin"],
        row["first_seen"],
    )
