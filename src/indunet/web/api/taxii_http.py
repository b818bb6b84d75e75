"""TAXII 2.1's HTTP rules for ``web.api.taxii``: media types, content negotiation, the error
message shape, answers with the ``X-TAXII-Date-Added-*`` headers, and who is asking.

- Every answer is ``application/taxii+json;version=2.1``; a request whose ``Accept`` admits
  no TAXII 2.1 JSON is 406; a POST whose ``Content-Type`` is not TAXII 2.1 JSON is 415.
- Errors are TAXII error messages (§3.6.1): ``title``, ``description``, ``http_status`` (a
  string), ``error_code`` (our stable reason) and ``details`` (its parameters), with the
  4xx status of the Indunet error.
- Callers authenticate with an Indunet API token: ``Authorization: Bearer <token>``, or
  HTTP Basic (what TAXII clients send) with the token as the password and any user name.
  No credentials, or wrong ones: 401 with ``WWW-Authenticate: Basic``.
"""

from __future__ import annotations

import base64
import binascii
import functools
import logging
from collections.abc import Awaitable, Callable
from typing import Any

import orjson
from fastapi import Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from indunet.core import AuthenticationFailed, IndunetError, User
from indunet.web.auth import token_user
from indunet.web.state import AppState

log = logging.getLogger(__name__)
TAXII = "application/taxii+json;version=2.1"
STIX = "application/stix+json;version=2.1"
REALM = 'Basic realm="TAXII", charset="UTF-8"'


class NotAcceptable(IndunetError):
    """The client accepts no media type this server answers with."""

    code = "not_acceptable"
    status = 406


class UnsupportedMediaType(IndunetError):
    """The body is not in a media type this server reads."""

    code = "unsupported_media_type"
    status = 415


def _media(value: str) -> tuple[str, dict[str, str]]:
    kind, *params = (p.strip() for p in value.split(";"))
    named = dict(p.split("=", 1) for p in params if "=" in p)
    return kind.lower(), {k.strip().lower(): v.strip().strip('"') for k, v in named.items()}


def _is_taxii21(value: str, *, loose: bool) -> bool:
    kind, params = _media(value)
    if kind == "application/taxii+json":
        return params.get("version", "2.1") == "2.1"
    return loose and kind in ("*/*", "application/*", "application/json")


def check_accept(request: Request) -> None:
    """406 unless ``Accept`` (if any) admits TAXII 2.1 JSON."""
    accept = request.headers.get("accept", "")
    if accept and not any(_is_taxii21(v, loose=True) for v in accept.split(",")):
        raise NotAcceptable(
            f"this server answers {TAXII} only; Accept was {accept[:200]!r}",
            reason="taxii_not_acceptable",
            params={"accept": accept[:200]},
        )


def check_content_type(request: Request) -> None:
    """415 unless the body is TAXII 2.1 JSON."""
    given = request.headers.get("content-type", "")
    if not _is_taxii21(given, loose=False):
        raise UnsupportedMediaType(
            f"send the envelope as {TAXII}; Content-Type was {given[:200]!r}",
            reason="taxii_media_type",
            params={"content_type": given[:200]},
        )


def answer(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    """A TAXII 2.1 JSON answer."""
    return Response(orjson.dumps(data), status_code=status, media_type=TAXII, headers=headers)


def added_headers(first: str | None, last: str | None) -> dict[str, str]:
    """The ``X-TAXII-Date-Added-First``/``-Last`` headers of a page (none if it is empty)."""
    if first is None or last is None:
        return {}
    return {"X-TAXII-Date-Added-First": first, "X-TAXII-Date-Added-Last": last}


def error(exc: IndunetError) -> Response:
    """``exc`` as a TAXII error message."""
    body: dict[str, Any] = {
        "title": exc.code.replace("_", " ").capitalize(),
        "description": exc.message,
        "http_status": str(exc.status),
    }
    if exc.reason is not None:
        body["error_code"] = exc.reason
        body["details"] = {k: str(v) for k, v in exc.params.items()}
    headers = dict(exc.headers())
    if exc.status == 401:
        headers["WWW-Authenticate"] = REALM
    return answer(body, exc.status, headers)


def taxii_route(
    fn: Callable[..., Awaitable[Response]],
) -> Callable[..., Awaitable[Response]]:
    """Run ``fn`` with TAXII's content negotiation and error shape (never a traceback)."""

    @functools.wraps(fn)
    async def run(request: Request, **path: str) -> Response:
        try:
            check_accept(request)
            return await fn(request, **path)
        except IndunetError as exc:
            if exc.status >= 500:
                log.warning("TAXII %s %s: %s", request.method, request.url.path, exc.message)
            return error(exc)

    return run


def _credential(request: Request) -> str:
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    if scheme.lower() == "basic":
        try:
            raw = base64.b64decode(value.strip(), validate=True).decode()
        except (binascii.Error, UnicodeDecodeError):
            raise AuthenticationFailed(
                "the Basic credentials are not base64 of user:password"
            ) from None
        _, sep, password = raw.partition(":")
        if sep and password:
            return password
        raise AuthenticationFailed("send your Indunet API token as the Basic password")
    raise AuthenticationFailed(
        "authenticate with HTTP Basic (any user name, your API token as password) "
        "or 'Authorization: Bearer <token>'"
    )


async def caller(request: Request) -> User:
    """The user of the request's API token (Bearer, or the Basic password), or 401."""
    state: AppState = request.app.state.indunet
    token = _credential(request)
    return await run_in_threadpool(token_user, state.engine, token)
