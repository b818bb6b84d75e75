"""``/api/v1/security/vulns``: import (platform admins), lists scoped by enterprise, state changes."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import orjson
import pytest
from tests.conftest import USCC_B, bearer
from tests.security.vulns.samples import CSAF, real

from indunet import core
from indunet.core import Role
from indunet.security import AssetFacts, Vulnerabilities
from indunet.web import AppState, create_app

BASE = "/api/v1/security/vulns"


@pytest.fixture
async def client(state: AppState) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=create_app(state))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
        yield c


def part(state: AppState) -> Vulnerabilities:
    found = state.services["security"].part("vulns")
    assert isinstance(found, Vulnerabilities)
    return found


async def test_import_match_list_and_dismiss(
    client: httpx.AsyncClient, state: AppState, enterprise: core.Enterprise
) -> None:
    with state.engine.begin() as conn:
        b = core.create_enterprise(conn, uscc=USCC_B, name="乙厂", actor="t", verified=True)
    assets = [
        AssetFacts(1, enterprise.id, "西门子", "SIMATIC CP 443-1 RNA", "V1.5.2"),
        AssetFacts(2, b.id, "Siemens", "SIMATIC CP 442-1 RNA", "V1.4"),
    ]
    part(state).matching.list_assets = lambda ids: [a for a in assets if ids is None or a.id in ids]
    admin = bearer(state.engine, "pa", Role.PLATFORM_ADMIN)
    boss = bearer(state.engine, "ea", Role.ENTERPRISE_ADMIN, enterprise.id)
    worker = bearer(state.engine, "eu", Role.ENTERPRISE_USER, enterprise.id)
    body = (CSAF / "2022/icsa-22-132-11.json").read_bytes()

    refused = await client.post(f"{BASE}/advisories", content=body, headers=boss)
    assert refused.status_code == 403
    done = await client.post(
        f"{BASE}/advisories?name=icsa-22-132-11.json", content=body, headers=admin
    )
    assert done.status_code == 200, done.text
    assert done.json()["stored"] == 1 and done.json()["matches"]["inserted"] == 2

    listed = await client.get(f"{BASE}/advisories", params={"q": "CVE-2022-27640"}, headers=worker)
    assert listed.json()["total"] == 1

    own = (await client.get(f"{BASE}/matches", headers=worker)).json()
    assert own["total"] == 1 and own["items"][0]["asset_id"] == 1
    match = own["items"][0]
    assert match["state"] == "confirmed" and match["severity"] == "high"
    assert match["remediation_category"] == "vendor_fix" and match["vector"].startswith("CVSS:3.1/")
    assert (
        await client.get(f"{BASE}/matches", params={"enterprise_id": b.id}, headers=worker)
    ).status_code == 404
    theirs = (
        await client.get(f"{BASE}/matches", params={"enterprise_id": b.id}, headers=admin)
    ).json()
    assert theirs["total"] == 1
    assert (
        await client.get(f"{BASE}/matches/{theirs['items'][0]['id']}", headers=boss)
    ).status_code == 404

    url = f"{BASE}/matches/{match['id']}/state"
    assert (
        await client.put(url, json={"state": "dismissed", "reason": "x"}, headers=worker)
    ).status_code == 403
    no_reason = await client.put(url, json={"state": "dismissed"}, headers=boss)
    assert no_reason.status_code == 400 and no_reason.json()["reason"] == "vuln_reason_needed"
    ok = await client.put(
        url, json={"state": "dismissed", "reason": "spare part on the shelf"}, headers=boss
    )
    assert ok.status_code == 200 and ok.json()["state"] == "dismissed"
    # the advisory is revised and imported again: the dismissal stays
    doc = orjson.loads(body)
    doc["document"]["tracking"]["version"] = "2"
    again = await client.post(f"{BASE}/advisories", content=orjson.dumps(doc), headers=admin)
    assert again.json()["stored"] == 1
    detail = (await client.get(f"{BASE}/matches/{match['id']}", headers=worker)).json()
    assert detail["state"] == "dismissed" and detail["reason"] == "spare part on the shelf"
    assert detail["why"]["identity"]["by"] == "name"

    summary = (await client.get(f"{BASE}/summary", headers=worker)).json()["severities"]
    assert sum(row["matches"] for row in summary) == 0  # the only match is dismissed
    filtered = await client.get(
        f"{BASE}/matches", params={"state": "dismissed", "severity": "high"}, headers=worker
    )
    assert filtered.json()["total"] == 1
    bad = await client.get(f"{BASE}/matches", params={"state": "gone"}, headers=worker)
    assert bad.status_code == 400 and bad.json()["reason"] == "vuln_bad_state"


async def test_bad_uploads_are_named(client: httpx.AsyncClient, state: AppState) -> None:
    admin = bearer(state.engine, "pa", Role.PLATFORM_ADMIN)
    doc = real("2021/icsa-21-068-05")
    doc["vulnerabilities"][0]["product_status"] = {"known_affected": "CSAFPID-0001"}
    r = await client.post(
        f"{BASE}/advisories?name=broken.json", content=orjson.dumps(doc), headers=admin
    )
    assert r.status_code == 400
    assert r.json()["reason"] == "vuln_bad_document"
    assert r.json()["params"]["file"] == "broken.json"
    assert "$.vulnerabilities[0].product_status.known_affected" in r.json()["params"]["problems"]
    big = await client.post(
        f"{BASE}/advisories", content=b" " * (8 * 1024 * 1024 + 1), headers=admin
    )
    assert big.status_code == 413
    nothing = await client.post(f"{BASE}/advisories/sync", headers=admin)
    assert nothing.status_code == 400 and nothing.json()["reason"] == "vuln_no_directory"
    assert (await client.get(f"{BASE}/advisories", headers=admin)).json()["total"] == 0


async def test_sync_reads_only_the_operators_directory(
    client: httpx.AsyncClient, state: AppState, tmp_path: object
) -> None:
    part(state).csaf_dir = CSAF
    admin = bearer(state.engine, "pa", Role.PLATFORM_ADMIN)
    r = await client.post(f"{BASE}/advisories/sync", params={"dir": "/etc"}, headers=admin)
    assert r.status_code == 200 and r.json()["stored"] == 14
    assert (await client.post(f"{BASE}/advisories/sync", headers=admin)).json()["read"] == 0
