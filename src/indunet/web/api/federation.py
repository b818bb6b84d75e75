"""The federation's API: what peers call (enrolment, deliveries) and what an administrator
reads and issues (the overview, enrolment tokens).

- ``POST /api/v1/federation/enrol``: a child enrols with a one-time token (anonymous: the
  token and the proof of its key are the credentials).
- ``POST /api/v1/federation/messages``: a peer delivers signed messages (anonymous: each
  message is signed by an enrolled peer's key). 200 with ``through`` (the sender's last
  applied number); 409 ``federation_sequence_gap`` with ``detail.expected``; 401 a bad
  signature; 403 a sender unknown or removed; 413 too large; 400 anything else malformed.
- ``GET /api/v1/federation``: this instance's identity, its parent and children, each with
  its backlog, and ``aggregate``: this instance's indicators, its subtree's totals and each
  active child's last reported totals with when it reported and whether that is stale
  (platform administrators and overseers).
- ``GET /api/v1/federation/alerts``: the alert summaries the children relayed up, newest
  first, each with its origin, path and age (search ``q``, ``origin``, ``offset``/``limit``;
  platform administrators and overseers).
- ``POST /api/v1/federation/tokens``: a new enrolment token for a child's level (platform
  administrators; shown once).
"""

from __future__ import annotations

from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from indunet.core import (
    AuthenticationFailed,
    Conflict,
    InvalidInput,
    NotFound,
    PermissionDenied,
    Role,
    access,
)
from indunet.core.errors import IndunetError
from indunet.federation import MAX_BATCH, Federation, Refused, enrolment
from indunet.federation import alerts as relayed
from indunet.federation.envelope import MAX_BATCH_BYTES
from indunet.web.api.security_events import read_body
from indunet.web.deps import StateDep, UserDep, require
from indunet.web.state import AppState

router = APIRouter(tags=["federation"])
MAX_ENROL_BODY = 16 * 1024
_FORBIDDEN = {"federation_sender_unknown", "federation_sender_removed", "federation_recipient"}


class TooLarge(IndunetError):
    code = "payload_too_large"
    status = 413


def federation_of(state: AppState) -> Federation:
    svc = state.services.get("federation")
    if not isinstance(svc, Federation):
        raise NotFound("this process runs no federation")
    return svc


def http_error(exc: Refused) -> IndunetError:
    """A refusal as the API's error, by its reason."""
    message, reason = str(exc), exc.reason
    if reason == "federation_sequence_gap":
        expected = getattr(exc, "expected", None)
        return Conflict(message, reason=reason, detail={"expected": expected})
    if reason == "federation_signature":
        return AuthenticationFailed(message, reason=reason)
    if reason in _FORBIDDEN:
        return PermissionDenied(message, reason=reason)
    if reason in ("federation_message_too_large",):
        return TooLarge(message, reason=reason)
    if reason in ("federation_not_initialised", "federation_token_used", "federation_name_taken"):
        return Conflict(message, reason=reason)
    return InvalidInput(message, reason=reason)


def _json(body: bytes) -> Any:
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise InvalidInput(f"the body is not JSON: {exc}", reason="federation_json") from None


@router.post("/federation/messages")
async def deliver(request: Request, state: StateDep) -> dict[str, Any]:
    """Take a delivery of signed messages from a peer."""
    fed = federation_of(state)
    data = _json(await read_body(request, MAX_BATCH_BYTES))
    if not isinstance(data, dict) or set(data) != {"messages"}:
        raise InvalidInput('the body is {"messages": [...]}', reason="federation_batch")
    if isinstance(data["messages"], list) and len(data["messages"]) > MAX_BATCH:
        raise TooLarge(f"at most {MAX_BATCH} messages a delivery", reason="federation_batch")
    try:
        receipt = await run_in_threadpool(fed.receive, data["messages"])
    except Refused as exc:
        raise http_error(exc) from None
    return {
        "through": receipt.through,
        "applied": receipt.applied,
        "duplicates": receipt.duplicates,
        "bodies_refused": receipt.bodies_refused,
    }


@router.post("/federation/enrol")
async def enrol(request: Request, state: StateDep) -> dict[str, Any]:
    """Enrol a child that holds a token this instance issued."""
    fed = federation_of(state)
    me = fed.me or await run_in_threadpool(fed.reload)
    if me is None:
        raise Conflict(
            "this instance has no federation identity yet", reason="federation_not_initialised"
        )
    data = _json(await read_body(request, MAX_ENROL_BODY))
    try:
        return await run_in_threadpool(enrolment.accept, state.engine, me, data, fed.check_url)
    except Refused as exc:
        raise http_error(exc) from None


@router.get("/federation")
def overview(user: UserDep, state: StateDep) -> dict[str, Any]:
    """This instance's identity, parent and children, with each one's backlog."""
    if not access.sees_all(user):  # the installation's, no enterprise's
        raise PermissionDenied("the federation is seen by platform administrators and regulators")
    fed = federation_of(state)
    return {**fed.overview(), "aggregate": fed.aggregate()}


@router.get("/federation/alerts")
def relayed_alerts(
    user: UserDep,
    state: StateDep,
    q: Annotated[str, Query(max_length=100)] = "",
    origin: Annotated[str, Query(max_length=63)] = "",
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
) -> dict[str, Any]:
    """Alert summaries relayed up from the children, newest first."""
    if not access.sees_all(user):
        raise PermissionDenied("the federation is seen by platform administrators and regulators")
    fed = federation_of(state)
    items, total = relayed.page(fed.engine, q, origin, offset, limit)
    return {"items": items, "total": total}


class TokenIn(BaseModel):
    level: str = Field(max_length=16)
    note: str = Field(default="", max_length=200)
    ttl_hours: float = Field(default=24.0, gt=0, le=24 * 30)


@router.post("/federation/tokens", status_code=201)
def issue(body: TokenIn, user: UserDep, state: StateDep) -> dict[str, Any]:
    """A one-time enrolment token for a child of ``level`` (shown once)."""
    require(user, Role.PLATFORM_ADMIN)
    federation_of(state)
    try:
        token = enrolment.issue_token(state.engine, body.level, body.note, body.ttl_hours * 3600)
    except Refused as exc:
        raise http_error(exc) from None
    return {"token": token, "level": body.level, "expires_in_s": body.ttl_hours * 3600}
