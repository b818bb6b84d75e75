# ruff: noqa: F401, F811  (fixtures imported from test_console_platform are parameters here)
"""The alarm pages in-process: filters (time range in the page's zone, device, model, state,
severity, search), server-side paging, tiles counting the filter, clearing by hand, comments,
the CSV export, tenancy and hostile parameters."""

from __future__ import annotations

import csv
import io
import re
from datetime import UTC, datetime, timedelta

import httpx
from tests.web.test_console_platform import (
    HX,
    Fleet,
    admin_password,
    app_client,
    fleet,
    login,
)

from indunet import core, telemetry
from indunet.core import Role

ADMIN = core.User(0, "x", Role.PLATFORM_ADMIN, None)


def row_ids(html: str) -> list[int]:
    return [int(i) for i in re.findall(r'<tr class="sev-[a-z]+" id="alarm-(\d+)"', html)]


def tile(html: str, severity: str) -> int:
    found = re.search(rf'id="open-{severity}">(\d+)<', html)
    assert found, severity
    return int(found.group(1))


async def many(fleet: Fleet, n: int, *, start: datetime, step: timedelta) -> list[int]:
    """``n`` alarms on cnc-0001 of enterprise A, one rule each, raised ``step`` apart."""
    made = []
    for i in range(n):
        severity = (telemetry.Severity.MAJOR, telemetry.Severity.WARNING)[i % 2]
        alarm = await fleet.platform.alarms.raise_alarm(
            rule_id=100 + i,
            rule_name=f"rule-{i:03d}",
            enterprise_id=fleet.a.id,
            device_id="cnc-0001" if i % 3 else "env-0001",
            severity=severity,
            message=f"温度过高 #{i:03d}",
            value={"bearing_temp": 80 + i},
            at=start + i * step,
            model_id="indunet:cnc-machine" if i % 3 else "indunet:env-sensor",
        )
        made.append(alarm.id)
    return made


async def test_paging_search_and_filters(app_client: httpx.AsyncClient, fleet: Fleet) -> None:
    await login(app_client, "eu")
    start = datetime.now(UTC) - timedelta(hours=10)
    ids = await many(fleet, 45, start=start, step=timedelta(minutes=10))
    first = await app_client.get("/platform/alarms", params={"state": "all"})
    assert first.status_code == 200
    assert len(row_ids(first.text)) == 20  # one page
    assert "共 46 条" in first.text  # 45 + the fleet's own alarm of A (not B's)
    third = await app_client.get("/platform/alarms", params={"state": "all", "page": 3})
    assert len(row_ids(third.text)) == 6
    everything = set()
    for page in (1, 2, 3):
        got = await app_client.get("/platform/alarms", params={"state": "all", "page": page})
        everything |= set(row_ids(got.text))
    assert everything == {*ids, fleet.alarm_a}
    # search in the message, the device and the rule's name
    found = await app_client.get("/platform/alarms", params={"q": "#007"})
    assert row_ids(found.text) == [ids[7]]
    by_rule = await app_client.get("/platform/alarms", params={"q": "rule-044"})
    assert row_ids(by_rule.text) == [ids[44]]
    # device and model
    env = await app_client.get("/platform/alarms", params={"device": "env-0001"})
    assert set(row_ids(env.text)) == {ids[i] for i in range(0, 45, 3)}
    assert "共 15 条" in env.text
    model = await app_client.get("/platform/alarms", params={"model": "indunet:env-sensor"})
    assert "共 15 条" in model.text
    # a time range typed in the page's zone (Asia/Shanghai for zh-CN): the first 6 alarms
    zone_start = (start + timedelta(hours=8)).strftime("%Y-%m-%dT%H:%M")
    zone_end = (start + timedelta(hours=8, minutes=55)).strftime("%Y-%m-%dT%H:%M")
    ranged = await app_client.get(
        "/platform/alarms", params={"from": zone_start, "to": zone_end, "size": 50}
    )
    assert sorted(row_ids(ranged.text)) == sorted(ids[0:6])
    # presets: the last hour holds only the fleet's fresh alarm, the last day every one
    hour = await app_client.get("/platform/alarms", params={"range": "1h", "size": 100})
    assert row_ids(hour.text) == [fleet.alarm_a]
    day = await app_client.get("/platform/alarms", params={"range": "24h", "size": 100})
    assert set(row_ids(day.text)) == {*ids, fleet.alarm_a}


async def test_tiles_count_the_current_filter_and_refresh_after_an_ack(
    app_client: httpx.AsyncClient, fleet: Fleet
) -> None:
    await login(app_client, "eu")
    await many(fleet, 6, start=datetime.now(UTC) - timedelta(hours=1), step=timedelta(minutes=1))
    page = await app_client.get("/platform/alarms")
    assert (tile(page.text, "critical"), tile(page.text, "major"), tile(page.text, "warning")) == (
        1,
        3,
        3,
    )
    env = await app_client.get("/platform/alarms", params={"device": "env-0001"})
    assert (tile(env.text, "critical"), tile(env.text, "major"), tile(env.text, "warning")) == (
        0,
        1,
        1,
    )
    closed = await app_client.get("/platform/alarms", params={"state": "closed"})
    assert tile(closed.text, "critical") == 0  # not the open alarms whatever the filter
    minor = await app_client.get("/platform/alarms", params={"severity": "warning"})
    assert tile(minor.text, "major") == 3  # the tiles ignore the severity they switch
    assert 'hx-trigger="alarms-changed from:body' in page.text
    acked = await app_client.post(
        f"/platform/alarms/{fleet.alarm_a}/ack", data={"note": "x"}, headers=HX
    )
    assert acked.headers.get("HX-Trigger") == "alarms-changed"
    tiles = await app_client.get("/platform/alarms/tiles", params={"state": "active"}, headers=HX)
    assert "<html" not in tiles.text and tile(tiles.text, "critical") == 0  # acknowledged now


async def test_clearing_by_hand_and_comments(app_client: httpx.AsyncClient, fleet: Fleet) -> None:
    await login(app_client, "eu")
    url = f"/platform/alarms/{fleet.alarm_a}"
    cleared = await app_client.post(url + "/clear", data={"show_device": "1"}, headers=HX)
    assert cleared.status_code == 200 and 'data-state="closed"' in cleared.text
    assert "eu 手动清除" in cleared.text and cleared.headers.get("HX-Trigger") == "alarms-changed"
    again = await app_client.post(url + "/clear", headers=HX)
    assert f"告警 {fleet.alarm_a} 已关闭。" in again.text
    alarm = fleet.platform.alarms.get(ADMIN, fleet.alarm_a)
    assert alarm.state == telemetry.AlarmState.CLOSED and alarm.cleared_by == "eu"

    detail = await app_client.get(url)
    assert detail.status_code == 200 and 'id="no-comments"' in detail.text
    posted = await app_client.post(url + "/comments", data={"text": "已更换轴承，观察中"})
    assert posted.status_code == 303 and posted.headers["location"].endswith("#comments")
    detail = await app_client.get(url)
    assert "已更换轴承，观察中" in detail.text and "eu ·" in detail.text
    for bad in ("", "   ", "长" * 1001):
        refused = await app_client.post(url + "/comments", data={"text": bad})
        assert refused.status_code == 400 and "评论需为 1 到 1000 个字符" in refused.text
    assert len(fleet.platform.alarms.comments(ADMIN, fleet.alarm_a)) == 1


async def test_a_plain_clear_goes_back_and_english_reads_english(
    app_client: httpx.AsyncClient, fleet: Fleet
) -> None:
    await login(app_client, "ea")
    app_client.cookies.set("lang", "en")
    done = await app_client.post(
        f"/platform/alarms/{fleet.alarm_a}/clear", data={"note": "false alarm", "next": "/x"}
    )
    assert done.status_code == 303 and done.headers["location"] == "/x"
    page = await app_client.get(f"/platform/alarms/{fleet.alarm_a}")
    assert "cleared by ea" in page.text and "false alarm" in page.text
    again = await app_client.post(f"/platform/alarms/{fleet.alarm_a}/clear", data={})
    assert again.status_code == 409 and f"Alarm {fleet.alarm_a} is already closed." in again.text


async def test_tenancy_and_roles(app_client: httpx.AsyncClient, fleet: Fleet) -> None:
    await login(app_client, "eb")  # enterprise B: A's alarm, device and model are not found
    url = f"/platform/alarms/{fleet.alarm_a}"
    assert (await app_client.get(url)).status_code == 404
    assert (await app_client.post(url + "/clear")).status_code == 404
    assert (await app_client.post(url + "/clear", headers=HX)).status_code == 404
    assert (await app_client.post(url + "/comments", data={"text": "x"})).status_code == 404
    for params in ({"device": "cnc-0001"}, {"device": "no-such-device"}):
        assert (await app_client.get("/platform/alarms", params=params)).status_code == 404
        assert (
            await app_client.get("/platform/alarms/export.csv", params=params)
        ).status_code == 404
        assert (await app_client.get("/platform/alarms/tiles", params=params)).status_code == 404
    listing = await app_client.get("/platform/alarms", params={"state": "all"})
    assert row_ids(listing.text) == [fleet.alarm_b]
    export = await app_client.get("/platform/alarms/export.csv", params={"state": "all"})
    assert "主轴轴承过热" not in export.text and "乙厂电表过载" in export.text
    await login(app_client, "reg")  # regulators look, and are told they may not change
    page = await app_client.get(url)
    assert page.status_code == 200 and 'action="' + url + '/clear"' not in page.text
    refused = await app_client.post(url + "/clear", headers=HX)
    assert "may not change alarm" in refused.text or "不能" in refused.text
    assert (await app_client.post(url + "/comments", data={"text": "x"})).status_code == 403
    assert fleet.platform.alarms.get(ADMIN, fleet.alarm_a).state == telemetry.AlarmState.ACTIVE


async def test_hostile_parameters_answer_what_could_be_read(
    app_client: httpx.AsyncClient, fleet: Fleet
) -> None:
    await login(app_client, "eu")
    hostile = {
        "state": "'; drop table tel_alarms; --",
        "severity": "<script>",
        "from": "yesterday",
        "to": "9999-99-99T99:99",
        "range": "forever",
        "q": "%_\\" * 200,
        "page": "-3",
        "size": "1000000",
        "sort": "password",
    }
    resp = await app_client.get("/platform/alarms", params=hostile)
    assert resp.status_code == 200 and "<script>" not in resp.text
    assert "无法识别的状态筛选" in resp.text and "无法识别的时间" in resp.text
    assert 'id="no-alarms"' in resp.text  # the search text is literal: nothing matches
    reversed_ = await app_client.get(
        "/platform/alarms", params={"from": "2026-12-06T10:00", "to": "2026-12-05T10:00"}
    )
    assert reversed_.status_code == 200 and "结束时间早于开始时间" in reversed_.text
    assert (await app_client.get("/platform/alarms/999999999")).status_code == 404
    assert (await app_client.get("/platform/alarms/0")).status_code == 422
    assert (await app_client.post("/platform/alarms/abc/clear")).status_code == 422
    export = await app_client.get("/platform/alarms/export.csv", params=hostile)
    assert export.status_code == 200


async def test_csv_export_follows_the_filter(app_client: httpx.AsyncClient, fleet: Fleet) -> None:
    await login(app_client, "eu")
    await many(fleet, 7, start=datetime(2026, 12, 1, 0, 0, tzinfo=UTC), step=timedelta(hours=1))
    app_client.cookies.set("tz", "Asia/Shanghai")
    resp = await app_client.get(
        "/platform/alarms/export.csv", params={"state": "all", "device": "cnc-0001"}
    )
    assert resp.status_code == 200 and resp.headers["content-type"].startswith("text/csv")
    assert "attachment" in resp.headers["content-disposition"]
    assert resp.content.startswith("\ufeff".encode())
    rows = list(csv.DictReader(io.StringIO(resp.text.lstrip("\ufeff"))))
    assert {r["device_id"] for r in rows} == {"cnc-0001"}
    assert len(rows) == 5  # 4 of the 7 plus the fleet's own
    first_made = next(r for r in rows if r["rule_name"] == "rule-001")
    assert first_made["raised_at"] == "2026-12-01T09:00:00+08:00"  # the page's zone
    assert first_made["model_id"] == "indunet:cnc-machine" and first_made["severity"] == "warning"


async def test_alarms_of_one_rule(app_client: httpx.AsyncClient, fleet: Fleet) -> None:
    rules = fleet.platform.rules
    assert rules is not None
    boss = core.User(7, "boss", Role.ENTERPRISE_ADMIN, fleet.a.id)
    spec = {"name": "热", "device_id": "cnc-0001", "condition": "bearing_temp > 80"}
    rule = await rules.create(boss, spec)
    mine = await fleet.platform.alarms.raise_alarm(
        rule_id=rule.id,
        rule_name=rule.name,
        enterprise_id=fleet.a.id,
        device_id="cnc-0001",
        severity=telemetry.Severity.MAJOR,
        message="轴承 90 °C",
        value={"bearing_temp": 90},
        at=datetime.now(UTC),
    )
    await login(app_client, "eu")
    page = await app_client.get("/platform/alarms", params={"rule": rule.id, "state": "all"})
    assert row_ids(page.text) == [mine.id] and f"规则 {rule.id} 的告警" in page.text
    link = await app_client.get(f"/platform/rules/{rule.id}")
    assert f"/platform/alarms?state=all&amp;rule={rule.id}" in link.text
    odd = await app_client.get("/platform/alarms", params={"rule": "1; drop"})
    assert odd.status_code == 200 and "无法识别的规则编号" in odd.text
    await login(app_client, "eb")
    assert (await app_client.get("/platform/alarms", params={"rule": rule.id})).status_code == 404
