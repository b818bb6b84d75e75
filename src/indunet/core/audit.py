"""The audit log: every write records who did what to which thing, in the writer's transaction."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa

from indunet.core.tables import audit_log


@dataclass(frozen=True, slots=True)
class AuditEntry:
    """One line of the audit log."""

    id: int
    at: datetime
    actor: str
    action: str
    target: str
    detail: dict[str, Any]


def record(
    conn: sa.Connection, actor: str, action: str, target: str, detail: dict[str, Any] | None = None
) -> None:
    """Append an entry; call inside the transaction that makes the change."""
    conn.execute(
        audit_log.insert().values(
            at=datetime.now(UTC), actor=actor, action=action, target=target, detail=detail or {}
        )
    )


def entries(
    conn: sa.Connection, *, limit: int = 100, actor: str | None = None, target: str | None = None
) -> list[AuditEntry]:
    """Return the newest entries first, optionally for one actor or target."""
    q = sa.select(audit_log).order_by(audit_log.c.id.desc()).limit(limit)
    if actor:
        q = q.where(audit_log.c.actor == actor)
    if target:
        q = q.where(audit_log.c.target == target)
    return [AuditEntry(**row._mapping) for row in conn.execute(q)]
