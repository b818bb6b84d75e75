"""The web console (控制台): server-rendered pages, zh-CN by default, English one click away."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.exception_handlers import http_exception_handler
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.staticfiles import StaticFiles

from indunet.core import IndunetError
from indunet.core.plugins import load
from indunet.web import subsystems
from indunet.web.console import failures, fleet, paging, prefs, sections, session
from indunet.web.console.failures import asks_for_page, wants_page
from indunet.web.console.pages import STATIC_DIR, STATIC_URL, error_text, render, templates
from indunet.web.deps import get_state
from indunet.web.state import AppState

#: The console's own routers (login, navigation); subsystems bring their pages.
ROUTERS = (session.router, prefs.router, sections.router)


def mount(app: FastAPI, state: AppState) -> None:
    """Add the console's pages and static files to ``app``."""
    templates.env.globals.update(
        sections=sections.SECTIONS,
        ids_pages=sections.IDS_PAGES,
        platform_pages=sections.PLATFORM_PAGES,
        status_keys=fleet.STATUS_KEYS,
    )
    for router in ROUTERS:
        app.include_router(router)
    for sub in subsystems.SUBSYSTEMS:
        for ref in sub.console:
            app.include_router(load(ref))
    app.mount(STATIC_URL, StaticFiles(directory=STATIC_DIR), name="console-static")
    app.add_exception_handler(session.LoginRequired, session.login_redirect)
    app.add_exception_handler(fleet.NoPlatform, fleet.no_platform_page)
    app.add_exception_handler(paging.PastLastPage, paging.last_page_redirect)
    app.add_exception_handler(HTTPException, not_found_page)
    app.add_exception_handler(Exception, failures.crash_page)


async def not_found_page(request: Request, exc: Exception) -> Response:
    """An unknown address in the browser gets a console page in the reader's language (404);
    API clients, and every other status, keep FastAPI's JSON answer."""
    assert isinstance(exc, HTTPException)
    if exc.status_code == 404 and wants_page(request):
        if not hasattr(request.state, "console_user"):  # no route ran: say who is logged in
            await run_in_threadpool(session.optional_user, request, get_state(request))
        return render(request, "not_found.html", {"missing": request.url.path[:200]}, status=404)
    return await http_exception_handler(request, exc)


#: The title of an error page by status; any other status below 500 is "could not be done".
ERROR_TITLES = {404: "page.not_found_title", 403: "page.forbidden_title"}


async def error_page(request: Request, exc: IndunetError) -> Response | None:
    """A service error raised by a console page that a person's browser asked for (a missing
    alarm, user or rule, say) as a page in the reader's language with the catalogue text of
    its reason, not the API's JSON; a server error (503 database unavailable, say) as the
    page of ``failures``; ``None`` for API clients and HTMX swaps."""
    if not asks_for_page(request):
        return None
    if exc.status >= 500:
        return await failures.service_error_page(request, exc)
    if not hasattr(request.state, "console_user"):
        await run_in_threadpool(session.optional_user, request, get_state(request))
    ctx = {
        "title": ERROR_TITLES.get(exc.status, "page.error_title"),
        "message": error_text(request, exc),
    }
    return render(request, "error_page.html", ctx, status=exc.status)


async def bad_address_page(request: Request, errors: list[Any]) -> Response | None:
    """The unknown-address page for a browser whose address failed validation only in its
    path (``/platform/dashboards/abc`` where a number belongs); ``None`` otherwise."""
    in_path = bool(errors) and all(
        isinstance(e, dict) and tuple(e.get("loc") or ())[:1] == ("path",) for e in errors
    )
    if request.method != "GET" or not in_path or not wants_page(request):
        return None
    return await not_found_page(request, HTTPException(status_code=404))


__all__ = ["bad_address_page", "error_page", "mount"]
