"""HTTP-layer guards: body size limits, CSRF checks and security headers, as ASGI middleware.

``install(app, state)`` puts them outermost as one middleware, ``Guards``, which applies them in
this order (outer first): security headers (so every refusal carries them too), body limits
(nothing reads past a limit), CSRF checks, and the refusal of JSON bodies that are not Unicode
text. A GET, HEAD or OPTIONS request (the resolution hot path) only gets the headers. It also
installs the 422 handler that can encode any input it echoes.
"""

from __future__ import annotations

from collections.abc import Iterable

from fastapi.exceptions import RequestValidationError
from starlette.applications import Starlette
from starlette.types import ASGIApp, Receive, Scope, Send

from indunet.web.csrf import FIELD, HEADER, csrf_token
from indunet.web.guards.csrf import CsrfGuard, CsrfRefused
from indunet.web.guards.headers import SECURITY_HEADERS, SecurityHeaders
from indunet.web.guards.limits import (
    DEFAULT_LIMIT,
    ROUTE_LIMITS,
    BodyLimit,
    PayloadTooLarge,
    RouteLimit,
    limit_for,
)
from indunet.web.guards.text import SurrogateGuard, lone_surrogate
from indunet.web.guards.validation import validation_error
from indunet.web.state import AppState

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


class Guards:
    """ASGI middleware: every guard for requests that may change something, headers for all."""

    def __init__(self, app: ASGIApp, trusted: Iterable[str] = ()) -> None:
        self.safe = SecurityHeaders(app)
        self.unsafe = SecurityHeaders(BodyLimit(CsrfGuard(SurrogateGuard(app), trusted)))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Send safe requests past the body and CSRF guards; everything else through them."""
        if scope["type"] == "http" and scope["method"] in SAFE_METHODS:
            await self.safe(scope, receive, send)
        else:
            await self.unsafe(scope, receive, send)


def install(app: Starlette, state: AppState) -> None:
    """Wrap ``app`` in the guards; call after every other middleware is added."""
    trusted = [state.settings.public_url] if state.settings.public_url else []
    app.add_middleware(Guards, trusted=trusted)
    app.add_exception_handler(RequestValidationError, validation_error)


__all__ = [
    "DEFAULT_LIMIT",
    "FIELD",
    "HEADER",
    "ROUTE_LIMITS",
    "SECURITY_HEADERS",
    "BodyLimit",
    "CsrfGuard",
    "CsrfRefused",
    "Guards",
    "PayloadTooLarge",
    "RouteLimit",
    "SecurityHeaders",
    "SurrogateGuard",
    "csrf_token",
    "install",
    "limit_for",
    "lone_surrogate",
    "validation_error",
]
