"""Every resolution the HTTP APIs answer is noted for the security platform (one
``ids.events.RESOLUTIONS`` record each): cache hits answered by the middleware, the route's
own answers, POST, node mounts, errors, and the native resolve route."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from indunet import ids
from indunet.ids.events import RESOLUTIONS
from indunet.web import AppState, create_app

CLIENT = "198.51.100.23"
API = "/api/handles"


async def create(state: AppState, handle: str) -> None:
    url = [{"index": 1, "type": "URL", "data": "https://a.example/x"}]
    await asyncio.to_thread(state.hierarchy.front.put, handle, url, ids.OPERATOR)


@pytest.fixture
async def client(state: AppState, allocation: ids.Allocation) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=create_app(state), client=(CLIENT, 51_000))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
        yield c


def noted(state: AppState) -> list[tuple[Any, ...]]:
    event = state.signals.of(RESOLUTIONS).take()
    records = event.data["records"] if event is not None else []
    return [(r["src"], r["handle"], r["rc"], r["outcome"], r["via"]) for r in records]


async def test_each_answer_is_noted_once_with_the_client_and_the_outcome(
    client: httpx.AsyncClient, state: AppState
) -> None:
    await create(state, "88.100.1/PUMP-9")
    assert (await client.get(f"{API}/88.100.1/PUMP-9")).status_code == 200  # read, cached
    assert (await client.get(f"{API}/88.100.1/pump-9")).status_code == 200  # a cache hit
    assert (await client.get(f"{API}/88.100.1/PUMP-9?type=URL")).status_code == 200
    assert (await client.get(f"{API}/88.100.1/PUMP-9?type=EMAIL")).status_code == 200
    assert (await client.post(f"{API}/88.100.1/PUMP-9", json={"type": "URL"})).is_success
    assert (await client.get(f"{API}/88.100.1/NOPE")).status_code == 404
    assert (
        await client.post(
            f"{API}/88.100.1/NOPE2", content=b"[1]", headers={"content-type": "application/json"}
        )
    ).status_code == 400
    assert (await client.get(f"/nodes/88.100{API}/88.100.1/PUMP-9")).is_success
    assert (await client.get(f"/nodes/nowhere{API}/88.100.1/PUMP-9")).status_code == 404
    assert (await client.get("/api/v1/resolve/88.100.1/PUMP-9")).status_code == 200
    assert (await client.get("/api/v1/resolve/88.100.1/NONE")).status_code == 200
    assert noted(state) == [
        (CLIENT, "88.100.1/PUMP-9", 1, "success", "http"),
        (CLIENT, "88.100.1/pump-9", 1, "success", "http"),
        (CLIENT, "88.100.1/PUMP-9", 1, "success", "http"),
        (CLIENT, "88.100.1/PUMP-9", 1, "success", "http"),  # found; the filter left no value
        (CLIENT, "88.100.1/PUMP-9", 1, "success", "http"),
        (CLIENT, "88.100.1/NOPE", 100, "failure", "http"),
        (CLIENT, "88.100.1/NOPE2", 4, "unknown", "http"),  # a body that does not read
        (CLIENT, "88.100.1/PUMP-9", 1, "success", "http"),
        (CLIENT, "88.100.1/PUMP-9", 301, "unknown", "http"),  # no such node here
        (CLIENT, "88.100.1/PUMP-9", 1, "success", "api"),
        (CLIENT, "88.100.1/NONE", 100, "failure", "api"),
    ]


async def test_listing_and_writing_are_not_resolutions(
    client: httpx.AsyncClient, state: AppState
) -> None:
    await create(state, "88.100.1/VALVE-1")
    assert (await client.get(f"{API}?prefix=88.100.1")).status_code == 401
    assert (await client.delete(f"{API}/88.100.1/VALVE-1")).status_code == 401
    assert noted(state) == []
