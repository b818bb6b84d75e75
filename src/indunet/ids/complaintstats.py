"""Complaint statistics per month (``ids.complaints``): how many were filed and how they stand,
by state and by category, how many are overdue, and how fast operators close them.

A month is a calendar month in the reader's zone (the console page's, or the API's ``tz``).
Two views share each month, each the one an operator reads it in:

- the complaints **filed** in the month: ``filed``, ``by_state`` (where they stand now),
  ``by_kind`` (what they are about) and ``overdue`` (still open past their deadline now);
- the complaints **closed** in the month: ``closed``, ``closed_late`` (closed after their
  deadline) and ``median_handling_days`` (from filing to closing, the median; ``None`` when
  none closed), so a month's handling time does not change as older complaints close.

The counts are made in Python over the window's rows (two datetimes and two short strings a
row), which is portable across SQLite and PostgreSQL and exact for a median; the window is
bounded by ``MAX_MONTHS``.
"""

from __future__ import annotations

import bisect
import statistics
from dataclasses import dataclass, field
from datetime import UTC, datetime, tzinfo

import sqlalchemy as sa

from indunet.core import User, access
from indunet.ids.complaints import OPEN_STATES, STATES, SUBJECT_KINDS
from indunet.ids.complainttables import complaints
from indunet.ids.history import utc

#: Months a statistics answer may span, and the default span.
MAX_MONTHS, DEFAULT_MONTHS = 36, 12
_DAY_S = 86_400.0


@dataclass(slots=True)
class MonthStats:
    """One month's figures (see the module's docstring for which complaints each counts)."""

    month: str  # YYYY-MM in the reader's zone
    filed: int = 0
    by_state: dict[str, int] = field(default_factory=lambda: dict.fromkeys(STATES, 0))
    by_kind: dict[str, int] = field(default_factory=lambda: dict.fromkeys(SUBJECT_KINDS, 0))
    overdue: int = 0
    closed: int = 0
    closed_late: int = 0
    median_handling_days: float | None = None


def month_keys(now: datetime, months: int, zone: tzinfo) -> list[str]:
    """The ``months`` calendar months up to ``now``'s (in ``zone``), oldest first."""
    local = now.astimezone(zone)
    year, month = local.year, local.month
    keys = []
    for _ in range(months):
        keys.append(f"{year:04d}-{month:02d}")
        year, month = (year, month - 1) if month > 1 else (year - 1, 12)
    return keys[::-1]


def _start_of(key: str, zone: tzinfo) -> datetime:
    """The first instant of the month ``key`` in ``zone``, in UTC."""
    year, month = (int(part) for part in key.split("-"))
    return datetime(year, month, 1, tzinfo=zone).astimezone(UTC)


class _Months:
    """Which of ``keys`` an instant falls in, by bisecting the months' first instants (one
    comparison chain a row instead of a zone conversion)."""

    def __init__(self, keys: list[str], zone: tzinfo) -> None:
        self.keys = keys
        self.starts = [_start_of(key, zone) for key in keys]
        year, month = (int(part) for part in keys[-1].split("-"))
        following = f"{year + month // 12:04d}-{month % 12 + 1:02d}"
        self.end = _start_of(following, zone)  # the first instant past the window

    def of(self, at: datetime) -> str | None:
        """The month key of ``at`` (UTC), or ``None`` outside the window."""
        if at < self.starts[0] or at >= self.end:
            return None
        return self.keys[bisect.bisect_right(self.starts, at) - 1]


def monthly(
    conn: sa.Connection,
    user: User,
    *,
    months: int = DEFAULT_MONTHS,
    zone: tzinfo = UTC,
    now: datetime | None = None,
) -> list[MonthStats]:
    """Figures for the last ``months`` months (1 to ``MAX_MONTHS``, oldest first, every month
    present), for users who may see complaints; an empty list for everyone else."""
    if not access.sees_all(user):
        return []
    months = max(1, min(months, MAX_MONTHS))
    now = now or datetime.now(UTC)
    keys = month_keys(now, months, zone)
    by_month = {key: MonthStats(key) for key in keys}
    durations: dict[str, list[float]] = {key: [] for key in keys}
    window = _Months(keys, zone)
    start = window.starts[0]
    c = complaints.c
    rows = conn.execution_options(yield_per=2000).execute(
        sa.select(c.state, c.subject_kind, c.filed_at, c.due_at, c.closed_at).where(
            sa.or_(c.filed_at >= start, c.closed_at >= start)
        )
    )
    for state, kind, filed_at, due_at, closed_at in rows:
        filed, due = utc(filed_at), utc(due_at)
        filed_key = window.of(filed)
        filed_in = by_month[filed_key] if filed_key else None
        if filed_in is not None:
            filed_in.filed += 1
            filed_in.by_state[state] = filed_in.by_state.get(state, 0) + 1
            filed_in.by_kind[kind] = filed_in.by_kind.get(kind, 0) + 1
            if state in OPEN_STATES and due < now:
                filed_in.overdue += 1
        if closed_at is None:
            continue
        closed = utc(closed_at)
        closed_key = window.of(closed)
        if closed_key is None:
            continue
        closed_in = by_month[closed_key]
        closed_in.closed += 1
        closed_in.closed_late += int(closed > due)
        durations[closed_key].append((closed - filed).total_seconds() / _DAY_S)
    for key, spans in durations.items():
        if spans:
            by_month[key].median_handling_days = round(statistics.median(spans), 2)
    return [by_month[key] for key in keys]
