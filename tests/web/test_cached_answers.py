"""The front node's cache hits, answered by the CachedAnswers middleware before the routes."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

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
