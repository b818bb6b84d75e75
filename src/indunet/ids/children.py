"""What a top-level node keeps of its secondaries: their daily reports and their registry.

A secondary (the *child*) authenticates with its prefix credential at this node (the
*parent*): ``300:0.NA/<prefix>`` and the secret of that prefix handle, the credential it
announces its sites with (``ids.announce``). The prefix is the *reporter*; every row stored
here is keyed by it, and a child may only send rows for prefixes at or under its own, so one
secondary can neither write nor overwrite a sibling's figures.

Reports are counts per day and prefix, the days being those of China Standard Time
(``REPORT_ZONE``, UTC+8, the regulator's day). Each row is an upsert keyed by reporter, day
and prefix that replaces what was there: sending a day twice stores it once, so a child
resends whatever the parent lacks (``state_of`` says the last day it has) and a report cut
short by a failure is sent again whole.

The registry is a snapshot of the child's enterprises (USCC, name, verified) and the
prefixes it allocated (to which USCC): each push replaces the reporter's previous snapshot
in one transaction (audited as ``children.registry`` by ``child:<prefix>``), and the digest
of what was stored (``registry_digest``) tells the child
whether it must push again. Secrets never travel: a snapshot has no field for them.

Every input is bounded: ``MAX_REPORT_ROWS`` rows a report, ``MAX_REGISTRY_ROWS`` enterprises
and as many allocations a snapshot, days within ``MAX_DAYS`` of today and not after it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import orjson
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from indunet.core import InvalidInput, PermissionDenied, audit
from indunet.ids.childtables import child_allocations, child_enterprises, child_nodes
from indunet.ids.childtables import child_reports as reports
from indunet.ids.syntax import handle as hdl

#: The regulator's day: reports count days of China Standard Time (UTC+8, no summer time).
REPORT_ZONE = ZoneInfo("Asia/Shanghai")
MAX_REPORT_ROWS = 2000
MAX_REGISTRY_ROWS = 10_000
#: How far back a day may be reported (as ``ids.daily`` answers: a year and a bit).
MAX_DAYS = 400
MAX_COUNT = 2**40


@dataclass(frozen=True, slots=True)
class DayRow:
    """Registrations and resolutions of one prefix on one day."""

    day: date
    prefix: str
    registrations: int
    resolutions: int


@dataclass(frozen=True, slots=True)
class ChildEnterprise:
    """An enterprise registered at a child node (its verified state there)."""

    uscc: str
    name: str
    verified: bool


@dataclass(frozen=True, slots=True)
class ChildAllocation:
    """A prefix a child allocated, to the enterprise of ``uscc`` (``None``: to none)."""

    prefix: str
    uscc: str | None
    allocated_at: datetime | None


@dataclass(frozen=True, slots=True)
class ChildState:
    """What this node holds of one child: the last day reported and the registry's digest."""

    reporter: str
    last_report_day: date | None
    registry_digest: str


def report_today() -> date:
    """Today in China Standard Time."""
    return datetime.now(REPORT_ZONE).date()


def _check_prefix(reporter: str, prefix: str) -> str:
    norm = hdl.normalise_prefix(prefix.strip())
    hdl.validate_prefix(norm)
    if not hdl.is_under(norm, reporter):
        raise PermissionDenied(
            f"prefix {norm} is not under {reporter}: a node reports only its own prefixes",
            reason="child_prefix_foreign",
            params={"prefix": norm, "reporter": reporter},
        )
    return norm


def _check_day(day: date, today: date) -> None:
    if day > today or day < today - timedelta(days=MAX_DAYS):
        raise InvalidInput(
            f"day {day.isoformat()} is not between {MAX_DAYS} days ago and today "
            "(China Standard Time)",
            reason="child_report_day",
            params={"day": day.isoformat(), "max": MAX_DAYS},
        )


def _check_rows(what: str, n: int, limit: int) -> None:
    if n > limit:
        raise InvalidInput(
            f"{n} {what} in one request; send at most {limit}",
            reason="child_too_many_rows",
            params={"what": what, "count": n, "max": limit},
        )


def _upsert(conn: sa.Connection, table: sa.Table, keys: list[str], values: list[str]) -> Any:
    dialect = sqlite if conn.dialect.name == "sqlite" else postgresql
    stmt = dialect.insert(table)
    return stmt.on_conflict_do_update(
        index_elements=[table.c[k] for k in keys],
        set_={v: stmt.excluded[v] for v in values},
    )


def store_report(engine: sa.Engine, reporter: str, rows: Sequence[DayRow], *, through: date) -> int:
    """Store a child's counts (replacing what it sent before for the same day and prefix)
    and note that it reported every day up to ``through``; returns the rows stored. Rows may
    be of a later day than ``through``: the first parts of a day too big for one report.

    Everything is checked before anything is written: a row for a prefix not under the
    reporter is ``PermissionDenied``, a day out of range or a count out of bounds
    ``InvalidInput``; nothing of such a report is stored."""
    _check_rows("rows", len(rows), MAX_REPORT_ROWS)
    today = report_today()
    _check_day(through, today)
    now = datetime.now(UTC)
    checked: dict[tuple[date, str], dict[str, Any]] = {}
    for r in rows:
        _check_day(r.day, today)
        for n in (r.registrations, r.resolutions):
            if not 0 <= n <= MAX_COUNT:
                raise InvalidInput(
                    f"count {n} is not between 0 and {MAX_COUNT}",
                    reason="child_report_count",
                    params={"count": n, "max": MAX_COUNT},
                )
        prefix = _check_prefix(reporter, r.prefix)
        checked[(r.day, prefix)] = {
            "reporter": reporter,
            "day": r.day,
            "prefix": prefix,
            "registrations": r.registrations,
            "resolutions": r.resolutions,
            "received_at": now,
        }
    with engine.begin() as conn:
        last = _lock(conn, reporter)
        if checked:
            conn.execute(
                _upsert(
                    conn,
                    reports,
                    ["reporter", "day", "prefix"],
                    ["registrations", "resolutions", "received_at"],
                ),
                list(checked.values()),
            )
        conn.execute(  # the day reported through never moves back
            child_nodes.update()
            .where(child_nodes.c.reporter == reporter)
            .values(last_report_day=max(through, last) if last else through, reported_at=now)
        )
    return len(checked)


def _lock(conn: sa.Connection, reporter: str) -> date | None:
    """Make the reporter's row if it is new and lock it for this transaction, so two writes
    for one child (two sites of one secondary) run one after the other; its last day."""
    dialect = sqlite if conn.dialect.name == "sqlite" else postgresql
    conn.execute(dialect.insert(child_nodes).values(reporter=reporter).on_conflict_do_nothing())
    last: date | None = conn.execute(
        sa.select(child_nodes.c.last_report_day)
        .where(child_nodes.c.reporter == reporter)
        .with_for_update()
    ).scalar()
    return last


def registry_digest(
    enterprises: Sequence[ChildEnterprise], allocations: Sequence[ChildAllocation]
) -> str:
    """A digest of a registry snapshot, the same whatever the order of its rows."""
    body = {
        "enterprises": sorted([e.uscc, e.name, e.verified] for e in enterprises),
        "allocations": sorted(
            [a.prefix, a.uscc or "", a.allocated_at.isoformat() if a.allocated_at else ""]
            for a in allocations
        ),
    }
    return hashlib.sha256(orjson.dumps(body)).hexdigest()


def store_registry(
    engine: sa.Engine,
    reporter: str,
    enterprises: Sequence[ChildEnterprise],
    allocations: Sequence[ChildAllocation],
) -> str:
    """Replace the child's registry snapshot by this one; returns its digest.

    Allocations must be under the reporter (else ``PermissionDenied``) and name an
    enterprise of the snapshot or none (else ``InvalidInput``); nothing is changed then."""
    _check_rows("enterprises", len(enterprises), MAX_REGISTRY_ROWS)
    _check_rows("allocations", len(allocations), MAX_REGISTRY_ROWS)
    usccs = {e.uscc for e in enterprises}
    if len(usccs) != len(enterprises):
        raise InvalidInput("an enterprise is listed twice", reason="child_registry_duplicate")
    checked = {}
    for a in allocations:
        prefix = _check_prefix(reporter, a.prefix)
        if prefix == reporter:
            raise PermissionDenied(
                f"prefix {prefix} is the reporter's own; list the prefixes it allocated",
                reason="child_prefix_foreign",
                params={"prefix": prefix, "reporter": reporter},
            )
        if a.uscc is not None and a.uscc not in usccs:
            raise InvalidInput(
                f"prefix {prefix} names enterprise {a.uscc}, which the snapshot does not list",
                reason="child_registry_unknown_enterprise",
                params={"prefix": prefix, "uscc": a.uscc},
            )
        checked[prefix] = ChildAllocation(prefix, a.uscc, a.allocated_at)
    digest = registry_digest(enterprises, list(checked.values()))
    now = datetime.now(UTC)
    with engine.begin() as conn:
        _lock(conn, reporter)
        for table in (child_allocations, child_enterprises):
            conn.execute(table.delete().where(table.c.reporter == reporter))
        if enterprises:
            conn.execute(
                child_enterprises.insert(),
                [{"reporter": reporter, **_enterprise(e), "synced_at": now} for e in enterprises],
            )
        if checked:
            conn.execute(
                child_allocations.insert(),
                [
                    {
                        "reporter": reporter,
                        "prefix": a.prefix,
                        "uscc": a.uscc,
                        "allocated_at": a.allocated_at,
                        "synced_at": now,
                    }
                    for a in checked.values()
                ],
            )
        conn.execute(
            child_nodes.update()
            .where(child_nodes.c.reporter == reporter)
            .values(registry_digest=digest, synced_at=now)
        )
        audit.record(
            conn,
            f"child:{reporter}",
            "children.registry",
            f"prefix:{reporter}",
            {"enterprises": len(enterprises), "allocations": len(checked), "digest": digest},
            enterprise_id=None,
        )
    return digest


def _enterprise(e: ChildEnterprise) -> dict[str, Any]:
    return {"uscc": e.uscc, "name": e.name, "verified": e.verified}


def state_of(engine: sa.Engine, reporter: str) -> ChildState:
    """What this node holds of ``reporter`` (nothing yet: no day, empty digest)."""
    with engine.connect() as conn:
        row = conn.execute(
            sa.select(child_nodes.c.last_report_day, child_nodes.c.registry_digest).where(
                child_nodes.c.reporter == reporter
            )
        ).first()
    if row is None:
        return ChildState(reporter, None, "")
    return ChildState(reporter, row[0], row[1])


__all__ = [
    "MAX_DAYS",
    "MAX_REGISTRY_ROWS",
    "MAX_REPORT_ROWS",
    "REPORT_ZONE",
    "ChildAllocation",
    "ChildEnterprise",
    "ChildState",
    "DayRow",
    "registry_digest",
    "report_today",
    "state_of",
    "store_registry",
    "store_report",
]
