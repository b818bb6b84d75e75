"""Security events by raw log lines, the event store's list, and the ingest sources.

- ``POST /api/v1/security/logs?format=zeek|zeek-json|eve|syslog``: a log shipper posts raw
  lines (8 MiB at most, gzip allowed). Unlike ``POST /security/events`` this is NOT all or
  nothing: every line that reads is queued, every line that does not is reported by number
  (the first 100, and how many in all) — a log file has bad lines, and the good ones must
  not wait for them. 503 with ``Retry-After`` when the hub stayed full (nothing queued).
- ``GET /api/v1/security/events``: the stored events, newest first, with search (text,
  source, kind, protocol, IP, time range, least severity) and server-side paging; an
  enterprise sees its own, overseers every enterprise's (or one's, by ``enterprise_id``).
- ``GET /api/v1/security/sources``: each ingest source's counters; overseers see every
  source, an enterprise the sources that carry it (its own HTTP posts).
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Query, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from indunet.core import InvalidInput, NotFound, Role, User, access
from indunet.security.eventstore import EventQuery, EventStore
from indunet.security.ingest import FORMATS, read_text
from indunet.security.ingest.service import Ingest
from indunet.security.ingest.tail import SUBMIT_WAIT_S
from indunet.web.api.security_events import read_body, security_of
from indunet.web.deps import QueryId, StateDep, UserDep, current_user, require
from indunet.web.state import AppState

router = APIRouter(tags=["security"])
MAX_LOG_BODY = 8 * 1024 * 1024
MAX_ERRORS_SHOWN = 100
MAX_OFFSET = 1_000_000
_POSTERS = (Role.PLATFORM_ADMIN, Role.ENTERPRISE_ADMIN, Role.ENTERPRISE_USER)
Text = Annotated[str, Query(max_length=200)]
Offset = Annotated[int, Query(ge=0, le=MAX_OFFSET)]
Limit = Annotated[int, Query(ge=1, le=500)]


def ingest_of(state: AppState) -> Ingest:
    part = security_of(state).part("ingest")
    if not isinstance(part, Ingest):
        raise NotFound("this process runs no security event ingest")
    return part


def store_of(state: AppState) -> EventStore:
    part = security_of(state).part("event-store")
    if not isinstance(part, EventStore):
        raise NotFound("this process runs no security event store")
    return part


@router.post(
    "/security/logs",
    responses={
        200: {"description": "lines read: events queued, duplicates, bad lines by number"},
        400: {"description": "an unknown format, or a body that is not text"},
        413: {"description": "the body is over 8 MiB"},
        503: {"description": "the event queue stayed full; retry after Retry-After seconds"},
    },
)
async def post_logs(
    request: Request,
    state: StateDep,
    format: Annotated[str, Query(max_length=16, description="zeek, zeek-json, eve, syslog")],
    name: Annotated[
        str, Query(max_length=200, description="the log's file name (a Zeek log's path)")
    ] = "",
    enterprise_id: QueryId = None,
) -> Response:
    """Queue the events of raw log lines; bad lines are reported, the good ones queued."""
    svc = security_of(state)
    ingest = ingest_of(state)
    user = await run_in_threadpool(current_user, request, state)
    require(user, *_POSTERS)
    eid = access.scope(user, enterprise_id)  # another tenant's enterprise: 404 first
    if eid is not None and access.sees_all(user):
        access.check_change(user, eid, f"enterprise {eid}")
    if format not in FORMATS:
        raise InvalidInput(
            f"format {format!r}: one of {', '.join(FORMATS)}",
            reason="security_log_format",
            params={"format": format[:16], "formats": ", ".join(FORMATS)},
        )
    body = await read_body(request, MAX_LOG_BODY)
    text = body.decode("utf-8", "replace")
    file = name or f"{format}.log"
    events, errors = await run_in_threadpool(
        read_text, format, text, file, observer=name or f"http {user.username}", enterprise_id=eid
    )
    source = f"http {format} " + (f"enterprise {eid}" if eid is not None else "platform")
    stats = ingest.source(source, "http", format, eid)
    stats.read += text.count("\n") + (0 if text.endswith("\n") or not text else 1)
    stats.parsed += len(events)
    stats.bad += len(errors)
    if errors:
        stats.last_error = str(errors[-1])[:300]
    # the hub recognises lines posted again (their ids are hashes of the lines)
    receipt = await svc.hub.submit(events, wait=SUBMIT_WAIT_S)
    stats.submitted += receipt.accepted
    stats.duplicates += receipt.duplicates
    answer = {
        "events": len(events),
        "accepted": receipt.accepted,
        "duplicates": len(events) - receipt.accepted,
        "bad_lines": len(errors),
        "errors": [{"line": e.line, "error": e.error} for e in errors[:MAX_ERRORS_SHOWN]],
    }
    return Response(orjson.dumps(answer), media_type="application/json")


def _time(value: str, what: str) -> float | None:
    if not value:
        return None
    try:
        return float(value)
    except ValueError:
        pass
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise InvalidInput(
            f"{what} {value!r}: seconds since the epoch or ISO 8601",
            reason="security_events_time",
            params={"field": what},
        ) from None
    if moment.tzinfo is None:
        raise InvalidInput(
            f"{what} {value!r}: give the zone (Z or +08:00)",
            reason="security_events_time",
            params={"field": what},
        )
    return moment.timestamp()


def query_from(
    q: str = "",
    source: str = "",
    kind: str = "",
    protocol: str = "",
    ip: str = "",
    since: str = "",
    until: str = "",
    min_severity: int = 0,
    enterprise_id: int | None = None,
) -> EventQuery:
    """An ``EventQuery`` from request parameters; ``InvalidInput`` naming a bad one."""
    return EventQuery(
        q=q.strip(),
        source=source,
        kind=kind,
        protocol=protocol,
        ip=ip.strip(),
        since=_time(since, "since"),
        until=_time(until, "until"),
        min_severity=min_severity,
        enterprise_id=enterprise_id,
    )


def _events(state: AppState, user: User, query: EventQuery, offset: int, limit: int) -> Any:
    rows, total = store_of(state).search(user, query, offset=offset, limit=limit)
    return {"items": rows, "total": total, "offset": offset, "limit": limit}


@router.get("/security/events")
async def list_events(
    state: StateDep,
    user: UserDep,
    q: Text = "",
    source: Annotated[str, Query(max_length=16)] = "",
    kind: Text = "",
    protocol: Text = "",
    ip: Annotated[str, Query(max_length=45)] = "",
    since: Annotated[str, Query(max_length=40, description="ISO 8601 or epoch s")] = "",
    until: Annotated[str, Query(max_length=40, description="ISO 8601 or epoch s")] = "",
    min_severity: Annotated[int, Query(ge=0, le=15)] = 0,
    enterprise_id: QueryId = None,
    offset: Offset = 0,
    limit: Limit = 50,
) -> Response:
    """Stored security events the caller may see, newest first (``ts`` in epoch seconds)."""
    query = query_from(q, source, kind, protocol, ip, since, until, min_severity, enterprise_id)
    result = await run_in_threadpool(_events, state, user, query, offset, limit)
    return Response(orjson.dumps(result), media_type="application/json")


@router.get("/security/sources")
def list_sources(state: StateDep, user: UserDep) -> dict[str, Any]:
    """Each ingest source and its counters: read, parsed, bad, overlong, duplicates,
    rate-limited, dropped, submitted."""
    ingest = ingest_of(state)
    sees_all = access.sees_all(user)
    own = None if sees_all else access.scope(user)
    items = [s.to_dict() for s in ingest.visible(own, sees_all)]
    return {"items": items, "total": len(items)}
