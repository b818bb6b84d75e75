"""The alerts and cases API: search and paging, promote, the workflow, evidence (SHA-256, the
size limit, 0600 files, downloads as attachments) and tenant isolation (404)."""

from __future__ import annotations

import hashlib
import os
import stat
from collections.abc import AsyncIterator

import httpx
import pytest
from tests.conftest import bearer
from tests.security.cases.helpers import alert

from indunet import core
from indunet.core import Role
from indunet.security import Security
from indunet.security.cases import AlertStore
from indunet.web import AppState, create_app

API = "/api/v1/security"


@pytest.fixture
async def client(state: AppState) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=create_app(state))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
        yield c


def store_of(state: AppState) -> AlertStore:
    svc = state.services["security"]
    assert isinstance(svc, Security)
    found = svc.part("alerts")
    assert isinstance(found, AlertStore)
    return found


@pytest.fixture
def heads(state: AppState, enterprise: core.Enterprise) -> dict[str, dict[str, str]]:
    with state.engine.begin() as conn:
        b = core.create_enterprise(
            conn, uscc=core.make_uscc("91110108MA01ABCD"), name="乙厂", actor="t", verified=True
        )
    return {
        "pa": bearer(state.engine, "pa", Role.PLATFORM_ADMIN),
        "reg": bearer(state.engine, "reg", Role.REGULATOR),
        "ea": bearer(state.engine, "ea", Role.ENTERPRISE_ADMIN, enterprise.id),
        "eu": bearer(state.engine, "eu", Role.ENTERPRISE_USER, enterprise.id),
        "ob": bearer(state.engine, "ob", Role.ENTERPRISE_ADMIN, b.id),
    }


async def test_alerts_list_detail_and_promote(
    client: httpx.AsyncClient,
    state: AppState,
    enterprise: core.Enterprise,
    heads: dict[str, dict[str, str]],
) -> None:
    low = alert(enterprise.id, level=4, src_ip="10.0.0.33")
    await store_of(state).raise_alerts([low, alert(enterprise.id, level=2)])
    r = await client.get(f"{API}/alerts", params={"ip": "10.0.0.33"}, headers=heads["eu"])
    assert r.status_code == 200, r.text
    assert r.json()["total"] == 1 and r.json()["items"][0]["id"] == low.id
    assert (await client.get(f"{API}/alerts", headers=heads["ob"])).json()["total"] == 0
    assert (await client.get(f"{API}/alerts/{low.id}", headers=heads["ob"])).status_code == 404
    r = await client.get(f"{API}/alerts", params={"ip": "nope"}, headers=heads["eu"])
    assert r.status_code == 400 and r.json()["reason"] == "alert_ip"
    assert (
        await client.post(f"{API}/alerts/{low.id}/promote", headers=heads["ob"])
    ).status_code == 404
    assert (
        await client.post(f"{API}/alerts/{low.id}/promote", headers=heads["reg"])
    ).status_code == 403
    r = await client.post(f"{API}/alerts/{low.id}/promote", headers=heads["eu"])
    assert r.status_code == 201
    case_id = r.json()["case_id"]
    r = await client.post(f"{API}/alerts/{low.id}/promote", headers=heads["eu"])
    assert r.status_code == 409 and r.json()["params"] == {"case": str(case_id)}
    r = await client.get(f"{API}/alerts", params={"case_id": case_id}, headers=heads["eu"])
    assert r.json()["total"] == 1


async def test_the_case_workflow_over_http(
    client: httpx.AsyncClient, enterprise: core.Enterprise, heads: dict[str, dict[str, str]]
) -> None:
    r = await client.post(f"{API}/cases", json={"title": "Rogue writes"}, headers=heads["ea"])
    assert r.status_code == 201, r.text
    cid = r.json()["id"]
    assert r.json()["sla"] == "on_time" and r.json()["enterprise_id"] == enterprise.id
    assert (
        await client.post(f"{API}/cases", json={"title": "x"}, headers=heads["eu"])
    ).status_code == 403
    r = await client.patch(
        f"{API}/cases/{cid}", json={"assignee": "eu", "tlp": "RED"}, headers=heads["ea"]
    )
    assert r.status_code == 200 and r.json()["assignee"] == "eu"
    r = await client.patch(f"{API}/cases/{cid}", json={"assignee": "ob"}, headers=heads["ea"])
    assert r.status_code == 400 and r.json()["reason"] == "case_assignee"
    r = await client.patch(f"{API}/cases/{cid}", json={"tlp": "PURPLE"}, headers=heads["ea"])
    assert r.status_code == 422
    r = await client.post(
        f"{API}/cases/{cid}/tasks", json={"title": "isolate"}, headers=heads["eu"]
    )
    assert r.status_code == 201
    tid = r.json()["id"]
    r = await client.patch(
        f"{API}/cases/{cid}/tasks/{tid}", json={"done": True}, headers=heads["eu"]
    )
    assert r.json()["done"] is True
    r = await client.post(f"{API}/cases/{cid}/notes", json={"text": "seen"}, headers=heads["eu"])
    assert r.status_code == 201
    r = await client.post(
        f"{API}/cases/{cid}/status", json={"status": "resolved"}, headers=heads["eu"]
    )
    assert r.status_code == 400 and r.json()["reason"] == "case_disposition_required"
    body = {"status": "resolved", "disposition": "true_positive"}
    r = await client.post(f"{API}/cases/{cid}/status", json=body, headers=heads["eu"])
    assert r.status_code == 200 and r.json()["status"] == "resolved"
    r = await client.get(f"{API}/cases/{cid}", headers=heads["reg"])
    assert [t["title"] for t in r.json()["tasks"]] == ["isolate"]
    assert [n["text"] for n in r.json()["notes"]] == ["seen"]
    hist = (await client.get(f"{API}/cases/{cid}/history", headers=heads["eu"])).json()["items"]
    assert [h["what"] for h in hist] == [
        "created",
        "tlp",
        "assignee",
        "task",
        "task_done",
        "note",
        "disposition",
        "status",
    ]
    for path in ("", "/history"):
        assert (
            await client.get(f"{API}/cases/{cid}{path}", headers=heads["ob"])
        ).status_code == 404
    r = await client.get(f"{API}/cases", params={"status": "resolved"}, headers=heads["eu"])
    assert r.json()["total"] == 1
    assert (await client.get(f"{API}/cases", headers=heads["ob"])).json()["total"] == 0
    r = await client.get(f"{API}/cases", params={"status": "odd"}, headers=heads["eu"])
    assert r.status_code == 400 and r.json()["reason"] == "case_value"


async def test_evidence_is_hashed_bounded_private_and_tenant_bound(
    client: httpx.AsyncClient,
    state: AppState,
    heads: dict[str, dict[str, str]],
) -> None:
    cid = (await client.post(f"{API}/cases", json={"title": "x"}, headers=heads["ea"])).json()["id"]
    data = os.urandom(300_000)
    url = f"{API}/cases/{cid}/evidence"
    html = {"content-type": "text/html"}
    r = await client.post(
        url, params={"name": "../cap<1>.html"}, content=data, headers=heads["eu"] | html
    )
    assert r.status_code == 201, r.text
    ev = r.json()
    assert ev["sha256"] == hashlib.sha256(data).hexdigest() and ev["size"] == len(data)
    assert ev["name"] == "cap<1>.html" and ev["media_type"] == "text/html" and ev["stored"] is None
    files = store_of(state).evidence
    assert files is not None
    kept = list(files.root.iterdir())
    assert len(kept) == 1 and stat.S_IMODE(kept[0].stat().st_mode) == 0o600
    assert stat.S_IMODE(files.root.stat().st_mode) == 0o700
    got = await client.get(f"{url}/{ev['id']}", headers=heads["reg"])
    assert got.status_code == 200 and got.content == data
    assert got.headers["content-type"] == "application/octet-stream"
    assert got.headers["content-disposition"] == "attachment; filename*=UTF-8''cap%3C1%3E.html"
    assert got.headers["x-content-type-options"] == "nosniff"
    assert (await client.get(f"{url}/{ev['id']}", headers=heads["ob"])).status_code == 404
    r = await client.post(url, params={"name": "x"}, content=b"x", headers=heads["ob"])
    assert r.status_code == 404
    r = await client.post(url, params={"name": "x"}, content=b"x", headers=heads["reg"])
    assert r.status_code == 403

    async def big() -> AsyncIterator[bytes]:
        for _ in range(21):
            yield b"\0" * (1024 * 1024)

    r = await client.post(url, params={"name": "big"}, content=big(), headers=heads["eu"])
    assert r.status_code == 413
    declared = heads["eu"] | {"content-length": str(21 * 1024 * 1024)}
    r = await client.post(url, params={"name": "big"}, content=b"", headers=declared)
    assert r.status_code == 413
    assert len(list(files.root.iterdir())) == 1  # no partial file left behind
    r = await client.post(url, params={"name": "empty"}, content=b"", headers=heads["eu"])
    assert r.status_code == 400 and r.json()["reason"] == "evidence_empty"
