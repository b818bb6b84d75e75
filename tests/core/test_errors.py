"""Shared errors carry a stable code, an HTTP status and a message."""

from __future__ import annotations

import pytest

from indunet import core


@pytest.mark.parametrize(
    ("cls", "code", "status"),
    [
        (core.InvalidInput, "invalid_input", 400),
        (core.AuthenticationFailed, "authentication_failed", 401),
        (core.PermissionDenied, "permission_denied", 403),
        (core.NotFound, "not_found", 404),
        (core.Conflict, "conflict", 409),
    ],
)
def test_each_error_has_its_code_and_status(
    cls: type[core.IndunetError], code: str, status: int
) -> None:
    err = cls("what went wrong", detail={"field": "name"})
    assert isinstance(err, core.IndunetError)
    assert (err.code, err.status) == (code, status)
    assert err.to_dict() == {
        "code": code,
        "message": "what went wrong",
        "detail": {"field": "name"},
    }
    assert cls("plain").to_dict() == {"code": code, "message": "plain"}
