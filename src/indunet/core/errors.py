"""Errors shared by every subsystem: each carries a stable code and a message a user can act on."""

from __future__ import annotations

from typing import Any


class IndunetError(Exception):
    """Base error. ``code`` is stable and machine-readable; ``status`` is the HTTP status.

    ``reason`` (optional) names the exact problem, stable too (``uscc_checksum``,
    ``device_exists``), and ``params`` its values: the console shows the catalogue text
    ``error.<reason>`` filled with ``params`` in the reader's language, the API returns the
    English ``message`` with ``code``, ``reason`` and ``params``.
    """

    code = "error"
    status = 500

    def __init__(
        self,
        message: str,
        *,
        detail: Any = None,
        reason: str | None = None,
        params: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.detail = detail
        self.reason = reason
        self.params: dict[str, Any] = dict(params or {})

    def to_dict(self) -> dict[str, Any]:
        """Shape the error for an API response."""
        out: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.reason is not None:
            out["reason"] = self.reason
            out["params"] = self.params
        if self.detail is not None:
            out["detail"] = self.detail
        return out

    def headers(self) -> dict[str, str]:
        """Extra HTTP headers of the answer (``Retry-After``, say); none by default."""
        return {}


class InvalidInput(IndunetError):
    """The request is malformed or breaks a rule; nothing was changed."""

    code = "invalid_input"
    status = 400


class NotFound(IndunetError):
    """The thing asked for does not exist."""

    code = "not_found"
    status = 404


class Conflict(IndunetError):
    """The thing already exists, or the change clashes with the current state."""

    code = "conflict"
    status = 409


class AuthenticationFailed(IndunetError):
    """Credentials are missing or wrong."""

    code = "authentication_failed"
    status = 401


class PermissionDenied(IndunetError):
    """The caller is known but may not do this."""

    code = "permission_denied"
    status = 403
