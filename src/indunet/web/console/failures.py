"""Pages for a server that failed a person's browser: a service that is down (503
``database_unavailable``, ``bus_unavailable``, …) and an unexpected exception (500).

A browser asking for a page (HTML accepted, not under ``/api``, not an HTMX swap) gets a
console page in the reader's language with the same status and the error's ``Retry-After``;
API clients keep the JSON answer (or Starlette's plain ``Internal Server Error``). The page
never shows a traceback or the service's English message: the catalogue text of the error's
reason, else of its code, else a general sentence for its status. Unexpected exceptions are
logged here with their traceback.
"""

from __future__ import annotations

import logging

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response

from indunet.core import IndunetError
from indunet.web.console import session
from indunet.web.console.i18n import Translator, locale_of, translator
from indunet.web.console.pages import error_text, render
from indunet.web.deps import get_state

log = logging.getLogger(__name__)

UNAVAILABLE_TITLE = "page.unavailable_title"
SERVER_ERROR_TITLE = "page.server_error_title"


def wants_page(request: Request) -> bool:
    """Whether a person's browser asked (not an API client): HTML accepted, not under /api."""
    accept = request.headers.get("accept", "")
    return "text/html" in accept and not request.url.path.startswith("/api")


def asks_for_page(request: Request) -> bool:
    """A browser's page request, not an HTMX swap (which keeps the JSON answer)."""
    return wants_page(request) and not request.headers.get("hx-request")


async def know_user(request: Request) -> None:
    """Say who is logged in on the page, when that can still be read: the database that
    failed the page also holds the sessions, so a failure here leaves the page anonymous."""
    if hasattr(request.state, "console_user"):
        return
    try:
        await run_in_threadpool(session.optional_user, request, get_state(request))
    except Exception as exc:  # the page must still answer
        log.info("error page for %s without its user: %s", request.url.path, exc)


def _general(t: Translator, status: int) -> str:
    return t("page.unavailable_message" if status == 503 else "page.server_error_message")


def server_error_text(request: Request, exc: IndunetError) -> str:
    """A 5xx service error in the reader's language: ``error.<reason>``, else
    ``error.<code>``, else a general sentence for its status (never the English message)."""
    t = translator(locale_of(request))
    if exc.reason is not None and t.has(f"error.{exc.reason}"):
        return error_text(request, exc)
    key = f"error.{exc.code}"
    if t.has(key):
        try:
            return t.messages[key].format(**exc.params)
        except (KeyError, IndexError, ValueError):
            pass
    return _general(t, exc.status)


async def service_error_page(request: Request, exc: IndunetError) -> Response:
    """A console page for a service error of status 500 or more, with its ``Retry-After``.

    With the database down the sessions cannot be read either: the page does not try again
    (a second connection attempt would only double the wait), and shows no user."""
    if exc.code != "database_unavailable":
        await know_user(request)
    t = translator(locale_of(request))
    message = server_error_text(request, exc)
    headers = exc.headers()
    wait = headers.get("Retry-After", "")
    if wait.isdigit():
        gap = "" if t.locale.startswith("zh") else " "  # Chinese sentences need no space
        message = f"{message}{gap}{t('page.retry_after', seconds=int(wait))}"
    title = UNAVAILABLE_TITLE if exc.status == 503 else SERVER_ERROR_TITLE
    page = render(
        request, "error_page.html", {"title": title, "message": message}, status=exc.status
    )
    page.headers.update(headers)
    return page


async def crash_page(request: Request, exc: Exception) -> Response:
    """An unexpected exception: logged with its traceback; a browser gets a plain console
    page in the reader's language (500), anyone else Starlette's plain text."""
    log.error("unexpected error on %s %s", request.method, request.url.path, exc_info=exc)
    if asks_for_page(request):
        try:
            await know_user(request)
            t = translator(locale_of(request))
            ctx = {"title": SERVER_ERROR_TITLE, "message": _general(t, 500)}
            return render(request, "error_page.html", ctx, status=500)
        except Exception:
            log.exception("the error page for %s failed too", request.url.path)
    return PlainTextResponse("Internal Server Error", status_code=500)
