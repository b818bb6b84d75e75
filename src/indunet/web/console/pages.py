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
from indunet.core import access, regions
from indunet.core.users import User
from indunet.ids import HandleValue
from indunet.ids.admin import right_names
from indunet.web.auth import SESSION_COOKIE
from indunet.web.console.i18n import LOCALES, locale_of, other_locale, translator
from indunet.web.console.paging import SIZES, link, sort_link
from indunet.web.console.zones import Zone, zone_of
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
_env.filters["region"] = regions.label  # {{ code | region }}: 苏州市 (320500)


def who(actor: str | None) -> str:
    """An actor as a person reads it: ``user:chen`` is chen, ``instance:fj`` is fj."""
    text = actor or ""
    kind, sep, name = text.partition(":")
    return name if sep and kind in ("user", "instance") else text


_env.filters["who"] = who  # {{ h.by | who }}
templates = Jinja2Templates(env=_env)


def value_text(v: HandleValue) -> str:
    """A handle value's data as one line of text."""
    if isinstance(v.value, str):
        return v.value
    if v.format == "admin" and isinstance(v.value, dict):
        return f"{v.value.get('index')}:{v.value.get('handle')} ({v.value.get('permissions')})"
    if v.format == "site" and isinstance(v.value, dict):
        return str(v.value.get("url", ""))
    if v.format == "vlist" and isinstance(v.value, list):
        return ", ".join(f"{m.get('index')}:{m.get('handle')}" for m in v.value)
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


def _sees_all(user: Any) -> bool:
    return isinstance(user, User) and access.sees_all(user)


def render(
    request: Request, name: str, context: dict[str, Any] | None = None, *, status: int = 200
) -> HTMLResponse:
    """Render template ``name`` with the translator, the user and the language switch."""
    t = translator(locale_of(request))
    zone = zone_of(request, t.locale)

    def rc_text(rc: int) -> str:
        key = f"rc.{int(rc)}"
        return t(key) if t.has(key) else t("rc.other", code=rc)

    page: dict[str, Any] = {
        "t": t,
        "lang": t.locale,
        "other_lang": other_locale(t.locale),
        "locales": LOCALES,
        "user": getattr(request.state, "console_user", None),
        # whether the reader oversees every enterprise (core.access): overseers' tabs
        "sees_all": _sees_all(getattr(request.state, "console_user", None)),
        "path": list_path(request),
        "here": request.url.path + (f"?{request.url.query}" if request.url.query else ""),
        "static": STATIC_URL,
        "version": __version__,
        "rc_text": rc_text,
        "value_text": value_text,
        "is_link": is_link,
        "right_names": right_names,
        "csrf_token": csrf_of(request),
        "zone": zone,
        "clock": zone.clock,
        "page_link": lambda **changes: link(request, **changes),
        "sort_link": lambda paging, key: sort_link(request, paging, key),
        "page_sizes": SIZES,
    }
    page.update(context or {})
    response: HTMLResponse = templates.TemplateResponse(request, name, page, status_code=status)
    return response


def list_path(request: Request) -> str:
    """The path a page's search and pager links go to: the request's own, or the list's a
    form handler names (``request.state.list_path``) when it shows the list again after a
    POST (an error on ``/security/rules/files`` shows ``/security/rules``)."""
    return getattr(request.state, "list_path", None) or request.url.path


def page_zone(request: Request) -> Zone:
    """The time zone ``request``'s page prints times in (see ``zones``)."""
    return zone_of(request, locale_of(request))


def error_text(request: Request, exc: Exception) -> str:
    """What to show for a failed action, in the page's language.

    A console ``FormError`` carries its catalogue ``key``; a service error with a ``reason``
    reads as ``error.<reason>`` filled with its ``params``; otherwise the service's message.
    """
    t = translator(locale_of(request))
    params = getattr(exc, "params", None) or {}
    key = getattr(exc, "key", None)
    reason = getattr(exc, "reason", None)
    if not isinstance(key, str) and isinstance(reason, str):
        key = f"error.{reason}"
    if isinstance(key, str) and t.has(key):
        try:
            return t.messages[key].format(**params)
        except (KeyError, IndexError, ValueError):
            pass  # a catalogue text naming a field the error lacks: fall back to the message
    message = getattr(exc, "message", None)
    return message if isinstance(message, str) else str(exc)
