"""Enterprises' applications for a prefix or for a renewal, each reviewed by an operator.

An admin of a verified enterprise (real-name review passed, ``core.enterprises.review``)
applies for a prefix directly under the node's prefix, saying what it is for; or, for a prefix
it holds with a term (``ids.terms``), for a renewal. A platform admin approves or rejects
(a rejection needs a reason, which the enterprise reads). Approving a prefix application
allocates the prefix (``prefixes.allocate_in``) for one term in the same transaction as the
review, so an application is never approved without its prefix nor a prefix allocated on an
application still pending; approving a renewal extends the term (``terms.new_term_end``).

The prefix's key is not shown to the reviewer: the allocation is made with a random key
nobody sees, and the enterprise's admin takes its own with a key rotation, shown to it once
(``prefixes.rotate_key``), so an operator never holds an enterprise's credential.

Every application is kept (the record of who asked what and why it was granted or refused)
and every step is audited: ``prefix.apply``, ``prefix.apply_renewal``, ``prefix.approve``,
``prefix.reject`` (and ``prefix.allocate`` or ``prefix.renew`` with an approval).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa

from indunet.core import Conflict, Enterprise, InvalidInput, NotFound, PermissionDenied, audit
from indunet.core.enterprises import get_enterprise_by_id
from indunet.core.paged import page_of_rows
from indunet.ids import terms
from indunet.ids.errors import NotResponsible
from indunet.ids.node import Node
from indunet.ids.prefixes import allocate_in
from indunet.ids.syntax import handle as hdl
from indunet.ids.tables import prefix_applications, prefixes

NEW, RENEW = "new", "renew"
KINDS = (NEW, RENEW)
PENDING, APPROVED, REJECTED = "pending", "approved", "rejected"
STATES = (PENDING, APPROVED, REJECTED)
#: Longest purpose and review reason, in characters.
MAX_TEXT = 500
#: Applications one enterprise may have waiting for review at once.
MAX_PENDING_PER_ENTERPRISE = 20
#: Sort keys of ``page_applications``.
SORTS = ("id", "prefix", "applied_at", "state")


@dataclass(frozen=True, slots=True)
class PrefixApplication:
    """An application for a prefix (``new``) or for a renewal of one (``renew``)."""

    id: int
    kind: str
    prefix: str
    node: str
    enterprise_id: int
    purpose: str
    state: str
    applied_by: str
    applied_at: datetime
    reviewed_by: str = ""
    reviewed_at: datetime | None = None
    reason: str = ""
    expires_at: datetime | None = None  # the end of the term its approval gave

    def to_json(self) -> dict[str, Any]:
        """The application as the API answers it (times in ISO 8601, UTC)."""
        return {
            "id": self.id,
            "kind": self.kind,
            "prefix": self.prefix,
            "node": self.node,
            "enterprise_id": self.enterprise_id,
            "purpose": self.purpose,
            "state": self.state,
            "applied_by": self.applied_by,
            "applied_at": self.applied_at.isoformat(),
            "reviewed_by": self.reviewed_by,
            "reviewed_at": self.reviewed_at.isoformat() if self.reviewed_at else None,
            "reason": self.reason,
            "expires_at": self.expires_at.isoformat() if self.expires_at else None,
        }


def _of(m: Mapping[Any, Any]) -> PrefixApplication:
    values = dict(m)
    for key in ("applied_at", "reviewed_at", "expires_at"):
        values[key] = terms.utc(values[key])
    return PrefixApplication(**values)


def _text(value: str, field: str, *, needed: bool) -> str:
    text = value.strip()
    if len(text) > MAX_TEXT or (needed and not text):
        raise InvalidInput(
            f"{field} must have {int(needed)} to {MAX_TEXT} characters",
            reason="prefix_application_text",
            params={"field": field, "min": int(needed), "max": MAX_TEXT},
        )
    if any(ord(c) < 32 and c not in "\n\t" for c in text):
        raise InvalidInput(
            f"{field} may not contain control characters",
            reason="prefix_application_text",
            params={"field": field, "min": int(needed), "max": MAX_TEXT},
        )
    return text


def _check_verified(enterprise: Enterprise) -> None:
    if not enterprise.verified:
        raise PermissionDenied(
            f"enterprise {enterprise.uscc} ({enterprise.name}) has not passed real-name "
            "review; only verified enterprises may apply for prefixes",
            reason="enterprise_unverified",
            params={"uscc": enterprise.uscc, "name": enterprise.name},
        )


def _check_none_pending(conn: sa.Connection, prefix: str, enterprise_id: int) -> None:
    pending = prefix_applications.c.state == PENDING
    if conn.execute(
        sa.select(prefix_applications.c.id).where(prefix_applications.c.prefix == prefix, pending)
    ).first():
        raise Conflict(
            f"an application for prefix {prefix} already waits for review",
            reason="prefix_application_pending",
            params={"prefix": prefix},
        )
    count = conn.execute(
        sa.select(sa.func.count())
        .select_from(prefix_applications)
        .where(prefix_applications.c.enterprise_id == enterprise_id, pending)
    ).scalar_one()
    if count >= MAX_PENDING_PER_ENTERPRISE:
        raise Conflict(
            f"{count} applications of this enterprise wait for review; wait for them first",
            reason="prefix_applications_full",
            params={"max": MAX_PENDING_PER_ENTERPRISE},
        )


def _insert(
    conn: sa.Connection, kind: str, prefix: str, node: str, ent: Enterprise, purpose: str, by: str
) -> PrefixApplication:
    values = {
        "kind": kind,
        "prefix": prefix,
        "node": node,
        "enterprise_id": ent.id,
        "purpose": purpose,
        "state": PENDING,
        "applied_by": by[:200],
        "applied_at": datetime.now(UTC),
    }
    new_id = conn.execute(
        prefix_applications.insert().values(**values).returning(prefix_applications.c.id)
    ).scalar_one()
    audit.record(
        conn,
        by,
        "prefix.apply" if kind == NEW else "prefix.apply_renewal",
        f"0.NA/{prefix}",
        {"application": int(new_id), "purpose": purpose},
        enterprise_id=ent.id,
    )
    return PrefixApplication(id=int(new_id), **values)  # type: ignore[arg-type]


def apply(
    node: Node, enterprise: Enterprise, prefix: str, purpose: str, *, actor: str
) -> PrefixApplication:
    """Apply for ``prefix`` (a direct child of ``node``'s prefix) for ``enterprise``.

    Refused, writing nothing: an unverified enterprise (403 ``enterprise_unverified``), a
    malformed prefix (400) or one not directly under the node (``prefix_not_child``), a
    purpose missing or over ``MAX_TEXT`` (400), a prefix allocated or revoked before (409
    ``prefix_allocated``), one with an application pending (409), too many pending (409).
    """
    _check_verified(enterprise)
    text = _text(purpose, "purpose", needed=True)
    hdl.validate_prefix(prefix.strip())
    norm = hdl.normalise_prefix(prefix.strip())
    if node.prefix is None or hdl.parent_prefix(norm) != node.prefix:
        raise NotResponsible(
            f"prefix {prefix} is not directly under this node's prefix {node.prefix!r}",
            reason="prefix_not_child",
            params={"prefix": prefix, "node": node.name, "parent": node.prefix or ""},
        )
    with node.engine.begin() as conn:
        if conn.execute(sa.select(prefixes.c.prefix).where(prefixes.c.prefix == norm)).first():
            raise Conflict(
                f"prefix {norm} is already allocated (or was, and was revoked)",
                reason="prefix_allocated",
                params={"prefix": norm},
            )
        _check_none_pending(conn, norm, enterprise.id)
        return _insert(conn, NEW, norm, node.name, enterprise, text, actor)


def apply_renewal(
    engine: sa.Engine, enterprise: Enterprise, prefix: str, purpose: str, *, actor: str
) -> PrefixApplication:
    """Apply to renew ``prefix``, which ``enterprise`` holds with a term.

    Refused: an unverified enterprise (403), a prefix the enterprise does not hold (404
    ``prefix_not_found``, as if it did not exist), a revoked one (409 ``prefix_revoked``), one
    without a term (409 ``prefix_no_term``), one with an application pending (409)."""
    _check_verified(enterprise)
    text = _text(purpose, "purpose", needed=False)
    norm = hdl.normalise_prefix(prefix.strip())
    with engine.begin() as conn:
        row = conn.execute(sa.select(prefixes).where(prefixes.c.prefix == norm)).first()
        if row is None or row.enterprise_id != enterprise.id:
            raise NotFound(
                f"prefix {prefix} is not allocated to your enterprise",
                reason="prefix_not_found",
                params={"prefix": prefix},
            )
        if row.revoked_at is not None:
            raise Conflict(
                f"prefix {norm} is revoked", reason="prefix_revoked", params={"prefix": norm}
            )
        if row.expires_at is None:
            raise Conflict(
                f"prefix {norm} has no term to renew",
                reason="prefix_no_term",
                params={"prefix": norm},
            )
        _check_none_pending(conn, norm, enterprise.id)
        return _insert(conn, RENEW, norm, str(row.node), enterprise, text, actor)


def get_application(engine: sa.Engine, application_id: int) -> PrefixApplication:
    """One application, or ``NotFound``."""
    with engine.connect() as conn:
        row = conn.execute(
            sa.select(prefix_applications).where(prefix_applications.c.id == application_id)
        ).first()
    if row is None:
        raise NotFound(
            f"no prefix application {application_id}",
            reason="prefix_application_not_found",
            params={"id": application_id},
        )
    return _of(row._mapping)


def review(
    nodes: Mapping[str, Node],
    application_id: int,
    *,
    approve: bool,
    reason: str,
    actor: str,
    term_days: int,
) -> PrefixApplication:
    """Approve or reject a pending application, with the reviewer's reason (needed to
    reject). Approving a prefix application allocates the prefix for ``term_days``;
    approving a renewal extends the prefix's term by ``term_days``. Either in one
    transaction with the review; a refusal (409 ``prefix_application_state`` for an
    application reviewed already, ``enterprise_unverified`` for an enterprise whose
    verification was withdrawn, ``prefix_revoked``) writes nothing."""
    text = _text(reason, "reason", needed=not approve)
    any_node = next(iter(nodes.values()))
    after: Callable[[], None] = lambda: None  # noqa: E731
    now = datetime.now(UTC)
    with any_node.engine.begin() as conn:
        row = conn.execute(
            sa.select(prefix_applications)
            .where(prefix_applications.c.id == application_id)
            .with_for_update()
        ).first()
        if row is None:
            raise NotFound(
                f"no prefix application {application_id}",
                reason="prefix_application_not_found",
                params={"id": application_id},
            )
        app = _of(row._mapping)
        if app.state != PENDING:
            raise Conflict(
                f"application {app.id} was {app.state} already",
                reason="prefix_application_state",
                params={"id": app.id, "state": app.state},
            )
        expires: datetime | None = None
        if approve:
            ent = get_enterprise_by_id(conn, app.enterprise_id)
            _check_verified(ent)
            if app.kind == NEW:
                node = _node(nodes, app)
                expires = terms.new_term_end(None, term_days, now)
                _made, after = allocate_in(
                    conn, node, app.prefix, ent, actor=actor, expires_at=expires
                )
            else:
                expires, after = _renew(conn, nodes, app, term_days, actor, now)
        conn.execute(
            prefix_applications.update()
            .where(prefix_applications.c.id == app.id)
            .values(
                state=APPROVED if approve else REJECTED,
                reviewed_by=actor[:200],
                reviewed_at=now,
                reason=text,
                expires_at=expires,
            )
        )
        audit.record(
            conn,
            actor,
            "prefix.approve" if approve else "prefix.reject",
            f"0.NA/{app.prefix}",
            {"application": app.id, "kind": app.kind, "reason": text},
            enterprise_id=app.enterprise_id,
        )
    after()
    return get_application(any_node.engine, app.id)


def _node(nodes: Mapping[str, Node], app: PrefixApplication) -> Node:
    node = nodes.get(app.node)
    if node is None:
        raise Conflict(
            f"prefix {app.prefix} is applied for at node {app.node}, which this process "
            "does not run",
            reason="prefix_node_elsewhere",
            params={"prefix": app.prefix, "node": app.node},
        )
    return node


def _renew(
    conn: sa.Connection,
    nodes: Mapping[str, Node],
    app: PrefixApplication,
    term_days: int,
    actor: str,
    now: datetime,
) -> tuple[datetime, Callable[[], None]]:
    row = conn.execute(
        sa.select(prefixes).where(prefixes.c.prefix == app.prefix).with_for_update()
    ).first()
    if row is None or row.revoked_at is not None:
        raise Conflict(
            f"prefix {app.prefix} is revoked; it cannot be renewed",
            reason="prefix_revoked",
            params={"prefix": app.prefix},
        )
    before = terms.utc(row.expires_at)
    end = terms.new_term_end(before, term_days, now)
    conn.execute(prefixes.update().where(prefixes.c.prefix == app.prefix).values(expires_at=end))
    audit.record(
        conn,
        actor,
        "prefix.renew",
        f"0.NA/{app.prefix}",
        {"before": before.isoformat() if before else None, "after": end.isoformat()},
        enterprise_id=app.enterprise_id,
    )

    def after() -> None:
        for n in nodes.values():
            if app.prefix in n.terms:
                n.terms = {**n.terms, app.prefix: end}

    return end, after


def page_applications(
    engine: sa.Engine,
    *,
    like: str | None = None,
    state: str | None = None,
    kind: str | None = None,
    enterprise_id: int | None = None,
    sort: str = "id",
    desc: bool = True,
    offset: int = 0,
    limit: int = 20,
) -> tuple[list[PrefixApplication], int]:
    """One page of applications and how many match: ``like`` (an SQL LIKE pattern escaped
    with ``\\``) searches the prefix and the purpose; ``state``, ``kind`` and
    ``enterprise_id`` filter. Newest first unless sorted otherwise."""
    t = prefix_applications
    where: list[sa.ColumnElement[bool]] = []
    if like:
        where.append(
            sa.or_(
                t.c.prefix.like(like.upper(), escape="\\"),
                t.c.purpose.like(like, escape="\\"),
            )
        )
    if state in STATES:
        where.append(t.c.state == state)
    if kind in KINDS:
        where.append(t.c.kind == kind)
    if enterprise_id is not None:
        where.append(t.c.enterprise_id == enterprise_id)
    column = t.c[sort if sort in SORTS else "id"]
    with engine.connect() as conn:
        rows, total = page_of_rows(
            conn,
            t,
            [t],
            where,
            [column.desc() if desc else column, t.c.id.desc()],
            offset=offset,
            limit=limit,
            scan=bool(like),
        )
    return [_of(r) for r in rows], total
