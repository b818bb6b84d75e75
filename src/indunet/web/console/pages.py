"""Rendering console pages: the Jinja2 environment, what every page gets, and HTMX partials."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jinja2
from starlette.requests import Request
from starlette.responses import HTMLResponse
from starlette.templating import Jinja2Templates

from indunet import __version__
from indunet.ids import HandleValue
from indunet.web.auth import SESSION_COOKIE
from indunet.web.console.i18n import LOCALES, locale_of, other_locale, translator
from indunet.web.csrf import csrf_token

TEMPLATE_DIR = Path(__file__).parent / "templates"
STATIC_DIR = Path(__file__).parent / "static"
STATIC_URL = "/console/static"

_env = jinja2.Environment(
    loader=jinja2.FileSystemLoader(TEMPLATE_DIR),
    autoescape=True,
    trim_blocks=True,
    lstrip_blocks=True,
)
templates = Jinja2Templates(env=_env)


def value_text(v: HandleValue) -> str:
    """A handle value's data as one line of text."""
    if isinstance(v.value, str):
        return v.value
    if v.format == "admin" and isinstance(v.value, dict):
        return f"{v.value.get('index')}:{v.value.get('handle')} ({v.value.get('permissions')})"
    if v.format == "site" and isinstance(v.value, dict):
        return str(v.value.get("url", ""))
    return json.dumps(v.value, ensure_ascii=False)


def is_link(v: HandleValue) -> bool:
    """Whether a value is a web address that is safe to show as a link."""
    return isinstance(v.value, str) and v.value.startswith(("http://", "https://"))


def is_htmx(request: Request) -> bool:
    """Whether HTMX asked for a fragment (not a history restore, which needs the whole page)."""
    return (
        request.headers.get("hx-request") == "true"
        and request.headers.get("hx-history-restore-request") != "true"
    )


def csrf_of(request: Request) -> str:
    """The CSRF token of the request's console session (``""`` without one)."""
    session = request.cookies.get(SESSION_COOKIE)
    return csrf_token(session) if session else ""


def render(
    request: Request, name: str, context: dict[str, Any] | None = None, *, status: int = 200
) -> HTMLResponse:
    """Render template ``name`` with the translator, the user and the language switch."""
    t = translator(locale_of(request))

    def rc_text(rc: int) -> str:
        key = f"rc.{int(rc)}"
        return t(key) if t.has(key) else t("rc.other", code=rc)

    page: dict[str, Any] = {
        "t": t,
        "lang": t.locale,
        "other_lang": other_locale(t.locale),
        "locales": LOCALES,
        "user": getattr(request.state, "console_user", None),
        "path": request.url.path,
        "here": request.url.path + (f"?{request.url.query}" if request.url.query else ""),
        "static": STATIC_URL,
        "version": __version__,
        "rc_text": rc_text,
        "value_text": value_text,
        "is_link": is_link,
        "csrf_token": csrf_of(request),
    }
    page.update(context or {})
    response: HTMLResponse = templates.TemplateResponse(request, name, page, status_code=status)
    return response


def error_text(request: Request, exc: Exception) -> str:
    """What to show for a failed action: a console key in the page's language, or the service's message."""
    key = getattr(exc, "key", None)
    if isinstance(key, str):
        return translator(locale_of(request))(key, **getattr(exc, "params", {}))
    message = getattr(exc, "message", None)
    return message if isinstance(message, str) else str(exc)
