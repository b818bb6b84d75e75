"""Bulk import jobs: their rows in ``ids_bulk_jobs``, and the report an import returns.

A job is keyed by the node and the SHA-256 of the file. While it runs its counts and next line
are saved with every committed batch, so a run of the same file after a crash resumes there.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa

from indunet.core import Event, EventType, NotFound
from indunet.ids.node import Node
from indunet.ids.tables import bulk_jobs

MAX_STORED_ERRORS = 10_000
RUNNING, DONE = "running", "done"
BULK_FINISHED = EventType(
    "bulk.finished", 1, "ids", "a bulk registration finished (counts of the whole file)"
)


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

    def finished(self, source: str, actor: str, enterprise_id: int | None) -> Event:
        """The ``bulk.finished`` event of this import (counts, no error rows)."""
        data = {k: v for k, v in self.to_json().items() if k != "errors"}
        return BULK_FINISHED.make(
            {**data, "source": source[:300], "actor": actor}, enterprise_id=enterprise_id
        )


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

    def to_json(self) -> dict[str, Any]:
        """API shape."""
        return {
            "job_id": self.id,
            "node": self.node,
            "source": self.source,
            "actor": self.actor,
            "status": self.status,
            "total": self.total,
            "registered": self.registered,
            "unchanged": self.unchanged,
            "failed": self.failed,
            "next_line": self.next_line,
            "errors": [{"line": ln, "handle": h, "message": m} for ln, h, m in self.errors],
            "created_at": self.created_at.isoformat(),
            "updated_at": self.updated_at.isoformat(),
        }


def get_job(engine: sa.Engine, job_id: int) -> BulkJob:
    """The bulk job ``job_id``, or ``NotFound``."""
    with engine.connect() as conn:
        row = conn.execute(sa.select(bulk_jobs).where(bulk_jobs.c.id == job_id)).first()
    if row is None:
        raise NotFound(f"no bulk import job {job_id}")
    m = row._mapping
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
        errors=[(int(e[0]), str(e[1]), str(e[2])) for e in m["errors"]],
        created_at=m["created_at"],
        updated_at=m["updated_at"],
    )


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

    @property
    def done(self) -> int:
        """Rows handled so far."""
        return self.registered + self.unchanged + self.failed

    def fail(self, line: int, handle: str, message: str) -> None:
        """Count a bad row, keeping its reason (up to ``MAX_STORED_ERRORS``)."""
        self.failed += 1
        if len(self.errors) < MAX_STORED_ERRORS:
            self.errors.append((line, handle, message))

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


def start_job(node: Node, digest: str, source: str, total: int, actor: str) -> Job:
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
            job = Job(
                m["id"],
                m["total"],
                m["registered"],
                m["unchanged"],
                m["failed"],
                [(int(e[0]), str(e[1]), str(e[2])) for e in m["errors"]],
                m["next_line"],
                m["next_line"],
            )
            return job
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
            errors=[list(e) for e in job.errors],
            updated_at=datetime.now(UTC),
        )
    )
