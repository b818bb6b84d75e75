"""A device's life after registration: its online/offline history, its gaps, its deletion.

Every change of a device's status (online, offline) is kept in ``dev_status_history`` with
its time (seconds since 1970, like ``Device.last_seen``) and the device's enterprise. A *gap*
is a stretch during which the device was offline: from the change to offline to the next
change to online (open-ended while it stays offline). Charts and exports show gaps so that an
outage is not mistaken for a quiet machine.

Deleting a device leaves a tombstone in ``dev_purges`` until the data kept under its id
(samples, commands, dead letters, alarms, rules, status history) is purged. While the
tombstone stands, the id cannot be registered again, so a purge that is slow or failed never
shows the previous owner's data to the next one.
"""

from __future__ import annotations

import functools
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa

from indunet.core.buckets import SCOPE, edge_table, edge_values, scoped
from indunet.devices.tables import devices as device_table
from indunet.devices.tables import purges
from indunet.devices.tables import status_history as history_table
from indunet.devices.tables import status_latest as latest_table

HISTORY_LIMIT = 1000
"""Most status changes one read returns."""


@dataclass(frozen=True, slots=True)
class StatusChange:
    """The device went ``status`` (online or offline) at ``at`` (seconds since 1970)."""

    device_id: str
    enterprise_id: int
    status: str
    at: float

    def to_json(self) -> dict[str, Any]:
        """API shape: the time as ISO 8601 and as milliseconds."""
        return {
            "status": self.status,
            "at": datetime.fromtimestamp(self.at, UTC).isoformat(),
            "at_ms": round(self.at * 1000),
        }


@dataclass(frozen=True, slots=True)
class Gap:
    """The device was offline from ``start`` until ``end`` (ms; None: still offline)."""

    start: int
    end: int | None

    def to_json(self) -> dict[str, int | None]:
        """API shape."""
        return {"start": self.start, "end": self.end}


def record_changes(conn: sa.Connection, changes: Sequence[StatusChange]) -> None:
    """Append status changes (in the caller's transaction)."""
    if changes:
        conn.execute(
            history_table.insert(),
            [
                {"device_id": c.device_id, "enterprise_id": c.enterprise_id, "status": c.status}
                | {"at": c.at}
                for c in changes
            ],
        )


def _change(row: Any) -> StatusChange:
    return StatusChange(row.device_id, row.enterprise_id, row.status, row.at)


def history(
    engine: sa.Engine,
    device_id: str,
    enterprise_id: int,
    *,
    since: float | None = None,
    until: float | None = None,
    limit: int = HISTORY_LIMIT,
) -> list[StatusChange]:
    """The device's status changes in ``[since, until)``, newest first, at most ``limit``.

    Only rows of ``enterprise_id`` are read: a device id registered again by another
    enterprise never shows the earlier owner's history.
    """
    c = history_table.c
    q = (
        sa.select(history_table)
        .where(c.device_id == device_id, c.enterprise_id == enterprise_id)
        .order_by(c.at.desc(), c.id.desc())
        .limit(max(1, min(limit, HISTORY_LIMIT)))
    )
    if since is not None:
        q = q.where(c.at >= since)
    if until is not None:
        q = q.where(c.at < until)
    with engine.connect() as conn:
        return [_change(r) for r in conn.execute(q)]


def gaps(engine: sa.Engine, device_id: str, enterprise_id: int, start: int, end: int) -> list[Gap]:
    """The offline stretches of the device that overlap ``[start, end)`` (ms), oldest first.

    A gap is cut to the window: one that began before ``start`` starts at ``start``, one that
    ended after ``end`` ends at ``end``; ``end=None`` only while the device is still offline.
    """
    c = history_table.c
    mine = sa.and_(c.device_id == device_id, c.enterprise_id == enterprise_id)
    lo, hi = start / 1000, end / 1000
    with engine.connect() as conn:
        before = conn.execute(
            sa.select(c.status).where(mine, c.at < lo).order_by(c.at.desc(), c.id.desc()).limit(1)
        ).scalar()
        rows = conn.execute(
            sa.select(c.status, c.at)
            .where(mine, c.at >= lo, c.at < hi)
            .order_by(c.at, c.id)
            .limit(10 * HISTORY_LIMIT)
        ).all()
    out: list[Gap] = []
    opened: int | None = start if before == "offline" else None
    for status, at in rows:
        ms = round(at * 1000)
        if status == "offline" and opened is None:
            opened = ms
        elif status == "online" and opened is not None:
            out.append(Gap(opened, ms))
            opened = None
    if opened is not None:  # open at the window's end (or where a long history was cut)
        since = rows[-1][1] if rows else lo
        with engine.connect() as conn:
            back = conn.execute(
                sa.select(sa.func.min(c.at)).where(mine, c.status == "online", c.at >= since)
            ).scalar()
        out.append(Gap(opened, None if back is None else min(round(back * 1000), end)))
    return out


def mark_deleted(conn: sa.Connection, device_id: str, enterprise_id: int) -> None:
    """Leave the tombstone of a deleted device (in the deleting transaction)."""
    conn.execute(
        purges.delete().where(purges.c.device_id == device_id)
    )  # an earlier one, if a purge was skipped
    conn.execute(
        purges.insert().values(
            device_id=device_id, enterprise_id=enterprise_id, deleted_at=datetime.now(UTC)
        )
    )


def purge_pending(conn: sa.Connection, device_id: str) -> bool:
    """Whether the device id has a tombstone (its data is not yet purged)."""
    q = sa.select(purges.c.device_id).where(purges.c.device_id == device_id)
    return conn.execute(q).first() is not None


def pending(engine: sa.Engine) -> list[tuple[str, int]]:
    """Deleted devices whose data is still to be purged: (device id, enterprise), oldest first."""
    q = sa.select(purges.c.device_id, purges.c.enterprise_id).order_by(purges.c.deleted_at)
    with engine.connect() as conn:
        return [(str(d), int(e)) for d, e in conn.execute(q)]


def finish_purge(engine: sa.Engine, device_id: str) -> None:
    """Drop the device's status history and its tombstone: the id may be registered again."""
    with engine.begin() as conn:
        if conn.execute(sa.select(device_table.c.id).where(device_table.c.id == device_id)).first():
            return  # registered again meanwhile (cannot happen while the tombstone stands)
        conn.execute(history_table.delete().where(history_table.c.device_id == device_id))
        conn.execute(purges.delete().where(purges.c.device_id == device_id))


def owners(conn: sa.Connection, device_ids: Collection[str]) -> dict[str, int]:
    """The enterprise of each registered device among ``device_ids``."""
    if not device_ids:
        return {}
    c = device_table.c
    q = sa.select(c.id, c.enterprise_id).where(c.id.in_(list(device_ids)))
    return {str(d): int(e) for d, e in conn.execute(q)}


@functools.lru_cache(maxsize=32)
def _online_statements(
    n: int, scope: bool
) -> tuple[sa.Select[Any], sa.Select[Any], sa.Select[Any]]:
    """Devices online now, the deltas since the window's start and the deltas of each of ``n``
    buckets (parameters: ``start``, the ``edge_table``'s bounds, ``SCOPE`` if ``scope``)."""
    c, latest = history_table.c, latest_table.c
    mine = scoped(c.enterprise_id, scope)
    now_online = sa.select(sa.func.count()).where(
        latest.status == "online", *scoped(latest.enterprise_id, scope)
    )
    start = sa.bindparam("start", type_=sa.Float)
    since = sa.select(sa.func.coalesce(sa.func.sum(c.delta), 0)).where(c.at >= start, *mine)
    edges = edge_table(n, sa.Float())
    moved = (
        sa.select(sa.func.coalesce(sa.func.sum(c.delta), 0))
        .where(c.at >= edges.c.lo, c.at < edges.c.hi, *mine)
        .scalar_subquery()
    )
    return now_online, since, sa.select(edges.c.k, moved)


def online_series(
    engine: sa.Engine, scope: Collection[int] | None, start: int, end: int, step: int
) -> list[list[int]]:
    """``[bucket start, devices online at the bucket's end]`` for each bucket.

    A device is online at a time when its last change before that time (by time, then row)
    is ``online``. Each change carries its effect on that count (``delta``, kept by the
    database: migration d0003), so the devices online at ``start`` are those online now
    (``dev_status_latest``) less the deltas since ``start``, and each bucket adds its own
    deltas: one index range summed per bucket, no row read, whatever the history's length.
    """
    starts, values = edge_values(start, end, step, lambda ms: ms / 1000)
    if not starts or (scope is not None and not scope):
        return [[b, 0] for b in starts]
    now_online, since, per_bucket = _online_statements(len(starts), scope is not None)
    values["start"] = start / 1000
    if scope is not None:
        values[SCOPE] = list(scope)
    with engine.connect() as conn:
        online = int(conn.execute(now_online, values).scalar_one())
        online -= int(conn.execute(since, values).scalar_one())
        moves = {int(k): int(n) for k, n in conn.execute(per_bucket, values)}
    out: list[list[int]] = []
    for k, b in enumerate(starts):
        online += moves.get(k, 0)
        out.append([b, online])
    return out
