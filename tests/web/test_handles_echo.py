"""The Handle REST API answers with the handle as the client wrote it, and filters types as
Handle.Net does (ASCII case ignored, ``URL.`` for the URL family); subtypes can be written."""

from __future__ import annotations

import unicodedata
from collections.abc import AsyncIterator
from typing import Any

import httpx
import orjson
import pytest
import sqlalchemy as sa

from indunet import ids
from indunet.web import AppState, create_app

AUTH = ("300%3A0.NA/88.100.1", "s3cret-key-for-tests")
API = "/api/handles"


def value(index: int, vtype: str, text: str) -> dict[str, Any]:
    return {"index": index, "type": vtype, "data": {"format": "string", "value": text}}


@pytest.fixture
async def client(state: AppState, allocation: ids.Allocation) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=create_app(state))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
        yield c


def stored(state: AppState) -> list[tuple[Any, ...]]:
    with state.engine.connect() as conn:
        rows = conn.execute(sa.text("SELECT hkey, record FROM ids_handles ORDER BY hkey")).all()
    return [tuple(r) for r in rows]


async def test_get_echoes_the_case_asked_for(client: httpx.AsyncClient) -> None:
    put = await client.put(
        f"{API}/88.100.1/Pump-7", json={"values": [value(1, "URL", "https://p.example")]}, auth=AUTH
    )
    assert put.status_code == 201
    for asked in ("88.100.1/pump-7", "88.100.1/PUMP-7", "88.100.1/Pump-7"):
        resp = await client.get(f"{API}/{asked}")
        assert resp.status_code == 200 and resp.json()["handle"] == asked
        assert resp.json()["values"][0]["data"]["value"] == "https://p.example"
    missing = await client.get(f"{API}/88.100.1/nope-1")
    assert (missing.status_code, missing.json()["handle"]) == (404, "88.100.1/nope-1")


async def test_get_echoes_the_unicode_form_asked_for(client: httpx.AsyncClient) -> None:
    nfc = unicodedata.normalize("NFC", "88.100.1/电机-café")
    nfd = unicodedata.normalize("NFD", nfc)
    assert nfc != nfd
    put = await client.put(
        f"{API}/{nfc}", json={"values": [value(1, "URL", "https://c.example")]}, auth=AUTH
    )
    assert put.status_code == 201 and put.json()["handle"] == nfc
    resp = await client.get(f"{API}/{nfd}")
    assert resp.status_code == 200 and resp.json()["handle"] == nfd
    assert resp.json()["values"][0]["data"]["value"] == "https://c.example"


async def test_writes_echo_the_handle_as_written(
    client: httpx.AsyncClient, state: AppState
) -> None:
    created = await client.put(
        f"{API}/88.100.1/Echo-1", json={"values": [value(1, "URL", "https://a.example")]}, auth=AUTH
    )
    assert created.json() == {"responseCode": 1, "handle": "88.100.1/Echo-1"}
    modified = await client.put(
        f"{API}/88.100.1/ECHO-1", json={"values": [value(1, "URL", "https://b.example")]}, auth=AUTH
    )
    assert (modified.status_code, modified.json()) == (
        200,
        {"responseCode": 1, "handle": "88.100.1/ECHO-1"},
    )
    # the record keeps the case it was registered with; only the answer echoes
    kept = state.hierarchy.front.record("88.100.1/echo-1")
    assert kept is not None and kept.handle == "88.100.1/Echo-1"
    assert (await client.get(f"{API}/88.100.1/echo-1")).json()["values"][0]["data"][
        "value"
    ] == "https://b.example"
    deleted = await client.delete(f"{API}/88.100.1/echo-1", auth=AUTH)
    assert deleted.json() == {"responseCode": 1, "handle": "88.100.1/echo-1"}


async def test_a_cached_answer_echoes_each_requester_not_the_first(
    client: httpx.AsyncClient, state: AppState
) -> None:
    resolver = state.hierarchy.front.resolver
    assert resolver is not None
    first = await client.get(f"{API}/0.NA/88")  # held by the root: resolved, then cached
    assert first.json()["handle"] == "0.NA/88"
    hits = resolver.answers.hits
    lower = await client.get(f"{API}/0.na/88")  # the middleware's cache hit
    assert lower.status_code == 200 and lower.json()["handle"] == "0.na/88"
    assert int(lower.headers["content-length"]) == len(lower.content)
    assert lower.json()["values"] == first.json()["values"]
    again = await client.get(f"{API}/0.NA/88")
    assert again.content == first.content  # the stored bytes, not the last requester's case
    filtered = await client.get(f"{API}/0.Na/88", params={"type": "desc"})  # the route's path
    assert filtered.json()["handle"] == "0.Na/88"
    assert [v["type"] for v in filtered.json()["values"]] == ["DESC"]
    assert resolver.answers.hits >= hits + 3  # all served from the cache


async def test_type_filters_ignore_case_and_select_families(client: httpx.AsyncClient) -> None:
    h = "88.100.1/MIRRORS-1"
    put = await client.put(
        f"{API}/{h}",
        json={
            "values": [
                value(1, "URL", "https://primary.example"),
                value(2, "URL.mirror", "https://mirror.example"),
                value(3, "EMAIL", "ops@example.com"),
            ]
        },
        auth=AUTH,
    )
    assert put.status_code == 201, put.text

    async def indices(*types: str) -> list[int]:
        resp = await client.get(f"{API}/{h}", params=[("type", t) for t in types])
        assert resp.status_code == 200 and resp.json()["responseCode"] == 1, resp.text
        return sorted(v["index"] for v in resp.json()["values"])

    assert await indices("url") == [1]
    assert await indices("URL.") == [1, 2]
    assert await indices("url.MIRROR") == [2]
    assert await indices("URL.mirror.") == [2]
    assert await indices("email", "url.") == [1, 2, 3]
    none = await client.get(f"{API}/{h}", params={"type": "URLS."})
    assert none.json() == {"responseCode": 200, "handle": h, "values": []}


async def test_subtypes_of_hs_types_are_refused(client: httpx.AsyncClient, state: AppState) -> None:
    before = stored(state)
    resp = await client.put(
        f"{API}/88.100.1/KEYS-1",
        json={"values": [value(1, "URL", "https://k.example"), value(2, "HS_SECKEY.b", "x")]},
        auth=AUTH,
    )
    assert resp.status_code == 400 and resp.json()["responseCode"] == 202
    assert "subtype of HS_SECKEY" in resp.json()["message"]
    unknown = await client.put(
        f"{API}/88.100.1/KEYS-1",
        json={"values": [value(2, "SPINDLE.speed", "1200")]},
        auth=AUTH,
    )
    assert unknown.status_code == 400 and "unknown type 'SPINDLE.speed'" in unknown.text
    assert stored(state) == before


async def test_echoing_costs_no_database_statement(
    client: httpx.AsyncClient, state: AppState
) -> None:
    put = await client.put(
        f"{API}/88.100.1/Fast-1", json={"values": [value(1, "URL", "https://f.example")]}, auth=AUTH
    )
    assert put.status_code == 201
    await client.get(f"{API}/0.NA/88")  # now in the front resolver's cache
    statements: list[str] = []

    def count(*args: Any) -> None:
        statements.append(str(args[2]))

    sa.event.listen(state.engine, "before_cursor_execute", count)
    try:
        as_registered = await client.get(f"{API}/88.100.1/Fast-1")
        per_read = len(statements)
        other_case = await client.get(f"{API}/88.100.1/FAST-1")
        assert len(statements) == 2 * per_read  # the same lookup, nothing more for the echo
        cached = await client.get(f"{API}/0.na/88")
        assert len(statements) == 2 * per_read  # a cache hit reads no database at all
    finally:
        sa.event.remove(state.engine, "before_cursor_execute", count)
    assert as_registered.json()["values"] == other_case.json()["values"]
    assert other_case.json()["handle"] == "88.100.1/FAST-1"
    assert cached.json()["handle"] == "0.na/88"


@pytest.mark.parametrize(
    "asked", ['88.100.1/a"b\\\\c-é', '88.100.1/A"B\\\\C-e\u0301', "88.100.1/x"]
)
def test_the_cached_body_for_another_spelling_is_the_answer_with_that_handle(asked: str) -> None:
    resolver = ids.Resolver([], transport=None)  # type: ignore[arg-type]
    stored_as = '88.100.1/A"B\\\\C-é'
    answer = ids.Answer(1, stored_as, [ids.values.string_value(1, "URL", "https://q.example")])
    resolver.answers.put("KEY", (answer, answer.body()), 60)
    body = resolver.cached_body("KEY", asked)
    assert body is not None and orjson.loads(body) == answer.to_json() | {"handle": asked}
    assert resolver.cached_body("KEY", stored_as) == answer.body()
