"""Shared FastAPI dependencies: the app state and the current user."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Path, Query, Request
from pydantic import Field

from indunet.core import AuthenticationFailed, NotFound, PermissionDenied, Role, User
from indunet.web.auth import SESSION_COOKIE, token_user
from indunet.web.platform import Platform
from indunet.web.state import AppState


def get_state(request: Request) -> AppState:
    """The app state."""
    state: AppState = request.app.state.indunet
    return state


StateDep = Annotated[AppState, Depends(get_state)]


def current_user(request: Request, state: StateDep) -> User:
    """The user of a Bearer token or console session, or 401."""
    auth = request.headers.get("authorization", "")
    if auth.lower().startswith("bearer "):
        return token_user(state.engine, auth[7:].strip())
    session = request.cookies.get(SESSION_COOKIE)
    if session:
        return token_user(state.engine, session)
    raise AuthenticationFailed("log in or send 'Authorization: Bearer <token>'")


UserDep = Annotated[User, Depends(current_user)]


def get_platform(state: StateDep) -> Platform:
    """The platform services of this process."""
    if state.platform is None:
        raise NotFound("this process is an identifier node only: it runs no device platform")
    return state.platform


PlatformDep = Annotated[Platform, Depends(get_platform)]


def require(user: User, *roles: Role) -> None:
    """Raise ``PermissionDenied`` unless ``user`` has one of ``roles``."""
    if user.role not in roles:
        raise PermissionDenied(
            f"{user.username} ({user.role}) may not do this; it needs {' or '.join(roles)}"
        )


#: The largest integer a 64-bit database column (SQLite INTEGER, PostgreSQL BIGINT) holds.
MAX_DB_INT = 2**63 - 1
_ID = "a database id: a whole number from 1 to 2^63-1"
#: A database id in the path, e.g. ``/alarms/{alarm_id}``; out of range is a 422, not a 500.
PathId = Annotated[int, Path(ge=1, le=MAX_DB_INT, description=_ID)]
#: An optional database id in the query string, e.g. ``?enterprise_id=`` or ``?before_id=``.
QueryId = Annotated[int | None, Query(ge=1, le=MAX_DB_INT, description=_ID)]
#: A database id in a JSON body (pydantic field type).
BodyId = Annotated[int, Field(ge=1, le=MAX_DB_INT, description=_ID)]
