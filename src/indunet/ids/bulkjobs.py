"""Bulk import jobs: their rows in ``ids_bulk_jobs``, and the report an import returns.

A job is keyed by the node and the SHA-256 of the file. While it runs its counts and next line
are saved with every committed batch, so a run of the same file after a crash resumes there.

Each stored error is ``[line, handle, message, reason, params]``: the English message for the
API and the stable reason (with its parameters) a console renders in its reader's language;
rows stored before reasons existed have the first three only. A job started for an
enterprise (``enterprise_id``) is listed to that enterprise's users; others' jobs are not.

A finished job's ``bulk.finished`` event is published once, by whichever process claims it
(``claim_finished`` sets ``announced_at``): the process that ran it at once (console, API),
or, for an import that ran where there is no event bus (the CLI), the ids upkeep of a
running server within seconds. Jobs finished more than ``ANNOUNCE_WITHIN`` ago are not
announced any more.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, cast

import sqlalchemy as sa

from indunet.core import Event, EventBus, EventType, NotFound, User, access
from indunet.core.paged import page_of_rows
from indunet.ids.node import Node
from indunet.ids.tables import bulk_jobs

MAX_STORED_ERRORS = 10_000
RUNNING, DONE = "running", "done"
STATUSES = (RUNNING, DONE)
SORTS = ("id", "source", "status", "total")
Reason = tuple[str, dict[str, Any]]
BULK_FINISHED = EventType(
    "bulk.finished", 1, "ids", "a bulk registration finished (counts of the whole file)"
)
ANNOUNCE_WITHIN = timedelta(days=1)  # the events stream keeps a day too
_EVENT_FIELDS = ("id", "total", "registered", "unchanged", "failed")


@dataclass
class BulkReport:
    """The outcome of one import (totals cover the whole file, across resumed runs)."""

    job_id: int
    total: int
    registered: int
    unchanged: int
    failed: int
    errors: list[tuple[int, str, str]] = field(default_factory=list)
    resumed_from_line: int | None = None

    def to_json(self) -> dict[str, Any]:
        """API shape."""
        return {
            "job_id": self.job_id,
            "total": self.total,
            "registered": self.registered,
            "unchanged": self.unchanged,
            "failed": self.failed,
            "errors": [{"line": ln, "handle": h, "message": m} for ln, h, m in self.errors],
            "resumed_from_line": self.resumed_from_line,
        }


@dataclass(frozen=True, slots=True)
class BulkJob:
    """A row of ``ids_bulk_jobs``: where an import stands."""

    id: int
    node: str
    source: str
    actor: str
    status: str
    total: int
    registered: int
    unchanged: int
    failed: int
    next_line: int
    errors: list[tuple[int, str, str]]
    created_at: datetime
    updated_at: datetime
    enterprise_id: int | None = None
    reasons: list[Reason] = field(default_factory=list)  # one per error, "" if none

    @property
    def done(self) -> int:
        """Rows handled so far."""
        return self.registered + self.unchanged + self.failed

    @property
    def percent(self) -> int:
        """How far the job is, 0 to 100."""
        if self.status == DONE:
            return 100
        return min(99, self.done * 100 // self.total) if self.total else 0

    def progress(self) -> dict[str, Any]:
        """How far it is, without the errors (what a progress stream sends)."""
        return {
            "job_id": self.id,
            "status": self.status,
            "total": self.total,
            "done": self.done,
            "percent": self.percent,
            "registered": self.registered,
            "unchanged": self.unchanged,
            "failed": self.failed,
        }

    def to_json(self) -> dict[str, Any]:
        """API shape."""
        return {
            "job_id": self.id,
            "node": self.node,
            "source": self.source,
            "actor": self.actor,
            "status": self.status,
            "total": self.total,
            "done": self.done,
            "percent": self.percent,
            "registered": self.registered,
            "unchanged": self.unchanged,
            "failed": self.failed,
            "next_line": self.next_line,
            "errors": [{"line": ln, "handle": h, "message": m} for ln, h, m in self.errors],
            "created_at": self.created_at.isoformat(),
            "updated_at": self.updated_at.isoformat(),
        }


def claim_finished(engine: sa.Engine, job_id: int | None = None) -> list[Event]:
    """Mark finished, unannounced jobs (``job_id`` only, or all of the last
    ``ANNOUNCE_WITHIN``) announced, and return their ``bulk.finished`` events (counts of the
    whole file, no error rows). A job is claimed once, whichever process asks first."""
    cols = [bulk_jobs.c[n] for n in (*_EVENT_FIELDS, "source", "actor", "enterprise_id")]
    now = datetime.now(UTC)
    where = [bulk_jobs.c.status == DONE, bulk_jobs.c.announced_at.is_(None)]
    if job_id is not None:
        where.append(bulk_jobs.c.id == job_id)
    else:
        where.append(bulk_jobs.c.updated_at >= now - ANNOUNCE_WITHIN)
    with engine.begin() as conn:
        rows = conn.execute(
            bulk_jobs.update().where(*where).values(announced_at=now).returning(*cols)
        ).all()
    events = []
    for row in sorted(rows, key=lambda r: int(r.id)):
        m = row._mapping
        data = {"job_id": m["id"], **{k: m[k] for k in _EVENT_FIELDS[1:]}}
        data |= {"source": m["source"], "actor": m["actor"]}
        events.append(BULK_FINISHED.make(data, enterprise_id=m["enterprise_id"]))
    return events


async def announce_finished(engine: sa.Engine, bus: EventBus, job_id: int | None = None) -> int:
    """Publish what ``claim_finished`` claims (off the event loop); how many were published."""
    events = await asyncio.to_thread(claim_finished, engine, job_id)
    for event in events:
        await bus.publish(event)
    return len(events)


def _errors(stored: Any) -> list[tuple[int, str, str]]:
    return [(int(e[0]), str(e[1]), str(e[2])) for e in stored or ()]


def _reasons(stored: Any) -> list[Reason]:
    out: list[Reason] = []
    for e in stored or ():
        reason = str(e[3]) if len(e) > 3 and e[3] else ""
        params = e[4] if len(e) > 4 and isinstance(e[4], dict) else {}
        out.append((reason, cast(dict[str, Any], params)))
    return out


def get_job(engine: sa.Engine, job_id: int, *, with_errors: bool = True) -> BulkJob:
    """The bulk job ``job_id``, or ``NotFound``; ``with_errors=False`` leaves the stored
    errors (up to ``MAX_STORED_ERRORS``) unread, for a read of its progress only."""
    columns = [c for c in bulk_jobs.c if with_errors or c.name != "errors"]
    with engine.connect() as conn:
        row = conn.execute(sa.select(*columns).where(bulk_jobs.c.id == job_id)).first()
    if row is None:
        raise NotFound(
            f"no bulk import job {job_id}", reason="bulk_job_not_found", params={"id": job_id}
        )
    return _job(row._mapping, with_errors=with_errors)


def visible_job(engine: sa.Engine, user: User, job_id: int, *, with_errors: bool = True) -> BulkJob:
    """The job ``job_id`` if ``user`` started it or may see its enterprise's things (an
    overseer, a user of the enterprise it was started for); else ``NotFound``, as if missing."""
    job = get_job(engine, job_id, with_errors=with_errors)
    if job.actor != user.actor and not access.can_see(user, job.enterprise_id):
        raise NotFound(f"no bulk job {job_id}", reason="bulk_job_not_found", params={"id": job_id})
    return job


def _job(m: Any, *, with_errors: bool) -> BulkJob:
    return BulkJob(
        id=m["id"],
        node=m["node"],
        source=m["source"],
        actor=m["actor"],
        status=m["status"],
        total=m["total"],
        registered=m["registered"],
        unchanged=m["unchanged"],
        failed=m["failed"],
        next_line=m["next_line"],
        errors=_errors(m["errors"]) if with_errors else [],
        created_at=m["created_at"],
        updated_at=m["updated_at"],
        enterprise_id=m["enterprise_id"],
        reasons=_reasons(m["errors"]) if with_errors else [],
    )


def page_jobs(
    engine: sa.Engine,
    *,
    enterprise_id: int | None = None,
    like: str | None = None,
    status: str | None = None,
    sort: str = "id",
    desc: bool = True,
    offset: int = 0,
    limit: int = 20,
) -> tuple[list[BulkJob], int]:
    """One page of jobs (without their errors) and how many match: ``enterprise_id`` limits
    them to one enterprise's (``-1``: none), ``like`` (escaped with ``\\``) searches the
    file name, ``status`` filters."""
    where: list[sa.ColumnElement[bool]] = []
    if enterprise_id is not None:
        where.append(bulk_jobs.c.enterprise_id == enterprise_id)
    if like:
        where.append(bulk_jobs.c.source.like(like, escape="\\"))
    if status in STATUSES:
        where.append(bulk_jobs.c.status == status)
    column = bulk_jobs.c[sort if sort in SORTS else "id"]
    cols = [c for c in bulk_jobs.c if c.name != "errors"]
    with engine.connect() as conn:
        rows, total = page_of_rows(
            conn,
            bulk_jobs,
            [*cols, sa.literal(None).label("errors")],
            where,
            [column.desc() if desc else column, bulk_jobs.c.id.desc()],
            offset=offset,
            limit=limit,
            scan=False,
        )
    return [_job(r, with_errors=False) for r in rows], total


@dataclass
class Job:
    """An import in progress: its counts, errors and the next line to read."""

    id: int
    total: int
    registered: int = 0
    unchanged: int = 0
    failed: int = 0
    errors: list[tuple[int, str, str]] = field(default_factory=list)
    resumed_from_line: int | None = None
    next_line: int = 1
    reasons: list[Reason] = field(default_factory=list)

    @property
    def done(self) -> int:
        """Rows handled so far."""
        return self.registered + self.unchanged + self.failed

    def fail(
        self,
        line: int,
        handle: str,
        message: str,
        reason: str = "",
        params: dict[str, Any] | None = None,
    ) -> None:
        """Count a bad row, keeping its message and reason (up to ``MAX_STORED_ERRORS``)."""
        self.failed += 1
        if len(self.errors) < MAX_STORED_ERRORS:
            self.errors.append((line, handle, message))
            self.reasons.append((reason, params or {}))

    def report(self) -> BulkReport:
        """The report of this job so far."""
        return BulkReport(
            self.id,
            self.total,
            self.registered,
            self.unchanged,
            self.failed,
            list(self.errors),
            self.resumed_from_line,
        )


def start_job(
    node: Node,
    digest: str,
    source: str,
    total: int,
    actor: str,
    enterprise_id: int | None = None,
) -> Job:
    """Resume this actor's running job of this file, or start a new one."""
    with node.engine.begin() as conn:
        row = conn.execute(
            sa.select(bulk_jobs)
            .where(
                bulk_jobs.c.node == node.name,
                bulk_jobs.c.digest == digest,
                bulk_jobs.c.status == RUNNING,
                bulk_jobs.c.actor == actor,
            )
            .order_by(bulk_jobs.c.id.desc())
            .limit(1)
        ).first()
        if row is not None:
            m = row._mapping
            return Job(
                m["id"],
                m["total"],
                m["registered"],
                m["unchanged"],
                m["failed"],
                _errors(m["errors"]),
                m["next_line"],
                m["next_line"],
                _reasons(m["errors"]),
            )
        now = datetime.now(UTC)
        new_id = conn.execute(
            bulk_jobs.insert()
            .values(
                node=node.name,
                digest=digest,
                source=source[:300],
                actor=actor[:200],
                status=RUNNING,
                total=total,
                registered=0,
                unchanged=0,
                failed=0,
                next_line=1,
                errors=[],
                created_at=now,
                updated_at=now,
                enterprise_id=enterprise_id,
            )
            .returning(bulk_jobs.c.id)
        ).scalar_one()
    return Job(int(new_id), total)


def save_job(conn: sa.Connection, job: Job, status: str) -> None:
    conn.execute(
        bulk_jobs.update()
        .where(bulk_jobs.c.id == job.id)
        .values(
            status=status,
            registered=job.registered,
            unchanged=job.unchanged,
            failed=job.failed,
            next_line=job.next_line,
            errors=[
                [*e, *(job.reasons[i] if i < len(job.reasons) else ("", {}))]
                for i, e in enumerate(job.errors)
            ],
            updated_at=datetime.now(UTC),
        )
    )
