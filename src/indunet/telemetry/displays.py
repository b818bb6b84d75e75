"""Wall-display tokens: read-only credentials that open the wall display (大屏) and nothing else.

A display token shows one *scope*: one enterprise, the enterprises of one region (the
``region`` of their registration data), or every enterprise. Platform admins make tokens of
any scope; an enterprise's admins only of their own enterprise. The token is shown once (as
a URL); the table keeps its SHA-256 digest, its expiry and when it was revoked. No user,
role or session stands behind it: the wall routes read it, and no other route knows it.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa

from indunet.core import (
    InvalidInput,
    NotFound,
    PermissionDenied,
    Role,
    User,
    access,
    audit,
    get_enterprise_by_id,
)
from indunet.telemetry.boardtables import display_tokens as table

PREFIX = "dsp_"
MAX_DAYS = 365
DEFAULT_DAYS = 30


@dataclass(frozen=True, slots=True)
class Display:
    """A display token's scope and life (never its secret)."""

    id: int
    name: str
    enterprise_id: int | None
    region: str | None
    created_by: str
    created_at: datetime
    expires_at: datetime
    revoked_at: datetime | None

    @property
    def kind(self) -> str:
        """``enterprise``, ``region`` or ``all``."""
        if self.enterprise_id is not None:
            return "enterprise"
        return "region" if self.region else "all"

    def live(self, now: datetime | None = None) -> bool:
        """Whether the token still opens the wall."""
        return self.revoked_at is None and (now or datetime.now(UTC)) < self.expires_at


def digest(token: str) -> str:
    """The stored form of a token."""
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


def _aware(v: datetime | None) -> datetime | None:
    return v.replace(tzinfo=UTC) if v is not None and v.tzinfo is None else v


def _display(row: Any) -> Display:
    m = dict(row._mapping)
    m.pop("digest", None)
    for key in ("created_at", "expires_at", "revoked_at"):
        m[key] = _aware(m[key])
    return Display(**m)


def _bad(message: str, reason: str, **params: Any) -> InvalidInput:
    return InvalidInput(message, reason=reason, params=params)


class Displays:
    """Makes, lists, revokes and checks display tokens (blocking: routes use a thread)."""

    def __init__(self, engine: sa.Engine) -> None:
        self.engine = engine

    def create(
        self,
        user: User,
        *,
        name: str,
        enterprise_id: int | None = None,
        region: str | None = None,
        days: int = DEFAULT_DAYS,
    ) -> tuple[Display, str]:
        """A new token and its secret (shown once). An enterprise admin's token is always of
        their enterprise; a platform admin names an enterprise, a region, or neither (all)."""
        name = name.strip() if isinstance(name, str) else ""
        if not name or len(name) > 100:
            raise _bad("a display name has 1 to 100 characters", "display_name", max=100)
        if isinstance(days, bool) or not isinstance(days, int) or not 1 <= days <= MAX_DAYS:
            raise _bad(f"a display token lives 1 to {MAX_DAYS} days", "display_days", max=MAX_DAYS)
        region = (region or "").strip() or None
        if region is not None and len(region) > 100:
            raise _bad("a region has at most 100 characters", "display_region", max=100)
        if user.role is not Role.PLATFORM_ADMIN:
            eid = access.change_scope(user, enterprise_id, "make wall displays")
            if eid is None or region is not None:
                raise PermissionDenied(
                    f"{user.username} may make wall displays of their own enterprise only",
                    reason="display_scope",
                )
            enterprise_id = eid
        elif enterprise_id is not None:
            access.check_change(user, enterprise_id, f"enterprise {enterprise_id}")
            if region is not None:
                raise _bad("name an enterprise or a region, not both", "display_both")
        token = PREFIX + secrets.token_urlsafe(32)
        now = datetime.now(UTC)
        values = {
            "name": name,
            "enterprise_id": enterprise_id,
            "region": region,
            "created_by": user.username,
            "created_at": now,
            "expires_at": now + timedelta(days=days),
            "revoked_at": None,
        }
        with self.engine.begin() as conn:
            if enterprise_id is not None:
                get_enterprise_by_id(conn, enterprise_id)  # a platform admin may name any id
            new_id = conn.execute(
                table.insert().values(**values, digest=digest(token)).returning(table.c.id)
            ).scalar_one()
            audit.record(
                conn,
                user.actor,
                "display.create",
                f"display:{new_id}",
                {"name": name, "enterprise_id": enterprise_id, "region": region, "days": days},
            )
        return Display(id=int(new_id), **values), token  # type: ignore[arg-type]

    def get(self, user: User, display_id: int) -> Display:
        """A token ``user`` may see (platform-wide and region tokens: overseers only)."""
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(table).where(table.c.id == display_id)).first()
        if row is None or not access.can_see(user, row.enterprise_id):
            raise NotFound(
                f"no wall display {display_id}", reason="display_missing", params={"id": display_id}
            )
        return _display(row)

    def page(
        self, user: User, *, like: str = "%", offset: int = 0, limit: int = 20
    ) -> tuple[list[Display], int]:
        """One page of the tokens ``user`` may see, newest first, and the total."""
        where: list[sa.ColumnElement[bool]] = [table.c.name.like(like, escape="\\")]
        scoped = access.scope(user)
        if scoped is not None:
            where.append(table.c.enterprise_id == scoped)
        q = sa.select(table).where(*where).order_by(table.c.id.desc()).offset(offset).limit(limit)
        count = sa.select(sa.func.count()).select_from(table).where(*where)
        with self.engine.connect() as conn:
            return [_display(r) for r in conn.execute(q)], int(conn.execute(count).scalar_one())

    def revoke(self, user: User, display_id: int) -> Display:
        """Revoke the token at once (audited); revoking twice changes nothing."""
        found = self.get(user, display_id)
        if found.enterprise_id is None and user.role is not Role.PLATFORM_ADMIN:
            raise PermissionDenied(f"{user.username} may not revoke wall display {display_id}")
        access.check_change(user, found.enterprise_id, f"wall display {display_id}")
        if found.revoked_at is None:
            with self.engine.begin() as conn:
                conn.execute(
                    table.update()
                    .where(table.c.id == display_id)
                    .values(revoked_at=datetime.now(UTC))
                )
                audit.record(
                    conn,
                    user.actor,
                    "display.revoke",
                    f"display:{display_id}",
                    {"name": found.name},
                )
        return self.get(user, display_id)

    def opened_by(self, token: str | None) -> Display | None:
        """The live display a token opens, or ``None`` (unknown, expired or revoked)."""
        if not token or not token.startswith(PREFIX) or len(token) > 100:
            return None
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(table).where(table.c.digest == digest(token))).first()
        found = _display(row) if row is not None else None
        return found if found is not None and found.live() else None
