"""Administering accounts: the users list, invitations, roles, disabling, password resets, and
changing one's own password. Every change is checked by ``core.access`` and audited.

Who may do what: platform admins manage every user and give any role; enterprise admins
manage their own enterprise's users and give enterprise roles only (another enterprise's user,
or a platform user, is not found to them); regulators and enterprise users read, never change.
Nobody changes their own role, disables themselves or resets their own password here (their
own password is changed with the current one, ``change_own_password``).

Invitations and resets hand out a one-time temporary password (shown once, valid for
``TEMPORARY_PASSWORD_TTL``) that must be replaced at the first login; a reset, like disabling,
ends every session and API token of the user at once.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa

from indunet.core import access, audit, tokens
from indunet.core.enterprises import get_enterprise_by_id
from indunet.core.errors import AuthenticationFailed, InvalidInput, NotFound, PermissionDenied
from indunet.core.passwords import check_password
from indunet.core.secrets import hash_secret, new_secret, token_digest, verify_secret
from indunet.core.tables import enterprises, users
from indunet.core.tables import tokens as token_table
from indunet.core.users import (
    ENTERPRISE_ROLES,
    PASSWORD_CHANGE_KIND,
    Role,
    User,
    create_user,
    issue_token,
)

#: How long an invitation's or a reset's temporary password works.
TEMPORARY_PASSWORD_TTL = timedelta(days=7)
#: How long a user with a temporary password has to choose their own after logging in.
PASSWORD_CHANGE_TTL = timedelta(minutes=15)
#: Sort keys of the users list.
SORTS = ("username", "role", "created", "last_login")
STATUSES = ("active", "disabled", "pending")


@dataclass(frozen=True, slots=True)
class Account:
    """A user as the users page shows them."""

    id: int
    username: str
    role: Role
    enterprise_id: int | None
    enterprise_name: str
    disabled: bool
    must_change_password: bool
    password_expires_at: datetime | None
    created_at: datetime
    last_login_at: datetime | None

    @property
    def user(self) -> User:
        """The account as a ``User``."""
        return User(self.id, self.username, self.role, self.enterprise_id)

    @property
    def status(self) -> str:
        """``disabled``, ``pending`` (a temporary password not yet replaced) or ``active``."""
        if self.disabled:
            return "disabled"
        return "pending" if self.must_change_password else "active"


def _utc(at: datetime | None) -> datetime | None:
    return at.replace(tzinfo=UTC) if at is not None and at.tzinfo is None else at


_COLS = (
    users.c.id,
    users.c.username,
    users.c.role,
    users.c.enterprise_id,
    sa.func.coalesce(enterprises.c.name, "").label("enterprise_name"),
    users.c.disabled,
    users.c.must_change_password,
    users.c.password_expires_at,
    users.c.created_at,
    users.c.last_login_at,
)
_FROM = users.outerjoin(enterprises, enterprises.c.id == users.c.enterprise_id)


def _account(r: Any) -> Account:
    return Account(
        id=r[0],
        username=r[1],
        role=Role(r[2]),
        enterprise_id=r[3],
        enterprise_name=r[4],
        disabled=bool(r[5]),
        must_change_password=bool(r[6]),
        password_expires_at=_utc(r[7]),
        created_at=_utc(r[8]) or datetime.now(UTC),
        last_login_at=_utc(r[9]),
    )


@dataclass(frozen=True, slots=True)
class UserQuery:
    """Filters of the users list: text in the username or enterprise name, role, status,
    enterprise (overseers only; others always see their own)."""

    q: str = ""
    role: str = ""
    status: str = ""
    enterprise_id: int | None = None


def find_accounts(
    conn: sa.Connection,
    viewer: User,
    query: UserQuery,
    *,
    offset: int = 0,
    limit: int = 20,
    sort: str = "username",
    desc: bool = False,
) -> tuple[list[Account], int]:
    """One page of the users ``viewer`` may see and how many match in all."""
    eid = access.scope(viewer, query.enterprise_id)
    where: list[sa.ColumnElement[bool]] = []
    if eid is not None:
        where.append(users.c.enterprise_id == eid)
    if query.q:
        text = query.q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        pattern = f"%{text}%"
        named = sa.select(enterprises.c.id).where(enterprises.c.name.like(pattern, escape="\\"))
        where.append(
            sa.or_(users.c.username.like(pattern, escape="\\"), users.c.enterprise_id.in_(named))
        )
    if query.role in {r.value for r in Role}:
        where.append(users.c.role == query.role)
    if query.status == "disabled":
        where.append(users.c.disabled.is_(True))
    elif query.status == "pending":
        where.extend((users.c.disabled.is_(False), users.c.must_change_password.is_(True)))
    elif query.status == "active":
        where.extend((users.c.disabled.is_(False), users.c.must_change_password.is_(False)))
    column = {
        "role": users.c.role,
        "created": users.c.created_at,
        "last_login": users.c.last_login_at,
    }.get(sort, users.c.username)
    order = [column.desc() if desc else column.asc(), users.c.id]
    rows = conn.execute(
        sa.select(*_COLS)
        .select_from(_FROM)
        .where(*where)
        .order_by(*order)
        .offset(offset)
        .limit(limit)
    )
    found = [_account(r) for r in rows]
    total = conn.execute(sa.select(sa.func.count()).select_from(users).where(*where)).scalar_one()
    return found, int(total)


def get_account(conn: sa.Connection, viewer: User, user_id: int) -> Account:
    """One user ``viewer`` may see; another enterprise's (or a platform user, for a tenant) is
    ``NotFound``."""
    row = conn.execute(sa.select(*_COLS).select_from(_FROM).where(users.c.id == user_id)).first()
    if row is None:
        raise _no_user(user_id)
    account = _account(row)
    if not access.can_see(viewer, account.enterprise_id):
        raise _no_user(user_id)
    return account


def _no_user(user_id: int) -> NotFound:
    return NotFound(f"no user {user_id}", reason="user_not_found", params={"id": user_id})


def assignable_roles(viewer: User) -> tuple[Role, ...]:
    """The roles ``viewer`` may give: every role (platform admins), the enterprise roles
    (enterprise admins), none (everyone else)."""
    if viewer.role is Role.PLATFORM_ADMIN:
        return tuple(Role)
    if viewer.role is Role.ENTERPRISE_ADMIN:
        return (Role.ENTERPRISE_ADMIN, Role.ENTERPRISE_USER)
    return ()


def _check_role(by: User, role: Role) -> None:
    if role not in assignable_roles(by):
        raise PermissionDenied(
            f"{by.username} ({by.role}) may not give the role {role}",
            reason="role_too_high",
            params={"role": role.value},
        )


def _changeable(conn: sa.Connection, by: User, user_id: int) -> Account:
    """The user ``by`` may change: not found, read-only (403) or themselves are refused."""
    account = get_account(conn, by, user_id)
    access.check_change(by, account.enterprise_id, f"user {user_id}")
    if account.id == by.id:
        raise InvalidInput(
            "change your own account under 'My account', not here", reason="own_account"
        )
    if account.role is Role.PLATFORM_ADMIN and by.role is not Role.PLATFORM_ADMIN:
        raise _no_user(user_id)  # unreachable by the access rule; kept as a second lock
    return account


def invite(
    conn: sa.Connection, by: User, *, username: str, role: Role, enterprise_id: int | None
) -> tuple[User, str, datetime]:
    """Create a user with a temporary password; the user, the password (shown once) and when
    it stops working. Enterprise roles are made in ``by``'s enterprise (tenants) or the one
    named (platform admins); platform roles in none."""
    if by.role not in access.CHANGERS:
        raise PermissionDenied(
            f"{by.username} ({by.role}) may not invite users", reason="may_not_manage_users"
        )
    _check_role(by, role)
    if role in ENTERPRISE_ROLES:
        eid = access.change_scope(by, enterprise_id, "invite users")
        if eid is None:
            raise InvalidInput(
                f"role {role} needs an enterprise",
                reason="role_needs_enterprise",
                params={"role": role.value},
            )
        get_enterprise_by_id(conn, eid)
    else:
        eid = None
    password = new_secret(15)
    user = create_user(
        conn,
        username=username,
        password=password,
        role=role,
        actor=by.actor,
        enterprise_id=eid,
        temporary=TEMPORARY_PASSWORD_TTL,
    )
    return user, password, datetime.now(UTC) + TEMPORARY_PASSWORD_TTL


def change_role(conn: sa.Connection, by: User, user_id: int, role: Role) -> Account:
    """Give a user another role of the same kind (enterprise roles among themselves, platform
    roles among themselves)."""
    account = _changeable(conn, by, user_id)
    _check_role(by, role)
    if (role in ENTERPRISE_ROLES) != (account.role in ENTERPRISE_ROLES):
        raise InvalidInput(
            f"{account.role} cannot become {role}: invite a new user instead",
            reason="role_kind",
            params={"old": account.role.value, "new": role.value},
        )
    if role is not account.role:
        conn.execute(users.update().where(users.c.id == user_id).values(role=role.value))
        audit.record(
            conn,
            by.actor,
            "user.role",
            f"user:{account.username}",
            {"from": account.role.value, "to": role.value},
            enterprise_id=account.enterprise_id,
        )
    return get_account(conn, by, user_id)


def set_disabled(conn: sa.Connection, by: User, user_id: int, *, disabled: bool) -> Account:
    """Disable a user (they cannot log in; every session and API token ends at once) or
    enable them again (they log in anew)."""
    account = _changeable(conn, by, user_id)
    ended = 0
    if disabled != account.disabled:
        conn.execute(users.update().where(users.c.id == user_id).values(disabled=disabled))
        if disabled:
            ended = tokens.revoke_all(conn, user_id)
        audit.record(
            conn,
            by.actor,
            "user.disable" if disabled else "user.enable",
            f"user:{account.username}",
            {"tokens_ended": ended} if disabled else {},
            enterprise_id=account.enterprise_id,
        )
    return get_account(conn, by, user_id)


def reset_password(conn: sa.Connection, by: User, user_id: int) -> tuple[Account, str, datetime]:
    """Give a user a new temporary password (shown once); their sessions and tokens end."""
    account = _changeable(conn, by, user_id)
    password, expires = set_temporary_password(
        conn, account.user, actor=by.actor, enterprise_id=account.enterprise_id
    )
    return get_account(conn, by, user_id), password, expires


def set_temporary_password(
    conn: sa.Connection, user: User, *, actor: str, enterprise_id: int | None
) -> tuple[str, datetime]:
    """The password reset itself, also the CLI's recovery path: a new one-time password that
    must be replaced at the next login, every token of the user ended. Audited."""
    password = new_secret(15)
    expires = datetime.now(UTC) + TEMPORARY_PASSWORD_TTL
    conn.execute(
        users.update()
        .where(users.c.id == user.id)
        .values(
            password_hash=hash_secret(password),
            must_change_password=True,
            password_expires_at=expires,
        )
    )
    ended = tokens.revoke_all(conn, user.id)
    audit.record(
        conn,
        actor,
        "user.password_reset",
        f"user:{user.username}",
        {"tokens_ended": ended, "expires_at": expires.isoformat()},
        enterprise_id=enterprise_id,
    )
    return password, expires


def _store_password(conn: sa.Connection, user: User, old_hash: str, new: str) -> None:
    if verify_secret(new, old_hash):
        raise InvalidInput(
            "the new password must differ from the old one", reason="password_unchanged"
        )
    check_password(new, user.username)
    conn.execute(
        users.update()
        .where(users.c.id == user.id)
        .values(
            password_hash=hash_secret(new), must_change_password=False, password_expires_at=None
        )
    )


def _hash_of(conn: sa.Connection, user_id: int) -> str:
    found = conn.execute(sa.select(users.c.password_hash).where(users.c.id == user_id)).scalar()
    if found is None:
        raise _no_user(user_id)
    return str(found)


def change_own_password(
    conn: sa.Connection, user: User, current: str, new: str, *, session: str | None = None
) -> int:
    """Set a new password, the current one given (a wrong one is ``AuthenticationFailed``
    ``current_password_wrong``: the caller throttles it like a login); the user's other
    console sessions end (the one whose token is ``session`` stays). How many ended."""
    old_hash = _hash_of(conn, user.id)
    if not verify_secret(current, old_hash):
        raise AuthenticationFailed("the current password is wrong", reason="current_password_wrong")
    _store_password(conn, user, old_hash, new)
    ended = tokens.revoke_sessions(conn, user, keep=session) if session else 0
    audit.record(conn, user.actor, "user.password_change", f"user:{user.username}")
    return ended


def begin_password_change(conn: sa.Connection, user: User) -> str:
    """The short token with which a user who logged in with a temporary password sets their
    own (it authenticates nothing else); an earlier one of the same user stops working."""
    conn.execute(
        token_table.delete().where(
            token_table.c.user_id == user.id, token_table.c.kind == PASSWORD_CHANGE_KIND
        )
    )
    return issue_token(
        conn, user, name="password change", kind=PASSWORD_CHANGE_KIND, ttl=PASSWORD_CHANGE_TTL
    )


def finish_password_change(conn: sa.Connection, token: str, new: str) -> User:
    """Set the password of the user of a password-change token (used up by this)."""
    row = conn.execute(
        sa.select(
            users.c.id,
            users.c.username,
            users.c.role,
            users.c.enterprise_id,
            users.c.password_hash,
            token_table.c.id,
            token_table.c.expires_at,
            users.c.disabled,
        )
        .join(token_table, token_table.c.user_id == users.c.id)
        .where(
            token_table.c.token_hash == token_digest(token),
            token_table.c.kind == PASSWORD_CHANGE_KIND,
        )
    ).first()
    expires = _utc(row[6]) if row is not None else None
    if row is None or row[7] or (expires is not None and expires <= datetime.now(UTC)):
        raise AuthenticationFailed(
            "this password form has expired; log in again", reason="password_change_expired"
        )
    user = User(row[0], row[1], Role(row[2]), row[3])
    _store_password(conn, user, row[4], new)
    conn.execute(token_table.delete().where(token_table.c.id == row[5]))
    note_login(conn, user)  # the login that began with the temporary password ends here
    audit.record(conn, user.actor, "user.password_change", f"user:{user.username}", {"first": True})
    return user


def note_login(conn: sa.Connection, user: User) -> None:
    """Remember when ``user`` last logged in with their password."""
    conn.execute(
        users.update().where(users.c.id == user.id).values(last_login_at=datetime.now(UTC))
    )


def is_disabled(conn: sa.Connection, user: User) -> bool:
    """Whether ``user``'s account is disabled."""
    found = conn.execute(sa.select(users.c.disabled).where(users.c.id == user.id)).scalar()
    return bool(found)


def enable(conn: sa.Connection, user: User, *, actor: str) -> None:
    """Enable a disabled account from the server itself (``indunet user reset-password
    --enable``); audited."""
    conn.execute(users.update().where(users.c.id == user.id).values(disabled=False))
    audit.record(
        conn, actor, "user.enable", f"user:{user.username}", enterprise_id=user.enterprise_id
    )


__all__ = [
    "TEMPORARY_PASSWORD_TTL",
    "Account",
    "UserQuery",
    "assignable_roles",
    "begin_password_change",
    "change_own_password",
    "change_role",
    "enable",
    "find_accounts",
    "finish_password_change",
    "get_account",
    "invite",
    "is_disabled",
    "note_login",
    "reset_password",
    "set_disabled",
    "set_temporary_password",
]
