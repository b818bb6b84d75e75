"""Dead letters: samples and payloads the platform could not accept, kept with the reason why.

A flood of bad samples must not turn into a flood of transactions, yet no bad sample may be
dropped silently: ``record`` returns only once its letters are committed, and letters from
every caller waiting at that moment share one transaction (group commit).

The table keeps the newest ``max_rows`` letters overall and the newest ``max_per_device`` of
each device (letters of no device count as one device), so one device's flood cannot push
out every other device's letters. Counts per reason are also kept by the pipeline's stats.

Each letter carries the enterprise of its device at the time it was written (None for a
device nobody registered); reads for a tenant filter by it, so letters of a deleted device
never show to the next owner of its id.
"""

from __future__ import annotations

import asyncio
import builtins
from collections import Counter
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa

from indunet import devices as device_registry
from indunet.core import audit
from indunet.telemetry.checks import Letter
from indunet.telemetry.tables import dead_letters

PAYLOAD_MAX = 4096  # characters of payload kept per letter
MAX_ROWS = 100_000  # letters kept overall
MAX_PER_DEVICE = 10_000  # letters kept per device
_TEXT_MAX = {"device": 200, "point": 200, "source": 32, "reason": 32, "detail": 500}
PARAM_MAX = 200  # characters kept per detail parameter (the detail itself keeps 500)


@dataclass(frozen=True, slots=True)
class LetterFilter:
    """Which letters a list, a count or a retry is about; ``None`` leaves a field out.

    ``enterprise_id`` is the tenant's scope (letters of that enterprise's devices),
    ``search`` a ``LIKE`` pattern (escaped with ``\\``) matched against device, point and
    detail, ``since``/``until`` bound the time the letter was written (``[since, until)``).
    """

    enterprise_id: int | None = None
    device: str | None = None
    reason: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    search: str | None = None


@dataclass(frozen=True)
class DeadLetter:
    """One stored dead letter."""

    id: int
    at: datetime
    device: str | None
    point: str | None
    source: str
    reason: str
    detail: str
    payload: str
    enterprise_id: int | None = None
    why: str | None = None
    params: dict[str, str] | None = None

    def to_dict(self) -> dict[str, Any]:
        """The letter as JSON-ready data: ``detail`` in English, ``detail_reason`` and
        ``detail_params`` naming it stably (null for letters written before they existed)."""
        return {
            "id": self.id,
            "at": self.at.isoformat(),
            "device": self.device,
            "point": self.point,
            "source": self.source,
            "reason": self.reason,
            "detail": self.detail,
            "payload": self.payload,
            "enterprise_id": self.enterprise_id,
            "detail_reason": self.why,
            "detail_params": self.params,
        }


def _clip(text: str | None, limit: int) -> str | None:
    return text if text is None or len(text) <= limit else text[: limit - 1] + "…"


def _params(params: Mapping[str, str] | None) -> dict[str, str] | None:
    """A detail's parameters as stored: at most 20, each clipped; None when there are none."""
    if not params:
        return None
    return {str(k)[:40]: _clip(str(v), PARAM_MAX) or "" for k, v in list(params.items())[:20]}


class DeadLetters:
    """The ``tel_dead_letters`` table, written in group commits."""

    def __init__(
        self, engine: sa.Engine, *, max_rows: int = MAX_ROWS, max_per_device: int = MAX_PER_DEVICE
    ) -> None:
        self._engine = engine
        self._max_rows = max_rows
        self._max_per_device = max_per_device
        self._since_device: Counter[str | None] = Counter()
        self._pending: builtins.list[tuple[builtins.list[dict[str, Any]], asyncio.Future[None]]]
        self._pending = []
        self._flusher: asyncio.Task[None] | None = None
        self._since_prune = 0
        self.transactions = 0

    async def record(self, letters: Sequence[Letter]) -> None:
        """Store ``letters``; returns once they are committed."""
        if not letters:
            return
        rows = [
            {
                "device": _clip(x.device, 200),
                "point": _clip(x.point, 200),
                "source": _clip(x.source, 32),
                "reason": _clip(x.reason, 32),
                "detail": _clip(x.detail, 500),
                "payload": _clip(x.payload, PAYLOAD_MAX),
                "why": _clip(x.why, 48),
                "params": _params(x.params) if x.why else None,
            }
            for x in letters
        ]
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._pending.append((rows, done))
        if self._flusher is None or self._flusher.done():
            self._flusher = asyncio.create_task(self._flush(), name="dead-letters")
        await asyncio.shield(done)

    async def _flush(self) -> None:
        loop = asyncio.get_running_loop()
        while self._pending:
            batch, self._pending = self._pending, []
            rows = [row for rows, _ in batch for row in rows]
            try:
                await loop.run_in_executor(None, self._insert, rows)
            except Exception as exc:  # every waiting caller learns it
                for _, done in batch:
                    if not done.done():
                        done.set_exception(exc)
            else:
                for _, done in batch:
                    if not done.done():
                        done.set_result(None)

    def _insert(self, rows: builtins.list[dict[str, Any]]) -> None:
        at = datetime.now(UTC)
        with self._engine.begin() as conn:
            owners = device_registry.owners(conn, {r["device"] for r in rows if r["device"]})
            for row in rows:
                row["at"] = at
                row["enterprise_id"] = owners.get(row["device"])
            conn.execute(dead_letters.insert(), rows)
            self._prune(conn, rows)
        self.transactions += 1

    def _prune(self, conn: sa.Connection, rows: builtins.list[dict[str, Any]]) -> None:
        """Keep the newest letters per device and overall; checked every tenth of a bound."""
        c = dead_letters.c
        self._since_device.update(r["device"] for r in rows)
        step = max(1, self._max_per_device // 10)
        full = [d for d, n in self._since_device.items() if n >= step]
        for device in full:
            del self._since_device[device]
            mine = c.device.is_(None) if device is None else c.device == device
            edge = conn.execute(
                sa.select(c.id)
                .where(mine)
                .order_by(c.id.desc())
                .offset(self._max_per_device)
                .limit(1)
            ).first()
            if edge is not None:
                conn.execute(dead_letters.delete().where(mine, c.id <= edge[0]))
        if len(self._since_device) > 10_000:  # a flood of distinct ids: bound the counters
            self._since_device.clear()
        self._since_prune += len(rows)
        if self._since_prune >= max(1, self._max_rows // 10):
            self._since_prune = 0
            top = conn.execute(sa.select(sa.func.max(c.id))).scalar() or 0
            conn.execute(dead_letters.delete().where(c.id <= top - self._max_rows))

    async def close(self) -> None:
        """Wait until every pending letter is committed."""
        if self._flusher is not None:
            await self._flusher

    def _where(
        self,
        query: Any,
        device: str | None,
        devices: Collection[str] | None,
        reason: str | None,
        source: str | None,
        enterprise_id: int | None = None,
    ) -> Any:
        c = dead_letters.c
        if enterprise_id is not None:
            query = query.where(c.enterprise_id == enterprise_id)
        if device is not None:
            query = query.where(c.device == device)
        if devices is not None:
            query = query.where(c.device.in_(builtins.list(devices)))
        if reason is not None:
            query = query.where(c.reason == reason)
        if source is not None:
            query = query.where(c.source == source)
        return query

    def list(
        self,
        limit: int = 100,
        *,
        device: str | None = None,
        devices: Collection[str] | None = None,
        reason: str | None = None,
        source: str | None = None,
        before_id: int | None = None,
        enterprise_id: int | None = None,
    ) -> builtins.list[DeadLetter]:
        """Newest letters first; ``enterprise_id`` limits them to letters of that enterprise's
        devices, ``devices`` to a set of device ids."""
        query = sa.select(dead_letters).order_by(dead_letters.c.id.desc()).limit(limit)
        query = self._where(query, device, devices, reason, source, enterprise_id)
        if before_id is not None:
            query = query.where(dead_letters.c.id < before_id)
        with self._engine.connect() as conn:
            return [DeadLetter(**row._mapping) for row in conn.execute(query)]

    def count(
        self,
        *,
        device: str | None = None,
        devices: Collection[str] | None = None,
        enterprise_id: int | None = None,
    ) -> int:
        """How many letters the table holds (of ``enterprise_id`` when given)."""
        query = self._where(
            sa.select(sa.func.count()).select_from(dead_letters),
            device,
            devices,
            None,
            None,
            enterprise_id,
        )
        with self._engine.connect() as conn:
            return int(conn.execute(query).scalar() or 0)

    def counts_by_reason(
        self,
        *,
        device: str | None = None,
        devices: Collection[str] | None = None,
        enterprise_id: int | None = None,
    ) -> dict[str, int]:
        """Letters held per reason (of ``enterprise_id`` when given)."""
        c = dead_letters.c
        query = sa.select(c.reason, sa.func.count()).group_by(c.reason)
        query = self._where(query, device, devices, None, None, enterprise_id)
        with self._engine.connect() as conn:
            return {str(r): int(n) for r, n in conn.execute(query)}

    # -- reading one page, retrying ----------------------------------------------------------
    def _filtered(self, query: Any, f: LetterFilter) -> Any:
        c = dead_letters.c
        query = self._where(query, f.device, None, f.reason, None, f.enterprise_id)
        if f.since is not None:
            query = query.where(c.at >= f.since)
        if f.until is not None:
            query = query.where(c.at < f.until)
        if f.search:
            like = [col.like(f.search, escape="\\") for col in (c.device, c.point, c.detail)]
            query = query.where(sa.or_(*like))
        return query

    def page(
        self, f: LetterFilter, *, offset: int = 0, limit: int = 20
    ) -> tuple[builtins.list[DeadLetter], int]:
        """One page of the letters ``f`` selects, newest first, and how many it selects."""
        rows = self._filtered(sa.select(dead_letters), f)
        rows = rows.order_by(dead_letters.c.id.desc()).offset(offset).limit(limit)
        total = self._filtered(sa.select(sa.func.count()).select_from(dead_letters), f)
        with self._engine.connect() as conn:
            items = [DeadLetter(**row._mapping) for row in conn.execute(rows)]
            return items, int(conn.execute(total).scalar() or 0)

    def chosen(
        self, f: LetterFilter, ids: Collection[int] | None, limit: int
    ) -> builtins.list[DeadLetter]:
        """Letters ``f`` selects (only ``ids`` when given), oldest first, at most ``limit``."""
        query = self._filtered(sa.select(dead_letters), f)
        if ids is not None:
            query = query.where(dead_letters.c.id.in_(builtins.list(ids)))
        query = query.order_by(dead_letters.c.id).limit(limit)
        with self._engine.connect() as conn:
            return [DeadLetter(**row._mapping) for row in conn.execute(query)]

    def settle(
        self,
        passed: Collection[int],
        failed: Sequence[tuple[int, str, str, int | None, str | None, dict[str, str] | None]],
        *,
        actor: str,
        target: str,
        detail: dict[str, Any],
    ) -> None:
        """After a retry: remove the letters whose samples are now stored, give the others
        their new (reason, detail, enterprise, detail's name and parameters), and audit it, in
        one transaction."""
        c = dead_letters.c
        with self._engine.begin() as conn:
            if passed:
                conn.execute(dead_letters.delete().where(c.id.in_(builtins.list(passed))))
            for letter_id, reason, text, enterprise_id, why, params in failed:
                conn.execute(
                    dead_letters.update()
                    .where(c.id == letter_id)
                    .values(
                        reason=_clip(reason, _TEXT_MAX["reason"]),
                        detail=_clip(text, _TEXT_MAX["detail"]),
                        enterprise_id=enterprise_id,
                        why=_clip(why, 48),
                        params=_params(params) if why else None,
                    )
                )
            audit.record(conn, actor, "telemetry.letters.retry", target, detail)

    def top_devices(
        self, *, enterprise_id: int | None = None, limit: int = 10
    ) -> builtins.list[tuple[str, int]]:
        """The devices holding the most letters (of ``enterprise_id`` when given), most first."""
        c = dead_letters.c
        n = sa.func.count().label("n")
        query = (
            sa.select(c.device, n)
            .where(c.device.is_not(None))
            .group_by(c.device)
            .order_by(n.desc(), c.device)
            .limit(limit)
        )
        query = self._where(query, None, None, None, None, enterprise_id)
        with self._engine.connect() as conn:
            return [(str(d), int(k)) for d, k in conn.execute(query)]
