"""Reading what a top-level node keeps of its secondaries (``ids.children``): the reports as a
searchable page and as totals per day, the children themselves, and their registries.

Pages come from ``core.paged.page_of_rows`` (at most ``MAX_ROWS`` a page, the count of every
match alongside); ``q`` is a case-insensitive substring of the reporter or prefix (of the
name or USCC too, for enterprises).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

import sqlalchemy as sa

from indunet.core.paged import page_of_rows
from indunet.ids.childtables import child_allocations, child_enterprises, child_nodes
from indunet.ids.childtables import child_reports as reports

#: The longest span of days ``per_day`` answers for.
MAX_SPAN = 400


@dataclass(frozen=True, slots=True)
class ReportFilter:
    """Which report rows: text in the reporter or prefix, one reporter, a span of days."""

    q: str = ""
    reporter: str = ""
    since: date | None = None
    until: date | None = None  # inclusive


def _like(q: str) -> str:
    text = q.strip().lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{text}%"


def _where(f: ReportFilter) -> list[sa.ColumnElement[bool]]:
    where: list[sa.ColumnElement[bool]] = []
    if f.q.strip():
        like = _like(f.q)
        where.append(
            sa.or_(
                sa.func.lower(reports.c.reporter).like(like, escape="\\"),
                sa.func.lower(reports.c.prefix).like(like, escape="\\"),
            )
        )
    if f.reporter:
        where.append(reports.c.reporter == f.reporter)
    if f.since is not None:
        where.append(reports.c.day >= f.since)
    if f.until is not None:
        where.append(reports.c.day <= f.until)
    return where


def page_reports(
    conn: sa.Connection, f: ReportFilter, *, offset: int, limit: int
) -> tuple[list[dict[str, Any]], int]:
    """One page of report rows, newest day first, then by reporter and prefix."""
    return page_of_rows(
        conn,
        reports,
        [
            reports.c.reporter,
            reports.c.day,
            reports.c.prefix,
            reports.c.registrations,
            reports.c.resolutions,
            reports.c.received_at,
        ],
        _where(f),
        [reports.c.day.desc(), reports.c.reporter, reports.c.prefix],
        offset=offset,
        limit=limit,
        scan=bool(f.q.strip()),
    )


def per_day(conn: sa.Connection, f: ReportFilter) -> list[tuple[date, int, int]]:
    """Registrations and resolutions summed per day over the matching rows (the chart), of
    at most ``MAX_SPAN`` days, oldest first."""
    rows = conn.execute(
        sa.select(
            reports.c.day,
            sa.func.sum(reports.c.registrations),
            sa.func.sum(reports.c.resolutions),
        )
        .where(*_where(f))
        .group_by(reports.c.day)
        .order_by(reports.c.day.desc())
        .limit(MAX_SPAN)
    ).all()
    return [(d, int(g or 0), int(s or 0)) for d, g, s in reversed(rows)]


def children(conn: sa.Connection, limit: int = 1000) -> list[dict[str, Any]]:
    """The children that reported or synchronised, by prefix, with when they last did."""
    rows = conn.execute(sa.select(child_nodes).order_by(child_nodes.c.reporter).limit(limit))
    return [dict(r._mapping) for r in rows]


def page_enterprises(
    conn: sa.Connection, *, q: str = "", reporter: str = "", offset: int, limit: int
) -> tuple[list[dict[str, Any]], int]:
    """Enterprises registered at the children, by reporter and USCC."""
    t = child_enterprises
    where: list[sa.ColumnElement[bool]] = []
    if q.strip():
        like = _like(q)
        where.append(
            sa.or_(
                sa.func.lower(t.c.name).like(like, escape="\\"),
                sa.func.lower(t.c.uscc).like(like, escape="\\"),
                sa.func.lower(t.c.reporter).like(like, escape="\\"),
            )
        )
    if reporter:
        where.append(t.c.reporter == reporter)
    return page_of_rows(
        conn,
        t,
        [t.c.reporter, t.c.uscc, t.c.name, t.c.verified, t.c.synced_at],
        where,
        [t.c.reporter, t.c.uscc],
        offset=offset,
        limit=limit,
        scan=bool(q.strip()),
    )


def page_allocations(
    conn: sa.Connection, *, q: str = "", reporter: str = "", offset: int, limit: int
) -> tuple[list[dict[str, Any]], int]:
    """Prefixes the children allocated, with the enterprise's name where the child sent it."""
    a, e = child_allocations, child_enterprises
    joined = a.outerjoin(e, sa.and_(e.c.reporter == a.c.reporter, e.c.uscc == a.c.uscc))
    where: list[sa.ColumnElement[bool]] = []
    if q.strip():
        like = _like(q)
        where.append(
            sa.or_(
                sa.func.lower(a.c.prefix).like(like, escape="\\"),
                sa.func.lower(a.c.uscc).like(like, escape="\\"),
                sa.func.lower(e.c.name).like(like, escape="\\"),
            )
        )
    if reporter:
        where.append(a.c.reporter == reporter)
    rows = conn.execute(
        sa.select(
            a.c.reporter,
            a.c.prefix,
            a.c.uscc,
            e.c.name,
            a.c.allocated_at,
            a.c.synced_at,
            sa.func.count().over().label("matches"),
        )
        .select_from(joined)
        .where(*where)
        .order_by(a.c.reporter, a.c.prefix)
        .offset(max(0, offset))
        .limit(max(1, min(limit, 500)))
    ).all()
    if rows:
        total = int(rows[0]._mapping["matches"])
    else:
        total = int(
            conn.execute(sa.select(sa.func.count()).select_from(joined).where(*where)).scalar_one()
        )
    return [{k: v for k, v in r._mapping.items() if k != "matches"} for r in rows], total


__all__ = [
    "MAX_SPAN",
    "ReportFilter",
    "children",
    "page_allocations",
    "page_enterprises",
    "page_reports",
    "per_day",
]
