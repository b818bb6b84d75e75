"""Enterprises (tenants) with their real-name data; the USCC is checked per GB 32100-2015."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

import sqlalchemy as sa

from indunet.core import audit
from indunet.core.errors import Conflict, InvalidInput, NotFound
from indunet.core.tables import enterprises
from indunet.core.uscc import validate_uscc


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
) -> Enterprise:
    """Register an enterprise; a bad USCC or a duplicate is refused and nothing is written."""
    code = validate_uscc(uscc)
    name = name.strip()
    if not name or len(name) > 200:
        raise InvalidInput("enterprise name must have 1 to 200 characters")
    for field, text in (
        ("legal_representative", legal_representative),
        ("contact", contact),
        ("industry_code", industry_code),
        ("region", region),
    ):
        kind = enterprises.c[field].type
        limit = kind.length if isinstance(kind, sa.String) and kind.length else 0
        if len(text.strip()) > limit:
            raise InvalidInput(f"{field} must have at most {limit} characters")
    if conn.execute(sa.select(enterprises.c.id).where(enterprises.c.uscc == code)).first():
        raise Conflict(f"an enterprise with unified social credit code {code} already exists")
    values = {
        "uscc": code,
        "name": name,
        "legal_representative": legal_representative.strip(),
        "contact": contact.strip(),
        "industry_code": industry_code.strip(),
        "region": region.strip(),
        "verified": verified,
        "created_at": datetime.now(UTC),
    }
    new_id = conn.execute(
        enterprises.insert().values(**values).returning(enterprises.c.id)
    ).scalar_one()
    audit.record(conn, actor, "enterprise.create", f"enterprise:{code}", {"name": name})
    return Enterprise(id=int(new_id), **values)  # type: ignore[arg-type]


def set_verified(conn: sa.Connection, uscc: str, *, verified: bool, actor: str) -> Enterprise:
    """Mark an enterprise's real-name data as checked (or not)."""
    ent = get_enterprise(conn, uscc)
    conn.execute(enterprises.update().where(enterprises.c.id == ent.id).values(verified=verified))
    audit.record(conn, actor, "enterprise.verify", f"enterprise:{ent.uscc}", {"verified": verified})
    return get_enterprise(conn, ent.uscc)


def get_enterprise(conn: sa.Connection, uscc: str) -> Enterprise:
    """Find an enterprise by its USCC, or raise ``NotFound``."""
    row = conn.execute(
        sa.select(enterprises).where(enterprises.c.uscc == uscc.strip().upper())
    ).first()
    if row is None:
        raise NotFound(f"no enterprise with unified social credit code {uscc}")
    return Enterprise(**row._mapping)


def get_enterprise_by_id(conn: sa.Connection, enterprise_id: int) -> Enterprise:
    """Find an enterprise by its id, or raise ``NotFound``."""
    row = conn.execute(sa.select(enterprises).where(enterprises.c.id == enterprise_id)).first()
    if row is None:
        raise NotFound(f"no enterprise with id {enterprise_id}")
    return Enterprise(**row._mapping)


def list_enterprises(conn: sa.Connection) -> list[Enterprise]:
    """All enterprises, by name."""
    rows = conn.execute(sa.select(enterprises).order_by(enterprises.c.name))
    return [Enterprise(**r._mapping) for r in rows]
