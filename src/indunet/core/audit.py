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
    """Append an entry; call inside the transaction that makes the change.

    Texts longer than their column (a 384-character handle, say) are cut with an ellipsis, so
    that a valid write never fails on its audit entry; the full text is in ``detail``.
    """
    detail = dict(detail or {})
    if len(target) > _TARGET_LEN:
        detail.setdefault("target", target)
    conn.execute(
        audit_log.insert().values(
            at=datetime.now(UTC),
            actor=_fit(actor, _ACTOR_LEN),
            action=_fit(action, _ACTION_LEN),
            target=_fit(target, _TARGET_LEN),
            detail=detail,
        )
    )


def _width(name: str) -> int:
    kind = audit_log.c[name].type
    assert isinstance(kind, sa.String) and kind.length
    return kind.length


_ACTOR_LEN, _ACTION_LEN, _TARGET_LEN = _width("actor"), _width("action"), _width("target")


def _fit(text: str, length: int) -> str:
    return text if len(text) <= length else text[: length - 1] + "…"


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
