"""Security events over HTTP: ``POST /api/v1/security/events``.

The sensor (``indunet sensor --ship``), log shippers and scripts post normalised events
(``security.SecurityEvent``; docs/security/concepts.md). A batch is all or nothing: one event
that does not read is a 400 naming it and its field, and none of the batch is queued. 200 means
every event is in the hub's queue (or was already, by id); 503 with ``Retry-After`` means the
queue stayed full, and the sender keeps its batch to send again.

Who may post: platform admins (for any enterprise, or none), and an enterprise's admins and
users (for their own enterprise: an event naming none is made theirs, naming another is 404).
"""

from __future__ import annotations

from typing import Any

import orjson
from fastapi import APIRouter, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from indunet import connect
from indunet.core import InvalidInput, NotFound, Role, User, access
from indunet.security import Security, SecurityEvent, event_from_dict
from indunet.web.deps import StateDep, current_user, require

router = APIRouter(tags=["security"])
MAX_BODY = 8 * 1024 * 1024
MAX_EVENTS = 10_000
SUBMIT_WAIT_S = 10.0
"""How long a batch waits for room in the hub's queue before the answer is 503."""
_POSTERS = (Role.PLATFORM_ADMIN, Role.ENTERPRISE_ADMIN, Role.ENTERPRISE_USER)


def security_of(state: Any) -> Security:
    """The security service of this process, or 404."""
    svc = state.services.get("security")
    if not isinstance(svc, Security):
        raise NotFound("this process runs no security service")
    return svc


async def read_body(request: Request, limit: int = MAX_BODY) -> bytes:
    """The request's body, refused (413) as soon as it passes ``limit`` bytes."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise connect.PayloadTooLarge(f"the body is over {limit:,} bytes; send smaller batches")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise connect.PayloadTooLarge(f"the body is over {limit:,} bytes; send smaller batches")
        chunks.append(chunk)
    return connect.inflate_body(
        b"".join(chunks), request.headers.get("content-encoding", ""), limit
    )


def parse_events(body: bytes, user: User) -> list[SecurityEvent]:
    """Every event of ``body`` (a JSON array, or ``{"events": [...]}``) checked and scoped to
    what ``user`` may post for; ``InvalidInput`` naming the first that is wrong."""
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise InvalidInput(
            f"the body is not JSON: {exc}",
            reason="security_events_json",
            params={"error": str(exc)},
        ) from None
    if isinstance(data, dict) and set(data) == {"events"}:
        data = data["events"]
    if not isinstance(data, list):
        raise InvalidInput(
            'send a JSON array of events, or {"events": [...]}', reason="security_events_shape"
        )
    if len(data) > MAX_EVENTS:
        raise InvalidInput(
            f"{len(data):,} events in one batch; send {MAX_EVENTS:,} at most",
            reason="security_events_count",
            params={"count": str(len(data)), "limit": str(MAX_EVENTS)},
        )
    out: list[SecurityEvent] = []
    own = None if access.sees_all(user) else access.scope(user)
    for i, item in enumerate(data):
        event = event_from_dict(item, where=f"event {i}")
        if own is not None:
            if event.enterprise_id is None:
                event = _with_enterprise(event, own)
            elif event.enterprise_id != own:
                raise NotFound(f"no enterprise {event.enterprise_id}")
        elif event.enterprise_id is not None:
            access.check_change(user, event.enterprise_id, f"enterprise {event.enterprise_id}")
        out.append(event)
    return out


def _with_enterprise(event: SecurityEvent, enterprise_id: int) -> SecurityEvent:
    from dataclasses import replace

    return replace(event, enterprise_id=enterprise_id)


@router.post(
    "/security/events",
    responses={
        200: {"description": "queued: accepted, duplicates (already seen, by id)"},
        400: {"description": "an event does not read; its index and field are named"},
        413: {"description": "the body is over 8 MiB"},
        503: {"description": "the event queue stayed full; retry after Retry-After seconds"},
    },
)
async def post_events(request: Request, state: StateDep) -> Response:
    """Queue a batch of normalised security events (all or nothing)."""
    svc = security_of(state)
    user = await run_in_threadpool(current_user, request, state)
    require(user, *_POSTERS)
    body = await read_body(request)
    events = parse_events(body, user)
    receipt = await svc.hub.submit(events, wait=SUBMIT_WAIT_S)
    return Response(
        orjson.dumps({"accepted": receipt.accepted, "duplicates": receipt.duplicates}),
        media_type="application/json",
    )
