"""Identifier records (备案记录) over the API: every registration, change and deletion of an
identifier, searched by handle, prefix, action, actor and time, paged, and exported as CSV.

Scoped by ``core.access.scope``: platform admins and regulators read every entry (and may
narrow to one enterprise); everyone else reads the entries of their enterprise's prefixes.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Response
from starlette.responses import StreamingResponse

from indunet.core import User, access
from indunet.ids import history, recordcsv
from indunet.web.deps import MAX_DB_INT, QueryId, StateDep, UserDep
from indunet.web.state import AppState

router = APIRouter()
Action = Literal["handle.create", "handle.modify", "handle.delete", "handle.remove_values"]
MAX_PAGE = 1000


def _utc(at: datetime | None) -> datetime | None:
    """An ISO time as UTC (a time without an offset is taken as UTC)."""
    return None if at is None else history.utc(at)


def _filter(
    state: AppState,
    user: User,
    q: str | None,
    handle: str | None,
    prefix: str | None,
    action: str | None,
    actor: str | None,
    since: datetime | None,
    until: datetime | None,
    enterprise_id: int | None,
) -> history.RecordFilter:
    eid = access.scope(user, enterprise_id)
    return history.RecordFilter(
        q=q or "",
        handle=history.seen_handle(state.engine, user, handle) if handle else "",
        prefix=history.seen_prefix(state.engine, user, prefix) if prefix else "",
        action=action or "",
        actor=actor or "",
        since=_utc(since),
        until=_utc(until),
        enterprise_id=eid,
    )


TextQ = Annotated[
    str | None, Query(max_length=400, description="contained in the identifier (any case)")
]
HandleQ = Annotated[
    str | None, Query(max_length=400, description="exactly this identifier (any case)")
]
PrefixQ = Annotated[
    str | None, Query(max_length=128, description="exactly this prefix (another's: 404)")
]
ActionQ = Annotated[Action | None, Query()]
ActorQ = Annotated[str | None, Query(max_length=200, description="exactly, e.g. user:alice")]
SinceQ = Annotated[datetime | None, Query(description="ISO 8601, inclusive")]
UntilQ = Annotated[datetime | None, Query(description="ISO 8601, exclusive")]


def _json(c: history.Change) -> dict[str, Any]:
    return {
        "id": c.id,
        "at": c.at.isoformat(),
        "node": c.node,
        "prefix": c.prefix,
        "handle": c.handle,
        "action": c.action,
        "actor": c.actor,
        "before": c.before,
        "cut": c.cut,
    }


@router.get("/records", tags=["records"])
def records(
    state: StateDep,
    user: UserDep,
    response: Response,
    q: TextQ = None,
    handle: HandleQ = None,
    prefix: PrefixQ = None,
    action: ActionQ = None,
    actor: ActorQ = None,
    since: SinceQ = None,
    until: UntilQ = None,
    enterprise_id: QueryId = None,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 100,
    offset: Annotated[int, Query(ge=0, le=MAX_DB_INT)] = 0,
) -> list[dict[str, Any]]:
    """Records of identifiers, newest first: one per registration, change or deletion, with
    the public values the record held before (``null`` for a registration); ``X-Total-Count``
    says how many match."""
    f = _filter(state, user, q, handle, prefix, action, actor, since, until, enterprise_id)
    total, found = history.search(state.engine, f, offset=offset, limit=limit)
    response.headers["X-Total-Count"] = str(total)
    return [_json(c) for c in found]


@router.get("/records/export.csv", tags=["records"], response_class=StreamingResponse)
def export_records(
    state: StateDep,
    user: UserDep,
    q: TextQ = None,
    handle: HandleQ = None,
    prefix: PrefixQ = None,
    action: ActionQ = None,
    actor: ActorQ = None,
    since: SinceQ = None,
    until: UntilQ = None,
    enterprise_id: QueryId = None,
) -> StreamingResponse:
    """The records the filters match as CSV, newest first, at most 100,000 lines
    (``ids.history.EXPORT_LIMIT``), streamed as they are read in chunks (times in UTC)."""
    f = _filter(state, user, q, handle, prefix, action, actor, since, until, enterprise_id)
    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
    return StreamingResponse(
        recordcsv.lines(history.export(state.engine, f), lambda at: at.isoformat()),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="records-{stamp}.csv"'},
    )
