"""Turning request credentials into principals: Handle Basic auth, Handle challenge-response
sessions (HS_PUBKEY), API tokens, console sessions."""

from __future__ import annotations

import base64
import binascii
from urllib.parse import unquote

import sqlalchemy as sa
from starlette.requests import HTTPConnection
from starlette.types import Scope

from indunet.core import Logins, NotFound, PermissionDenied, Role, User, users
from indunet.ids import (
    OPERATOR,
    AuthenticationFailed,
    AuthenticationNeeded,
    Node,
    Principal,
    authheader,
    enterprise_prefixes,
    handle,
)
from indunet.ids.sessions import Challenge, SessionExpired, Sessions, digest
from indunet.ids.values import HandleValue

SESSION_COOKIE = "indunet_session"


def client_address(request: HTTPConnection) -> str:
    """The peer address logins are throttled and audited by (proxies' headers are not trusted)."""
    return request.client.host if request.client else "unknown"


def peer_address(scope: Scope) -> str | None:
    """The peer address of a request's ASGI scope, None when the server does not know it
    (what signals note; proxies' headers are not trusted)."""
    client = scope.get("client")
    return client[0] if client else None


def split_basic(header: str) -> tuple[str, str]:
    """Decode ``Basic`` credentials into ``(index:handle, secret)``.

    The username contains a colon itself; clients such as pyhandle percent-encode it
    (``300%3A0.NA/88.100.1``), others send it raw (``300:0.NA/88.100.1:secret``).
    """
    try:
        raw = base64.b64decode(header.split(" ", 1)[1].strip(), validate=True).decode()
    except (IndexError, binascii.Error, UnicodeDecodeError):
        raise AuthenticationFailed(
            "the Basic credentials are not valid base64 of user:password"
        ) from None
    first, sep, rest = raw.partition(":")
    if not sep:
        raise AuthenticationFailed("the Basic credentials have no ':' before the password")
    if "%3A" in first.upper() or not first.isdigit():
        return unquote(first), rest
    handle, sep, secret = rest.partition(":")
    if not sep:
        raise AuthenticationFailed("credentials must be index:handle and a password")
    return f"{first}:{handle}", secret


def principal_for_user(engine: sa.Engine, user: User) -> Principal:
    """What a platform user may manage: everything (admins), nothing (regulators), or their prefixes."""
    if user.role == Role.PLATFORM_ADMIN:
        return Principal(actor=user.actor, identity=None, prefixes=None)
    if user.enterprise_id is None:
        return Principal(actor=user.actor, prefixes=frozenset())
    return Principal(
        actor=user.actor,
        prefixes=enterprise_prefixes(engine, user.enterprise_id),
        platform_records=user.role != Role.ENTERPRISE_USER,
    )


def template_manager(engine: sa.Engine, user: User, prefix: str) -> Principal:
    """The principal of ``user`` if they may manage templates of ``prefix``.

    Another enterprise's prefix is not found (``core.access``: 404, as for a missing one); a
    regulator or enterprise user, who may read but not change, is refused (403).
    """
    principal = principal_for_user(engine, user)
    norm = handle.normalise_prefix(prefix)
    if user.role == Role.REGULATOR:
        raise PermissionDenied(f"{user.username} ({user.role}) may not change templates")
    if not principal.is_superuser and not any(
        handle.is_under(norm, p) for p in principal.prefixes or ()
    ):
        raise NotFound(f"no prefix {prefix}")
    if user.role == Role.ENTERPRISE_USER:
        raise PermissionDenied("only enterprise admins and platform admins manage templates")
    return principal


def token_user(engine: sa.Engine, token: str) -> User:
    """The user behind an API or session token; its last use is noted every few minutes."""
    with engine.connect() as conn:
        user, stale = users.token_use(conn, token)
    if stale is not None:
        with engine.begin() as conn:
            users.touch_token(conn, stale)
    return user


def handle_session_principal(
    engine: sa.Engine,
    node: Node,
    authorization: str,
    sessions: Sessions,
    *,
    logins: Logins,
    source: str,
) -> Principal:
    """Who an ``Authorization: Handle …`` header acts as (``ids.sessions``).

    Without ``sessionId`` a fresh session is offered in the 401's challenge; a challenge
    answer is throttled and audited per ``source`` like Basic credentials.
    """
    auth = authheader.parse(authorization)
    if auth.session_id is None:
        offered = sessions.open(node.name)
        raise Challenge(
            offered,
            "sign the nonce of the session offered in WWW-Authenticate and send it with "
            "sessionId (or open one with POST /api/sessions)",
        )
    session = sessions.get(auth.session_id, node.name)
    if session is None:
        raise SessionExpired()
    if not auth.answering:
        return sessions.principal(session)

    def lookup(key: str) -> tuple[str, list[HandleValue]] | None:
        rec = node.store.get(key)
        return (rec.handle, rec.values) if rec is not None else None

    return logins.attempt(
        engine,
        (auth.id or "")[:200],
        source,
        "handle-pubkey",
        lambda: sessions.answer(session, auth, digest(authorization), lookup),
        per_account=False,
    )


def write_principal(
    engine: sa.Engine,
    node: Node,
    authorization: str | None,
    session: str | None,
    *,
    logins: Logins,
    source: str,
    sessions: Sessions | None = None,
) -> Principal:
    """Authenticate a write to the Handle API by Basic, a Handle session (HS_PUBKEY), Bearer
    token, or console session.

    Basic credentials are throttled per ``source`` (identities are public, so a lock per
    identity would let anyone lock its owner out) and failures audited
    (``logins``); malformed credentials fail before that, costing nothing.
    """
    if authorization:
        scheme = authorization.split(" ", 1)[0].lower()
        if scheme == "basic":
            username, secret = split_basic(authorization)
            return logins.attempt(
                engine,
                username,
                source,
                "handle",
                lambda: node.authenticate(username, secret),
                per_account=False,  # prefix identities are public: no stranger may lock them
            )
        if scheme == "handle" and sessions is not None:
            return handle_session_principal(
                engine, node, authorization, sessions, logins=logins, source=source
            )
        if scheme == "bearer":
            return principal_for_user(
                engine, token_user(engine, authorization.split(" ", 1)[1].strip())
            )
        raise AuthenticationFailed(
            f"authorization scheme {scheme!r} is not supported; use Basic, Handle or Bearer"
        )
    if session:
        return principal_for_user(engine, token_user(engine, session))
    raise AuthenticationNeeded(
        "this operation needs credentials: Basic index:handle or a Bearer token"
    )


__all__ = [
    "OPERATOR",
    "SESSION_COOKIE",
    "client_address",
    "handle_session_principal",
    "principal_for_user",
    "split_basic",
    "template_manager",
    "token_user",
    "write_principal",
]
