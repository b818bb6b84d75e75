"""What Handle.Net's HTTP interface adds around its API servlets, for the same paths here:
OPTIONS, CORS headers, gzip, and the ``pretty`` and ``callback`` parameters.

Handle.Net 9 wraps ``/api/*`` in Jetty's cross-origin filter (any origin, methods GET, POST,
HEAD, PUT and DELETE, the headers ``X-Requested-With, Authorization, Origin, Accept,
Content-Type``, preflights kept a day, never credentials) and its gzip filter, and answers
OPTIONS with the methods a servlet allows. ``HandleHttp`` does the same for the Handle API's
paths (``/api/handles``, ``/api/site``, ``/api/prefixes``, ``/api/sessions`` and their ``/nodes/<name>`` mounts):

* a preflight (``OPTIONS`` with ``Origin`` and ``Access-Control-Request-Method``) for an
  allowed method and headers gets the allowing headers; any ``OPTIONS`` gets ``Allow``;
* every other answer to a request with ``Origin`` names that origin in
  ``Access-Control-Allow-Origin`` and exposes its non-simple headers (``Location``,
  ``WWW-Authenticate``, ``Retry-After``); credentials are never allowed, so no page of another
  site can read an answer a browser authenticated with a cookie;
* bodies of at least ``GZIP_MINIMUM`` bytes are compressed for clients that accept gzip;
* credentials (an ``Authorization`` header, the console's cookie on a write, or anything sent
  to ``/api/sessions``) sent over
  plain HTTP are refused (403 ``plain_http_auth``) before anything reads them, unless
  ``plain_http_auth`` is ``loopback`` and the client is on this machine (development). Behind
  a proxy that terminates TLS, uvicorn's proxy headers make the scheme ``https``.

``shaped`` renders a JSON answer as ``pretty=true`` and ``callback=`` ask (JSONP, the name
scrubbed to the characters Handle.Net keeps).
"""

from __future__ import annotations

import ipaddress
import re
from typing import Any

import orjson
from starlette.middleware.gzip import GZipMiddleware
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from indunet.core import PermissionDenied
from indunet.web.auth import SESSION_COOKIE

#: The paths these rules cover: the Handle API's, on the front node and on each node mount.
HANDLE_PATHS = re.compile(r"^(/nodes/[^/]+)?/api/(handles|site|prefixes|sessions)(/|$)")
#: The session paths: refused over plain HTTP whatever they carry, as Handle.Net refuses them.
SESSION_PATHS = re.compile(r"^(/nodes/[^/]+)?/api/sessions(/|$)")
#: What ``Allow`` lists (Handle.Net lists TRACE too; Indunet answers no TRACE).
ALLOW = b"GET, HEAD, POST, PUT, DELETE, OPTIONS"
CORS_METHODS = frozenset({"GET", "POST", "HEAD", "PUT", "DELETE"})
CORS_HEADERS = frozenset({"x-requested-with", "authorization", "origin", "accept", "content-type"})
#: Simple request headers a browser always allows (the CORS safelist), so a preflight may ask
#: for them without their being listed.
_SAFELISTED = frozenset({"accept", "accept-language", "content-language", "content-type"})
#: Response headers a script may read besides the CORS-safelisted ones.
EXPOSED = b"Location, WWW-Authenticate, Retry-After"
PREFLIGHT_MAX_AGE = b"86400"
#: Smallest body worth compressing: below a packet's payload, gzip saves no round trip.
GZIP_MINIMUM = 1400
_CALLBACK_MAX = 256


def is_handle_path(path: str) -> bool:
    """Whether ``path`` is one of the Handle API's."""
    return HANDLE_PATHS.match(path) is not None


def _header(scope: Scope, name: bytes) -> bytes | None:
    for key, value in scope["headers"]:
        if key == name:
            return bytes(value)
    return None


def preflight_headers(scope: Scope) -> list[tuple[bytes, bytes]]:
    """The headers that allow a CORS preflight, or none if it asks for what is not allowed."""
    origin = _header(scope, b"origin")
    method = _header(scope, b"access-control-request-method")
    if origin is None or method is None:
        return []
    if method.decode("latin-1").strip().upper() not in CORS_METHODS:
        return []
    asked = _header(scope, b"access-control-request-headers") or b""
    names = {h.strip().lower() for h in asked.decode("latin-1").split(",") if h.strip()}
    if names - CORS_HEADERS - _SAFELISTED:
        return []
    return [
        (b"access-control-allow-origin", origin),
        (b"access-control-allow-methods", b"GET,POST,HEAD,PUT,DELETE"),
        (
            b"access-control-allow-headers",
            b"X-Requested-With,Authorization,Origin,Accept,Content-Type",
        ),
        (b"access-control-max-age", PREFLIGHT_MAX_AGE),
        (b"vary", b"Origin"),
    ]


class PlainHttpAuth(PermissionDenied):
    """Credentials came over plain HTTP."""

    def __init__(self) -> None:
        super().__init__(
            "credentials over plain HTTP are refused: use https (indunet up --tls-cert and "
            "--tls-key, or --self-signed); for development on this machine only, "
            "INDUNET_PLAIN_HTTP_AUTH=loopback",
            reason="plain_http_auth",
        )


def _loopback(scope: Scope) -> bool:
    client = scope.get("client")
    if not client:
        return False
    try:
        return ipaddress.ip_address(client[0]).is_loopback
    except ValueError:
        return False


def carries_credentials(scope: Scope) -> bool:
    """An ``Authorization`` header, the session cookie on a write, or any request to the
    challenge-response sessions (``/api/sessions``)."""
    if SESSION_PATHS.match(scope["path"]):
        return True
    writes = scope["method"] in ("PUT", "DELETE")
    cookie = SESSION_COOKIE.encode() + b"="
    for key, value in scope["headers"]:
        if key == b"authorization" or (writes and key == b"cookie" and cookie in value):
            return True
    return False


class HandleHttp:
    """ASGI middleware: OPTIONS, CORS, gzip and the plain-HTTP credential rule for the Handle
    API's paths; other paths pass."""

    def __init__(self, app: ASGIApp, plain_auth: str = "refuse") -> None:
        self.app = app
        self.gzip = GZipMiddleware(app, minimum_size=GZIP_MINIMUM, compresslevel=6)
        self.plain_auth = plain_auth

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Answer OPTIONS here; send the rest on, through gzip, with CORS headers added."""
        if scope["type"] != "http" or not is_handle_path(scope["path"]):
            await self.app(scope, receive, send)
            return
        if scope["method"] == "OPTIONS":
            headers = [(b"allow", ALLOW), (b"content-length", b"0"), *preflight_headers(scope)]
            await send({"type": "http.response.start", "status": 200, "headers": headers})
            await send({"type": "http.response.body", "body": b""})
            return
        origin = _header(scope, b"origin")
        if (
            scope.get("scheme") == "http"
            and carries_credentials(scope)
            and not (self.plain_auth == "loopback" and _loopback(scope))
        ):
            await _refuse(send, origin)
            return
        if origin is None:
            await self.gzip(scope, receive, send)
            return

        async def with_cors(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [
                    *message.get("headers", ()),
                    (b"access-control-allow-origin", origin),
                    (b"access-control-expose-headers", EXPOSED),
                    (b"vary", b"Origin"),
                ]
            await send(message)

        await self.gzip(scope, receive, with_cors)


async def _refuse(send: Send, origin: bytes | None) -> None:
    exc = PlainHttpAuth()
    body = orjson.dumps(
        {"responseCode": 400, "message": exc.message, "code": exc.code, "reason": exc.reason}
    )
    headers = [(b"content-type", b"application/json"), (b"content-length", b"%d" % len(body))]
    if origin is not None:
        headers.append((b"access-control-allow-origin", origin))
    await send({"type": "http.response.start", "status": 403, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def scrub_callback(name: str) -> str:
    """A JSONP callback name as Handle.Net keeps it: letters, ``_``, ``$``, digits after the
    first character and anything from U+00A0 up; every other character becomes ``_``."""
    return "".join(
        ch
        if ch in "_$"
        or ("a" <= ch <= "z")
        or ("A" <= ch <= "Z")
        or ch >= "\u00a0"
        or (i > 0 and "0" <= ch <= "9")
        else "_"
        for i, ch in enumerate(name[:_CALLBACK_MAX])
    )


def flag(value: str | None) -> bool:
    """A boolean parameter as Handle.Net reads one: present and empty, ``true`` or ``yes``."""
    return value is not None and (value == "" or value.lower() in ("true", "yes"))


def shaped(response: Response, params: Any) -> Response:
    """``response`` (a JSON answer) as ``pretty`` and ``callback`` in ``params`` ask."""
    pretty = flag(params.get("pretty"))
    callback = params.get("callback")
    if not pretty and callback is None:
        return response
    body = bytes(response.body)
    if pretty:
        body = orjson.dumps(orjson.loads(body), option=orjson.OPT_INDENT_2)
    media = "application/json"
    if callback is not None:
        # U+2028/2029 are line ends in older JavaScript: escape them inside the call.
        escaped = body.replace("\u2028".encode(), b"\\u2028").replace("\u2029".encode(), b"\\u2029")
        body = scrub_callback(callback).encode() + b"(" + escaped + b");"
        media = "application/javascript"
    headers = {
        k: v for k, v in response.headers.items() if k not in ("content-length", "content-type")
    }
    return Response(body, status_code=response.status_code, media_type=media, headers=headers)


__all__ = [
    "ALLOW",
    "GZIP_MINIMUM",
    "HANDLE_PATHS",
    "SESSION_PATHS",
    "HandleHttp",
    "PlainHttpAuth",
    "carries_credentials",
    "flag",
    "is_handle_path",
    "preflight_headers",
    "scrub_callback",
    "shaped",
]
