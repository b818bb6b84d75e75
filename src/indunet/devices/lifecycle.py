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

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa

from indunet.core.buckets import bucket_index, bucket_starts, within
from indunet.devices.tables import devices as device_table
from indunet.devices.tables import purges
from indunet.devices.tables import status_history as history_table

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


def online_series(
    engine: sa.Engine, scope: Collection[int] | None, start: int, end: int, step: int
) -> list[list[int]]:
    """``[bucket start, devices online at the bucket's end]`` for each bucket.

    The count at ``start`` is the devices whose last change before it is ``online``; each
    change in the window then adds one (online) or takes one away (offline): the history holds
    changes only, so a device's rows alternate. All of it is counted by the database.
    """
    c = history_table.c
    lo, hi = start / 1000, end / 1000
    mine = within(c.enterprise_id, scope)
    last = (
        sa.select(c.device_id, sa.func.max(c.at).label("at"))
        .where(c.at < lo, *mine)
        .group_by(c.device_id)
        .subquery()
    )
    at_start = (
        sa.select(sa.func.count(sa.distinct(c.device_id)))
        .select_from(
            history_table.join(last, sa.and_(c.device_id == last.c.device_id, c.at == last.c.at))
        )
        .where(c.status == "online", *mine)
    )
    starts = bucket_starts(start, end, step)
    edges = [min(b + step, end) / 1000 for b in starts]
    slot = bucket_index(c.at, edges).label("slot")
    moves = (
        sa.select(slot, c.status, sa.func.count())
        .where(c.at >= lo, c.at < hi, *mine)
        .group_by(slot, c.status)
    )
    delta = [0] * (len(starts) + 1)
    with engine.connect() as conn:
        online = int(conn.execute(at_start).scalar_one())
        for k, status, n in conn.execute(moves):
            delta[int(k)] += int(n) if status == "online" else -int(n)
    out: list[list[int]] = []
    for i, b in enumerate(starts):
        online = max(0, online + delta[i])
        out.append([b, online])
    return out
