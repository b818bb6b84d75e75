"""Cross-site request forgery defence for requests a browser authenticates with the session cookie.

Two checks, both on state-changing methods (POST, PUT, PATCH, DELETE) only:

* **Origin.** A request without an ``Authorization`` header whose ``Origin`` (or, failing that,
  ``Sec-Fetch-Site``, then ``Referer``) says it comes from another origin is refused. Another
  port of the same host is another origin. Requests with an ``Authorization`` header (Bearer,
  Basic, Device) are left alone: a page on another site cannot make a browser send one.
* **Token.** A request that carries the session cookie and no ``Authorization`` header must
  also carry the session's CSRF token (``indunet.web.csrf``), in the ``X-CSRF-Token`` header
  (HTMX sends it from ``hx-headers`` on ``<body>``) or in the ``csrf_token`` field of a form.
  Logging in is exempt (it is not cookie-authenticated).

A POST to ``/api/handles/<handle>`` is a resolution with its parameters in the body, as
Handle.Net takes it: it changes nothing and never reads the session cookie (restricted values
need an ``Authorization`` header), so it passes from any origin, as in Handle.Net.

A refused request gets ``403 csrf_refused`` naming what was wrong.
"""

from __future__ import annotations

import hmac
import re
from collections.abc import Iterable
from http.cookies import CookieError, SimpleCookie
from urllib.parse import parse_qs, urlsplit

from starlette.formparsers import MultiPartException
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from indunet.core import PermissionDenied
from indunet.web.auth import SESSION_COOKIE
from indunet.web.csrf import FIELD, HEADER, csrf_token
from indunet.web.guards.limits import answer

UNSAFE = frozenset({"POST", "PUT", "PATCH", "DELETE"})
#: Paths whose POST is not authenticated by the cookie, so needs no token (Origin is checked).
EXEMPT = frozenset({"/login"})
#: Resolutions by POST: reads that never use the cookie (see above).
RESOLUTION_POST = re.compile(r"^(/nodes/[^/]+)?/api/handles/.")
_FORMS = (b"application/x-www-form-urlencoded", b"multipart/form-data")


class CsrfRefused(PermissionDenied):
    """A cookie-authenticated change came from another site, or without the session's token."""

    code = "csrf_refused"


def origin_of(url: str) -> str:
    """``scheme://host[:port]`` of ``url``, lower-cased; ``""`` if it has none."""
    parts = urlsplit(url)
    if not parts.scheme or not parts.netloc:
        return ""
    return f"{parts.scheme}://{parts.netloc}".lower()


class CsrfGuard:
    """ASGI middleware: the Origin and token checks above."""

    def __init__(self, app: ASGIApp, trusted: Iterable[str] = ()) -> None:
        self.app = app
        self.trusted = frozenset(o for o in (origin_of(u) for u in trusted) if o)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Refuse a forged change with 403; pass everything else on unchanged."""
        if (
            scope["type"] != "http"
            or scope["method"] not in UNSAFE
            or (scope["method"] == "POST" and RESOLUTION_POST.match(scope["path"]))
        ):
            await self.app(scope, receive, send)
            return
        headers: dict[bytes, bytes] = {}
        for name, value in scope["headers"]:
            if name == b"cookie" and name in headers:  # HTTP/2 may split the Cookie header
                headers[name] += b"; " + value
            else:
                headers.setdefault(name, value)
        if b"authorization" in headers:
            await self.app(scope, receive, send)
            return
        problem = self._foreign(scope, headers)
        if problem:
            await answer(send, CsrfRefused(problem))
            return
        session = _cookie(headers.get(b"cookie", b""), SESSION_COOKIE)
        if not session or scope["path"] in EXEMPT:
            await self.app(scope, receive, send)
            return
        expected = csrf_token(session)
        sent = headers.get(HEADER.lower().encode(), b"").decode("latin-1")
        kind = headers.get(b"content-type", b"").split(b";")[0].strip().lower()
        if not sent and kind in _FORMS:
            body = await _whole_body(receive)
            receive = _replay(body, receive)
            sent = await _form_field(scope, body, kind)
        if not sent:
            await answer(
                send,
                CsrfRefused(
                    f"the {FIELD} form field (or {HEADER} header) is missing; reload the page and try again"
                ),
            )
            return
        if not hmac.compare_digest(sent.encode(), expected.encode()):
            await answer(
                send,
                CsrfRefused(
                    f"the {FIELD} does not belong to this session; reload the page and try again"
                ),
            )
            return
        await self.app(scope, receive, send)

    def _foreign(self, scope: Scope, headers: dict[bytes, bytes]) -> str:
        """Why the request comes from another origin, or ``""`` if it does not appear to."""
        host = headers.get(b"host", b"").decode("latin-1").lower()
        own = {f"{scope.get('scheme', 'http')}://{host}", *self.trusted}
        origin = headers.get(b"origin")
        if origin is not None:
            text = origin.decode("latin-1").lower()
            if text not in own:
                return f"cross-origin request refused: Origin {text!r} is not this site"
            return ""
        site = headers.get(b"sec-fetch-site")
        if site is not None:
            if site not in (b"same-origin", b"none"):
                return f"cross-origin request refused: Sec-Fetch-Site is {site.decode('latin-1')!r}"
            return ""
        referer = headers.get(b"referer")
        if referer is not None and origin_of(referer.decode("latin-1")) not in own:
            return "cross-origin request refused: the Referer is not this site"
        return ""


def _cookie(header: bytes, name: str) -> str:
    jar: SimpleCookie = SimpleCookie()
    try:
        jar.load(header.decode("latin-1"))
    except CookieError:  # a malformed Cookie header carries no session
        return ""
    morsel = jar.get(name)
    return morsel.value if morsel is not None else ""


async def _whole_body(receive: Receive) -> bytes:
    chunks: list[bytes] = []
    while True:
        message = await receive()
        if message["type"] != "http.request":
            break
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            break
    return b"".join(chunks)


def _replay(body: bytes, receive: Receive) -> Receive:
    sent = False

    async def replayed() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replayed


async def _form_field(scope: Scope, body: bytes, kind: bytes) -> str:
    if kind == _FORMS[0]:
        values = parse_qs(body.decode("latin-1"), keep_blank_values=True).get(FIELD, [""])
        return values[0]
    request = Request(scope, _replay(body, _nothing))
    try:
        form = await request.form()
    except (MultiPartException, ValueError):  # no token in an unreadable form; the app says why
        return ""
    try:
        value = form.get(FIELD)
        return value if isinstance(value, str) else ""
    finally:
        await form.close()


async def _nothing() -> Message:
    return {"type": "http.disconnect"}
