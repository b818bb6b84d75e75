"""Enterprises (tenants) with their real-name data; the USCC is checked per GB 32100-2015."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime

import sqlalchemy as sa

from indunet.core import audit
from indunet.core.errors import Conflict, InvalidInput, NotFound
from indunet.core.paged import page_of_rows
from indunet.core.regions import codes_named
from indunet.core.tables import enterprises
from indunet.core.uscc import validate_uscc

PENDING, APPROVED, REJECTED = "pending", "approved", "rejected"
REVIEW_STATES = (PENDING, APPROVED, REJECTED)
MAX_REASON = 500
#: Sort keys of ``page_enterprises``.
SORTS = ("name", "uscc", "region", "created_at", "review_state")


@dataclass(frozen=True, slots=True)
class Enterprise:
    """A tenant: an industrial enterprise known by its unified social credit code."""

    id: int
    uscc: str
    name: str
    legal_representative: str
    contact: str
    industry_code: str
    region: str
    verified: bool
    created_at: datetime
    review_state: str = "pending"  # pending, approved or rejected (see ``review``)
    review_reason: str = ""
    reviewed_by: str = ""
    reviewed_at: datetime | None = None
    self_registered: bool = False  # applied by itself (``core.registration``)
    contact_phone: str = ""
    contact_email: str = ""


def create_enterprise(
    conn: sa.Connection,
    *,
    uscc: str,
    name: str,
    actor: str,
    legal_representative: str = "",
    contact: str = "",
    industry_code: str = "",
    region: str = "",
    verified: bool = False,
    contact_phone: str = "",
    contact_email: str = "",
    self_registered: bool = False,
) -> Enterprise:
    """Register an enterprise; a bad USCC or a duplicate is refused and nothing is written.

    ``self_registered`` marks an enterprise that applied by itself (``core.registration``):
    its users cannot log in until it is approved (``review``)."""
    code = validate_uscc(uscc)
    name = name.strip()
    if not name or len(name) > 200:
        raise InvalidInput(
            "enterprise name must have 1 to 200 characters",
            reason="enterprise_name_length",
            params={"max": 200},
        )
    for field, text in (
        ("legal_representative", legal_representative),
        ("contact", contact),
        ("industry_code", industry_code),
        ("region", region),
        ("contact_phone", contact_phone),
        ("contact_email", contact_email),
    ):
        kind = enterprises.c[field].type
        limit = kind.length if isinstance(kind, sa.String) and kind.length else 0
        if len(text.strip()) > limit:
            raise InvalidInput(
                f"{field} must have at most {limit} characters",
                reason="enterprise_field_length",
                params={"field": field, "max": limit},
            )
    if conn.execute(sa.select(enterprises.c.id).where(enterprises.c.uscc == code)).first():
        raise Conflict(
            f"an enterprise with unified social credit code {code} already exists",
            reason="enterprise_exists",
            params={"uscc": code},
        )
    values = {
        "uscc": code,
        "name": name,
        "legal_representative": legal_representative.strip(),
        "contact": contact.strip(),
        "industry_code": industry_code.strip(),
        "region": region.strip(),
        "verified": verified,
        "created_at": datetime.now(UTC),
        "review_state": APPROVED if verified else PENDING,
        "self_registered": self_registered,
        "contact_phone": contact_phone.strip(),
        "contact_email": contact_email.strip(),
    }
    new_id = conn.execute(
        enterprises.insert().values(**values).returning(enterprises.c.id)
    ).scalar_one()
    audit.record(
        conn, actor, "enterprise.create", f"enterprise:{code}", {"name": name}, enterprise_id=new_id
    )
    return Enterprise(id=int(new_id), **values)  # type: ignore[arg-type]


def set_verified(conn: sa.Connection, uscc: str, *, verified: bool, actor: str) -> Enterprise:
    """Mark an enterprise's real-name data as checked (or not)."""
    ent = get_enterprise(conn, uscc)
    conn.execute(
        enterprises.update()
        .where(enterprises.c.id == ent.id)
        .values(verified=verified, review_state=APPROVED if verified else PENDING)
    )
    audit.record(
        conn,
        actor,
        "enterprise.verify",
        f"enterprise:{ent.uscc}",
        {"verified": verified},
        enterprise_id=ent.id,
    )
    return get_enterprise(conn, ent.uscc)


def get_enterprise(conn: sa.Connection, uscc: str) -> Enterprise:
    """Find an enterprise by its USCC, or raise ``NotFound``."""
    row = conn.execute(
        sa.select(enterprises).where(enterprises.c.uscc == uscc.strip().upper())
    ).first()
    if row is None:
        raise NotFound(
            f"no enterprise with unified social credit code {uscc}",
            reason="enterprise_not_found",
            params={"uscc": uscc},
        )
    return Enterprise(**row._mapping)


def get_enterprise_by_id(conn: sa.Connection, enterprise_id: int) -> Enterprise:
    """Find an enterprise by its id, or raise ``NotFound``."""
    row = conn.execute(sa.select(enterprises).where(enterprises.c.id == enterprise_id)).first()
    if row is None:
        raise NotFound(
            f"no enterprise with id {enterprise_id}",
            reason="enterprise_id_not_found",
            params={"id": enterprise_id},
        )
    return Enterprise(**row._mapping)


def list_enterprises(conn: sa.Connection) -> list[Enterprise]:
    """All enterprises, by name."""
    rows = conn.execute(sa.select(enterprises).order_by(enterprises.c.name))
    return [Enterprise(**r._mapping) for r in rows]


def review(
    conn: sa.Connection, enterprise_id: int, *, approve: bool, reason: str, actor: str
) -> Enterprise:
    """Approve or reject an enterprise's real-name data, with the reviewer's reason.

    A rejection needs a reason (1 to ``MAX_REASON`` characters; an approval may leave it
    empty). Approving marks the enterprise verified, so prefixes can be allocated to it;
    rejecting marks it unverified. Who, when and why are stored and audited.
    """
    text = reason.strip()
    if len(text) > MAX_REASON:
        raise InvalidInput(
            f"a review reason must have at most {MAX_REASON} characters",
            reason="review_reason_length",
            params={"max": MAX_REASON},
        )
    if not approve and not text:
        raise InvalidInput(
            "a rejection needs a reason the enterprise can act on", reason="review_reason_needed"
        )
    ent = get_enterprise_by_id(conn, enterprise_id)
    state = APPROVED if approve else REJECTED
    conn.execute(
        enterprises.update()
        .where(enterprises.c.id == ent.id)
        .values(
            verified=approve,
            review_state=state,
            review_reason=text,
            reviewed_by=actor[:200],
            reviewed_at=datetime.now(UTC),
        )
    )
    audit.record(
        conn,
        actor,
        f"enterprise.{'approve' if approve else 'reject'}",
        f"enterprise:{ent.uscc}",
        {"reason": text},
        enterprise_id=ent.id,
    )
    return get_enterprise_by_id(conn, ent.id)


def page_enterprises(
    conn: sa.Connection,
    *,
    like: str | None = None,
    review_state: str | None = None,
    enterprise_id: int | None = None,
    sort: str = "name",
    desc: bool = False,
    offset: int = 0,
    limit: int = 20,
) -> tuple[list[Enterprise], int]:
    """One page of enterprises and how many match: ``like`` (an SQL LIKE pattern escaped
    with ``\\``) searches name, USCC and region (its code, or its place name: 苏州);
    ``review_state`` and ``enterprise_id`` filter."""
    where: list[sa.ColumnElement[bool]] = []
    if like:
        where.append(
            sa.or_(
                enterprises.c.name.like(like, escape="\\"),
                enterprises.c.uscc.like(like.upper(), escape="\\"),
                enterprises.c.region.like(like, escape="\\"),
                enterprises.c.region.in_(codes_named(_text_of(like))),
            )
        )
    if review_state in REVIEW_STATES:
        where.append(enterprises.c.review_state == review_state)
    if enterprise_id is not None:
        where.append(enterprises.c.id == enterprise_id)
    column = enterprises.c[sort if sort in SORTS else "name"]
    rows, total = page_of_rows(
        conn,
        enterprises,
        [enterprises],
        where,
        [column.desc() if desc else column, enterprises.c.id],
        offset=offset,
        limit=limit,
        scan=bool(like),
    )
    return [Enterprise(**r) for r in rows], total


def _text_of(like: str) -> str:
    """The text a ``%text%`` pattern searches for (escapes undone); ``""`` for other patterns."""
    if len(like) < 2 or not (like.startswith("%") and like.endswith("%")):
        return ""
    inner = like[1:-1]
    return re.sub(r"\\(.)", r"\1", inner)


def names_of(conn: sa.Connection, ids: Iterable[int | None]) -> dict[int, str]:
    """The names of the enterprises ``ids`` (those that exist), by id."""
    wanted = sorted({i for i in ids if i is not None})
    if not wanted:
        return {}
    rows = conn.execute(
        sa.select(enterprises.c.id, enterprises.c.name).where(enterprises.c.id.in_(wanted))
    )
    return {int(i): str(n) for i, n in rows}


def regions(conn: sa.Connection, limit: int = 1000) -> list[str]:
    """The regions enterprises registered in (distinct, sorted, at most ``limit``)."""
    rows = conn.execute(
        sa.select(enterprises.c.region)
        .where(enterprises.c.region != "")
        .distinct()
        .order_by(enterprises.c.region)
        .limit(limit)
    )
    return [str(r) for (r,) in rows]


def ids_in_region(conn: sa.Connection, region: str) -> list[int]:
    """The ids of the enterprises registered in ``region``."""
    rows = conn.execute(sa.select(enterprises.c.id).where(enterprises.c.region == region))
    return [int(i) for (i,) in rows]
