"""Users with roles, API tokens stored hashed, and the first admin created on first start."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

import sqlalchemy as sa

from indunet.core import audit
from indunet.core.errors import AuthenticationFailed, Conflict, InvalidInput, NotFound
from indunet.core.passwords import check_password
from indunet.core.secrets import (
    hash_secret,
    new_secret,
    token_digest,
    verify_nothing,
    verify_secret,
)
from indunet.core.tables import tokens, users


class Role(StrEnum):
    """What a user may do. Enterprise roles are bound to one enterprise."""

    PLATFORM_ADMIN = "platform_admin"
    REGULATOR = "regulator"
    ENTERPRISE_ADMIN = "enterprise_admin"
    ENTERPRISE_USER = "enterprise_user"


ENTERPRISE_ROLES = frozenset({Role.ENTERPRISE_ADMIN, Role.ENTERPRISE_USER})
ADMIN_USERNAME = "admin"
DEFAULT_TOKEN_TTL = timedelta(days=90)
MAX_TOKEN_TTL = timedelta(days=365)


@dataclass(frozen=True, slots=True)
class User:
    """An authenticated person or service account."""

    id: int
    username: str
    role: Role
    enterprise_id: int | None

    @property
    def actor(self) -> str:
        """Name used in the audit log."""
        return f"user:{self.username}"


def _user(row: Sequence[Any]) -> User:
    return User(id=row[0], username=row[1], role=Role(row[2]), enterprise_id=row[3])


_COLS = (users.c.id, users.c.username, users.c.role, users.c.enterprise_id)


def create_user(
    conn: sa.Connection,
    *,
    username: str,
    password: str,
    role: Role,
    actor: str,
    enterprise_id: int | None = None,
) -> User:
    """Create a user; enterprise roles need an enterprise, platform roles must not have one."""
    username = username.strip()
    if (
        not username
        or len(username) > 64
        or not username.replace("-", "").replace("_", "").replace(".", "").isalnum()
    ):
        raise InvalidInput("username must be 1 to 64 letters, digits, '.', '-' or '_'")
    check_password(password, username)
    if (role in ENTERPRISE_ROLES) != (enterprise_id is not None):
        raise InvalidInput(
            f"role {role} {'needs' if role in ENTERPRISE_ROLES else 'cannot have'} an enterprise"
        )
    if conn.execute(sa.select(users.c.id).where(users.c.username == username)).first():
        raise Conflict(f"user {username!r} already exists")
    new_id = conn.execute(
        users.insert()
        .values(
            username=username,
            password_hash=hash_secret(password),
            role=role.value,
            enterprise_id=enterprise_id,
            created_at=datetime.now(UTC),
        )
        .returning(users.c.id)
    ).scalar_one()
    audit.record(conn, actor, "user.create", f"user:{username}", {"role": role.value})
    return User(id=int(new_id), username=username, role=role, enterprise_id=enterprise_id)


def ensure_admin(conn: sa.Connection) -> str | None:
    """Create the platform admin on first start; return its password once, else ``None``."""
    if conn.execute(sa.select(users.c.id).where(users.c.role == Role.PLATFORM_ADMIN.value)).first():
        return None
    password = new_secret(18)
    create_user(
        conn, username=ADMIN_USERNAME, password=password, role=Role.PLATFORM_ADMIN, actor="system"
    )
    return password


def authenticate(conn: sa.Connection, username: str, password: str) -> User:
    """Check a username and password; the error never says which of the two was wrong."""
    row = conn.execute(
        sa.select(*_COLS, users.c.password_hash).where(users.c.username == username.strip())
    ).first()
    ok = verify_nothing(password) if row is None else verify_secret(password, row[4])
    if row is None or not ok:
        raise AuthenticationFailed("wrong username or password")
    return _user(row)


def get_user(conn: sa.Connection, username: str) -> User:
    """Find a user by name, or raise ``NotFound``."""
    row = conn.execute(sa.select(*_COLS).where(users.c.username == username)).first()
    if row is None:
        raise NotFound(f"no user {username!r}")
    return _user(row)


def list_users(conn: sa.Connection) -> list[User]:
    """All users by name."""
    return [_user(r) for r in conn.execute(sa.select(*_COLS).order_by(users.c.username))]


def issue_token(
    conn: sa.Connection, user: User, *, name: str, kind: str = "api", ttl: timedelta | None = None
) -> str:
    """Create a token for ``user`` and return it; only its SHA-256 digest is stored.

    It expires after ``ttl``: ``DEFAULT_TOKEN_TTL`` when not given, at most ``MAX_TOKEN_TTL``.
    Tokens that have expired are deleted on the way.
    """
    return issue_expiring_token(conn, user, name=name, kind=kind, ttl=ttl)[0]


def issue_expiring_token(
    conn: sa.Connection, user: User, *, name: str, kind: str = "api", ttl: timedelta | None = None
) -> tuple[str, datetime]:
    """``issue_token``, returning the token and when it expires."""
    if ttl is None:
        ttl = DEFAULT_TOKEN_TTL
    if ttl <= timedelta(0) or ttl > MAX_TOKEN_TTL:
        raise InvalidInput(
            f"a token lifetime must be positive and at most {MAX_TOKEN_TTL.days} days, not {ttl}"
        )
    token = "idn_" + new_secret(32)
    now = datetime.now(UTC)
    conn.execute(tokens.delete().where(tokens.c.expires_at <= now))
    conn.execute(
        tokens.insert().values(
            user_id=user.id,
            token_hash=token_digest(token),
            name=name,
            kind=kind,
            created_at=now,
            expires_at=now + ttl,
        )
    )
    if kind == "api":
        audit.record(
            conn,
            user.actor,
            "token.create",
            f"user:{user.username}",
            {"name": name, "expires_at": (now + ttl).isoformat()},
        )
    return token, now + ttl


def user_for_token(conn: sa.Connection, token: str) -> User:
    """Return the user a token belongs to, or raise ``AuthenticationFailed``."""
    row = conn.execute(
        sa.select(*_COLS, tokens.c.expires_at)
        .join(tokens, tokens.c.user_id == users.c.id)
        .where(tokens.c.token_hash == token_digest(token))
    ).first()
    if row is None:
        raise AuthenticationFailed("unknown or revoked token")
    expires = row[4]
    if expires is not None:
        if expires.tzinfo is None:
            expires = expires.replace(tzinfo=UTC)
        if expires < datetime.now(UTC):
            raise AuthenticationFailed("token has expired")
    return _user(row)


def revoke_token(conn: sa.Connection, token: str) -> None:
    """Forget a token (logout)."""
    conn.execute(tokens.delete().where(tokens.c.token_hash == token_digest(token)))
