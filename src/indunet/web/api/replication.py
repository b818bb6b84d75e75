"""The replication API a disaster-recovery node pulls from (``ids.changelog``, ``ids.replica``).

Both routes give whole records, restricted values and hashed secret keys included, so only a
platform administrator may read them (its API token is the DR node's credential).
"""

from __future__ import annotations

from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Query, Response

from indunet.core import NotFound, Role
from indunet.ids import Node, changelog, handle
from indunet.web.deps import MAX_DB_INT, StateDep, UserDep, require
from indunet.web.state import AppState

router = APIRouter()

NodeParam = Annotated[
    str | None,
    Query(
        max_length=128,
        description="the node's name or prefix (default: this process's front node)",
    ),
]
LimitParam = Annotated[
    int,
    Query(ge=1, le=changelog.MAX_PAGE, description=f"at most {changelog.MAX_PAGE} per page"),
]
GONE: dict[int | str, dict[str, Any]] = {
    410: {"description": "the changes after `after` are no longer kept: copy everything"}
}


def replicated_node(state: AppState, name: str | None) -> Node:
    """The node a copy asks for, by name or prefix (404 if this process runs no such node)."""
    nodes = state.hierarchy.nodes
    if name is None:
        return state.hierarchy.front
    if name in nodes:
        return nodes[name]
    norm = handle.normalise_prefix(name)
    for node in nodes.values():
        if node.prefix is not None and node.prefix == norm:
            return node
    raise NotFound(
        f"no node {name!r} here; this process runs {', '.join(nodes)}",
        reason="replica_node_not_found",
        params={"node": name},
    )


def _entry(e: changelog.Entry) -> dict[str, Any]:
    return {
        "seq": e.seq,
        "key": e.key,
        "handle": e.handle,
        "values": None if e.record is None else orjson.Fragment(e.record),
    }


def _head(h: changelog.Head) -> dict[str, int]:
    return {"head": h.last, "kept_after": h.pruned}


@router.get("/ids/changes", tags=["identifiers"], responses=GONE)
def changes(
    state: StateDep,
    user: UserDep,
    node: NodeParam = None,
    after: Annotated[int, Query(ge=0, le=MAX_DB_INT, description="the last number applied")] = 0,
    limit: LimitParam = changelog.MAX_PAGE,
) -> Response:
    """The changes of a node's records numbered above `after`, in commit order, each with
    the record as it is now (`values` null: deleted). Ask again with `after=next` while
    `more`; 410 means the copy must start again from `/ids/snapshot` (platform admins)."""
    require(user, Role.PLATFORM_ADMIN)
    target = replicated_node(state, node)
    page = changelog.read(state.engine, target.name, after, limit)
    body = {
        "node": target.name,
        "after": after,
        **_head(page.head),
        "next": page.next,
        "more": page.more,
        "changes": [_entry(e) for e in page.entries],
    }
    return Response(orjson.dumps(body), media_type="application/json")


@router.get("/ids/snapshot", tags=["identifiers"])
def snapshot(
    state: StateDep,
    user: UserDep,
    node: NodeParam = None,
    after: Annotated[
        str, Query(max_length=400, description="the last key of the previous page")
    ] = "",
    limit: LimitParam = changelog.MAX_PAGE,
) -> Response:
    """Every record of a node, by key, one page at a time (`after=next` until `next` is
    null); `head` of the first page is the change number to follow `/ids/changes` from
    (platform admins)."""
    require(user, Role.PLATFORM_ADMIN)
    target = replicated_node(state, node)
    snap = changelog.snapshot(state.engine, target.name, after, limit)
    body = {
        "node": target.name,
        **_head(snap.head),
        "next": snap.next,
        "records": [_entry(e) for e in snap.records],
    }
    return Response(orjson.dumps(body), media_type="application/json")
