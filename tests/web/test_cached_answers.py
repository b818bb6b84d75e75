"""The front node's cache hits, answered by the CachedAnswers middleware before the routes."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from indunet import ids
from indunet.ids.prefixes import revoke
from indunet.web import AppState, create_app


@pytest.fixture
async def client(state: AppState) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=create_app(state))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
        yield c


async def test_a_cache_hit_gives_the_same_answer_and_is_counted(
    client: httpx.AsyncClient, state: AppState
) -> None:
    front = state.hierarchy.front
    first = await client.get("/api/handles/0.NA/88")  # held by the root: resolved, then cached
    hits, count = front.resolver.answers.hits, front.stats.resolutions  # type: ignore[union-attr]
    second = await client.get("/api/handles/0.na/88")  # ASCII case does not matter
    assert first.status_code == second.status_code == 200
    assert second.json() == first.json() | {"handle": "0.na/88"}  # echoed as asked
    assert second.headers["content-type"] == "application/json"
    assert int(second.headers["content-length"]) == len(second.content)
    assert front.resolver.answers.hits == hits + 1  # type: ignore[union-attr]
    assert front.stats.resolutions == count + 1


async def test_a_query_still_filters_after_the_answer_is_cached(client: httpx.AsyncClient) -> None:
    await client.get("/api/handles/0.NA/88")
    resp = await client.get("/api/handles/0.NA/88", params={"type": "DESC"})
    assert resp.status_code == 200
    assert [v["type"] for v in resp.json()["values"]] == ["DESC"]


async def test_a_cached_not_found_keeps_its_404(client: httpx.AsyncClient) -> None:
    first = await client.get("/api/handles/88.999/NOPE")
    second = await client.get("/api/handles/88.999/NOPE")  # now in the negative cache
    assert first.status_code == second.status_code == 404
    assert second.json()["responseCode"] == 100


async def test_other_methods_and_paths_pass_through(client: httpx.AsyncClient) -> None:
    await client.get("/api/handles/0.NA/88")
    resp = await client.put("/api/handles/0.NA/88", json={"values": []})
    assert resp.status_code == 401  # the route answered: it asks for credentials
    assert (await client.get("/api/handles/")).status_code in (400, 404)


# -- the authoritative path: the front node's own records ----------------------------------
SECRET = "s3cret-key-for-tests"
AUTH = ("300%3A0.NA/88.100.1", SECRET)


def _value(index: int, vtype: str, text: str, permissions: str = "1110") -> dict[str, object]:
    data = {"format": "string", "value": text}
    return {"index": index, "type": vtype, "data": data, "permissions": permissions}


@pytest.fixture
async def owner(state: AppState, allocation: ids.Allocation) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=create_app(state))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver", auth=AUTH) as c:
        yield c


async def _put(c: httpx.AsyncClient, handle: str, *values: dict[str, object]) -> None:
    resp = await c.put(f"/api/handles/{handle}", json={"values": list(values)})
    assert resp.status_code in (200, 201), resp.text


async def test_a_record_held_here_is_answered_from_the_node_cache(
    client: httpx.AsyncClient, owner: httpx.AsyncClient, state: AppState
) -> None:
    front = state.hierarchy.front
    await _put(owner, "88.100.1/pump-1", _value(1, "URL", "https://example.com/p1"))
    first = await client.get("/api/handles/88.100.1/PUMP-1")  # read from the database
    hits, daily = front.answers.hits, front.stats.daily.drain()
    second = await client.get("/api/handles/88.100.1/Pump-1")
    assert first.status_code == second.status_code == 200
    assert second.json() == first.json() | {"handle": "88.100.1/Pump-1"}  # echoed as asked
    assert int(second.headers["content-length"]) == len(second.content)
    assert front.answers.hits == hits + 1
    assert sum(c[1] for c in daily.values()) == 1  # the first read counted for its prefix …
    counted = front.stats.daily.drain()  # … and the cache hit as well
    assert [(k[1], c[1]) for k, c in counted.items()] == [("88.100.1", 1)]
    metrics = (await client.get("/metrics")).text
    assert f'indunet_ids_answer_cache_lookups_total{{node="88.100",result="hit"}} {hits + 1}' in (
        metrics
    )


async def test_every_write_reaches_the_cached_answer(
    client: httpx.AsyncClient, owner: httpx.AsyncClient
) -> None:
    handle = "/api/handles/88.100.1/pump-2"
    await _put(owner, "88.100.1/pump-2", _value(1, "URL", "https://example.com/old"))
    for _ in range(2):
        assert (await client.get(handle)).json()["values"][0]["data"]["value"].endswith("old")
    await _put(owner, "88.100.1/pump-2", _value(1, "URL", "https://example.com/new"))
    assert (await client.get(handle)).json()["values"][0]["data"]["value"].endswith("new")
    resp = await owner.put(
        f"{handle}?index=2", json={"values": [_value(2, "EMAIL", "ops@example.com")]}
    )
    assert resp.status_code == 200, resp.text
    assert [v["index"] for v in (await client.get(handle)).json()["values"]] == [1, 2, 100]
    assert (await owner.delete(f"{handle}?index=2")).status_code == 200
    assert [v["index"] for v in (await client.get(handle)).json()["values"]] == [1, 100]
    assert (await owner.delete(handle)).status_code == 200
    assert (await client.get(handle)).status_code == 404


async def test_restricted_values_never_leave_the_cache_for_an_anonymous_caller(
    client: httpx.AsyncClient, owner: httpx.AsyncClient, state: AppState
) -> None:
    await _put(
        owner,
        "88.100.1/secret-1",
        _value(1, "URL", "https://example.com/public"),
        _value(2, "DESC", "only for the owner", permissions="1100"),
    )
    for _ in range(3):  # database read, then cache hits through the middleware and the route
        body = (await client.get("/api/handles/88.100.1/secret-1")).json()
        assert [v["index"] for v in body["values"]] == [1, 100]
        assert "only for the owner" not in str(body)
    filtered = await client.get("/api/handles/88.100.1/secret-1", params={"type": "DESC"})
    assert filtered.json()["values"] == []
    assert state.hierarchy.front.answers.hits >= 2


async def test_a_type_filter_is_honoured_on_a_cached_record(
    client: httpx.AsyncClient, owner: httpx.AsyncClient
) -> None:
    await _put(
        owner,
        "88.100.1/pump-3",
        _value(1, "URL", "https://example.com/p3"),
        _value(3, "EMAIL", "ops@example.com"),
    )
    await client.get("/api/handles/88.100.1/pump-3")
    resp = await client.get("/api/handles/88.100.1/pump-3", params={"type": "url"})
    assert [v["index"] for v in resp.json()["values"]] == [1]
    resp = await client.get("/api/handles/88.100.1/pump-3", params={"index": "3"})
    assert [v["type"] for v in resp.json()["values"]] == ["EMAIL"]


async def test_auth_true_reads_the_record_again_and_refreshes_the_cache(
    client: httpx.AsyncClient, owner: httpx.AsyncClient, state: AppState
) -> None:
    front = state.hierarchy.front
    await _put(owner, "88.100.1/pump-4", _value(1, "URL", "https://example.com/v1"))
    await client.get("/api/handles/88.100.1/pump-4")  # now cached
    # A change the cache is not told about (as if another process wrote without a poll yet).
    values = [ids.HandleValue(1, "URL", "string", "https://example.com/v2", 86_400, "")]
    with state.engine.begin() as conn:
        front.store.replace(conn, "88.100.1/PUMP-4", values)
    stale = await client.get("/api/handles/88.100.1/pump-4")
    assert stale.json()["values"][0]["data"]["value"].endswith("v1")
    fresh = await client.get("/api/handles/88.100.1/pump-4", params={"auth": "true"})
    assert fresh.json()["values"][0]["data"]["value"].endswith("v2")
    after = await client.get("/api/handles/88.100.1/pump-4")  # the refreshed entry
    assert after.json()["values"][0]["data"]["value"].endswith("v2")


async def test_a_revoked_prefix_is_no_longer_answered_from_the_cache(
    client: httpx.AsyncClient, owner: httpx.AsyncClient, state: AppState
) -> None:
    await _put(owner, "88.100.1/pump-5", _value(1, "URL", "https://example.com/p5"))
    for _ in range(2):
        assert (await client.get("/api/handles/88.100.1/pump-5")).status_code == 200
    revoke(state.hierarchy.nodes, "88.100.1", reason="licence withdrawn", actor="test")
    resp = await client.get("/api/handles/88.100.1/pump-5")
    assert resp.status_code == 404
    assert resp.json()["reason"] == "prefix_revoked"


def test_the_node_caches_follow_the_cache_settings(state: AppState) -> None:
    for node in state.hierarchy.nodes.values():
        assert node.answers.max_ttl == state.settings.cache_max_ttl
