"""The public API of ``indunet.web.guards`` is what its ``__init__`` exports; this list pins it."""

from __future__ import annotations

from indunet.web import guards

GUARDS = [
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


def test_guards_export_exactly_their_public_api() -> None:
    assert sorted(guards.__all__) == sorted(GUARDS)
    for name in GUARDS:
        assert getattr(guards, name) is not None
