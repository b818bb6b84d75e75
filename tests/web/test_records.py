"""Identifier records over the API (``/api/v1/records``) and in the console (``/ids/records``):
filters, server paging, the tenant scope, hostile parameters, and the CSV export with the
values before."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import AsyncIterator

import httpx
import pytest
from tests.conftest import USCC_B, bearer
from tests.web.test_console_handles import login, put

from indunet import core, ids
from indunet.web import AppState, create_app

PASSWORD = "a-long-password"


@pytest.fixture
def app_state(state: AppState, allocation: ids.Allocation) -> AppState:
    with state.engine.begin() as conn:
        other = core.create_enterprise(
            conn, uscc=USCC_B, name="北京示例泵业", actor="test", verified=True
        )
        core.create_user(
            conn, username="b-admin", password=PASSWORD, role=core.Role.ENTERPRISE_ADMIN,
            actor="test", enterprise_id=other.id,
        )  # fmt: skip
        core.create_user(
            conn, username="a-user", password=PASSWORD, role=core.Role.ENTERPRISE_USER,
            actor="test", enterprise_id=allocation.enterprise_id,
        )  # fmt: skip
    ids.allocate(state.hierarchy.front, "88.100.2", other, actor="test", secret="b-secret-key-1")
    for i in range(3):
        put(state, f"88.100.1/CNC-{i}", URL=f"https://a.example.cn/{i}")
    put(state, "88.100.1/CNC-0", URL="https://a.example.cn/zero-again")
    state.hierarchy.front.delete("88.100.1/CNC-2", ids.Principal(actor="seed", prefixes=None))
    put(state, "88.100.2/PUMP-1", URL="https://b.example.cn/1")
    return state


@pytest.fixture
async def web(app_state: AppState) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=create_app(app_state))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
        yield c


async def test_api_filters_pages_and_scope(
    web: httpx.AsyncClient, app_state: AppState, allocation: ids.Allocation
) -> None:
    admin = bearer(app_state.engine, "op", core.Role.PLATFORM_ADMIN)
    r = await web.get("/api/v1/records", params={"q": "cnc-", "limit": 2}, headers=admin)
    assert r.status_code == 200, r.text
    assert r.headers["X-Total-Count"] == "5"
    assert [(e["handle"], e["action"]) for e in r.json()] == [
        ("88.100.1/CNC-2", "handle.delete"),
        ("88.100.1/CNC-0", "handle.modify"),
    ]
    before = r.json()[1]["before"]
    assert [v["data"]["value"] for v in before if v["type"] == "URL"] == ["https://a.example.cn/0"]
    r = await web.get(
        "/api/v1/records", params={"q": "cnc-", "limit": 2, "offset": 4}, headers=admin
    )
    assert [e["handle"] for e in r.json()] == ["88.100.1/CNC-0"]
    assert r.json()[0]["before"] is None and r.json()[0]["actor"] == "seed"
    r = await web.get(
        "/api/v1/records", params={"action": "handle.delete", "prefix": "88.100.1"}, headers=admin
    )
    assert [e["handle"] for e in r.json()] == ["88.100.1/CNC-2"]
    # an enterprise reads its prefixes' records only, whatever it asks for
    b = bearer(app_state.engine, "b2", core.Role.ENTERPRISE_USER, allocation.enterprise_id + 1)
    for named in ({"prefix": "88.100.1"}, {"prefix": "88.100.1.7"}, {"prefix": "99"}):
        r = await web.get("/api/v1/records", params=named, headers=b)
        assert r.status_code == 404, named
    for handle in ("88.100.1/CNC-0", "88.100.1/NONE", "0.NA/88.100.1", "no-slash"):
        r = await web.get("/api/v1/records", params={"handle": handle}, headers=b)
        assert r.status_code == 404, handle
    r = await web.get("/api/v1/records", params={"handle": "88.100.2/pump-1"}, headers=b)
    assert [e["action"] for e in r.json()] == ["handle.create"]
    a = bearer(app_state.engine, "a3", core.Role.ENTERPRISE_USER, allocation.enterprise_id)
    r = await web.get("/api/v1/records", params={"handle": "88.100.1/cnc-0"}, headers=a)
    assert r.headers["X-Total-Count"] == "2"
    r = await web.get("/api/v1/records", headers=b)
    assert {e["handle"] for e in r.json()} == {"0.NA/88.100.2", "88.100.2/PUMP-1"}
    r = await web.get(
        "/api/v1/records", params={"enterprise_id": allocation.enterprise_id}, headers=b
    )
    assert r.status_code == 404
    r = await web.get("/api/v1/records", params={"since": "2999-01-01T00:00:00"}, headers=b)
    assert r.json() == []
    # times UTC cannot hold filter as the earliest or latest time, never a 500
    for edge, n in (("0001-01-01T00:00:00+05:00", 2), ("9999-12-31T23:59:59-05:00", 0)):
        r = await web.get("/api/v1/records", params={"since": edge}, headers=b)
        assert r.status_code == 200 and len(r.json()) == n, edge


@pytest.mark.parametrize(
    "params",
    [
        {"action": "handle.bulk"},
        {"limit": "0"},
        {"limit": "1001"},
        {"offset": "-1"},
        {"since": "yesterday"},
        {"prefix": "8" * 129},
        {"handle": "x" * 401},
        {"enterprise_id": "0"},
    ],
)
async def test_api_refuses_hostile_parameters(
    web: httpx.AsyncClient, app_state: AppState, params: dict[str, str]
) -> None:
    admin = bearer(app_state.engine, "op", core.Role.PLATFORM_ADMIN)
    r = await web.get("/api/v1/records", params=params, headers=admin)
    assert r.status_code == 422, r.text
    if not {"limit", "offset"} & set(params):  # the export has no paging
        r = await web.get("/api/v1/records/export.csv", params=params, headers=admin)
        assert r.status_code == 422, r.text


async def test_api_export_has_the_values_before(
    web: httpx.AsyncClient, app_state: AppState, allocation: ids.Allocation
) -> None:
    a = bearer(app_state.engine, "a2", core.Role.ENTERPRISE_USER, allocation.enterprise_id)
    r = await web.get("/api/v1/records/export.csv", headers=a)
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(r.text)))
    assert {row["handle"] for row in rows} == {
        "0.NA/88.100.1",
        "88.100.1/CNC-0",
        "88.100.1/CNC-1",
        "88.100.1/CNC-2",
    }
    deleted = next(row for row in rows if row["action"] == "handle.delete")
    assert "https://a.example.cn/2" in json.loads(deleted["before"])[0]["data"]["value"]
    assert all(row["at"].endswith("+00:00") for row in rows)
    assert (await web.get("/api/v1/records/export.csv")).status_code == 401


async def test_console_page_filters_and_exports(
    web: httpx.AsyncClient, app_state: AppState
) -> None:
    c = await login(web, app_state, "a-user")
    r = await c.get("/ids/records", params={"q": "CNC-0"})
    assert r.status_code == 200
    assert r.text.count('data-action="handle.') == 2
    assert "88.100.2" not in r.text.split('id="records-filters"')[1]
    r = await c.get("/ids/records", params={"from": "yesterday"})
    assert r.status_code == 400 and "yesterday" in r.text
    r = await c.get("/ids/records", params={"to": "0001-01-01T00:00"})  # +08:00: before year 1
    assert r.status_code == 200 and 'id="records-table"' not in r.text
    for hostile in ({"page": "99"}, {"size": "100000"}, {"q": "%_\\" * 100}, {"prefix": "x" * 999}):
        assert (await c.get("/ids/records", params=hostile)).status_code < 500, hostile
    r = await c.get("/ids/records", params={"action": "handle.bulk"})
    assert r.status_code == 400
    r = await c.get("/ids/records/export.csv", params={"action": "handle.delete"})
    assert r.status_code == 200
    (row,) = csv.DictReader(io.StringIO(r.text))
    assert row["handle"] == "88.100.1/CNC-2" and row["at"].endswith("+08:00")
    assert (await c.get("/ids/records/export.csv", params={"to": "x"})).status_code == 400
    assert (await c.get("/ids/records", params={"prefix": "88.100.2"})).status_code == 404
    b = await login(web, app_state, "b-admin")
    r = await b.get("/ids/records")
    table = r.text.split('id="records-table"')[1]
    assert "PUMP-1" in table and "88.100.1/" not in table
