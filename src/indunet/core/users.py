"""Users with roles, API tokens stored hashed, and the first admin created on first start."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

import sqlalchemy as sa

from indunet.core import audit
from indunet.core.errors import (
    AuthenticationFailed,
    Conflict,
    InvalidInput,
    NotFound,
    PermissionDenied,
)
from indunet.core.passwords import check_password
from indunet.core.secrets import (
    hash_secret,
    new_secret,
    token_digest,
    verify_nothing,
    verify_secret,
)
from indunet.core.tables import enterprises, tokens, users


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
#: The kind of the short token that lets a user with a temporary password set their own
#: (``accounts.finish_password_change``); it authenticates nothing else.
PASSWORD_CHANGE_KIND = "password_change"  # noqa: S105 (a token kind, not a secret)
MAX_TOKEN_NAME = 100
#: How often a token's ``last_used_at`` moves at most (it costs a write).
TOUCH_EVERY = timedelta(minutes=5)


class PasswordChangeRequired(PermissionDenied):
    """The password was right but is temporary: the user must set their own before anything
    else (the console asks at once; the API refuses until then)."""

    code = "password_change_required"

    def __init__(self, user: User) -> None:
        super().__init__(
            f"{user.username} has a temporary password: set a new one in the console first",
            reason="password_change_required",
        )
        self.user = user


class EnterpriseNotApproved(PermissionDenied):
    """The password was right, but the user's enterprise applied by itself
    (``core.registration``) and a platform admin has not approved it: its ``reason`` is
    ``enterprise_pending_review``, or ``enterprise_rejected`` with the reviewer's reason in
    ``params``."""

    code = "enterprise_not_approved"

    def __init__(
        self, message: str, *, reason: str, params: dict[str, Any], user: User | None = None
    ) -> None:
        super().__init__(message, reason=reason, params=params)
        #: The user whose password was right (what ``core.registration`` lets submit documents).
        self.user = user


def review_gate(
    applied: bool | None, state: str | None, reason: str | None
) -> tuple[str, str, dict[str, Any]] | None:
    """Why a user of an enterprise in this review state may not log in, as ``(message,
    reason, params)``, or ``None`` if they may. Only self-registered enterprises are held:
    one an admin added opens whatever its review says."""
    if not applied or state == "approved":
        return None
    if state == "rejected":
        text = reason or ""
        return (
            f"your enterprise's application was rejected: {text}",
            "enterprise_rejected",
            {"reason": text},
        )
    return (
        "your enterprise's application awaits review by a platform administrator",
        "enterprise_pending_review",
        {},
    )


_GATE_COLS = (
    enterprises.c.self_registered,
    enterprises.c.review_state,
    enterprises.c.review_reason,
)
_WITH_ENTERPRISE = users.outerjoin(enterprises, enterprises.c.id == users.c.enterprise_id)


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


def check_username(username: str) -> str:
    """``username`` trimmed, or ``InvalidInput`` unless it is 1 to 64 letters, digits, '.',
    '-' or '_'."""
    username = username.strip()
    if (
        not username
        or len(username) > 64
        or not username.replace("-", "").replace("_", "").replace(".", "").isalnum()
    ):
        raise InvalidInput(
            "username must be 1 to 64 letters, digits, '.', '-' or '_'", reason="username_invalid"
        )
    return username


def create_user(
    conn: sa.Connection,
    *,
    username: str,
    password: str,
    role: Role,
    actor: str,
    enterprise_id: int | None = None,
    temporary: timedelta | None = None,
) -> User:
    """Create a user; enterprise roles need an enterprise, platform roles must not have one.

    With ``temporary``, the password is a one-time password that works for that long and
    must be replaced at the first login (an invitation).
    """
    username = check_username(username)
    check_password(password, username)
    if (role in ENTERPRISE_ROLES) != (enterprise_id is not None):
        needs = role in ENTERPRISE_ROLES
        raise InvalidInput(
            f"role {role} {'needs' if needs else 'cannot have'} an enterprise",
            reason="role_needs_enterprise" if needs else "role_without_enterprise",
            params={"role": role.value},
        )
    if conn.execute(sa.select(users.c.id).where(users.c.username == username)).first():
        raise Conflict(
            f"user {username!r} already exists", reason="user_exists", params={"username": username}
        )
    now = datetime.now(UTC)
    new_id = conn.execute(
        users.insert()
        .values(
            username=username,
            password_hash=hash_secret(password),
            role=role.value,
            enterprise_id=enterprise_id,
            created_at=now,
            must_change_password=temporary is not None,
            password_expires_at=now + temporary if temporary is not None else None,
        )
        .returning(users.c.id)
    ).scalar_one()
    detail: dict[str, Any] = {"role": role.value}
    if temporary is not None:
        detail["temporary_password_expires_at"] = (now + temporary).isoformat()
    audit.record(
        conn, actor, "user.create", f"user:{username}", detail, enterprise_id=enterprise_id
    )
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


def _utc(at: datetime | None) -> datetime | None:
    return at.replace(tzinfo=UTC) if at is not None and at.tzinfo is None else at


def authenticate(conn: sa.Connection, username: str, password: str) -> User:
    """Check a username and password; the error never says which of the two was wrong.

    Only with the right password does it say more: a disabled account (401
    ``account_disabled``), an expired temporary password (401 ``temporary_password_expired``),
    a temporary password that must be replaced (``PasswordChangeRequired``, 403), an
    enterprise that applied by itself and is not approved (``EnterpriseNotApproved``, 403).
    """
    row = conn.execute(
        sa.select(
            *_COLS,
            users.c.password_hash,
            users.c.disabled,
            users.c.must_change_password,
            users.c.password_expires_at,
            *_GATE_COLS,
        )
        .select_from(_WITH_ENTERPRISE)
        .where(users.c.username == username.strip())
    ).first()
    ok = verify_nothing(password) if row is None else verify_secret(password, row[4])
    if row is None or not ok:
        raise AuthenticationFailed("wrong username or password", reason="wrong_password")
    user = _user(row)
    if row[5]:
        raise AuthenticationFailed(
            f"the account {user.username} is disabled; ask an administrator",
            reason="account_disabled",
        )
    expires = _utc(row[7])
    if expires is not None and expires <= datetime.now(UTC):
        raise AuthenticationFailed(
            "the temporary password has expired; ask an administrator for a new one",
            reason="temporary_password_expired",
        )
    held = review_gate(row[8], row[9], row[10])
    if held is not None:
        raise EnterpriseNotApproved(held[0], reason=held[1], params=held[2], user=user)
    if row[6]:
        raise PasswordChangeRequired(user)
    return user


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
    conn: sa.Connection,
    user: User,
    *,
    name: str,
    kind: str = "api",
    ttl: timedelta | None = None,
    source: str = "",
) -> str:
    """Create a token for ``user`` and return it; only its SHA-256 digest is stored.

    It expires after ``ttl``: ``DEFAULT_TOKEN_TTL`` when not given, at most ``MAX_TOKEN_TTL``.
    Tokens that have expired are deleted on the way.
    """
    return issue_expiring_token(conn, user, name=name, kind=kind, ttl=ttl, source=source)[0]


def issue_expiring_token(
    conn: sa.Connection,
    user: User,
    *,
    name: str,
    kind: str = "api",
    ttl: timedelta | None = None,
    source: str = "",
) -> tuple[str, datetime]:
    """``issue_token``, returning the token and when it expires; ``source`` is the address
    a console session logs in from."""
    if ttl is None:
        ttl = DEFAULT_TOKEN_TTL
    if ttl <= timedelta(0) or ttl > MAX_TOKEN_TTL:
        raise InvalidInput(
            f"a token lifetime must be positive and at most {MAX_TOKEN_TTL.days} days, not {ttl}",
            reason="token_lifetime",
            params={"max": MAX_TOKEN_TTL.days},
        )
    name = name.strip()
    if not name or len(name) > MAX_TOKEN_NAME:
        raise InvalidInput(
            f"a token name must have 1 to {MAX_TOKEN_NAME} characters",
            reason="token_name",
            params={"max": MAX_TOKEN_NAME},
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
            source=source[:100],
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
    return token_use(conn, token)[0]


def token_use(conn: sa.Connection, token: str) -> tuple[User, int | None]:
    """The user a token belongs to, and the token's id if its ``last_used_at`` is older than
    ``TOUCH_EVERY`` (the caller moves it with ``touch_token``), else ``None``.

    A disabled user's tokens, every token of a user who must change a temporary password,
    and those of a self-registered enterprise that is not (or no longer) approved stop
    working at once; the password-change token authenticates nothing here.
    """
    row = conn.execute(
        sa.select(
            *_COLS,
            tokens.c.expires_at,
            tokens.c.id,
            tokens.c.last_used_at,
            users.c.disabled,
            users.c.must_change_password,
            *_GATE_COLS,
        )
        .select_from(_WITH_ENTERPRISE)
        .join(tokens, tokens.c.user_id == users.c.id)
        .where(tokens.c.token_hash == token_digest(token))
        .where(tokens.c.kind != PASSWORD_CHANGE_KIND)
    ).first()
    if row is None:
        raise AuthenticationFailed("unknown or revoked token")
    now = datetime.now(UTC)
    expires = _utc(row[4])
    if expires is not None and expires < now:
        raise AuthenticationFailed("token has expired")
    if row[7]:
        raise AuthenticationFailed("the account is disabled", reason="account_disabled")
    if row[8]:
        raise AuthenticationFailed(
            "the password must be changed first", reason="password_change_required"
        )
    held = review_gate(row[9], row[10], row[11])
    if held is not None:
        raise AuthenticationFailed(held[0], reason=held[1], params=held[2])
    used = _utc(row[6])
    stale = used is None or now - used >= TOUCH_EVERY
    return _user(row), int(row[5]) if stale else None


def touch_token(conn: sa.Connection, token_id: int) -> None:
    """Note that a token was used now."""
    conn.execute(
        tokens.update().where(tokens.c.id == token_id).values(last_used_at=datetime.now(UTC))
    )


def revoke_token(conn: sa.Connection, token: str) -> None:
    """Forget a token (logout)."""
    conn.execute(tokens.delete().where(tokens.c.token_hash == token_digest(token)))
