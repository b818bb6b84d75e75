"""My account: change my password, my API tokens (create with a bounded lifetime, the secret
shown once; revoke), my console sessions (end one, the others, or all: log out everywhere)."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from starlette.responses import RedirectResponse, Response

from indunet import core
from indunet.core import IndunetError, User
from indunet.core.tokens import SESSION_KIND
from indunet.core.users import DEFAULT_TOKEN_TTL, MAX_TOKEN_NAME, MAX_TOKEN_TTL
from indunet.web.auth import SESSION_COOKIE, client_address
from indunet.web.console.forms import FormError
from indunet.web.console.i18n import N_
from indunet.web.console.pages import error_text, render
from indunet.web.console.paging import PageOf, paging_of
from indunet.web.console.session import ConsoleUser
from indunet.web.deps import PathId, StateDep
from indunet.web.state import AppState

router = APIRouter(include_in_schema=False)
#: Sessions listed at most (a session lives 12 hours, so a user rarely has more).
SESSIONS_SHOWN = 50


def _context(request: Request, state: AppState, user: User, **extra: Any) -> dict[str, Any]:
    paging = paging_of(request, sorts=())
    session = request.cookies.get(SESSION_COOKIE, "")
    with state.engine.connect() as conn:
        me = _only_mine(user)
        api = core.list_tokens(
            conn, me, kind="api", q=paging.q, offset=paging.offset, limit=paging.limit
        )
        total = core.tokens.count_tokens(conn, me, kind="api", q=paging.q)
        sessions = core.list_tokens(conn, me, kind=SESSION_KIND, limit=SESSIONS_SHOWN)
        session_total = core.tokens.count_tokens(conn, me, kind=SESSION_KIND)
        current = core.tokens.token_id(conn, session) if session else None
    ctx: dict[str, Any] = {
        "tokens": PageOf(api, total, paging),
        "sessions": sessions,
        "session_total": session_total,
        "current_session": current,
        "default_days": DEFAULT_TOKEN_TTL.days,
        "max_days": MAX_TOKEN_TTL.days,
        "max_name": MAX_TOKEN_NAME,
        "typed_name": "",
        "typed_days": DEFAULT_TOKEN_TTL.days,
    }
    ctx.update(extra)
    return ctx


def _page(
    request: Request, state: AppState, user: User, *, status: int = 200, **extra: Any
) -> Response:
    return render(
        request, "admin_account.html", _context(request, state, user, **extra), status=status
    )


@router.get("/admin")
def admin_home() -> Response:
    """The administration section opens on my account."""
    return RedirectResponse("/admin/account", status_code=303)


@router.get("/admin/account")
def account_page(request: Request, state: StateDep, user: ConsoleUser) -> Response:
    """My password, API tokens and sessions."""
    return _page(request, state, user)


@router.post("/admin/account/password")
def change_password(
    request: Request,
    state: StateDep,
    user: ConsoleUser,
    current: Annotated[str, Form(max_length=2048)] = "",
    password: Annotated[str, Form(max_length=2048)] = "",
    confirm: Annotated[str, Form(max_length=2048)] = "",
) -> Response:
    """Change my password (the current one checked and throttled like a login); my other
    sessions end, this one stays."""
    session = request.cookies.get(SESSION_COOKIE, "")

    def change() -> int:
        with state.engine.begin() as conn:
            return core.accounts.change_own_password(conn, user, current, password, session=session)

    try:
        if password != confirm:
            raise FormError(N_("admin.password.mismatch"))
        ended = state.logins.attempt(
            state.engine, user.username, client_address(request), "password_change", change
        )
    except (FormError, IndunetError) as exc:
        status = exc.status if isinstance(exc, IndunetError) else 400
        return _page(request, state, user, status=status, password_error=error_text(request, exc))
    return _page(request, state, user, password_changed=True, sessions_ended=ended)


def _days(text: str) -> int:
    try:
        days = int(text.strip() or DEFAULT_TOKEN_TTL.days)
    except ValueError:
        raise FormError(N_("admin.tokens.days_invalid"), max=MAX_TOKEN_TTL.days) from None
    if not 1 <= days <= MAX_TOKEN_TTL.days:
        raise FormError(N_("admin.tokens.days_invalid"), max=MAX_TOKEN_TTL.days)
    return days


@router.post("/admin/account/tokens")
def create_token(
    request: Request,
    state: StateDep,
    user: ConsoleUser,
    name: Annotated[str, Form(max_length=1000)] = "",
    days: Annotated[str, Form(max_length=20)] = "",
) -> Response:
    """Create an API token for me; its secret is shown on this page once."""
    try:
        ttl = timedelta(days=_days(days))
        with state.engine.begin() as conn:
            secret, expires = core.issue_expiring_token(conn, user, name=name, ttl=ttl)
    except (FormError, IndunetError) as exc:
        status = exc.status if isinstance(exc, IndunetError) else 400
        ctx = {"token_error": error_text(request, exc), "typed_name": name, "typed_days": days}
        return _page(request, state, user, status=status, **ctx)
    return _page(request, state, user, new_token=secret, new_expires=expires, new_name=name.strip())


@router.post("/admin/account/tokens/{api_token_id}/revoke")
def revoke_token(
    request: Request, state: StateDep, user: ConsoleUser, api_token_id: PathId
) -> Response:
    """Revoke one of my API tokens (another user's is not found)."""
    with state.engine.begin() as conn:
        core.tokens.revoke_token_by_id(conn, api_token_id, _only_mine(user), kind="api")
    return RedirectResponse("/admin/account#tokens", status_code=303)


@router.post("/admin/account/sessions/{session_id}/revoke")
def revoke_session(
    request: Request, state: StateDep, user: ConsoleUser, session_id: PathId
) -> Response:
    """End one of my console sessions (ending this one logs me out)."""
    with state.engine.begin() as conn:
        core.tokens.revoke_token_by_id(conn, session_id, _only_mine(user), kind=SESSION_KIND)
    return RedirectResponse("/admin/account#sessions", status_code=303)


@router.post("/admin/account/sessions/revoke-others")
def revoke_other_sessions(request: Request, state: StateDep, user: ConsoleUser) -> Response:
    """End every console session of mine but this one."""
    keep = request.cookies.get(SESSION_COOKIE, "")
    with state.engine.begin() as conn:
        ended = core.tokens.revoke_sessions(conn, user, keep=keep)
    return _page(request, state, user, sessions_ended=ended)


@router.post("/admin/account/sessions/revoke-all")
def log_out_everywhere(request: Request, state: StateDep, user: ConsoleUser) -> Response:
    """End every console session of mine, this one too (API tokens stay)."""
    with state.engine.begin() as conn:
        core.tokens.revoke_sessions(conn, user)
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE, httponly=True, samesite="lax")
    return response


def _only_mine(user: User) -> User:
    """``user`` as the token service sees them on this page: their own tokens only, even a
    platform admin's (others' tokens are revoked with ``indunet token revoke`` or the API)."""
    return User(user.id, user.username, core.Role.ENTERPRISE_USER, user.enterprise_id)
