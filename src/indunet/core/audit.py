"""The audit log: every write records who did what to which thing, in the writer's transaction.

Each entry belongs to an enterprise or to none (``enterprise_id``). A writer that changes an
enterprise's thing names the thing's enterprise (an identifier: its prefix's owner; a device,
rule, alarm, model, user or prefix: its enterprise; an enterprise: itself), whoever acts, so a
platform admin's edit of an enterprise's identifier is read by that enterprise's admins too.
Left out, it is the acting user's enterprise. Entries of no enterprise (platform-wide things,
failed logins, the system) are read by overseers only; an enterprise admin reads their
enterprise's entries and never another's (``AuditFilter.enterprise_id``).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa

from indunet.core.tables import audit_log, users

#: Rows one export may hold; a wider export is cut here (the CSV's last line says so).
EXPORT_LIMIT = 100_000
#: Rows read from the database at a time while exporting.
EXPORT_CHUNK = 1_000
_FROM_ACTOR = object()


@dataclass(frozen=True, slots=True)
class AuditEntry:
    """One line of the audit log."""

    id: int
    at: datetime
    actor: str
    action: str
    target: str
    detail: dict[str, Any]
    enterprise_id: int | None = None


def record(
    conn: sa.Connection,
    actor: str,
    action: str,
    target: str,
    detail: dict[str, Any] | None = None,
    *,
    enterprise_id: int | object | None = _FROM_ACTOR,
) -> None:
    """Append an entry; call inside the transaction that makes the change.

    ``enterprise_id`` is the enterprise the entry belongs to; left out, it is the acting
    user's (``user:<name>`` actors), else none. Texts longer than their column (a
    384-character handle, say) are cut with an ellipsis, so that a valid write never fails on
    its audit entry; the full text is in ``detail``.
    """
    detail = dict(detail or {})
    if len(target) > _TARGET_LEN:
        detail.setdefault("target", target)
    owner = _enterprise_of_actor(conn, actor) if enterprise_id is _FROM_ACTOR else enterprise_id
    conn.execute(
        audit_log.insert().values(
            at=datetime.now(UTC),
            actor=_fit(actor, _ACTOR_LEN),
            action=_fit(action, _ACTION_LEN),
            target=_fit(target, _TARGET_LEN),
            detail=detail,
            enterprise_id=owner,
        )
    )


def _enterprise_of_actor(conn: sa.Connection, actor: str) -> int | None:
    if not actor.startswith("user:"):
        return None
    found = conn.execute(
        sa.select(users.c.enterprise_id).where(users.c.username == actor[5:])
    ).scalar()
    return int(found) if found is not None else None


def _width(name: str) -> int:
    kind = audit_log.c[name].type
    assert isinstance(kind, sa.String) and kind.length
    return kind.length


_ACTOR_LEN, _ACTION_LEN, _TARGET_LEN = _width("actor"), _width("action"), _width("target")


def _fit(text: str, length: int) -> str:
    return text if len(text) <= length else text[: length - 1] + "…"


@dataclass(frozen=True, slots=True)
class AuditFilter:
    """Which entries a reader asks for. Texts match exactly, except ``q`` (contained in the
    target or the actor; actions have their own filter) and ``action`` ending in ``.`` or ``*`` (every action it begins)."""

    actor: str = ""
    action: str = ""
    target: str = ""
    q: str = ""
    since: datetime | None = None
    until: datetime | None = None
    #: Entries of this enterprise only (``None``: every entry); a tenant's reader always has
    #: it set to their own (``core.access.scope``).
    enterprise_id: int | None = None


def _like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _where(f: AuditFilter) -> list[sa.ColumnElement[bool]]:
    c = audit_log.c
    out: list[sa.ColumnElement[bool]] = []
    if f.enterprise_id is not None:
        out.append(c.enterprise_id == f.enterprise_id)
    if f.actor:
        out.append(c.actor == f.actor)
    if f.action.endswith((".", "*")):
        out.append(c.action.like(_like(f.action.rstrip("*")) + "%", escape="\\"))
    elif f.action:
        out.append(c.action == f.action)
    if f.target:
        out.append(c.target == f.target)
    if f.since is not None:
        out.append(c.at >= f.since)
    if f.until is not None:
        out.append(c.at < f.until)
    if f.q:
        pattern = f"%{_like(f.q)}%"
        out.append(sa.or_(c.target.like(pattern, escape="\\"), c.actor.like(pattern, escape="\\")))
    return out


def _entry(row: Any) -> AuditEntry:
    m = row._mapping
    at = m["at"]
    return AuditEntry(
        id=m["id"],
        at=at.replace(tzinfo=UTC) if at.tzinfo is None else at,
        actor=m["actor"],
        action=m["action"],
        target=m["target"],
        detail=m["detail"] if isinstance(m["detail"], dict) else {},
        enterprise_id=m["enterprise_id"],
    )


def find(
    conn: sa.Connection,
    f: AuditFilter,
    *,
    offset: int = 0,
    limit: int = 20,
    oldest_first: bool = False,
) -> tuple[list[AuditEntry], int]:
    """One page of the entries ``f`` matches, newest first, and how many match in all."""
    where = _where(f)
    order = audit_log.c.id.asc() if oldest_first else audit_log.c.id.desc()
    rows = conn.execute(
        sa.select(audit_log).where(*where).order_by(order).offset(offset).limit(limit)
    )
    entries = [_entry(r) for r in rows]
    total = conn.execute(sa.select(sa.func.count()).select_from(audit_log).where(*where))
    return entries, int(total.scalar_one())


def export(engine: sa.Engine, f: AuditFilter, *, limit: int = EXPORT_LIMIT) -> Iterator[AuditEntry]:
    """The entries ``f`` matches, newest first, at most ``limit``, read ``EXPORT_CHUNK`` at a
    time (each chunk on its own short connection, continuing below the last id seen)."""
    before: int | None = None
    left = limit
    where = _where(f)
    while left > 0:
        q = sa.select(audit_log).where(*where).order_by(audit_log.c.id.desc())
        if before is not None:
            q = q.where(audit_log.c.id < before)
        with engine.connect() as conn:
            chunk = [_entry(r) for r in conn.execute(q.limit(min(EXPORT_CHUNK, left)))]
        if not chunk:
            return
        yield from chunk
        left -= len(chunk)
        before = chunk[-1].id


def entries(
    conn: sa.Connection, *, limit: int = 100, actor: str | None = None, target: str | None = None
) -> list[AuditEntry]:
    """Return the newest entries first, optionally for one actor or target."""
    where = _where(AuditFilter(actor=actor or "", target=target or ""))
    q = sa.select(audit_log).where(*where).order_by(audit_log.c.id.desc()).limit(limit)
    return [_entry(r) for r in conn.execute(q)]


def actions(
    conn: sa.Connection, *, enterprise_id: int | None = None, limit: int = 200
) -> list[str]:
    """The distinct actions in the log (of one enterprise's entries), sorted, at most ``limit``."""
    q = sa.select(audit_log.c.action).distinct().order_by(audit_log.c.action)
    if enterprise_id is not None:
        q = q.where(audit_log.c.enterprise_id == enterprise_id)
    return [str(a) for a in conn.execute(q.limit(limit)).scalars()]
