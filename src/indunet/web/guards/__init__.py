"""HTTP-layer guards: body size limits, CSRF checks and security headers, as ASGI middleware.

``install(app, state)`` puts them outermost, in this order (outer first): security headers (so
every refusal carries them too), body limits (nothing reads past a limit), CSRF checks.
"""

from __future__ import annotations

from starlette.applications import Starlette

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
from indunet.web.state import AppState


def install(app: Starlette, state: AppState) -> None:
    """Wrap ``app`` in the guards; call after every other middleware is added."""
    trusted = [state.settings.public_url] if state.settings.public_url else []
    app.add_middleware(CsrfGuard, trusted=trusted)
    app.add_middleware(BodyLimit)
    app.add_middleware(SecurityHeaders)


__all__ = [
    "DEFAULT_LIMIT",
    "FIELD",
    "HEADER",
    "ROUTE_LIMITS",
    "SECURITY_HEADERS",
    "BodyLimit",
    "CsrfGuard",
    "CsrfRefused",
    "PayloadTooLarge",
    "RouteLimit",
    "SecurityHeaders",
    "csrf_token",
    "install",
    "limit_for",
]
