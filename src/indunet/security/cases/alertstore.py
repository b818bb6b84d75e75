"""The durable alert store: the detection engine's ``AlertSink``.

``raise_alerts`` returns once its alerts are committed. While the store runs (``start``), a
writer task gathers the alerts raised meanwhile into one transaction, written off the event
loop (``asyncio.to_thread``); alerts at or above ``promote_level`` are merged into an open
case or made a case in that same transaction (``merge.promote``). After the commit each alert
at or above ``publish_level`` is published on the core bus as a ``security.alert`` event.
An optional ``on_commit`` hook (``summary.AlertsCommitted``) is called with the alerts written,
in their transaction (the web layer wires the federation's upward summaries to it).

Bounded: an alert's evidence events are cut to ``MAX_EVIDENCE_BYTES`` of JSON; alerts older
than ``retention_days`` and those past ``max_rows`` (oldest first) are deleted unless a case
holds them, at most every ``PRUNE_EVERY_S``; ``stats`` counts what was written and pruned.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import sqlalchemy as sa

from indunet.core import EventBus, EventType
from indunet.security.alerts import Alert
from indunet.security.casetables import alerts

from . import merge
from .evidence import EvidenceFiles
from .rows import SYSTEM
from .store import Cases
from .summary import AlertsCommitted

log = logging.getLogger(__name__)

ALERT_RAISED = EventType("security.alert", 1, "security", "a detection rule raised an alert")
PROMOTE_LEVEL = 12
PUBLISH_LEVEL = 10
RETENTION_DAYS = 90
MAX_ROWS = 1_000_000
MAX_EVIDENCE_BYTES = 64 * 1024
PRUNE_EVERY_S = 60.0
_BATCH = 2_000
_ID = 32


@dataclass
class AlertStats:
    """What the store did since it started."""

    written: int = 0
    duplicates: int = 0
    promoted: int = 0
    merged: int = 0
    pruned: int = 0
    published: int = 0


def _evidence(alert: Alert) -> tuple[list[dict[str, Any]], int]:
    """The alert's event copies that fit ``MAX_EVIDENCE_BYTES``, and how many were left out."""
    kept: list[dict[str, Any]] = []
    size = 2
    for event in alert.events:
        doc = event.to_dict()
        n = len(orjson.dumps(doc)) + 1
        if size + n > MAX_EVIDENCE_BYTES:
            break
        kept.append(doc)
        size += n
    return kept, len(alert.events) - len(kept)


def _row(alert: Alert, now: datetime) -> dict[str, Any]:
    events, left_out = _evidence(alert)
    detail = dict(alert.detail)
    if left_out:
        detail["events_left_out"] = left_out
    techniques = [t[:16] for t in alert.techniques][:50]
    search = " ".join([alert.rule, alert.title, *techniques]).lower()[:400]
    return {
        "id": alert.id[:_ID],
        "enterprise_id": alert.enterprise_id,
        "ts": datetime.fromtimestamp(alert.ts, UTC),
        "rule": alert.rule[:100],
        "rule_version": alert.rule_version,
        "level": max(0, min(15, alert.level)),
        "title": alert.title[:300],
        "techniques": techniques,
        "src_ip": alert.src_ip,
        "dst_ip": alert.dst_ip,
        "assets": list(alert.assets)[:100],
        "events": events,
        "count": alert.count,
        "grp": alert.group[:200],
        "detail": orjson.loads(orjson.dumps(detail, default=str)),
        "search": search,
        "case_id": None,
        "created_at": now,
    }


class AlertStore:
    """Keeps alerts, promotes the severe ones to cases, publishes them on the bus."""

    def __init__(
        self,
        engine: sa.Engine,
        bus: EventBus | None = None,
        *,
        promote_level: int = PROMOTE_LEVEL,
        publish_level: int = PUBLISH_LEVEL,
        retention_days: int = RETENTION_DAYS,
        max_rows: int = MAX_ROWS,
        merge_window: timedelta = merge.MERGE_WINDOW,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        evidence_dir: Path | None = None,
        on_commit: AlertsCommitted | None = None,
    ) -> None:
        self.engine = engine
        #: The case workflow and the evidence files, over the same database and clock.
        self.cases = Cases(engine, clock=clock)
        self.evidence = EvidenceFiles(self.cases, evidence_dir) if evidence_dir else None
        self.bus = bus
        self.promote_level = promote_level
        self.publish_level = publish_level
        self.retention = timedelta(days=retention_days)
        self.max_rows = max_rows
        self.merge_window = merge_window
        self.clock = clock
        self.stats = AlertStats()
        #: Called with the new alerts' rows in the transaction that writes them.
        self.on_commit = on_commit
        self._queue: asyncio.Queue[tuple[list[Alert], asyncio.Future[None]]] | None = None
        self._task: asyncio.Task[None] | None = None
        self._pruned_at = 0.0

    async def start(self) -> None:
        """Run the writer task."""
        self._queue = asyncio.Queue()
        self._task = asyncio.create_task(self._run(), name="security-alert-writer")

    async def stop(self) -> None:
        """Write what is queued, then stop the writer."""
        task, self._task = self._task, None
        if task is None or self._queue is None:
            return
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        await self._queue.put(([], done))
        with contextlib.suppress(Exception):
            async with asyncio.timeout(30):
                await done
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task

    async def raise_alerts(self, batch: Sequence[Alert]) -> None:
        """Keep ``batch`` durably (returns after the commit); cases and bus events follow."""
        if not batch:
            return
        if self._task is None or self._queue is None or self._task.done():
            await self._write([list(batch)])
            return
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        await self._queue.put((list(batch), done))
        await done

    async def _run(self) -> None:
        assert self._queue is not None
        while True:
            first = await self._queue.get()
            waiting = [first]
            size = len(first[0])
            while size < _BATCH and not self._queue.empty():
                item = self._queue.get_nowait()
                waiting.append(item)
                size += len(item[0])
            try:
                await self._write([b for b, _ in waiting])
            except Exception as exc:
                log.exception("could not write %d security alerts", size)
                for _, fut in waiting:
                    if not fut.done():
                        fut.set_exception(exc)
            else:
                for _, fut in waiting:
                    if not fut.done():
                        fut.set_result(None)

    async def _write(self, batches: list[list[Alert]]) -> None:
        flat = [a for b in batches for a in b]
        if not flat:
            return
        kept = await asyncio.to_thread(self._insert, flat)
        await self._publish(kept)
        now = asyncio.get_running_loop().time()
        if now - self._pruned_at >= PRUNE_EVERY_S:
            self._pruned_at = now
            try:
                self.stats.pruned += await asyncio.to_thread(self.prune)
            except Exception:
                log.exception("could not prune security alerts")

    def _insert(self, batch: list[Alert]) -> list[dict[str, Any]]:
        now = self.clock()
        rows = list({r["id"]: r for r in (_row(a, now) for a in batch)}.values())
        with self.engine.begin() as conn:
            known = set(
                conn.execute(
                    sa.select(alerts.c.id).where(alerts.c.id.in_([r["id"] for r in rows]))
                ).scalars()
            )
            fresh = [r for r in rows if r["id"] not in known]
            if fresh:
                conn.execute(alerts.insert(), fresh)
            for row in fresh:
                if row["level"] >= self.promote_level:
                    row["case_id"], merged = merge.promote(
                        conn, row, SYSTEM, now, self.merge_window
                    )
                    if merged:
                        self.stats.merged += 1
                    else:
                        self.stats.promoted += 1
            if fresh and self.on_commit is not None:
                self.on_commit(conn, fresh)
        self.stats.written += len(fresh)
        self.stats.duplicates += len(batch) - len(fresh)
        return fresh

    async def _publish(self, rows: list[dict[str, Any]]) -> None:
        if self.bus is None:
            return
        for row in rows:
            if row["level"] < self.publish_level:
                continue
            data = {
                "alert": row["id"],
                "rule": row["rule"],
                "rule_version": row["rule_version"],
                "level": row["level"],
                "title": row["title"],
                "techniques": row["techniques"],
                "src_ip": row["src_ip"],
                "dst_ip": row["dst_ip"],
                "assets": row["assets"],
                "ts": row["ts"].isoformat(),
                "case_id": row["case_id"],
            }
            try:
                await self.bus.publish(ALERT_RAISED.make(data, enterprise_id=row["enterprise_id"]))
                self.stats.published += 1
            except Exception:
                log.exception("could not publish security alert %s", row["id"])

    def prune(self) -> int:
        """Delete alerts past retention and past the row cap (never those a case holds);
        how many were deleted."""
        cutoff = self.clock() - self.retention
        free = alerts.c.case_id.is_(None)
        with self.engine.begin() as conn:
            gone = conn.execute(alerts.delete().where(free, alerts.c.ts < cutoff)).rowcount
            total = conn.execute(sa.select(sa.func.count()).select_from(alerts)).scalar_one()
            over = int(total) - self.max_rows
            if over > 0:
                oldest = (
                    sa.select(alerts.c.id)
                    .where(free)
                    .order_by(alerts.c.ts, alerts.c.id)
                    .limit(over)
                )
                ids = list(conn.execute(oldest).scalars())
                for i in range(0, len(ids), 500):
                    gone += conn.execute(
                        alerts.delete().where(alerts.c.id.in_(ids[i : i + 500]))
                    ).rowcount
        return int(gone)
