"""A DR copy facing a broken or hostile primary: it refuses what it cannot trust, stores
nothing of it, and keeps what it had (the primary here is an httpx handler that misbehaves;
tests/integration/test_dr_processes.py runs a real one)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import orjson
import pytest
import sqlalchemy as sa

from indunet.ids import Node, NodeRole, Replica, TemplateRegistry, announce
from indunet.ids.replica import MAX_BODY, ReplicaError

GOOD = [
    {
        "index": 1,
        "type": "URL",
        "data": {"format": "string", "value": "https://a.example.cn/1"},
        "ttl": 86400,
        "timestamp": "2026-12-07T00:00:00Z",
    }
]


def copy_node(engine: sa.Engine) -> Node:
    return Node(
        "88.100",
        NodeRole.DR,
        "88.100",
        engine,
        TemplateRegistry(engine),
        copy_of="http://primary.test",
    )


def answer_with(status: int, body: bytes) -> Callable[[httpx.Request], httpx.Response]:
    """A primary that answers every request with ``status`` and ``body``, streamed."""
    return lambda _req: httpx.Response(status, stream=httpx.ByteStream(body))


def replica(node: Node, answer: Callable[[httpx.Request], httpx.Response]) -> Replica:
    return Replica(node, "http://primary.test", "t" * 40, transport=httpx.MockTransport(answer))


def page(changes: list[dict[str, Any]], *, next_: int, head: int | None = None) -> bytes:
    return orjson.dumps(
        {"head": head or next_, "next": next_, "more": False, "changes": changes, "kept_after": 0}
    )


async def started(node: Node, answer: Callable[[httpx.Request], httpx.Response]) -> Replica:
    r = replica(node, answer)
    await r.open()
    r.status.applied = 0  # as if copied once: the tests read the changes
    return r


@pytest.mark.parametrize(
    ("status", "body", "named"),
    [
        (200, b"<html>not json", "not JSON"),
        (200, b"[1, 2]", "not a JSON object"),
        (200, page([], next_=0, head=-1), "'head'"),
        (200, orjson.dumps({"head": 1, "next": 1, "changes": {"a": 1}}), "'changes'"),
        (200, page([{"key": "x"}] * 1001, next_=1), "at most 1000"),
        (401, b'{"message": "bad token"}', "HTTP 401"),
        (500, b"boom", "HTTP 500"),
    ],
)
async def test_a_bad_answer_is_refused_and_nothing_is_applied(
    engine: sa.Engine, status: int, body: bytes, named: str
) -> None:
    node = copy_node(engine)
    r = await started(node, answer_with(status, body))
    try:
        with pytest.raises(ReplicaError, match=named):
            await r.sync_once()
        assert r.status.applied == 0 and node.store.count() == 0
    finally:
        await r.stop()


async def test_an_answer_over_the_size_limit_is_cut_off(engine: sa.Engine) -> None:
    node = copy_node(engine)

    r = await started(node, answer_with(200, b" " * (MAX_BODY + 1)))
    try:
        with pytest.raises(ReplicaError, match="larger than"):
            await r.sync_once()
    finally:
        await r.stop()


async def test_a_primary_going_back_in_numbers_is_refused(engine: sa.Engine) -> None:
    node = copy_node(engine)
    r = await started(node, answer_with(200, page([], next_=3)))
    try:
        r.status.applied = 9
        with pytest.raises(ReplicaError, match="went back"):
            await r.sync_once()
        assert r.status.applied == 9
    finally:
        await r.stop()


async def test_records_that_fail_their_checks_are_skipped_the_rest_applied(
    engine: sa.Engine,
) -> None:
    node = copy_node(engine)
    changes = [
        {"seq": 1, "key": "88.100/OTHER", "handle": "88.100/a-1", "values": GOOD},  # key ≠ handle
        {"seq": 2, "key": "88.100/B-1", "handle": "88.100/b-1", "values": [{"index": "x"}]},
        {"seq": 3, "key": "NO SLASH", "handle": "NO SLASH", "values": GOOD},
        {"seq": 4, "key": "88.100/C-1", "handle": "88.100/c-1", "values": GOOD},
        "not an object",
    ]
    r = await started(node, answer_with(200, page(changes, next_=5)))
    try:
        assert await r.sync_once() is False
        assert r.status.applied == 5
        assert [k for k in ("88.100/OTHER", "88.100/A-1", "88.100/B-1", "88.100/C-1")
                if node.store.get(k) is not None] == ["88.100/C-1"]  # fmt: skip
    finally:
        await r.stop()


async def test_a_snapshot_that_does_not_move_forward_is_refused(engine: sa.Engine) -> None:
    node = copy_node(engine)
    stuck = orjson.dumps({"head": 1, "next": "", "records": []})
    r = replica(node, answer_with(200, stuck))
    await r.open()
    try:
        assert r.status.applied is None
        with pytest.raises(ReplicaError, match="does not move forward"):
            await r.sync_once()
        assert r.status.applied is None
    finally:
        await r.stop()


@pytest.mark.parametrize(("primary", "marked"), [(True, True), (False, False)])
def test_a_dr_copy_announced_first_is_still_not_primary(primary: bool, marked: bool) -> None:
    """``announce(primary=False)`` (what ``indunet node --role dr`` passes) never marks its
    site primary, even when the prefix has no site yet; other nodes' first site is."""
    put: list[dict[str, Any]] = []

    def parent(req: httpx.Request) -> httpx.Response:
        if req.method == "GET":
            return httpx.Response(200, json={"responseCode": 1, "values": []})
        put.append(orjson.loads(req.content))
        return httpx.Response(200, json={"responseCode": 1})

    with httpx.Client(transport=httpx.MockTransport(parent)) as client:
        added = announce(
            "http://top.test", "88.100", "key", ["http://dr.test"], client=client, primary=primary
        )
    assert added == ["http://dr.test"]
    assert put[0]["values"][0]["data"]["value"] == {"url": "http://dr.test", "primary": marked}
