"""Notifications API (read-only): channels without their secrets, subscription rules, and the
delivery log with search, filters and paging. Channels and rules are made in the console;
times are ISO 8601 UTC. Another enterprise's channel is not found (404)."""

from __future__ import annotations

from dataclasses import asdict
from typing import Annotated, Any

from fastapi import APIRouter, Query
from starlette.concurrency import run_in_threadpool

from indunet import notify
from indunet.core import NotFound, User
from indunet.web.deps import QueryId, StateDep, UserDep
from indunet.web.state import AppState

router = APIRouter(prefix="/notify", tags=["notifications"])
MAX_OFFSET = 1_000_000
Offset = Annotated[int, Query(ge=0, le=MAX_OFFSET)]
Limit = Annotated[int, Query(ge=1, le=100)]
Text = Annotated[str, Query(max_length=100)]


def _store(state: AppState) -> notify.Notifications:
    dispatcher = state.services.get("notify")
    if not isinstance(dispatcher, notify.Dispatcher):
        raise NotFound("notifications do not run in this process (an identifier node)")
    return dispatcher.store


def _json(item: Any) -> dict[str, Any]:
    out = asdict(item)
    for key, value in out.items():
        if hasattr(value, "isoformat"):
            out[key] = value.isoformat()
    return out


@router.get("/channels")
def list_channels(
    state: StateDep, user: UserDep, q: Text = "", offset: Offset = 0, limit: Limit = 20
) -> dict[str, Any]:
    """Channels the caller may see, by name (settings that may be shown; never secrets)."""
    items, total = _store(state).channels(user, q=q, offset=offset, limit=limit)
    return {"items": [_json(c) for c in items], "total": total}


@router.get("/rules")
def list_rules(
    state: StateDep, user: UserDep, q: Text = "", offset: Offset = 0, limit: Limit = 20
) -> dict[str, Any]:
    """Subscription rules the caller may see, with their channel's name."""
    items, total = _store(state).rules(user, q=q, offset=offset, limit=limit)
    rows = [_json(rule) | {"channel_name": name} for rule, name in items]
    return {"items": rows, "total": total}


def _deliveries(
    state: AppState,
    user: User,
    q: str,
    status: str,
    kind: str,
    channel: int | None,
    offset: int,
    limit: int,
) -> dict[str, Any]:
    store = _store(state)
    if channel is not None:
        store.channel(user, channel)  # another enterprise's channel: 404
    items, total = store.deliveries(
        user, q=q, status=status, kind=kind, channel_id=channel, offset=offset, limit=limit
    )
    return {"items": [_json(d) for d in items], "total": total}


@router.get("/deliveries")
async def list_deliveries(
    state: StateDep,
    user: UserDep,
    q: Text = "",
    status: Annotated[
        str, Query(max_length=16, description="pending, retrying, sent, failed, quiet")
    ] = "",
    kind: Annotated[str, Query(max_length=32, description="an event kind, or test")] = "",
    channel_id: QueryId = None,
    offset: Offset = 0,
    limit: Limit = 20,
) -> dict[str, Any]:
    """The delivery log, newest first: search (subject, device, channel) and filters."""
    result: dict[str, Any] = await run_in_threadpool(
        _deliveries, state, user, q, status, kind, channel_id, offset, limit
    )
    return result
