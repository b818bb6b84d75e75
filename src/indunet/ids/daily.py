"""Registrations and resolutions per day and prefix: tallied in memory, stored per hour.

Counting must not slow resolution, so a node only adds to a ``DailyTally`` in memory (a dict
update under a lock). The ids upkeep service (``ids.upkeep``) moves every node's
tally into ``ids_daily_stats`` every ``FLUSH_S`` seconds (one upsert per hour and prefix) and
once more when it stops; a crash loses at most the last ``FLUSH_S`` seconds of counts.

Rows are kept per UTC hour, not per day, so a page can count days in its own zone
(``counts(..., zone=...)``); zones whose offset is not whole hours (Asia/Kolkata) split days
at the nearest hour before.

What is counted: a *registration* is a handle created on this node (not a modification); a
*resolution* is an answer with the record from this node's own store (referrals, errors
and answers found by recursing are not counted, so one lookup is counted once in a whole
hierarchy: by the node that holds the record).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, tzinfo
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from indunet.ids.tables import daily_stats, prefixes

FLUSH_S = 5.0
#: The longest span ``counts`` answers for (a year and a bit), whatever ``since_day`` says.
MAX_DAYS = 400

_Key = tuple[int, str]  # (UTC hour as epoch seconds, prefix)


class DailyTally:
    """Counts of one node not yet stored, by UTC hour and prefix (thread-safe)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts: dict[_Key, list[int]] = {}

    def _add(self, prefix: str, column: int, n: int, now: float | None) -> None:
        hour = int((time.time() if now is None else now) // 3600) * 3600
        with self._lock:
            row = self._counts.get((hour, prefix))
            if row is None:
                row = self._counts[(hour, prefix)] = [0, 0]
            row[column] += n

    def registered(self, prefix: str, n: int = 1, *, now: float | None = None) -> None:
        """Count ``n`` handles created under ``prefix``."""
        self._add(prefix, 0, n, now)

    def resolved(self, prefix: str, *, now: float | None = None) -> None:
        """Count one record answered for a handle under ``prefix``."""
        self._add(prefix, 1, 1, now)

    def drain(self) -> dict[_Key, list[int]]:
        """Take every pending count (the tally starts again from nothing)."""
        with self._lock:
            taken, self._counts = self._counts, {}
        return taken

    def give_back(self, counts: dict[_Key, list[int]]) -> None:
        """Put counts a failed flush could not store back, to be tried again."""
        with self._lock:
            for key, (reg, res) in counts.items():
                row = self._counts.setdefault(key, [0, 0])
                row[0] += reg
                row[1] += res


def flush(engine: sa.Engine, tallies: Iterable[DailyTally]) -> int:
    """Add every tally's pending counts to ``ids_daily_stats``; returns the rows touched.

    On a database error the counts go back to their tallies and the error is raised.
    """
    taken = [(t, t.drain()) for t in tallies]
    merged: dict[_Key, list[int]] = {}
    for _, counts in taken:
        for key, (reg, res) in counts.items():
            row = merged.setdefault(key, [0, 0])
            row[0] += reg
            row[1] += res
    if not merged:
        return 0
    rows = [
        {
            "hour": datetime.fromtimestamp(hour, UTC),
            "prefix": prefix[:128],
            "registrations": reg,
            "resolutions": res,
        }
        for (hour, prefix), (reg, res) in sorted(merged.items())
    ]
    try:
        with engine.begin() as conn:
            conn.execute(_upsert(conn), rows)
    except Exception:
        for tally, counts in taken:
            tally.give_back(counts)
        raise
    return len(rows)


def _upsert(conn: sa.Connection) -> sa.Executable:
    dialect = sqlite if conn.dialect.name == "sqlite" else postgresql
    stmt = dialect.insert(daily_stats)
    upsert: sa.Executable = stmt.on_conflict_do_update(
        index_elements=[daily_stats.c.hour, daily_stats.c.prefix],
        set_={
            "registrations": daily_stats.c.registrations + stmt.excluded.registrations,
            "resolutions": daily_stats.c.resolutions + stmt.excluded.resolutions,
        },
    )
    return upsert


@dataclass(frozen=True, slots=True)
class DayCount:
    """Registrations and resolutions of one day (in the zone asked for)."""

    day: date
    registrations: int
    resolutions: int


@dataclass(frozen=True, slots=True)
class PrefixCount:
    """Registrations and resolutions of one prefix over a span of days."""

    prefix: str
    enterprise_id: int | None
    registrations: int
    resolutions: int


def _start(since_day: date, zone: tzinfo) -> tuple[date, datetime]:
    today = datetime.now(zone).date()
    first = max(since_day, today - timedelta(days=MAX_DAYS - 1))
    return first, datetime(first.year, first.month, first.day, tzinfo=zone).astimezone(UTC)


def _filtered(
    query: sa.Select[Any], prefix: str | None, enterprise_id: int | None
) -> sa.Select[Any]:
    if prefix is not None:
        query = query.where(daily_stats.c.prefix == prefix)
    if enterprise_id is not None:
        query = query.where(
            daily_stats.c.prefix.in_(
                sa.select(prefixes.c.prefix).where(prefixes.c.enterprise_id == enterprise_id)
            )
        )
    return query


def _per_prefix(start: datetime, prefix: str | None, enterprise_id: int | None) -> sa.Subquery:
    """Counts per prefix since ``start``, summed before any join (one pass over the rows)."""
    return _filtered(
        sa.select(
            daily_stats.c.prefix,
            sa.func.sum(daily_stats.c.registrations).label("registrations"),
            sa.func.sum(daily_stats.c.resolutions).label("resolutions"),
        )
        .where(daily_stats.c.hour >= start)
        .group_by(daily_stats.c.prefix),
        prefix,
        enterprise_id,
    ).subquery()


def _connected(engine_or_conn: sa.Engine | sa.Connection) -> sa.Connection:
    return engine_or_conn.connect() if isinstance(engine_or_conn, sa.Engine) else engine_or_conn


def counts(
    engine_or_conn: sa.Engine | sa.Connection,
    *,
    since_day: date,
    prefix: str | None = None,
    enterprise_id: int | None = None,
    zone: tzinfo = UTC,
) -> list[DayCount]:
    """Registrations and resolutions per day from ``since_day`` to today (days in ``zone``;
    every day present, zeros included), of one prefix, one enterprise's prefixes, or all."""
    first, start = _start(since_day, zone)
    query = _filtered(
        sa.select(
            daily_stats.c.hour,
            sa.func.sum(daily_stats.c.registrations),
            sa.func.sum(daily_stats.c.resolutions),
        )
        .where(daily_stats.c.hour >= start)
        .group_by(daily_stats.c.hour),
        prefix,
        enterprise_id,
    )
    conn = _connected(engine_or_conn)
    try:
        rows = conn.execute(query).all()
    finally:
        if conn is not engine_or_conn:
            conn.close()
    days: dict[date, list[int]] = {}
    today = datetime.now(zone).date()
    day = first
    while day <= today:
        days[day] = [0, 0]
        day += timedelta(days=1)
    for hour, reg, res in rows:
        when = hour if hour.tzinfo else hour.replace(tzinfo=UTC)
        slot = days.get(when.astimezone(zone).date())
        if slot is not None:
            slot[0] += int(reg or 0)
            slot[1] += int(res or 0)
    return [DayCount(d, reg, res) for d, (reg, res) in days.items()]


@dataclass(frozen=True, slots=True)
class EnterpriseCount:
    """Registrations and resolutions of one enterprise's prefixes over a span of days."""

    enterprise_id: int | None
    registrations: int
    resolutions: int


def rankings(
    engine_or_conn: sa.Engine | sa.Connection,
    *,
    since_day: date,
    prefix: str | None = None,
    enterprise_id: int | None = None,
    zone: tzinfo = UTC,
    limit: int = 20,
) -> tuple[list[PrefixCount], list[EnterpriseCount]]:
    """The ``limit`` busiest prefixes and enterprises since ``since_day`` from one pass over
    the counts: the sums per prefix (with each prefix's enterprise, ``None`` for a prefix
    allocated to none) are read once and ranked both ways here, most resolutions first, then
    most registrations (ties of prefixes: by name; of enterprises: by id, ``None`` first)."""
    _, start = _start(since_day, zone)
    per_prefix = _per_prefix(start, prefix, enterprise_id)
    query = sa.select(
        per_prefix.c.prefix,
        prefixes.c.enterprise_id,
        per_prefix.c.registrations,
        per_prefix.c.resolutions,
    ).select_from(per_prefix.outerjoin(prefixes, prefixes.c.prefix == per_prefix.c.prefix))
    conn = _connected(engine_or_conn)
    try:
        found = [PrefixCount(p, e, int(g or 0), int(s or 0)) for p, e, g, s in conn.execute(query)]
    finally:
        if conn is not engine_or_conn:
            conn.close()
    limit = max(1, min(limit, 1000))
    ranked = sorted(found, key=lambda c: (-c.resolutions, -c.registrations, c.prefix))[:limit]
    owners: dict[int | None, list[int]] = {}
    for c in found:
        total = owners.setdefault(c.enterprise_id, [0, 0])
        total[0] += c.registrations
        total[1] += c.resolutions
    order = sorted(owners.items(), key=lambda kv: (-kv[1][1], -kv[1][0], kv[0] or 0))
    return ranked, [EnterpriseCount(e, g, s) for e, (g, s) in order[:limit]]


__all__ = [
    "FLUSH_S",
    "DailyTally",
    "DayCount",
    "EnterpriseCount",
    "PrefixCount",
    "counts",
    "flush",
    "rankings",
]
