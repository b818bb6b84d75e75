"""The console's platform pages in-process: devices, one device, alarms, models, tenancy, languages."""

from __future__ import annotations

import contextlib
import json
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime

import httpx
import pytest
from tests.conftest import USCC_A, USCC_B

from indunet import core, ids, telemetry
from indunet.core import Role
from indunet.telemetry import Sample
from indunet.web import AppState, create_app
from indunet.web.auth import SESSION_COOKIE
from indunet.web.csrf import HEADER, csrf_token
from indunet.web.platform import Platform

PASSWORD = "a-long-password"
PAGES = [
    "/platform",
    "/platform/devices",
    "/platform/devices/cnc-0001",
    "/platform/alarms",
    "/platform/models",
    "/platform/models/indunet:cnc-machine",
]
CJK = re.compile(r"[\u3000-\u30ff\u4e00-\u9fff\uff00-\uffef]+")
RAW_KEY = re.compile(
    r"\b(?:platform|devices?|alarms?|alarmstate|models?|point|command|commandstate|status|"
    r"severity|quality|protocol|age)\.[a-z_0-9.]+\b"
)
PRESS = {
    "@context": ["https://www.w3.org/2022/wot/td/v1.1"],
    "@type": "tm:ThingModel",
    "indunet:modelId": "acme:press",
    "title": "Press",
    "titles": {"zh": "液压机", "en": "Press"},
    "version": {"model": "1.0.0"},
    "properties": {
        "force": {
            "type": "number",
            "title": "Force",
            "titles": {"zh": "压力", "en": "Force"},
            "unit": "kN",
            "readOnly": True,
        }
    },
}


@dataclass
class Fleet:
    """Two enterprises with devices, samples and alarms; users of every role."""

    platform: Platform
    sender: telemetry.MemorySender
    a: core.Enterprise
    b: core.Enterprise
    alarm_a: int
    alarm_b: int


def text_of(html: str) -> str:
    """What a reader sees: the page without tags, scripts and attribute values."""
    html = re.sub(r"<script.*?</script>", " ", html, flags=re.S)
    html = re.sub(r"<textarea.*?</textarea>", " ", html, flags=re.S)
    return re.sub(r"<[^>]+>", " ", html)


def add_user(state: AppState, username: str, role: Role, enterprise_id: int | None = None) -> None:
    with state.engine.begin() as conn:
        core.create_user(
            conn,
            username=username,
            password=PASSWORD,
            role=role,
            actor="test",
            enterprise_id=enterprise_id,
        )


@pytest.fixture
async def fleet(state: AppState, enterprise: core.Enterprise, allocation: ids.Allocation) -> Fleet:
    platform = state.platform
    assert platform is not None
    sender = telemetry.MemorySender()  # devices here are not connected: commands land in memory
    platform.commands = telemetry.Commands(state.engine, sender, platform.devices, timeout=2.0)

    with state.engine.begin() as conn:
        b = core.create_enterprise(conn, uscc=USCC_B, name="北京示例电气", actor="t", verified=True)
    ids.allocate(state.hierarchy.front, "88.100.2", b, actor="test", secret="another-secret-key")
    a = enterprise
    reg = platform.devices
    cnc = {"id": "cnc-0001", "name": "五轴加工中心", "model": "indunet:cnc-machine"}
    cnc |= {"connection": {"endpoint": "opc.tcp://127.0.0.1:4840"}, "tags": ["line-1", "cnc"]}
    reg.create(a.id, cnc, actor="test")
    env = {"id": "env-0001", "name": "车间温湿度", "model": "indunet:env-sensor", "tags": ["env"]}
    reg.create(a.id, env, actor="test")
    meter = {"id": "meter-b1", "name": "乙厂电表", "model": "indunet:power-meter"}
    reg.create(b.id, meter | {"connection": {"host": "127.0.0.1"}}, actor="test")
    reg.set_status("cnc-0001", True, datetime.now(UTC).timestamp())
    reg.set_status("meter-b1", False, datetime.now(UTC).timestamp())

    now = int(datetime.now(UTC).timestamp() * 1000)
    samples = [
        Sample("cnc-0001", "spindle_speed", now - i * 10_000, 8000.0 + i) for i in range(180)
    ]
    samples += [Sample("cnc-0001", "bearing_temp", now - 5000, 61.25)]
    samples += [Sample("cnc-0001", "running", now - 5000, True)]
    samples += [Sample("cnc-0001", "program", now - 5000, "O1234")]
    samples += [Sample("meter-b1", "active_power", now - 5000, 12.5)]
    platform.store.write_batch(samples)

    alarms: telemetry.Alarms = platform.alarms
    at = datetime.now(UTC)
    raised_a = await alarms.raise_alarm(
        rule_id=1,
        rule_name="bearing-hot",
        enterprise_id=a.id,
        device_id="cnc-0001",
        severity=telemetry.Severity.CRITICAL,
        message="主轴轴承过热 cnc-0001",
        value={"bearing_temp": 93.5},
        at=at,
    )
    raised_b = await alarms.raise_alarm(
        rule_id=2,
        rule_name="overload-b",
        enterprise_id=b.id,
        device_id="meter-b1",
        severity=telemetry.Severity.MINOR,
        message="乙厂电表过载",
        value={"active_power": 99.0},
        at=at,
    )
    return Fleet(platform, sender, a, b, raised_a.id, raised_b.id)


@pytest.fixture
async def app_client(state: AppState, fleet: Fleet) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=create_app(state))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
        yield c


@pytest.fixture
def admin_password(state: AppState) -> str:
    with state.engine.begin() as conn:
        password = core.ensure_admin(conn)
    assert password is not None
    return password


#: Users made on first login: role and enterprise ("a", "b" or none).
USERS = {
    "ea": (Role.ENTERPRISE_ADMIN, "a"),
    "eu": (Role.ENTERPRISE_USER, "a"),
    "eb": (Role.ENTERPRISE_USER, "b"),
    "reg": (Role.REGULATOR, None),
}


async def login(client: httpx.AsyncClient, username: str, password: str = PASSWORD) -> None:
    """Log in (creating the user of ``USERS`` first: hashing passwords is slow on purpose)."""
    app = client._transport.app  # type: ignore[attr-defined]
    state: AppState = app.state.indunet
    if username in USERS:
        role, which = USERS[username]
        with state.engine.connect() as conn:
            enterprises = {e.uscc: e.id for e in core.list_enterprises(conn)}
        eid = {"a": enterprises.get(USCC_A), "b": enterprises.get(USCC_B)}.get(which or "")
        with contextlib.suppress(core.Conflict):
            add_user(state, username, role, eid)
    client.cookies.clear()
    resp = await client.post("/login", data={"username": username, "password": password})
    assert resp.status_code == 303, resp.text
    assert SESSION_COOKIE in client.cookies
    client.headers[HEADER] = csrf_token(client.cookies[SESSION_COOKIE])  # as HTMX sends it


HX = {"HX-Request": "true"}


def device_ids(html: str) -> list[str]:
    return re.findall(r'<tr data-device="([^"]+)">', html)


# -- every page, both languages -----------------------------------------------------------------


@pytest.mark.parametrize("locale", ["zh-CN", "en"])
async def test_every_platform_page_renders_for_the_admin_in_both_languages(
    app_client: httpx.AsyncClient, admin_password: str, locale: str
) -> None:
    await login(app_client, "admin", admin_password)
    app_client.cookies.set("lang", locale)
    data = {"五轴加工中心", "车间温湿度", "乙厂电表", "厦门示例机床有限公司", "北京示例电气"}
    data |= {"主轴轴承过热", "乙厂电表过载", "中文"}
    for path in PAGES:
        resp = await app_client.get(path)
        assert resp.status_code == 200, path
        assert f'<html lang="{locale}">' in resp.text
        seen = text_of(resp.text)
        assert "{{ " not in resp.text and "{%" not in resp.text and RAW_KEY.findall(seen) == [], (
            path,
            RAW_KEY.findall(seen),
        )
        if locale == "en":
            assert set(CJK.findall(seen)) - data == set(), path
    app_client.cookies.set("lang", "zh-CN")
    device = await app_client.get("/platform/devices/cnc-0001")
    assert "主轴转速" in device.text and "实时数据" in device.text


async def test_english_is_one_click_away_on_a_platform_page(
    app_client: httpx.AsyncClient, admin_password: str
) -> None:
    await login(app_client, "admin", admin_password)
    zh = await app_client.get("/platform/devices")
    assert "设备总数" in zh.text
    assert 'href="/lang/en?next=/platform/devices"' in zh.text
    switch = await app_client.get("/lang/en?next=/platform/devices")
    assert switch.headers["location"] == "/platform/devices"
    en = await app_client.get("/platform/devices")
    assert '<html lang="en">' in en.text and "Devices" in en.text and "Online" in en.text


async def test_platform_pages_need_a_login(app_client: httpx.AsyncClient) -> None:
    for path in [*PAGES, "/platform/devices/cnc-0001/series?point=spindle_speed"]:
        resp = await app_client.get(path)
        assert resp.status_code == 303 and resp.headers["location"].startswith("/login?next="), path


# -- tenancy -----------------------------------------------------------------------------------


async def test_enterprise_users_see_only_their_enterprise(app_client: httpx.AsyncClient) -> None:
    await login(app_client, "eu")
    for path in PAGES:
        assert (await app_client.get(path)).status_code == 200, path
    listing = await app_client.get("/platform/devices")
    assert device_ids(listing.text) == ["cnc-0001", "env-0001"]
    assert "乙厂电表" not in listing.text and "add-device" not in listing.text
    assert (await app_client.get("/platform/devices/meter-b1")).status_code == 404
    series = await app_client.get(
        "/platform/devices/meter-b1/series", params={"point": "active_power"}
    )
    assert series.status_code == 404
    assert (await app_client.get("/platform/devices/meter-b1/live")).status_code == 404
    alarms = await app_client.get("/platform/alarms")
    assert "主轴轴承过热" in alarms.text and "乙厂电表过载" not in alarms.text
    overview = await app_client.get("/platform")
    assert 'id="device-stats"' in overview.text and "乙厂电表过载" not in overview.text


@pytest.mark.parametrize("who", ["admin", "reg"])
async def test_platform_admins_and_regulators_see_every_enterprise(
    app_client: httpx.AsyncClient, admin_password: str, who: str
) -> None:
    await login(app_client, who, admin_password if who == "admin" else PASSWORD)
    listing = await app_client.get("/platform/devices")
    assert device_ids(listing.text) == ["cnc-0001", "env-0001", "meter-b1"]
    assert "北京示例电气" in listing.text
    alarms = await app_client.get("/platform/alarms")
    assert "主轴轴承过热" in alarms.text and "乙厂电表过载" in alarms.text
    assert ("add-device" in listing.text) == (who == "admin")
    assert ('class="ack"' in alarms.text) == (who == "admin")  # regulators only look


# -- device list ----------------------------------------------------------------------------------


async def test_device_list_counts_filters_and_refreshes_as_a_fragment(
    app_client: httpx.AsyncClient, admin_password: str
) -> None:
    await login(app_client, "admin", admin_password)
    page = await app_client.get("/platform/devices")
    assert re.search(r'id="count-online">1<', page.text)
    assert re.search(r'id="count-offline">1<', page.text)
    assert re.search(r'id="count-unknown">1<', page.text)
    assert "88.100.1/dev-cnc-0001" in page.text
    assert 'href="/ids/resolve?handle=88.100.1/dev-cnc-0001"' in page.text
    online = await app_client.get("/platform/devices", params={"status": "online"})
    assert device_ids(online.text) == ["cnc-0001"]
    tagged = await app_client.get("/platform/devices", params={"tag": "env"})
    assert device_ids(tagged.text) == ["env-0001"]
    none = await app_client.get("/platform/devices", params={"tag": "nothing"})
    assert device_ids(none.text) == [] and 'id="no-devices"' in none.text
    fragment = await app_client.get("/platform/devices", params={"status": "offline"}, headers=HX)
    assert "<html" not in fragment.text and device_ids(fragment.text) == ["meter-b1"]
    assert 'hx-trigger="every 5s' in fragment.text


async def test_adding_a_device_shows_its_secret_once_and_bad_input_writes_nothing(
    app_client: httpx.AsyncClient, fleet: Fleet
) -> None:
    await login(app_client, "ea")
    form = {"id": "press-0001", "name": "1号液压机", "model": "indunet:env-sensor@1.0.0"}
    resp = await app_client.post("/platform/devices", data=form | {"tags": "line-2;press"})
    assert resp.status_code == 200, resp.text
    assert resp.headers["cache-control"] == "no-store"
    secret = re.search(r'id="new-secret">([^<]+)<', resp.text)
    assert secret and fleet.platform.devices.authenticate("press-0001", secret.group(1))
    device = fleet.platform.devices.get("press-0001")
    assert device.enterprise_id == fleet.a.id and device.tags == ("line-2", "press")
    assert device.identifier == "88.100.1/dev-press-0001"
    again = await app_client.get("/platform/devices")
    assert secret.group(1) not in again.text and "press-0001" in again.text

    bad = await app_client.post("/platform/devices", data=form | {"id": "Press 2"})
    assert bad.status_code == 400
    assert "操作未完成" in bad.text and "设备 ID “Press 2” 无效" in bad.text
    assert 'value="Press 2"' in bad.text  # what was typed stays in the form
    assert fleet.platform.devices.lookup("Press 2") is None
    refused = await app_client.post(
        "/platform/devices", data=form | {"id": "press-0002", "model": "acme:none"}
    )
    assert refused.status_code == 404 and fleet.platform.devices.lookup("press-0002") is None


async def test_only_admins_add_devices(app_client: httpx.AsyncClient, fleet: Fleet) -> None:
    await login(app_client, "eu")
    form = {"id": "sneaky-1", "name": "x", "model": "indunet:env-sensor"}
    resp = await app_client.post("/platform/devices", data=form)
    assert resp.status_code == 403 and "may not add devices" in resp.text
    assert fleet.platform.devices.lookup("sneaky-1") is None


async def test_a_platform_admin_must_choose_the_enterprise(
    app_client: httpx.AsyncClient, admin_password: str, fleet: Fleet
) -> None:
    await login(app_client, "admin", admin_password)
    form = {"id": "env-b2", "name": "乙厂环境", "model": "indunet:env-sensor"}
    missing = await app_client.post("/platform/devices", data=form)
    assert missing.status_code == 400 and "请选择设备所属的企业" in missing.text
    made = await app_client.post("/platform/devices", data=form | {"enterprise_id": fleet.b.id})
    assert made.status_code == 200
    assert fleet.platform.devices.get("env-b2").identifier == "88.100.2/dev-env-b2"


async def test_csv_import_lists_bad_rows_and_offers_the_new_secrets_once(
    app_client: httpx.AsyncClient, fleet: Fleet
) -> None:
    await login(app_client, "ea")
    csv = (
        "id,name,model,tags\n"
        "env-1001,一号温湿度,indunet:env-sensor,env;hall-1\n"
        "BAD ID,坏行,indunet:env-sensor,\n"
        "env-1002,二号温湿度,indunet:env-sensor,env\n"
    )
    files = {"file": ("devices.csv", csv.encode(), "text/csv")}
    resp = await app_client.post("/platform/devices/import", files=files)
    assert resp.status_code == 200, resp.text
    assert "共 3 行：导入 2 台设备，1 行失败" in resp.text
    assert "第 3 行" in resp.text and "BAD ID" in resp.text
    assert 'id="secrets-download"' in resp.text  # tests/web/test_console_devices.py takes it
    assert fleet.platform.devices.lookup("env-1002") is not None

    header = await app_client.post("/platform/devices/import", data={"csv": "id,colour\nx,red\n"})
    assert header.status_code == 400 and "未知的列 colour" in header.text
    empty = await app_client.post("/platform/devices/import", data={"csv": "  "})
    assert empty.status_code == 400 and "请选择 CSV 文件或粘贴 CSV 内容" in empty.text


# -- one device -------------------------------------------------------------------------------------


async def test_device_page_shows_header_live_values_chart_config_and_identifier(
    app_client: httpx.AsyncClient, fleet: Fleet
) -> None:
    await login(app_client, "eu")
    resp = await app_client.get("/platform/devices/cnc-0001")
    assert resp.status_code == 200
    html = resp.text
    assert "五轴加工中心" in html and "数控加工中心" in html and "在线" in html
    assert "88.100.1/dev-cnc-0001" in html
    live = re.search(r'<table class="grid" id="live-values">(.*?)</table>', html, re.S)
    assert live
    rows = dict(re.findall(r'<tr data-point="([^"]+)">(.*?)</tr>', live.group(1), re.S))
    assert set(rows) >= {"spindle_speed", "bearing_temp", "part_count", "program"}
    assert "8000" in rows["spindle_speed"] and "r/min" in rows["spindle_speed"]
    assert "61.25" in rows["bearing_temp"] and "正常" in rows["bearing_temp"]
    assert "是" in rows["running"] and "O1234" in rows["program"]
    assert "—" in rows["part_count"]  # a point without data yet
    config = json.loads(
        re.search(r'id="device-config">(.*?)</script>', html, re.S).group(1)  # type: ignore[union-attr]
    )
    names = [p["name"] for p in config["points"]]
    assert "spindle_speed" in names and "program" not in names  # strings are not charted
    assert config["series_url"] == "/platform/devices/cnc-0001/series"
    assert "echarts.common.min.js" in html and "device.js" in html
    record = re.search(r'id="identifier-record">(.*?)</section>', html, re.S)
    assert (
        record and "device@1" in record.group(1) and "indunet:cnc-machine@1.0.0" in record.group(1)
    )
    assert "主轴轴承过热" in html  # the device's alarm
    assert "只有平台管理员和本企业管理员" in html  # no command form for an enterprise user


async def test_live_values_fragment_is_in_the_page_language(
    app_client: httpx.AsyncClient, fleet: Fleet
) -> None:
    await login(app_client, "eu")
    zh = await app_client.get("/platform/devices/cnc-0001/live", headers=HX)
    assert "<html" not in zh.text and "主轴转速" in zh.text
    assert 'id="device-status" hx-swap-oob="true"' in zh.text
    app_client.cookies.set("lang", "en")
    en = await app_client.get("/platform/devices/cnc-0001/live", headers=HX)
    assert "Spindle speed" in en.text and "Good" in en.text and "s ago" in en.text


async def test_series_gives_raw_samples_for_short_ranges_and_buckets_for_long_ones(
    app_client: httpx.AsyncClient, fleet: Fleet
) -> None:
    await login(app_client, "eu")
    url = "/platform/devices/cnc-0001/series"
    short = (await app_client.get(url, params={"point": "spindle_speed"})).json()
    assert short["mode"] == "raw" and len(short["data"]) == 90  # 15 min of 10 s samples
    assert short["data"][0][0] < short["data"][-1][0]
    assert short["end"] - short["start"] == 15 * 60_000
    hour = (await app_client.get(url, params={"point": "spindle_speed", "range": "1h"})).json()
    assert hour["mode"] == "raw" and len(hour["data"]) == 180
    # Little history in a long range is drawn raw (tests/web/test_console_devices.py has
    # the buckets of a long history).
    day = (await app_client.get(url, params={"point": "spindle_speed", "range": "24h"})).json()
    assert day["mode"] == "raw" and len(day["data"]) == 180
    flag = (await app_client.get(url, params={"point": "running"})).json()
    assert flag["data"] and flag["data"][0][1] == 1.0
    text = await app_client.get(url, params={"point": "program"})
    assert text.status_code == 404 and "numeric point" in text.json()["message"]
    bad_range = await app_client.get(url, params={"point": "spindle_speed", "range": "2y"})
    assert bad_range.status_code == 404


async def test_commands_write_a_point_and_show_the_outcome(
    app_client: httpx.AsyncClient, fleet: Fleet
) -> None:
    await login(app_client, "ea")
    page = await app_client.get("/platform/devices/cnc-0001")
    assert 'id="write-form"' in page.text and 'id="invoke-form"' in page.text
    url = "/platform/devices/cnc-0001/command"
    ok = await app_client.post(url, data={"kind": "write", "point": "feed_override", "value": "80"})
    assert ok.status_code == 200, ok.text
    assert "指令 feed_override 已执行" in ok.text
    assert fleet.sender.values[("cnc-0001", "feed_override")] == 80
    assert "feed_override = 80" in ok.text  # the history

    too_big = await app_client.post(
        url, data={"kind": "write", "point": "feed_override", "value": "500"}
    )
    assert too_big.status_code == 400 and "outside the range" in too_big.text
    assert fleet.sender.values[("cnc-0001", "feed_override")] == 80
    words = await app_client.post(
        url, data={"kind": "write", "point": "feed_override", "value": "fast"}
    )
    assert words.status_code == 400 and "“fast”不是数值" in words.text
    missing = await app_client.post(url, data={"kind": "invoke", "action": "start"})
    assert missing.status_code == 502 and "start" in missing.text  # MemorySender has no handler
    as_htmx = await app_client.post(
        url, data={"kind": "write", "point": "feed_override", "value": "500"}, headers=HX
    )
    assert as_htmx.status_code == 200 and "outside the range" in as_htmx.text


async def test_enterprise_users_may_not_command(
    app_client: httpx.AsyncClient, fleet: Fleet
) -> None:
    await login(app_client, "eu")
    resp = await app_client.post(
        "/platform/devices/cnc-0001/command",
        data={"kind": "write", "point": "feed_override", "value": "80"},
    )
    assert resp.status_code == 403 and "may not change device cnc-0001" in resp.text
    assert fleet.sender.values == {}


# -- alarms -----------------------------------------------------------------------------------------


async def test_acknowledging_an_alarm_with_htmx_swaps_its_row(
    app_client: httpx.AsyncClient, fleet: Fleet
) -> None:
    await login(app_client, "eu")
    page = await app_client.get("/platform/alarms")
    assert re.search(r'id="open-critical">1<', page.text)
    assert f'id="alarm-{fleet.alarm_a}" data-state="active"' in page.text
    url = f"/platform/alarms/{fleet.alarm_a}/ack"
    resp = await app_client.post(url, data={"note": "已安排检修", "show_device": "1"}, headers=HX)
    assert resp.status_code == 200
    assert resp.text.lstrip().startswith("<tr") and "<html" not in resp.text
    assert 'data-state="acknowledged"' in resp.text and "已确认" in resp.text
    assert "eu 于" in resp.text and "已安排检修" in resp.text
    alarm = fleet.platform.alarms.get(core.User(0, "x", Role.PLATFORM_ADMIN, None), fleet.alarm_a)
    assert alarm.state == telemetry.AlarmState.ACKNOWLEDGED and alarm.ack_note == "已安排检修"

    twice = await app_client.post(url, data={"note": ""}, headers=HX)
    assert "已由 eu 确认" in twice.text  # the reason, in the reader's language
    acked = await app_client.get("/platform/alarms", params={"state": "acknowledged"})
    assert f'id="alarm-{fleet.alarm_a}"' in acked.text
    active = await app_client.get("/platform/alarms", params={"state": "active"})
    assert f'id="alarm-{fleet.alarm_a}"' not in active.text


async def test_a_plain_form_acknowledgement_goes_back_to_the_page(
    app_client: httpx.AsyncClient, fleet: Fleet
) -> None:
    await login(app_client, "ea")
    resp = await app_client.post(
        f"/platform/alarms/{fleet.alarm_a}/ack",
        data={"note": "", "next": "/platform/devices/cnc-0001"},
    )
    assert resp.status_code == 303 and resp.headers["location"] == "/platform/devices/cnc-0001"
    device = await app_client.get("/platform/devices/cnc-0001")
    assert "ea 于" in device.text


async def test_acknowledging_what_you_may_not_changes_nothing(
    app_client: httpx.AsyncClient, fleet: Fleet
) -> None:
    await login(app_client, "eb")  # another enterprise's alarm is not found
    other = await app_client.post(f"/platform/alarms/{fleet.alarm_a}/ack", data={"note": "x"})
    assert other.status_code == 404 and f"no alarm {fleet.alarm_a}" in other.text
    await login(app_client, "reg")  # regulators look but do not acknowledge
    looked = await app_client.post(
        f"/platform/alarms/{fleet.alarm_a}/ack", data={"note": "x"}, headers=HX
    )
    assert "may not change alarm" in looked.text and 'data-state="active"' in looked.text
    admin = core.User(0, "x", Role.PLATFORM_ADMIN, None)
    assert fleet.platform.alarms.get(admin, fleet.alarm_a).acked_at is None


async def test_alarm_filters_by_severity_and_state(
    app_client: httpx.AsyncClient, admin_password: str, fleet: Fleet
) -> None:
    await login(app_client, "admin", admin_password)
    minor = await app_client.get("/platform/alarms", params={"severity": "minor"})
    assert "乙厂电表过载" in minor.text and "主轴轴承过热" not in minor.text
    closed = await app_client.get("/platform/alarms", params={"state": "closed"})
    assert 'id="no-alarms"' in closed.text
    fragment = await app_client.get("/platform/alarms", params={"state": "all"}, headers=HX)
    assert "<html" not in fragment.text and fragment.text.count('<tr class="sev-') == 2
    nonsense = await app_client.get("/platform/alarms", params={"state": "nope", "severity": "x"})
    assert nonsense.status_code == 200 and fragment.text.count('<tr class="sev-') == 2


# -- models -----------------------------------------------------------------------------------------


async def test_model_list_and_points_table(app_client: httpx.AsyncClient, fleet: Fleet) -> None:
    await login(app_client, "eu")
    listing = await app_client.get("/platform/models")
    for model_id in ("indunet:cnc-machine", "indunet:air-compressor", "indunet:excavator"):
        assert f'data-model="{model_id}"' in listing.text
    assert "内置模型库" in listing.text and 'id="model-editor"' not in listing.text
    view = await app_client.get("/platform/models/indunet:air-compressor")
    assert view.status_code == 200
    points = re.search(r'<table class="grid" id="points">(.*?)</table>', view.text, re.S)
    assert points and "Modbus holding@" in points.group(1) and "排气压力" in points.group(1)
    unknown = await app_client.get("/platform/models/acme:nothing")
    assert unknown.status_code == 404 and "没有模型 acme:nothing" in unknown.text


async def test_a_bad_model_shows_each_problem_at_its_json_path(
    app_client: httpx.AsyncClient, fleet: Fleet
) -> None:
    await login(app_client, "ea")
    bad = json.loads(json.dumps(PRESS))
    bad["properties"]["force"]["type"] = "float"
    bad["version"] = {"model": "one"}
    resp = await app_client.post("/platform/models", data={"document": json.dumps(bad)})
    assert resp.status_code == 422
    problems = re.findall(r'<code class="small">([^<]+)</code>', resp.text)
    assert "$.properties.force.type" in problems and any(
        p.startswith("$.version") for p in problems
    )
    assert (
        "&#34;float&#34;" in resp.text or "float" in resp.text
    )  # the document stays in the editor
    with pytest.raises(core.NotFound):
        fleet.platform.models.get("acme:press")
    not_json = await app_client.post("/platform/models", data={"document": '{"title": "x",}'})
    assert not_json.status_code == 422 and "不是有效的 JSON（第 1 行第" in not_json.text


async def test_importing_a_model_then_exporting_it(
    app_client: httpx.AsyncClient, fleet: Fleet
) -> None:
    await login(app_client, "ea")
    resp = await app_client.post("/platform/models", data={"document": json.dumps(PRESS)})
    assert resp.status_code == 200 and "已导入模型 acme:press@1.0.0" in resp.text
    assert fleet.platform.models.owner("acme:press") == fleet.a.id
    assert 'data-model="acme:press"' in resp.text and "企业模型" in resp.text
    export = await app_client.get("/platform/models/acme:press/export", params={"version": "1.0.0"})
    assert export.status_code == 200 and export.json() == PRESS
    assert 'filename="acme_press-1.0.0.tm.json"' in export.headers["content-disposition"]
    editor = await app_client.get("/platform/models", params={"base": "acme:press"})
    assert "&#34;indunet:modelId&#34;: &#34;acme:press&#34;" in editor.text
    reserved = dict(PRESS, **{"indunet:modelId": "indunet:press"})
    refused = await app_client.post("/platform/models", data={"document": json.dumps(reserved)})
    assert refused.status_code == 403 and "保留给内置模型库" in refused.text


async def test_enterprise_users_may_not_import_models(
    app_client: httpx.AsyncClient, fleet: Fleet
) -> None:
    await login(app_client, "eu")
    resp = await app_client.post("/platform/models", data={"document": json.dumps(PRESS)})
    assert resp.status_code == 403 and "只有平台管理员或企业管理员可以导入" in resp.text
    with pytest.raises(core.NotFound):
        fleet.platform.models.get("acme:press")


@pytest.mark.parametrize("asset", ["device.js", "platform.css"])
async def test_platform_assets_ship_inside_the_package(
    app_client: httpx.AsyncClient, asset: str
) -> None:
    resp = await app_client.get(f"/console/static/{asset}")
    assert resp.status_code == 200 and len(resp.content) > 1000


# -- a process without the platform --------------------------------------------------------------


async def test_without_a_platform_the_pages_say_so(
    app_client: httpx.AsyncClient, state: AppState, admin_password: str
) -> None:
    await login(app_client, "admin", admin_password)
    state.platform = None
    resp = await app_client.get("/platform/devices")
    assert resp.status_code == 503 and "只运行标识解析节点" in resp.text
