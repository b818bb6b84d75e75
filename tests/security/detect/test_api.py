"""The detection API: rules, rule files (strict, audited, all or nothing), lists and the
baseline per enterprise (another enterprise's is 404), ATT&CK coverage and layers."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
import sqlalchemy as sa
from tests.conftest import USCC_B, bearer

from indunet import core
from indunet.core import Role
from indunet.security import Security
from indunet.security.detect.part import Detection
from indunet.web import AppState, create_app

from .helpers import T0, tx

API = "/api/v1/security"
GOOD = """\
rules:
  - id: custom.telnet
    version: 1
    title: {zh-CN: Telnet 登录, en: Telnet to a PLC}
    level: 9
    techniques: [T0886]
    match: {kind: net.connection, dst_port: 23}
"""


@pytest.fixture
async def client(state: AppState) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=create_app(state))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
        yield c


def det_of(state: AppState) -> Detection:
    svc = state.services["security"]
    assert isinstance(svc, Security)
    part = svc.part("detection")
    assert isinstance(part, Detection)
    return part


def audits(state: AppState, action: str) -> int:
    with state.engine.connect() as conn:
        return int(
            conn.execute(
                sa.select(sa.func.count())
                .select_from(core.tables.audit_log)
                .where(core.tables.audit_log.c.action == action)
            ).scalar_one()
        )


async def test_rules_list_search_and_one_rule(
    client: httpx.AsyncClient, state: AppState, enterprise: core.Enterprise
) -> None:
    user = bearer(state.engine, "eu", Role.ENTERPRISE_USER, enterprise.id)
    r = await client.get(f"{API}/rules", params={"limit": 5}, headers=user)
    assert r.status_code == 200
    body = r.json()
    assert body["total"] >= 15 and len(body["items"]) == 5
    assert body["items"][0]["level"] >= body["items"][-1]["level"]
    r = await client.get(f"{API}/rules", params={"q": "T0843"}, headers=user)
    assert [i["id"] for i in r.json()["items"]] == ["ot.program.download"]
    r = await client.get(f"{API}/rules/ot.program.download", headers=user)
    assert r.status_code == 200 and "request_download" in r.json()["yaml"]
    assert (await client.get(f"{API}/rules/no.such", headers=user)).status_code == 404
    assert (await client.get(f"{API}/rules")).status_code == 401


async def test_upload_a_rule_file(client: httpx.AsyncClient, state: AppState) -> None:
    admin = bearer(state.engine, "pa", Role.PLATFORM_ADMIN)
    r = await client.put(f"{API}/rule-files/mine.yml", content=GOOD.encode(), headers=admin)
    assert r.status_code == 200, r.text
    assert r.json() == {"name": "mine.yml", "version": 1}
    det = det_of(state)
    assert det.engine.ruleset.get("custom.telnet") is not None
    r = await client.put(
        f"{API}/rule-files/mine.yml",
        content=GOOD.replace("level: 9", "level: 10").encode(),
        headers=admin,
    )
    assert r.json()["version"] == 2
    r = await client.get(f"{API}/rules/custom.telnet", headers=admin)
    assert [v["version"] for v in r.json()["versions"]] == [2, 1]
    assert audits(state, "security.rule_file.put") == 2


async def test_a_bad_file_is_400_naming_file_rule_line_and_changes_nothing(
    client: httpx.AsyncClient, state: AppState
) -> None:
    admin = bearer(state.engine, "pa", Role.PLATFORM_ADMIN)
    await client.put(f"{API}/rule-files/mine.yml", content=GOOD.encode(), headers=admin)
    bad = GOOD.replace("dst_port: 23", "dst_port: {regex: '(['}")
    r = await client.put(f"{API}/rule-files/mine.yml", content=bad.encode(), headers=admin)
    assert r.status_code == 400
    assert r.json()["reason"] == "security_rule_invalid"
    assert r.json()["params"]["file"] == "mine.yml"
    assert r.json()["params"]["rule"] == "custom.telnet"
    assert r.json()["params"]["line"] == 7
    r = await client.get(f"{API}/rules/custom.telnet", headers=admin)
    assert [v["version"] for v in r.json()["versions"]] == [1]
    clash = GOOD.replace("custom.telnet", "ot.mode.stop")
    r = await client.put(f"{API}/rule-files/other.yml", content=clash.encode(), headers=admin)
    assert r.status_code == 400 and "ot-commands.yml" in r.json()["params"]["problem"]
    r = await client.put(f"{API}/rule-files/..%2Fetc.yml", content=GOOD.encode(), headers=admin)
    assert r.status_code in (400, 404)
    big = b"#" * (300 * 1024)
    assert (
        await client.put(f"{API}/rule-files/big.yml", content=big, headers=admin)
    ).status_code == 413


async def test_only_platform_admins_change_rules(
    client: httpx.AsyncClient, state: AppState, enterprise: core.Enterprise
) -> None:
    ea = bearer(state.engine, "ea", Role.ENTERPRISE_ADMIN, enterprise.id)
    assert (
        await client.put(f"{API}/rule-files/mine.yml", content=GOOD.encode(), headers=ea)
    ).status_code == 403
    assert (await client.post(f"{API}/rules/ot.mode.stop/disable", headers=ea)).status_code == 403
    admin = bearer(state.engine, "pa", Role.PLATFORM_ADMIN)
    r = await client.post(f"{API}/rules/ot.mode.stop/disable", headers=admin)
    assert r.status_code == 200
    det = det_of(state)
    assert det.engine.process([tx("s7comm", "plc_stop", 0x29, port=102)]) == []
    await client.post(f"{API}/rules/ot.mode.stop/enable", headers=admin)
    assert [
        a.rule for a in det.engine.process([tx("s7comm", "plc_stop", 0x29, ts=1000, port=102)])
    ] == ["ot.mode.stop"]
    assert (
        audits(state, "security.rule.disable") == 1 and audits(state, "security.rule.enable") == 1
    )


async def test_lists_are_per_enterprise(
    client: httpx.AsyncClient, state: AppState, enterprise: core.Enterprise
) -> None:
    with state.engine.begin() as conn:
        b = core.create_enterprise(conn, uscc=USCC_B, name="乙厂", actor="t", verified=True)
    ea = bearer(state.engine, "ea", Role.ENTERPRISE_ADMIN, enterprise.id)
    r = await client.put(
        f"{API}/lists",
        json={"enterprise_id": enterprise.id, "name": "allowed_masters", "items": ["10.0.0.5"]},
        headers=ea,
    )
    assert r.status_code == 200, r.text
    r = await client.put(
        f"{API}/lists",
        json={"enterprise_id": b.id, "name": "allowed_masters", "items": ["10.0.0.5"]},
        headers=ea,
    )
    assert r.status_code == 404
    r = await client.put(
        f"{API}/lists",
        json={"enterprise_id": enterprise.id, "name": "Bad-Name", "items": []},
        headers=ea,
    )
    assert r.status_code == 400 and r.json()["reason"] == "security_list_name"
    eu = bearer(state.engine, "eu", Role.ENTERPRISE_USER, enterprise.id)
    r = await client.put(
        f"{API}/lists",
        json={"enterprise_id": enterprise.id, "name": "allowed_masters", "items": []},
        headers=eu,
    )
    assert r.status_code == 403
    r = await client.get(f"{API}/lists", headers=eu)
    assert r.json()["items"] == [
        {"enterprise_id": enterprise.id, "name": "allowed_masters", "items": ["10.0.0.5"]}
    ]
    assert (
        await client.get(f"{API}/lists", params={"enterprise_id": b.id}, headers=eu)
    ).status_code == 404
    det = det_of(state)
    write = tx("modbus", "write_single_coil", 5, src="10.6.6.6", write=True)
    write = type(write)(**{**write.to_dict(), "enterprise_id": enterprise.id})
    assert [a.rule for a in det.engine.process([write])] == ["ot.write.unauthorized-master"]


async def test_baseline_learn_add_accept_remove(
    client: httpx.AsyncClient, state: AppState, enterprise: core.Enterprise
) -> None:
    with state.engine.begin() as conn:
        b = core.create_enterprise(conn, uscc=USCC_B, name="乙厂", actor="t", verified=True)
    ea = bearer(state.engine, "ea", Role.ENTERPRISE_ADMIN, enterprise.id)
    eid = enterprise.id
    r = await client.post(
        f"{API}/baseline/learning", json={"enterprise_id": eid, "days": 1}, headers=ea
    )
    assert r.status_code == 200 and r.json()["mode"] == "learning"
    assert (
        await client.post(f"{API}/baseline/learning", json={"enterprise_id": b.id}, headers=ea)
    ).status_code == 404
    item = {
        "enterprise_id": eid,
        "kind": "conversation",
        "src_ip": "10.0.0.5",
        "dst_ip": "10.0.1.1",
        "protocol": "modbus",
        "dst_port": 502,
    }
    assert (await client.post(f"{API}/baseline/items", json=item, headers=ea)).json() == {
        "added": 1
    }
    bad = item | {"dst_ip": "not-an-ip"}
    r = await client.post(f"{API}/baseline/items", json=bad, headers=ea)
    assert r.status_code == 400 and r.json()["params"] == {"field": "dst_ip"}
    event = tx("modbus", "write_single_coil", 5, src="10.0.0.5", dst="10.0.1.1").to_dict()
    r = await client.post(
        f"{API}/baseline/accept", json={"enterprise_id": eid, "event": event}, headers=ea
    )
    assert r.json() == {"added": 1}  # the conversation was there; the function is new
    r = await client.get(f"{API}/baseline", params={"q": "modbus|10.0.1.1|5"}, headers=ea)
    assert r.json()["total"] == 1
    rows = (await client.get(f"{API}/baseline", headers=ea)).json()
    assert rows["total"] == 2 and str(eid) in {str(k) for k in rows["periods"]}
    item_id = rows["items"][0]["id"]
    r = await client.post(
        f"{API}/baseline/remove", json={"enterprise_id": b.id, "item_id": item_id}, headers=ea
    )
    assert r.status_code == 404
    r = await client.post(
        f"{API}/baseline/remove", json={"enterprise_id": eid, "item_id": item_id}, headers=ea
    )
    assert r.status_code == 200
    assert (await client.get(f"{API}/baseline", headers=ea)).json()["total"] == 1
    r = await client.post(f"{API}/baseline/enforce", json={"enterprise_id": eid}, headers=ea)
    assert r.json()["mode"] == "enforcing"
    assert (
        await client.get(f"{API}/baseline", params={"enterprise_id": b.id}, headers=ea)
    ).status_code == 404
    for action in ("learn", "add", "accept", "remove", "enforce"):
        assert audits(state, f"security.baseline.{action}") == 1


async def test_attack_coverage_layer_and_technique(
    client: httpx.AsyncClient, state: AppState, enterprise: core.Enterprise
) -> None:
    eu = bearer(state.engine, "eu", Role.ENTERPRISE_USER, enterprise.id)
    det = det_of(state)
    stop = tx("s7comm", "plc_stop", 0x29, port=102)
    det.engine.process(
        [
            type(stop)(**{**stop.to_dict(), "enterprise_id": enterprise.id}),
            type(stop)(
                **{**stop.to_dict(), "id": "other", "enterprise_id": 99, "dst_ip": "10.9.9.9"}
            ),
        ]
    )
    r = await client.get(f"{API}/attack/coverage", headers=eu)
    tactics = r.json()["tactics"]
    assert [t["id"] for t in tactics][:2] == ["TA0108", "TA0104"]
    cells = {c["id"]: c for t in tactics for c in t["techniques"]}
    assert "ot.mode.stop" in cells["T0858"]["rules"]
    assert cells["T0881"]["detections"] == 1  # the other enterprise's alert is not counted
    layer = (
        await client.get(f"{API}/attack/layer", params={"kind": "detections"}, headers=eu)
    ).json()
    assert layer["domain"] == "ics-attack" and {t["techniqueID"] for t in layer["techniques"]} == {
        "T0858",
        "T0881",
    }
    layer = (await client.get(f"{API}/attack/layer", headers=eu)).json()
    assert any(t["techniqueID"] == "T0843" and t["score"] >= 1 for t in layer["techniques"])
    r = await client.get(f"{API}/attack/techniques/T0843", headers=eu)
    body = r.json()
    assert (
        body["name"] == "Program Download" and body["mitigations"] and body["detection_strategies"]
    )
    assert (await client.get(f"{API}/attack/techniques/T0999", headers=eu)).status_code == 404
    assert T0 > 0
