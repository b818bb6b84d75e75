"""Status reports' indicators: what a child sends up, what its parent keeps, what the parent
shows as the aggregate of its subtree.

A ``federation.status`` body carries, besides ``version``, ``backlog`` and ``at``:

- ``indicators``: this instance's own counts (``indicators.Indicators.collect``);
- ``totals``: its subtree's: its own plus the last ``totals`` each of its active children
  reported, so a province's totals are the sum over its enterprises, and the nation's the
  sum over its provinces (and, through them, every enterprise);
- ``oldest``: the time of the oldest count inside ``totals`` (its own are taken at ``at``; a
  child's are as old as that child's ``oldest``), so the top of the tree knows how fresh
  the sum it shows is.

The parent keeps the last report on the child's peer row (``report``, ``reported_at``: the
child's ``at``, never later than when it arrived). A removed child drops out of the sum; a
child whose last report is older than ``STALE_INTERVALS`` status intervals is shown stale,
its last totals still counted. A report out of bounds (``indicators.LIMITS``) is refused
whole (``BodyRefused``, ``federation_report``), never applied in part.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import orjson
import sqlalchemy as sa

from indunet.core.paged import contains

from .inbox import BodyRefused
from .indicators import LIMITS, add, bounded, valid_name, valid_value
from .tables import peers

REASON = "federation_report"
STALE_INTERVALS = 3
"""A child is stale when its last report is older than this many status intervals."""
_LATEST = 4_102_444_800  # 2100-01-01: a time past it is not a report's


@dataclass(frozen=True, slots=True)
class Report:
    """One instance's indicators at ``at``: its own, its subtree's, the oldest part's time."""

    at: float
    indicators: dict[str, int]
    totals: dict[str, int]
    oldest: float

    def body(self) -> dict[str, Any]:
        """The report's part of a ``federation.status`` body (with ``at``)."""
        return {
            "at": self.at,
            "indicators": self.indicators,
            "totals": self.totals,
            "oldest": self.oldest,
        }

    def stored(self) -> str:
        """What the parent keeps in ``fed_peers.report`` (``at`` has its own column)."""
        data = {"indicators": self.indicators, "totals": self.totals, "oldest": self.oldest}
        return orjson.dumps(data, option=orjson.OPT_SORT_KEYS).decode()


def _refuse(message: str) -> BodyRefused:
    return BodyRefused(f"a status report's {message}", REASON)


def _counts(value: Any, field: str) -> dict[str, int]:
    if not isinstance(value, dict):
        raise _refuse(f"{field} is an object of names and counts")
    if len(value) > LIMITS.names:
        raise _refuse(f"{field} has {len(value)} names, at most {LIMITS.names}")
    for name, count in value.items():
        if not valid_name(name):
            raise _refuse(f"{field} name {str(name)[:70]!r} is not a dotted indicator name")
        if not valid_value(count):
            raise _refuse(f"{field}.{name} is not a whole number from 0 to {LIMITS.value}")
    return dict(value)


def _time(value: Any, field: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 < value < _LATEST:
        raise _refuse(f"{field} is not seconds since the epoch")
    return float(value)


def checked(body: Mapping[str, Any], now: float) -> Report | None:
    """The report in a status body, checked whole (``BodyRefused`` naming what is wrong);
    ``None`` when the body carries none (a child from before indicators)."""
    if "indicators" not in body and "totals" not in body:
        return None
    at = min(_time(body.get("at"), "at"), now)  # a clock ahead is not fresher than now
    oldest = min(_time(body.get("oldest", at), "oldest"), at)
    indicators = _counts(body.get("indicators"), "indicators")
    return Report(at, indicators, _counts(body.get("totals"), "totals"), oldest)


def store(conn: sa.Connection, child: str, report: Report) -> None:
    """Keep ``report`` as ``child``'s last (in the receiving transaction)."""
    conn.execute(
        peers.update()
        .where(peers.c.name == child)
        .values(report=report.stored(), reported_at=report.at)
    )


def _kept(text: str | None) -> dict[str, Any]:
    """A stored report read back (what was checked when it arrived)."""
    data = orjson.loads(text) if text else {}
    return data if isinstance(data, dict) else {}


def _active_children() -> sa.Select[Any]:
    return sa.select(peers).where(peers.c.role == "child", peers.c.status == "active")


def subtree(conn: sa.Connection, own: Mapping[str, int], at: float) -> Report:
    """This instance's report at ``at``: ``own`` counts and the sum over the subtree (its own
    and each active child's last totals), with the oldest part's time."""
    totals = dict(own)
    oldest = at
    for row in conn.execute(_active_children().where(peers.c.report.is_not(None))):
        kept = _kept(row.report)
        add(totals, kept.get("totals", {}))
        oldest = min(oldest, float(kept.get("oldest", row.reported_at or at)))
    return Report(at, dict(own), bounded(totals), oldest)


def search(q: str) -> list[sa.ColumnElement[bool]]:
    """The children whose name or title contains ``q`` (all when it is empty)."""
    if not q:
        return []
    return [sa.or_(contains(peers.c.name, q), contains(peers.c.title, q))]


def child_rows(
    conn: sa.Connection, now: float, stale_after: float, q: str, offset: int, limit: int | None
) -> tuple[list[dict[str, Any]], int]:
    """A page of the active children (by name; ``q`` searches name and title) with their last
    report, its age and whether it is stale; and how many match."""
    where = search(q)
    total = conn.execute(
        sa.select(sa.func.count()).select_from(_active_children().where(*where).subquery())
    ).scalar()
    query = _active_children().where(*where).order_by(peers.c.name).offset(offset)
    rows = conn.execute(query if limit is None else query.limit(limit)).all()
    out = []
    for r in rows:
        kept = _kept(r.report)
        age = None if r.reported_at is None else max(now - r.reported_at, 0.0)
        out.append(
            {
                "name": r.name,
                "title": r.title,
                "level": r.level,
                "reported_at": r.reported_at,
                "age_s": age,
                "stale": age is None or age > stale_after,
                "oldest": kept.get("oldest"),
                "indicators": kept.get("indicators", {}),
                "totals": kept.get("totals", {}),
            }
        )
    return out, int(total or 0)
