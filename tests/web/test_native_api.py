"""The native API under /api/v1, metrics and the OpenAPI document, in-process."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from tests.conftest import bearer

from indunet import core, ids
from indunet.web import AppState, create_app

SECRET = "s3cret-key-for-tests"
AUTH = ("300%3A0.NA/88.100.1", SECRET)
SITES = "http://127.0.0.1:8000/nodes"
NEW_USCC = core.make_uscc("91330100MA2ABCDE")
TEMPLATE = {
    "name": "pump",
    "version": "1.0",
    "industry_code": "C3441",
    "description": "centrifugal pumps",
    "items": [
        {"name": "flow_m3h", "type": "number", "index": 2000, "required": True, "minimum": 0}
    ],
}


@pytest.fixture
async def client(state: AppState, allocation: ids.Allocation) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=create_app(state))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
        yield c


@pytest.fixture
def admin_password(state: AppState) -> str:
    with state.engine.begin() as conn:
        password = core.ensure_admin(conn)
    assert password is not None
    return password


@pytest.fixture
async def admin(client: httpx.AsyncClient, admin_password: str) -> dict[str, str]:
    resp = await client.post(
        "/api/v1/auth/token", json={"username": "admin", "password": admin_password}
    )
    assert resp.status_code == 200, resp.text
    return {"Authorization": f"Bearer {resp.json()['token']}"}


async def listed(client: httpx.AsyncClient, path: str, headers: dict[str, str]) -> Any:
    resp = await client.get(path, headers=headers)
    assert resp.status_code == 200, resp.text
    return resp.json()


# -- tokens ------------------------------------------------------------------------------


async def test_token_exchange(client: httpx.AsyncClient, admin_password: str) -> None:
    ok = await client.post(
        "/api/v1/auth/token", json={"username": "admin", "password": admin_password, "name": "ci"}
    )
    assert ok.status_code == 200
    body = ok.json()
    assert body["username"] == "admin" and body["role"] == "platform_admin"
    assert body["token"].startswith("idn_")
    me = await client.get(
        "/api/v1/enterprises", headers={"Authorization": f"Bearer {body['token']}"}
    )
    assert me.status_code == 200

    wrong = await client.post(
        "/api/v1/auth/token", json={"username": "admin", "password": "not-it-at-all"}
    )
    assert wrong.status_code == 401
    assert wrong.json()["message"] == "wrong username or password"

    nobody = await client.get("/api/v1/enterprises")
    assert nobody.status_code == 401 and "Bearer" in nobody.json()["message"]
    forged = await client.get("/api/v1/enterprises", headers={"Authorization": "Bearer idn_x"})
    assert forged.status_code == 401 and "unknown or revoked token" in forged.json()["message"]


# -- nodes and resolution ----------------------------------------------------------------


async def test_nodes_report_roles_prefixes_and_delegations(client: httpx.AsyncClient) -> None:
    nodes = {n["name"]: n for n in await listed(client, "/api/v1/nodes", {})}
    assert {name: (n["role"], n["prefix"]) for name, n in nodes.items()} == {
        "root": ("root", ""),
        "88": ("top-level", "88"),
        "88.100": ("secondary", "88.100"),
        "recursive": ("recursive", None),
    }
    assert nodes["root"]["delegations"] == {"88": [f"{SITES}/88"]}
    assert nodes["88"]["delegations"] == {"88.100": [f"{SITES}/88.100"]}
    assert "cache" in nodes["recursive"] and "cache" not in nodes["root"]

    one = await client.get("/api/v1/nodes/88.100")
    assert one.status_code == 200 and one.json()["records"] >= 1
    missing = await client.get("/api/v1/nodes/99")
    assert missing.status_code == 404 and "'99'" in missing.json()["message"]


async def test_resolve_shows_the_referral_path(client: httpx.AsyncClient) -> None:
    put = await client.put(
        "/api/handles/88.100.1/VALVE-1",
        json={"values": [{"index": 1, "type": "URL", "data": "https://valve.example"}]},
        auth=AUTH,
    )
    assert put.status_code == 201

    first = (await client.get("/api/v1/resolve/88.100.1/VALVE-1")).json()
    assert first["responseCode"] == 1 and first["handle"] == "88.100.1/VALVE-1"
    assert [v["data"]["value"] for v in first["values"] if v["type"] == "URL"] == [
        "https://valve.example"
    ]
    assert [(hop["site"], hop["responseCode"]) for hop in first["path"]] == [
        (f"{SITES}/root", 302),
        (f"{SITES}/88", 302),
        (f"{SITES}/88.100", 1),
    ]

    cached = (await client.get("/api/v1/resolve/88.100.1/VALVE-1")).json()
    assert cached["path"] == [{"site": "cache", "responseCode": 1, "ms": 0.0, "cached": True}]

    fresh = (await client.get("/api/v1/resolve/88.100.1/VALVE-1?fresh=true")).json()
    assert [hop["site"] for hop in fresh["path"]] == [f"{SITES}/88.100"]  # referral cached

    missing = (await client.get("/api/v1/resolve/88.100.1/NOTHING")).json()
    assert missing["responseCode"] == 100 and missing["path"][-1]["site"] == f"{SITES}/88.100"
    malformed = (await client.get("/api/v1/resolve/not-a-handle")).json()
    assert malformed["responseCode"] == 102 and "no '/'" in malformed["message"]


# -- enterprises -------------------------------------------------------------------------


async def test_enterprises_create_and_list(
    client: httpx.AsyncClient, admin: dict[str, str], state: AppState
) -> None:
    resp = await client.post(
        "/api/v1/enterprises",
        json={"uscc": NEW_USCC, "name": "杭州示例阀门有限公司", "region": "330100"},
        headers=admin,
    )
    assert resp.status_code == 201, resp.text
    assert resp.json()["verified"] is True and resp.json()["uscc"] == NEW_USCC
    names = [e["name"] for e in await listed(client, "/api/v1/enterprises", admin)]
    assert "杭州示例阀门有限公司" in names and len(names) == 2

    dup = await client.post(
        "/api/v1/enterprises", json={"uscc": NEW_USCC, "name": "again"}, headers=admin
    )
    assert dup.status_code == 409 and NEW_USCC in dup.json()["message"]


@pytest.mark.parametrize(
    ("uscc", "words"),
    [
        (NEW_USCC[:-1] + ("0" if NEW_USCC[-1] != "0" else "1"), "fails its check character"),
        ("91330100MA2ABC", "must have 18 characters"),
        ("91330100MA2ABCDEFI", "contains 'I'"),
    ],
)
async def test_a_bad_uscc_is_refused_with_the_reason(
    client: httpx.AsyncClient, admin: dict[str, str], uscc: str, words: str
) -> None:
    before = await listed(client, "/api/v1/enterprises", admin)
    resp = await client.post(
        "/api/v1/enterprises", json={"uscc": uscc, "name": "坏代码公司"}, headers=admin
    )
    assert resp.status_code == 400
    assert resp.json()["code"] == "invalid_input" and words in resp.json()["message"]
    assert await listed(client, "/api/v1/enterprises", admin) == before


async def test_only_platform_admins_register_enterprises(
    client: httpx.AsyncClient, state: AppState, enterprise: core.Enterprise
) -> None:
    member = bearer(state.engine, "wang.fang", core.Role.ENTERPRISE_ADMIN, enterprise.id)
    resp = await client.post(
        "/api/v1/enterprises", json={"uscc": NEW_USCC, "name": "x"}, headers=member
    )
    assert resp.status_code == 403 and "platform_admin" in resp.json()["message"]
    own = await listed(client, "/api/v1/enterprises", member)
    assert [e["uscc"] for e in own] == [enterprise.uscc]


# -- prefixes ----------------------------------------------------------------------------


async def test_allocate_a_prefix_and_write_with_its_key(
    client: httpx.AsyncClient, admin: dict[str, str], enterprise: core.Enterprise
) -> None:
    resp = await client.post(
        "/api/v1/prefixes",
        json={"prefix": "88.100.7", "enterprise_uscc": enterprise.uscc},
        headers=admin,
    )
    assert resp.status_code == 201, resp.text
    body = resp.json()
    assert body["username"] == "300:0.NA/88.100.7" and len(body["secret"]) >= 24

    write = await client.put(
        "/api/handles/88.100.7/A-1",
        json={"values": [{"index": 1, "type": "URL", "data": "https://a.example"}]},
        auth=("300%3A0.NA/88.100.7", body["secret"]),
    )
    assert write.status_code == 201
    prefixes = await listed(client, "/api/v1/prefixes", admin)
    assert {p["prefix"] for p in prefixes} == {"88.100.1", "88.100.7"}

    again = await client.post(
        "/api/v1/prefixes",
        json={"prefix": "88.100.7", "enterprise_uscc": enterprise.uscc},
        headers=admin,
    )
    assert again.status_code == 409 and "already allocated" in again.json()["message"]


async def test_an_unverified_enterprise_gets_no_prefix(
    client: httpx.AsyncClient, admin: dict[str, str], state: AppState
) -> None:
    with state.engine.begin() as conn:
        core.create_enterprise(conn, uscc=NEW_USCC, name="未核验企业", actor="test")
    before = await listed(client, "/api/v1/prefixes", admin)
    resp = await client.post(
        "/api/v1/prefixes", json={"prefix": "88.100.8", "enterprise_uscc": NEW_USCC}, headers=admin
    )
    assert resp.status_code == 403
    assert "real-name verification" in resp.json()["message"]
    assert await listed(client, "/api/v1/prefixes", admin) == before
    assert (await client.get("/api/handles/0.NA/88.100.8")).status_code == 404


@pytest.mark.parametrize(
    ("body", "status", "words"),
    [
        ({"prefix": "88.200.1"}, 404, "not a direct child"),
        ({"prefix": "88.100.x_y"}, 400, "segment"),
        ({"prefix": "88.100.9", "secret": "short"}, 400, "at least 12 characters"),
        ({"prefix": "88.100.9", "enterprise_uscc": NEW_USCC}, 404, "no enterprise"),
    ],
)
async def test_bad_allocations_are_refused(
    client: httpx.AsyncClient,
    admin: dict[str, str],
    enterprise: core.Enterprise,
    body: dict[str, str],
    status: int,
    words: str,
) -> None:
    before = await listed(client, "/api/v1/prefixes", admin)
    resp = await client.post(
        "/api/v1/prefixes", json={"enterprise_uscc": enterprise.uscc, **body}, headers=admin
    )
    assert resp.status_code == status and words in resp.json()["message"]
    assert await listed(client, "/api/v1/prefixes", admin) == before


# -- templates ---------------------------------------------------------------------------


async def test_templates_create_list_delete(
    client: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    path = "/api/v1/prefixes/88.100.1/templates"
    created = await client.post(path, json=TEMPLATE, headers=admin)
    assert created.status_code == 201, created.text
    assert created.json()["name"] == "pump" and created.json()["id"] is not None
    assert [(t["name"], t["version"]) for t in await listed(client, path, {})] == [("pump", "1.0")]

    dup = await client.post(path, json=TEMPLATE, headers=admin)
    assert dup.status_code == 409 and "publish a new version" in dup.json()["message"]

    write = await client.put(
        "/api/handles/88.100.1/PUMP-1",
        json={
            "values": [
                {"index": 3, "type": "TEMPLATE", "data": "pump@1.0"},
                {"index": 2000, "type": "flow_m3h", "data": "-4"},
            ]
        },
        auth=AUTH,
    )
    assert write.status_code == 400 and "below minimum 0" in write.json()["message"]

    gone = await client.delete(f"{path}/pump@1.0", headers=admin)
    assert gone.status_code == 204
    assert await listed(client, path, {}) == []
    again = await client.delete(f"{path}/pump@1.0", headers=admin)
    assert again.status_code == 404 and "no template pump@1.0" in again.json()["message"]


@pytest.mark.parametrize(
    ("change", "words"),
    [
        ({"industry_code": "Z99"}, "GB/T 4754"),
        ({"items": []}, "at least one item"),
        ({"items": [{"name": "URL", "index": 2000}]}, "standard handle type"),
        ({"items": [{"name": "a", "index": 5}]}, "below 2000"),
        ({"version": "v 1"}, "template version"),
    ],
)
async def test_bad_templates_are_refused(
    client: httpx.AsyncClient, admin: dict[str, str], change: dict[str, Any], words: str
) -> None:
    path = "/api/v1/prefixes/88.100.1/templates"
    resp = await client.post(path, json={**TEMPLATE, **change}, headers=admin)
    assert resp.status_code == 400 and words in resp.json()["message"]
    assert await listed(client, path, {}) == []


async def test_templates_of_another_enterprise_cannot_be_managed(
    client: httpx.AsyncClient, state: AppState
) -> None:
    with state.engine.begin() as conn:
        other = core.create_enterprise(
            conn, uscc=NEW_USCC, name="别家企业", actor="test", verified=True
        )
    outsider = bearer(state.engine, "zhao.lei", core.Role.ENTERPRISE_ADMIN, other.id)
    path = "/api/v1/prefixes/88.100.1/templates"
    resp = await client.post(path, json=TEMPLATE, headers=outsider)
    assert resp.status_code == 404 and "no prefix 88.100.1" in resp.json()["message"]
    assert await listed(client, path, {}) == []


# -- audit, metrics, OpenAPI -------------------------------------------------------------


async def test_every_write_is_audited(
    client: httpx.AsyncClient, admin: dict[str, str], state: AppState, enterprise: core.Enterprise
) -> None:
    await client.put(
        "/api/handles/88.100.1/AUDIT-1",
        json={"values": [{"index": 1, "type": "URL", "data": "https://a.example"}]},
        auth=AUTH,
    )
    await client.put(
        "/api/handles/88.100.1/AUDIT-1?index=2",
        json={"values": [{"index": 2, "type": "DESC", "data": "x"}]},
        auth=AUTH,
    )
    await client.delete("/api/handles/88.100.1/AUDIT-1?index=2", auth=AUTH)
    await client.delete("/api/handles/88.100.1/AUDIT-1", auth=AUTH)
    await client.post("/api/v1/prefixes/88.100.1/templates", json=TEMPLATE, headers=admin)

    log = await listed(client, "/api/v1/audit", admin)
    trail = [(e["actor"], e["action"]) for e in reversed(log) if e["target"] == "88.100.1/AUDIT-1"]
    assert trail == [
        ("300:0.NA/88.100.1", "handle.create"),
        ("300:0.NA/88.100.1", "handle.modify"),
        ("300:0.NA/88.100.1", "handle.remove_values"),
        ("300:0.NA/88.100.1", "handle.delete"),
    ]
    actions = {(e["actor"], e["action"], e["target"]) for e in log}
    assert ("user:admin", "template.create", "template:88.100.1/pump@1.0") in actions
    assert ("test", "prefix.allocate", "0.NA/88.100.1") in actions

    regulator = bearer(state.engine, "regulator1", core.Role.REGULATOR)
    assert (await client.get("/api/v1/audit?limit=1", headers=regulator)).status_code == 200
    member = bearer(state.engine, "member1", core.Role.ENTERPRISE_USER, enterprise.id)
    refused = await client.get("/api/v1/audit", headers=member)
    assert refused.status_code == 403


async def test_metrics_count_resolutions_registrations_and_cache(client: httpx.AsyncClient) -> None:
    await client.put(
        "/api/handles/88.100.1/M-1",
        json={"values": [{"index": 1, "type": "URL", "data": "https://m.example"}]},
        auth=AUTH,
    )
    for _ in range(3):
        assert (await client.get("/api/handles/88.100.1/M-1")).status_code == 200
    await client.get("/api/v1/resolve/88.100.1/M-1")
    await client.get("/api/v1/resolve/88.100.1/M-1")

    resp = await client.get("/metrics")
    assert resp.status_code == 200 and resp.headers["content-type"].startswith("text/plain")
    lines = dict(
        line.rsplit(" ", 1) for line in resp.text.splitlines() if line and not line.startswith("#")
    )
    assert int(lines['indunet_ids_resolutions_total{node="88.100",role="secondary"}']) >= 4
    assert int(lines['indunet_ids_registrations_total{node="88.100"}']) >= 2  # allocation + put
    assert int(lines['indunet_ids_cache_lookups_total{result="hit"}']) >= 1
    assert int(lines['indunet_ids_cache_lookups_total{result="miss"}']) >= 1
    assert 'indunet_ids_resolution_seconds_bucket{node="root",le="+Inf"}' in lines


async def test_openapi_documents_the_native_endpoints(client: httpx.AsyncClient) -> None:
    doc = (await client.get("/openapi.json")).json()
    paths = doc["paths"]
    for path, method in [
        ("/api/v1/auth/token", "post"),
        ("/api/v1/nodes", "get"),
        ("/api/v1/nodes/{name}", "get"),
        ("/api/v1/resolve/{handle}", "get"),
        ("/api/v1/enterprises", "post"),
        ("/api/v1/prefixes", "post"),
        ("/api/v1/prefixes/{prefix}/templates", "post"),
        ("/api/v1/prefixes/{prefix}/templates/{ref}", "delete"),
        ("/api/v1/audit", "get"),
        ("/metrics", "get"),
    ]:
        assert method in paths.get(path, {}), f"{method.upper()} {path} is not documented"
        assert paths[path][method].get("summary") or paths[path][method].get("description")
    assert "EnterpriseIn" in doc["components"]["schemas"]


async def test_a_revoked_token_no_longer_works(state: AppState):
    from indunet.web import create_app

    with state.engine.begin() as conn:
        password = core.ensure_admin(conn)
    transport = httpx.ASGITransport(app=create_app(state))
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as c:
        token = (
            await c.post("/api/v1/auth/token", json={"username": "admin", "password": password})
        ).json()["token"]
        auth = {"authorization": f"Bearer {token}"}
        assert (await c.get("/api/v1/audit", headers=auth)).status_code == 200
        assert (await c.delete("/api/v1/auth/token", headers=auth)).status_code == 204
        again = await c.get("/api/v1/audit", headers=auth)
        assert again.status_code == 401 and "unknown or revoked" in again.json()["message"]
