"""The rules and alarms routes under /api/v1, in-process, over a stand-in device directory."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass

import httpx
import pytest
from tests.conftest import bearer
from tests.telemetry.fleet import Fleet, other_enterprise

from indunet import core
from indunet.core import Role
from indunet.telemetry import Alarms, RuleEngine, Sample
from indunet.web import AppState, create_app

T0 = 1_767_225_600_000
HOT = {
    "name": "主轴轴承过热",
    "device_id": "press-1",
    "condition": "bearing_temp > 80",
    "duration_s": 30,
    "severity": "critical",
    "message": "{device}: bearing at {bearing_temp} °C",
}


@dataclass
class Site:
    client: httpx.AsyncClient
    state: AppState
    rules: RuleEngine
    admin: dict[str, str]  # enterprise admin
    user: dict[str, str]  # enterprise user
    regulator: dict[str, str]
    outsider: dict[str, str]  # admin of another enterprise

    async def heat(self, seconds: range, temp: float = 90.0) -> None:
        for s in seconds:
            await self.rules.on_stored([Sample("press-1", "bearing_temp", T0 + s * 1000, temp)])


@pytest.fixture
async def site(state: AppState, enterprise: core.Enterprise) -> AsyncIterator[Site]:
    other = other_enterprise(state.engine)
    fleet = Fleet()
    fleet.add("press-1", enterprise.id)
    fleet.add("press-x", other.id)
    platform = state.platform
    assert platform is not None
    platform.alarms = Alarms(state.engine, state.bus)
    platform.rules = RuleEngine(
        state.engine, fleet, platform.alarms, state.bus, find_model=fleet.model
    )
    engine = state.engine
    transport = httpx.ASGITransport(app=create_app(state))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        yield Site(
            client,
            state,
            platform.rules,
            bearer(engine, "ent-admin", Role.ENTERPRISE_ADMIN, enterprise.id),
            bearer(engine, "operator", Role.ENTERPRISE_USER, enterprise.id),
            bearer(engine, "watcher", Role.REGULATOR),
            bearer(engine, "outsider", Role.ENTERPRISE_ADMIN, other.id),
        )


async def test_rule_crud(site: Site) -> None:
    c = site.client
    made = await c.post("/api/v1/rules", json=HOT, headers=site.admin)
    assert made.status_code == 201, made.text
    rule = made.json()
    assert (rule["name"], rule["severity"], rule["duration_s"]) == ("主轴轴承过热", "critical", 30)
    assert rule["created_by"] == "user:ent-admin"

    listed = await c.get("/api/v1/rules", headers=site.user)
    assert [r["id"] for r in listed.json()] == [rule["id"]]
    assert (await c.get("/api/v1/rules", headers=site.outsider)).json() == []
    one = await c.get(f"/api/v1/rules/{rule['id']}", headers=site.regulator)
    assert one.json()["condition"] == "bearing_temp > 80"

    patched = await c.patch(
        f"/api/v1/rules/{rule['id']}", json={"condition": "bearing_temp > 85"}, headers=site.admin
    )
    assert patched.status_code == 200, patched.text
    assert (patched.json()["condition"], patched.json()["severity"]) == (
        "bearing_temp > 85",
        "critical",
    )
    gone = await c.delete(f"/api/v1/rules/{rule['id']}", headers=site.admin)
    assert gone.status_code == 204
    missing = await c.get(f"/api/v1/rules/{rule['id']}", headers=site.admin)
    assert missing.status_code == 404


@pytest.mark.parametrize(
    ("change", "status", "code", "says"),
    [
        ({"condition": "__import__('os').system('id')"}, 400, "invalid_expression", "column 1"),
        ({"condition": "bearing_temp.real > 1"}, 400, "invalid_expression", "attribute access"),
        ({"condition": "bearing_tmp > 80"}, 400, "invalid_input", "point 'bearing_tmp'"),
        ({"severity": "fatal"}, 400, "invalid_input", "unknown severity 'fatal'"),
        ({"device_id": "press-x"}, 404, "not_found", "no device press-x"),
        ({"device_id": "ghost"}, 404, "not_found", "no device 'ghost'"),
    ],
)
async def test_bad_rules_answer_what_is_wrong(
    site: Site, change: dict[str, str], status: int, code: str, says: str
) -> None:
    resp = await site.client.post("/api/v1/rules", json={**HOT, **change}, headers=site.admin)
    assert resp.status_code == status, resp.text
    assert resp.json()["code"] == code
    assert says in resp.json()["message"]
    assert (await site.client.get("/api/v1/rules", headers=site.admin)).json() == []


async def test_rule_permissions_and_shape(site: Site) -> None:
    c = site.client
    for headers in (site.user, site.regulator):
        resp = await c.post("/api/v1/rules", json=HOT, headers=headers)
        assert resp.status_code == 403, resp.text
    assert (await c.post("/api/v1/rules", json=HOT)).status_code == 401
    extra = await c.post("/api/v1/rules", json={**HOT, "colour": "red"}, headers=site.admin)
    assert extra.status_code == 422
    foreign = await c.get("/api/v1/rules?enterprise_id=999", headers=site.user)
    assert foreign.status_code == 404  # another enterprise is not found (core.access)


async def test_alarm_is_raised_listed_counted_and_acknowledged(site: Site) -> None:
    c = site.client
    assert (await c.post("/api/v1/rules", json=HOT, headers=site.admin)).status_code == 201
    await site.heat(range(30))
    assert (await c.get("/api/v1/alarms", headers=site.user)).json() == []
    await site.heat(range(30, 32))

    [alarm] = (await c.get("/api/v1/alarms?state=active", headers=site.user)).json()
    assert alarm["message"] == "press-1: bearing at 90 °C"
    assert (alarm["severity"], alarm["device_id"], alarm["value"]) == (
        "critical",
        "press-1",
        {"bearing_temp": 90.0},
    )
    assert alarm["raised_at"].startswith("2026-01-01T00:00:30")
    counts = await c.get("/api/v1/alarms/counts", headers=site.regulator)
    assert counts.json() == {"critical": 1, "major": 0, "minor": 0, "warning": 0}
    assert (await c.get("/api/v1/alarms", headers=site.outsider)).json() == []
    filtered = await c.get("/api/v1/alarms?severity=minor", headers=site.user)
    assert filtered.json() == []
    bad = await c.get("/api/v1/alarms?state=burning", headers=site.user)
    assert bad.status_code == 400 and "unknown alarm state" in bad.json()["message"]

    url = f"/api/v1/alarms/{alarm['id']}/ack"
    assert (await c.post(url, json={}, headers=site.regulator)).status_code == 403
    assert (await c.post(url, json={}, headers=site.outsider)).status_code == 404
    acked = await c.post(url, json={"note": "已安排检修"}, headers=site.user)
    assert acked.status_code == 200, acked.text
    assert (acked.json()["state"], acked.json()["acked_by"]) == ("acknowledged", "operator")
    again = await c.post(url, headers=site.admin)
    assert again.status_code == 409 and "already acknowledged by operator" in again.text

    await site.heat(range(32, 33), temp=60.0)
    closed = await c.get(f"/api/v1/alarms/{alarm['id']}", headers=site.user)
    assert closed.json()["state"] == "closed"
    assert (await c.get("/api/v1/alarms?state=open", headers=site.user)).json() == []
    with site.state.engine.connect() as conn:
        [entry] = core.audit.entries(conn, target=f"alarm:{alarm['id']}")
    assert entry.actor == "user:operator" and entry.detail["note"] == "已安排检修"


# -- filters, paging, clearing by hand, comments (issue 9) ----------------------------------


async def test_alarm_filters_paging_and_total(site: Site) -> None:
    c = site.client
    for i in range(5):
        rule = {**HOT, "name": f"hot-{i}", "duration_s": 0, "condition": f"bearing_temp > {i}"}
        assert (await c.post("/api/v1/rules", json=rule, headers=site.admin)).status_code == 201
    await site.heat(range(1))  # at T0: five alarms, one per rule
    everything = await c.get("/api/v1/alarms", headers=site.user)
    assert len(everything.json()) == 5 and everything.headers["x-total-count"] == "5"
    page = await c.get("/api/v1/alarms?limit=2&offset=2", headers=site.user)
    assert [a["rule_name"] for a in page.json()] == ["hot-2", "hot-1"]
    assert page.headers["x-total-count"] == "5"
    assert all(a["model_id"] == "test:press" for a in page.json())
    searched = await c.get("/api/v1/alarms", params={"q": "hot-3"}, headers=site.user)
    assert [a["rule_name"] for a in searched.json()] == ["hot-3"]
    in_range = await c.get(
        "/api/v1/alarms",
        params={"from": "2026-01-01T08:00:00+08:00", "to": "2026-01-01T00:00:01Z"},
        headers=site.user,
    )
    assert in_range.headers["x-total-count"] == "5"
    before = await c.get("/api/v1/alarms", params={"to": "2026-01-01T00:00:00Z"}, headers=site.user)
    assert before.json() == []
    naive = await c.get("/api/v1/alarms", params={"from": "2026-01-01T00:00:00"}, headers=site.user)
    assert naive.status_code == 422  # a time without its offset is ambiguous
    # (the stand-in fleet's model is not in the catalogue: an overseer may filter by any id)
    by_model = await c.get(
        "/api/v1/alarms", params={"model_id": "test:press"}, headers=site.regulator
    )
    assert by_model.headers["x-total-count"] == "5"
    unknown = await c.get("/api/v1/alarms", params={"model_id": "test:press"}, headers=site.user)
    assert unknown.status_code == 404
    counts = await c.get(
        "/api/v1/alarms/counts", params={"state": "all", "q": "hot-1"}, headers=site.user
    )
    assert counts.json() == {"critical": 1, "major": 0, "minor": 0, "warning": 0}
    reversed_ = await c.get(
        "/api/v1/alarms",
        params={"from": "2026-01-02T00:00:00Z", "to": "2026-01-01T00:00:00Z"},
        headers=site.user,
    )
    assert reversed_.status_code == 400 and reversed_.json()["reason"] == "alarm_range_reversed"
    for hostile in ({"offset": "-1"}, {"limit": "0"}, {"q": "x" * 101}, {"from": "soon"}):
        assert (await c.get("/api/v1/alarms", params=hostile, headers=site.user)).status_code == 422
    foreign = await c.get("/api/v1/alarms", params={"device_id": "press-x"}, headers=site.user)
    assert foreign.status_code == 404
    assert (await c.get("/api/v1/alarms", headers=site.outsider)).headers["x-total-count"] == "0"


async def test_clear_by_hand_and_comments_over_the_api(site: Site) -> None:
    c = site.client
    assert (await c.post("/api/v1/rules", json=HOT, headers=site.admin)).status_code == 201
    await site.heat(range(32))
    [alarm] = (await c.get("/api/v1/alarms", headers=site.user)).json()
    url = f"/api/v1/alarms/{alarm['id']}"
    assert (await c.post(url + "/clear", json={}, headers=site.regulator)).status_code == 403
    assert (await c.post(url + "/clear", json={}, headers=site.outsider)).status_code == 404
    long_note = await c.post(url + "/clear", json={"note": "n" * 501}, headers=site.user)
    assert long_note.status_code == 422
    cleared = await c.post(url + "/clear", json={"note": "误报"}, headers=site.user)
    assert cleared.status_code == 200, cleared.text
    body = cleared.json()
    assert (body["state"], body["cleared_by"], body["acked_by"]) == (
        "closed",
        "operator",
        "operator",
    )
    again = await c.post(url + "/clear", headers=site.user)
    assert again.status_code == 409 and again.json()["reason"] == "alarm_already_closed"

    made = await c.post(url + "/comments", json={"text": "已更换轴承"}, headers=site.admin)
    assert made.status_code == 201 and made.json()["author"] == "ent-admin"
    for bad in ({"text": ""}, {"text": "x" * 1001}, {"words": "x"}):
        assert (await c.post(url + "/comments", json=bad, headers=site.user)).status_code == 422
    assert (
        await c.post(url + "/comments", json={"text": "x"}, headers=site.outsider)
    ).status_code == 404
    assert (
        await c.post(url + "/comments", json={"text": "x"}, headers=site.regulator)
    ).status_code == 403
    listed = await c.get(url + "/comments", headers=site.regulator)
    assert [x["text"] for x in listed.json()] == ["误报", "已更换轴承"]
    assert (await c.get(url + "/comments", headers=site.outsider)).status_code == 404
