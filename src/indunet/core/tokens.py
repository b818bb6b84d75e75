"""API tokens and console sessions seen from outside: lifetimes, who may list and revoke them.

Every token expires: API tokens after ``DEFAULT_TOKEN_TTL`` (90 days) unless a lifetime up to
``MAX_TOKEN_TTL`` (365 days) is asked for at issue (``users.issue_token``); console sessions
(kind ``session``) after their own shorter lifetime. Platform admins list and revoke every
user's tokens; everyone else lists and revokes their own, and another user's token is *not
found* to them. Listings never show a token's secret or digest, nor the short password-change
tokens (``users.PASSWORD_CHANGE_KIND``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa

from indunet.core import audit
from indunet.core.errors import NotFound
from indunet.core.secrets import token_digest
from indunet.core.tables import tokens, users
from indunet.core.users import PASSWORD_CHANGE_KIND, Role, User

SESSION_KIND = "session"


@dataclass(frozen=True, slots=True)
class TokenInfo:
    """A token as listed: whose, what for, and when it stops working (never its secret)."""

    id: int
    username: str
    name: str
    kind: str
    created_at: datetime
    expires_at: datetime | None
    last_used_at: datetime | None = None
    source: str = ""

    def to_json(self) -> dict[str, Any]:
        """API shape."""
        return {
            "id": self.id,
            "username": self.username,
            "name": self.name,
            "kind": self.kind,
            "created_at": self.created_at.isoformat(),
            "expires_at": self.expires_at.isoformat() if self.expires_at else None,
            "last_used_at": self.last_used_at.isoformat() if self.last_used_at else None,
            "source": self.source,
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
    tokens.c.last_used_at,
    tokens.c.source,
)


def _info(r: Any) -> TokenInfo:
    return TokenInfo(
        r[0], r[1], r[2], r[3], _utc(r[4]) or datetime.now(UTC), _utc(r[5]), _utc(r[6]), r[7]
    )


def _listing(
    viewer: User, username: str | None, kind: str | None, q: str
) -> list[sa.ColumnElement[bool]]:
    where: list[sa.ColumnElement[bool]] = [
        sa.or_(tokens.c.expires_at.is_(None), tokens.c.expires_at > datetime.now(UTC)),
        tokens.c.kind != PASSWORD_CHANGE_KIND,
    ]
    if not _sees_every_token(viewer):
        where.append(tokens.c.user_id == viewer.id)
    if username is not None:
        where.append(users.c.username == username)
    if kind is not None:
        where.append(tokens.c.kind == kind)
    if q:
        text = q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        where.append(tokens.c.name.like(f"%{text}%", escape="\\"))
    return where


def list_tokens(
    conn: sa.Connection,
    viewer: User,
    *,
    username: str | None = None,
    kind: str | None = None,
    q: str = "",
    offset: int = 0,
    limit: int | None = None,
) -> list[TokenInfo]:
    """Tokens that have not expired, newest first: every user's for admins, else the viewer's;
    ``kind`` (``api``, ``session``) and ``q`` (in the name) narrow, ``offset``/``limit`` page."""
    q_ = (
        sa.select(*_COLS)
        .join(users, users.c.id == tokens.c.user_id)
        .where(*_listing(viewer, username, kind, q))
        .order_by(tokens.c.id.desc())
        .offset(offset)
    )
    if limit is not None:
        q_ = q_.limit(limit)
    return [_info(r) for r in conn.execute(q_)]


def count_tokens(
    conn: sa.Connection,
    viewer: User,
    *,
    username: str | None = None,
    kind: str | None = None,
    q: str = "",
) -> int:
    """How many tokens ``list_tokens`` finds with the same filters, over every page."""
    found = conn.execute(
        sa.select(sa.func.count())
        .select_from(tokens.join(users, users.c.id == tokens.c.user_id))
        .where(*_listing(viewer, username, kind, q))
    )
    return int(found.scalar_one())


def revoke_token_by_id(
    conn: sa.Connection, token_id: int, by: User, *, kind: str | None = None
) -> TokenInfo:
    """Revoke a token by its id; another user's token is ``NotFound`` unless ``by`` is an admin
    (and so is a token of another ``kind`` than the one asked for)."""
    q = sa.select(*_COLS, tokens.c.user_id).join(users, users.c.id == tokens.c.user_id)
    row = conn.execute(
        q.where(tokens.c.id == token_id, tokens.c.kind != PASSWORD_CHANGE_KIND)
    ).first()
    if (
        row is None
        or not (_sees_every_token(by) or row[8] == by.id)
        or (kind is not None and row[3] != kind)
    ):
        raise NotFound(f"no token {token_id}", reason="token_not_found", params={"id": token_id})
    conn.execute(tokens.delete().where(tokens.c.id == token_id))
    info = _info(row)
    action = "session.revoke" if info.kind == SESSION_KIND else "token.revoke"
    audit.record(
        conn, by.actor, action, f"user:{info.username}", {"id": info.id, "name": info.name}
    )
    return info


def revoke_sessions(conn: sa.Connection, user: User, *, keep: str | None = None) -> int:
    """End ``user``'s console sessions, all but the one whose token is ``keep``; how many ended."""
    q = tokens.delete().where(tokens.c.user_id == user.id, tokens.c.kind == SESSION_KIND)
    if keep:
        q = q.where(tokens.c.token_hash != token_digest(keep))
    ended = conn.execute(q).rowcount or 0
    action = "session.revoke_others" if keep else "session.revoke_all"
    audit.record(conn, user.actor, action, f"user:{user.username}", {"ended": ended})
    return ended


def revoke_all(conn: sa.Connection, user_id: int) -> int:
    """Forget every token of a user (disabled, or given a new password); how many there were."""
    return conn.execute(tokens.delete().where(tokens.c.user_id == user_id)).rowcount or 0


def token_id(conn: sa.Connection, token: str) -> int | None:
    """The id of a token by its secret (the console's own session), or ``None``."""
    found = conn.execute(
        sa.select(tokens.c.id).where(tokens.c.token_hash == token_digest(token))
    ).scalar()
    return int(found) if found is not None else None
