"""Hostile parameters get a 4xx naming what is wrong, never a 5xx.

The walk covers every operation of the OpenAPI document, so a route added later is tried
without anyone remembering to: each integer parameter (path or query) gets a number far
beyond a 64-bit database integer, and each ``limit`` a negative one.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from indunet import core
from indunet.web import AppState, create_app
from indunet.web.csrf import csrf_token

from ..conftest import bearer

HUGE = 10**30


@pytest.fixture
async def client(state: AppState) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(state)
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
        c.headers.update(bearer(state.engine, "walker", core.Role.PLATFORM_ADMIN))
        yield c


def operations(client: httpx.AsyncClient) -> list[tuple[str, str, list[dict[str, Any]]]]:
    app = client._transport.app  # type: ignore[attr-defined]
    out = []
    for path, item in app.openapi()["paths"].items():
        for method, op in item.items():
            out.append((method.upper(), path, op.get("parameters", [])))
    return out


def is_int(param: dict[str, Any]) -> bool:
    schema = param.get("schema", {})
    kinds = [schema.get("type")] + [s.get("type") for s in schema.get("anyOf", [])]
    return "integer" in kinds


def url_of(path: str, params: list[dict[str, Any]], bad: str, value: int) -> str:
    def fill(m: re.Match[str]) -> str:
        name = m.group(1)
        if name == bad:
            return str(value)
        p = next((p for p in params if p["name"] == name), {})
        return "1" if is_int(p) else "x"

    return re.sub(r"\{([^}]+)\}", fill, path)


async def test_huge_integers_in_any_parameter_are_a_client_error(
    client: httpx.AsyncClient,
) -> None:
    failures = []
    tried = 0
    for method, path, params in operations(client):
        for p in params:
            if not is_int(p) or p["in"] not in ("path", "query"):
                continue
            for value in (HUGE, -HUGE):
                tried += 1
                url = url_of(path, params, p["name"] if p["in"] == "path" else "", value)
                query = {p["name"]: str(value)} if p["in"] == "query" else {}
                resp = await client.request(method, url, params=query, json={})
                if resp.status_code >= 500:
                    failures.append(f"{method} {url} {query}: {resp.status_code}")
    assert tried >= 10
    assert not failures, "\n".join(failures)


async def test_no_limit_parameter_takes_a_negative_number(client: httpx.AsyncClient) -> None:
    # SQLite reads LIMIT -1 as "no limit": a negative limit used to bypass the audit log's cap.
    tried = []
    for method, path, params in operations(client):
        for p in params:
            if p["name"] in ("limit", "pageSize") and p["in"] == "query" and method == "GET":
                url = url_of(path, params, "", 0)
                resp = await client.get(url, params={p["name"]: "-1"})
                tried.append(path)
                assert 400 <= resp.status_code < 500, f"{url}: {resp.status_code}"
    assert "/api/v1/audit" in tried
    audit = await client.get("/api/v1/audit", params={"limit": "-1"})
    assert audit.status_code == 422 and "limit" in audit.text


async def test_console_ids_out_of_range_are_a_client_error(
    client: httpx.AsyncClient, state: AppState
) -> None:
    del client.headers["Authorization"]
    login = {"username": "walker", "password": "a-long-password"}  # made by bearer()
    resp = await client.post("/login", data=login)
    assert resp.status_code == 303, resp.text
    client.headers["X-CSRF-Token"] = csrf_token(client.cookies["indunet_session"])
    ack = await client.post(f"/platform/alarms/{HUGE}/ack", data={"note": "x"})
    assert ack.status_code == 422 and "alarm_id" in ack.text
    form = {"id": "meter-1", "name": "m", "model": "x", "enterprise_id": str(HUGE)}
    add = await client.post("/platform/devices", data=form)
    assert 400 <= add.status_code < 500, add.text
