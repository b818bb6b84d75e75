"""API tokens seen from outside: their lifetimes, who may list them, who may revoke them.

Every token expires: API tokens after ``DEFAULT_TOKEN_TTL`` (90 days) unless a lifetime up to
``MAX_TOKEN_TTL`` (365 days) is asked for at issue (``users.issue_token``); console sessions after their own shorter lifetime. Platform admins list
and revoke every user's tokens; everyone else lists and revokes their own, and another
user's token is *not found* to them. Listings never show a token's secret or digest.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa

from indunet.core import audit
from indunet.core.errors import NotFound
from indunet.core.tables import tokens, users
from indunet.core.users import Role, User


@dataclass(frozen=True, slots=True)
class TokenInfo:
    """A token as listed: whose, what for, and when it stops working (never its secret)."""

    id: int
    username: str
    name: str
    kind: str
    created_at: datetime
    expires_at: datetime | None

    def to_json(self) -> dict[str, Any]:
        """API shape."""
        return {
            "id": self.id,
            "username": self.username,
            "name": self.name,
            "kind": self.kind,
            "created_at": self.created_at.isoformat(),
            "expires_at": self.expires_at.isoformat() if self.expires_at else None,
        }


def _utc(at: datetime | None) -> datetime | None:
    return at.replace(tzinfo=UTC) if at is not None and at.tzinfo is None else at


def _sees_every_token(user: User) -> bool:
    return user.role == Role.PLATFORM_ADMIN


_COLS = (
    tokens.c.id,
    users.c.username,
    tokens.c.name,
    tokens.c.kind,
    tokens.c.created_at,
    tokens.c.expires_at,
)


def list_tokens(
    conn: sa.Connection, viewer: User, *, username: str | None = None
) -> list[TokenInfo]:
    """Tokens that have not expired, newest first: every user's for admins, else the viewer's."""
    q = (
        sa.select(*_COLS)
        .join(users, users.c.id == tokens.c.user_id)
        .where(sa.or_(tokens.c.expires_at.is_(None), tokens.c.expires_at > datetime.now(UTC)))
        .order_by(tokens.c.id.desc())
    )
    if not _sees_every_token(viewer):
        q = q.where(tokens.c.user_id == viewer.id)
    if username is not None:
        q = q.where(users.c.username == username)
    return [
        TokenInfo(r[0], r[1], r[2], r[3], _utc(r[4]) or datetime.now(UTC), _utc(r[5]))
        for r in conn.execute(q)
    ]


def revoke_token_by_id(conn: sa.Connection, token_id: int, by: User) -> TokenInfo:
    """Revoke a token by its id; another user's token is ``NotFound`` unless ``by`` is an admin."""
    q = sa.select(*_COLS, tokens.c.user_id).join(users, users.c.id == tokens.c.user_id)
    row = conn.execute(q.where(tokens.c.id == token_id)).first()
    if row is None or not (_sees_every_token(by) or row[6] == by.id):
        raise NotFound(f"no token {token_id}")
    conn.execute(tokens.delete().where(tokens.c.id == token_id))
    info = TokenInfo(
        row[0], row[1], row[2], row[3], _utc(row[4]) or datetime.now(UTC), _utc(row[5])
    )
    audit.record(
        conn, by.actor, "token.revoke", f"user:{info.username}", {"id": info.id, "name": info.name}
    )
    return info
