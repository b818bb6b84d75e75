"""Console sessions: log in and out, the language switch, and who is looking at a page."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta
from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Depends, Form, Request
from starlette.responses import RedirectResponse, Response

from indunet import core
from indunet.core import (
    AuthenticationFailed,
    IndunetError,
    PasswordChangeRequired,
    TooManyAttempts,
    User,
)
from indunet.core.users import EnterpriseNotApproved
from indunet.web.auth import SESSION_COOKIE, client_address, token_user
from indunet.web.console.forms import FormError
from indunet.web.console.i18n import LANG_COOKIE, LOCALES, N_
from indunet.web.console.pages import error_text, is_htmx, render
from indunet.web.deps import StateDep
from indunet.web.state import AppState

SESSION_TTL = timedelta(hours=12)
router = APIRouter(include_in_schema=False)


class LoginRequired(Exception):
    """Raised by pages that need a user; answered with a redirect to the login page."""

    def __init__(self, next_path: str) -> None:
        super().__init__(next_path)
        self.next_path = next_path


def safe_next(target: str | None) -> str:
    """``target`` if it is a path on this site, else the console's start page."""
    if target and target.startswith("/") and not target.startswith(("//", "/\\")):
        return target
    return "/"


def login_redirect(request: Request, exc: Exception) -> Response:
    """Send the browser (or HTMX) to the login page, remembering where it wanted to go."""
    target = exc.next_path if isinstance(exc, LoginRequired) else "/"
    url = f"/login?next={quote(target, safe='/')}"
    if is_htmx(request):
        return Response(status_code=200, headers={"HX-Redirect": url})
    return RedirectResponse(url, status_code=303)


def optional_user(request: Request, state: StateDep) -> User | None:
    """The logged-in user, or ``None``; also made available to templates."""
    token = request.cookies.get(SESSION_COOKIE)
    user = None
    if token:
        try:
            user = token_user(state.engine, token)
        except AuthenticationFailed:
            user = None
    request.state.console_user = user
    return user


def required_user(request: Request, user: Annotated[User | None, Depends(optional_user)]) -> User:
    """The logged-in user, or a redirect to the login page."""
    if user is None:
        query = f"?{request.url.query}" if request.url.query else ""
        raise LoginRequired(request.url.path + query)
    return user


MaybeUser = Annotated[User | None, Depends(optional_user)]
ConsoleUser = Annotated[User, Depends(required_user)]


def login_form(
    request: Request, state: AppState, ctx: Mapping[str, object], *, status: int = 200
) -> Response:
    """The login form with ``ctx``, linking to self-registration where it is on."""
    page = {**ctx, "may_apply": state.settings.self_registration}
    return render(request, "login.html", page, status=status)


@router.get("/login")
def login_page(request: Request, state: StateDep, user: MaybeUser, next: str = "/") -> Response:
    """The login form."""
    return login_form(request, state, {"next": safe_next(next), "username": ""})


@router.post("/login")
def login(
    request: Request,
    state: StateDep,
    username: Annotated[str, Form()] = "",
    password: Annotated[str, Form()] = "",
    next: Annotated[str, Form()] = "/",
) -> Response:
    """Check the password, then set the session cookie; a wrong password sets nothing.

    Failures are throttled and audited like token logins; a locked account or address gets
    the form back with 429 and ``Retry-After``.
    """
    ctx: dict[str, object] = {"next": safe_next(next), "username": username, "failed": True}
    try:
        user = state.logins.password(
            state.engine, username, password, source=client_address(request), via="console"
        )
    except PasswordChangeRequired as exc:
        with state.engine.begin() as conn:
            change = core.accounts.begin_password_change(conn, exc.user)
        return first_password_page(request, change, exc.user.username, safe_next(next))
    except AuthenticationFailed as exc:
        if exc.reason in ("account_disabled", "temporary_password_expired"):
            ctx["error"] = error_text(request, exc)
        return login_form(request, state, ctx, status=401)
    except EnterpriseNotApproved as exc:  # pending review, or rejected with the reason
        ctx["error"] = error_text(request, exc)
        ctx["held"] = True  # the applicant may still send its licence (/register/licence)
        return login_form(request, state, ctx, status=exc.status)
    except TooManyAttempts as exc:
        ctx["retry_after"] = exc.retry_after
        page = login_form(request, state, ctx, status=429)
        page.headers.update(exc.headers())
        return page
    return start_session(request, state, user, safe_next(next))


def start_session(request: Request, state: AppState, user: User, target: str) -> Response:
    """A new console session for ``user`` (noting where it comes from), then ``target``."""
    with state.engine.begin() as conn:
        token = core.issue_token(
            conn,
            user,
            name="console",
            kind="session",
            ttl=SESSION_TTL,
            source=client_address(request),
        )
    response = RedirectResponse(target, status_code=303)
    response.set_cookie(
        SESSION_COOKIE,
        token,
        max_age=int(SESSION_TTL.total_seconds()),
        httponly=True,
        samesite="lax",
        secure=request.url.scheme == "https",
    )
    return response


def first_password_page(
    request: Request, change: str, username: str, target: str, *, error: str = "", status: int = 200
) -> Response:
    """The form a user with a temporary password sets their own password with."""
    ctx = {"change": change, "username": username, "next": target, "error": error}
    return render(request, "admin_first_password.html", ctx, status=status)


@router.post("/login/password")
def set_first_password(
    request: Request,
    state: StateDep,
    change: Annotated[str, Form(max_length=200)] = "",
    username: Annotated[str, Form(max_length=64)] = "",
    password: Annotated[str, Form(max_length=2048)] = "",
    confirm: Annotated[str, Form(max_length=2048)] = "",
    next: Annotated[str, Form(max_length=2000)] = "/",
) -> Response:
    """Replace a temporary password (the short token from the login proves who), then log in.

    A weak or mistyped password shows the form again with the reason; an expired form sends
    the user back to the login page."""
    target = safe_next(next)
    try:
        if password != confirm:
            raise FormError(N_("admin.password.mismatch"))
        with state.engine.begin() as conn:
            user = core.accounts.finish_password_change(conn, change, password)
    except FormError as exc:
        return first_password_page(
            request, change, username, target, error=error_text(request, exc), status=400
        )
    except IndunetError as exc:
        if exc.status == 401:
            ctx = {"next": target, "username": username, "error": error_text(request, exc)}
            return login_form(request, state, ctx, status=401)
        return first_password_page(
            request, change, username, target, error=error_text(request, exc), status=exc.status
        )
    return start_session(request, state, user, target)


@router.post("/logout")
def logout(request: Request, state: StateDep) -> Response:
    """Revoke the session token and forget the cookie."""
    token = request.cookies.get(SESSION_COOKIE)
    if token:
        with state.engine.begin() as conn:
            core.revoke_token(conn, token)
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE, httponly=True, samesite="lax")
    return response


@router.get("/lang/{locale}")
def switch_language(locale: str, next: str = "/") -> Response:
    """Remember the chosen language in a cookie and go back to the page."""
    response = RedirectResponse(safe_next(next), status_code=303)
    if locale in LOCALES:
        response.set_cookie(LANG_COOKIE, locale, max_age=365 * 86_400, samesite="lax")
    return response
