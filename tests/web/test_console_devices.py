"""Devices in the console and the API: last data time, the paged list, the add form per
protocol, CSV imports with a one-time secrets download, editing, new secrets and deleting."""

# ruff: noqa: F811 (the fixtures of test_console_platform, imported by name)
from __future__ import annotations

import asyncio
import re
import time
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
import sqlalchemy as sa
from starlette.requests import Request
from tests.conftest import bearer
from tests.web.test_console_platform import (  # noqa: F401 (fixtures)
    HX,
    Fleet,
    admin_password,
    app_client,
    device_ids,
    fleet,
    login,
)

from indunet import core
from indunet.core import Role
from indunet.devices import Device
from indunet.telemetry import DeadLetters, DiskBuffer, MemoryStore, Pipeline, Sample
from indunet.web import AppState
from indunet.web.console.devices import listing
from indunet.web.console.handoff import Handoffs
from indunet.web.console.paging import Paging, paging_of
from indunet.web.platform import _Seen

ENV = {"model": "indunet:env-sensor", "protocol": "http"}


def row(html: str, device_id: str) -> str:
    found = re.search(rf'<tr data-device="{device_id}">(.*?)</tr>', html, re.S)
    assert found, f"no row of {device_id}"
    return found.group(1)


def audit_actions(state: AppState, target: str) -> list[str]:
    with state.engine.connect() as conn:
        return [e.action for e in core.audit.entries(conn, target=target)]


# -- last seen: the time of the last data ----------------------------------------------------


def test_data_moves_last_seen_and_leaves_the_status(fleet: Fleet, state: AppState) -> None:
    reg = fleet.platform.devices
    assert reg.get("env-0001").status == "unknown"
    reg.saw_data({"env-0001", "nobody-0"}, 1000.0)
    assert reg.get("env-0001").last_seen == 1000.0 and reg.get("env-0001").status == "unknown"
    reg.saw_data({"env-0001"}, 1000.5)  # within a second: memory untouched, nothing to write
    assert reg.get("env-0001").last_seen == 1000.0
    reg.saw_data({"env-0001"}, 999.0)  # an older batch never moves it back
    assert reg.get("env-0001").last_seen == 1000.0
    reg.saw_data({"env-0001"}, 1002.0)
    assert reg.flush_status() >= 1
    with state.engine.connect() as conn:
        stored = conn.execute(
            sa.text("SELECT last_seen, status FROM dev_devices WHERE id = 'env-0001'")
        ).one()
    assert tuple(stored) == (1002.0, "unknown")
    assert reg.flush_status() == 0  # nothing new: no write


async def test_the_connectors_sink_marks_whose_data_arrived(fleet: Fleet, state: AppState) -> None:
    reg = fleet.platform.devices
    pipeline = Pipeline(
        MemoryStore(),
        reg.model_of,
        DeadLetters(state.engine),
        DiskBuffer(state.settings.data_dir / "seen-buffer.db", 1 << 22),
    )
    await pipeline.start()
    try:
        await asyncio.sleep(1.1)  # past the fixture's own status change, a second's step
        before = time.time()
        sink = _Seen(pipeline, reg)
        now = int(before * 1000)
        await sink.submit([Sample("cnc-0001", "spindle_speed", now, 1.0)], source="opcua")
        seen = reg.get("cnc-0001").last_seen
        assert seen is not None and before <= seen <= time.time()
        assert reg.get("cnc-0001").status == "online"  # as its connection said
    finally:
        await pipeline.stop()


async def test_the_api_last_seen_is_iso_utc_and_moves_while_data_flows(
    fleet: Fleet, state: AppState, app_client: httpx.AsyncClient, admin_password: str
) -> None:
    platform = fleet.platform
    pipeline = Pipeline(
        platform.store,
        platform.devices.model_of,
        DeadLetters(state.engine),
        DiskBuffer(state.settings.data_dir / "api-buffer.db", 1 << 22),
    )
    old, platform.pipeline = platform.pipeline, pipeline
    await pipeline.start()
    admin = bearer(state.engine, "root", Role.PLATFORM_ADMIN)
    try:
        times = []
        for value in (20.0, 21.0):
            now = int(time.time() * 1000)
            sample = {"device": "env-0001", "point": "temperature", "ts": now, "value": value}
            posted = await app_client.post(
                "/api/v1/telemetry", json={"samples": [sample]}, headers=admin
            )
            assert posted.status_code == 200, posted.text
            listed = await app_client.get("/api/v1/devices", headers=admin)
            shown = {d["id"]: d for d in listed.json()}["env-0001"]
            assert shown["last_seen"].endswith("+00:00")  # ISO 8601, UTC
            times.append(datetime.fromisoformat(shown["last_seen"]))
            assert abs(times[-1].timestamp() - time.time()) < 5
            assert shown["status"] == "unknown"  # an MQTT device: its connection says
            await login(app_client, "admin", admin_password)
            page = await app_client.get("/platform/devices", params={"q": "env-0001"})
            cell = re.search(r"data-seen>([\d :-]{19})", row(page.text, "env-0001"))
            shanghai = times[-1].astimezone(ZoneInfo("Asia/Shanghai"))  # the page's zone
            assert cell and cell.group(1) == shanghai.strftime("%Y-%m-%d %H:%M:%S")
            await asyncio.sleep(1.1)  # last_seen moves in steps of a second
        assert times[1] > times[0]
    finally:
        await pipeline.stop()
        platform.pipeline = old


# -- the list -----------------------------------------------------------------------------------


def device(i: int, **extra: Any) -> Device:
    base: dict[str, Any] = {
        "id": f"dev-{i:06d}",
        "enterprise_id": 1 + i % 2,
        "name": f"设备 {i}",
        "model_id": "indunet:env-sensor",
        "model_version": "1.0.0",
        "protocol": "mqtt",
        "tags": (f"line-{i % 7}",),
        "location": {"site": f"车间{i % 3}"},
        "status": ("online", "offline", "unknown")[i % 3],
        "last_seen": 1_700_000_000.0 + i if i % 5 else None,
    }
    return Device(**(base | extra))


def test_listing_filters_searches_sorts_and_pages_in_memory() -> None:
    devices = [device(i) for i in range(163)]
    first = listing(devices, None, Paging(size=20), "", "")
    assert first.page.total == 163 and len(first.page.items) == 20 and first.page.pages == 9
    assert first.counts == {"online": 55, "offline": 54, "unknown": 54, "total": 163}
    mine = listing(devices, 2, Paging(size=100), "", "")
    assert {d.enterprise_id for d in mine.page.items} == {2} and mine.counts["total"] == 81
    tagged = listing(devices, None, Paging(size=100), "online", "line-3")
    assert all(d.status == "online" and "line-3" in d.tags for d in tagged.page.items)
    by_site = listing(devices, None, Paging(q="车间2", size=100), "", "")
    assert by_site.page.total == 54
    by_name = listing(devices, None, Paging(q="设备 16", size=100), "", "")
    assert [d.id for d in by_name.page.items][:2] == ["dev-000016", "dev-000160"]
    named = listing(devices, None, Paging(q="DEV-00012", size=100), "", "")  # any case
    assert named.page.total == 10
    newest = listing(devices, None, Paging(sort="last_seen", desc=True, size=20), "", "")
    assert newest.page.items[0].id == "dev-000162"
    by_status = listing(devices, None, Paging(sort="status", size=100), "", "")
    assert by_status.page.items[0].status == "online"
    last = listing(devices, None, Paging(size=20, page=9), "", "")
    assert len(last.page.items) == 3 and not last.page.has_next


def test_listing_100k_devices_is_fast() -> None:
    devices = [device(i) for i in range(100_000)]
    took = []
    for paging in (
        Paging(size=20),
        Paging(q="设备 9999", size=20),
        Paging(sort="last_seen", desc=True, size=100, page=500),
        Paging(sort="name", size=20),
    ):
        start = time.perf_counter()
        found = listing(devices, 1, paging, "", "")
        took.append(time.perf_counter() - start)
        assert found.counts["total"] == 50_000
    assert max(took) < 1.0, took  # the figure is reported from bench; this guards a blow-up


async def test_the_list_pages_searches_sorts_and_keeps_filters(
    app_client: httpx.AsyncClient, fleet: Fleet, admin_password: str
) -> None:
    reg = fleet.platform.devices
    for i in range(45):
        reg.create(fleet.a.id, {"id": f"hall-{i:03d}", "name": f"大厅 {i}", **ENV}, actor="t")
    await login(app_client, "admin", admin_password)
    page = await app_client.get("/platform/devices")
    assert len(device_ids(page.text)) == 20 and 'id="count-total">48<' in page.text
    second = await app_client.get("/platform/devices", params={"page": 2, "q": "hall"})
    assert device_ids(second.text) == [f"hall-{i:03d}" for i in range(20, 40)]
    assert 'href="/platform/devices?page=3&amp;q=hall"' in second.text  # search kept
    desc = await app_client.get("/platform/devices", params={"sort": "id", "desc": "1"})
    assert device_ids(desc.text)[0] == "meter-b1"
    tagged = await app_client.get("/platform/devices", params={"tag": "cnc", "sort": "name"})
    assert device_ids(tagged.text) == ["cnc-0001"]
    assert "tag=cnc" in re.search(r'href="([^"]*sort=status[^"]*)"', tagged.text).group(1)  # type: ignore[union-attr]
    # The latest values of a few key points sit in the row.
    cnc = row(page.text, "cnc-0001")
    assert "8000" in cnc and "r/min" in cnc
    fragment = await app_client.get("/platform/devices", params={"q": "hall-04"}, headers=HX)
    assert "<html" not in fragment.text and len(device_ids(fragment.text)) == 5
    for hostile in (
        {"page": "-3", "size": "9999", "sort": "secret_digest", "desc": "x"},
        {"q": "%' OR 1=1 --" + "x" * 5000, "status": "<script>", "tag": "y" * 900},
    ):
        answer = await app_client.get("/platform/devices", params=hostile)
        assert answer.status_code == 200 and "<script>" not in answer.text.split("</head>")[1]


async def test_enterprise_users_list_their_own_devices_only(
    app_client: httpx.AsyncClient, fleet: Fleet
) -> None:
    await login(app_client, "eb")
    page = await app_client.get("/platform/devices", params={"q": "0001"})
    assert device_ids(page.text) == []
    mine = await app_client.get("/platform/devices")
    assert device_ids(mine.text) == ["meter-b1"] and 'id="count-total">1<' in mine.text


# -- adding one device ------------------------------------------------------------------------


async def test_the_add_form_groups_fields_per_protocol_and_reads_the_chosen_ones(
    app_client: httpx.AsyncClient, fleet: Fleet
) -> None:
    await login(app_client, "ea")
    page = await app_client.get("/platform/devices")
    groups = re.findall(r'<fieldset class="cols protocol-fields" data-for="(\w+)"', page.text)
    assert groups == ["modbus", "opcua"]  # MQTT and HTTP devices take no connection fields
    assert 'data-protocol="modbus"' in page.text  # the model's own protocol, for the script
    assert "device_form.js" in page.text
    form = {"id": "meter-0009", "name": "9号电表", "model": "indunet:power-meter"}
    form |= {"protocol": "modbus", "host": "127.0.0.1", "port": "1502", "unit": "3"}
    form |= {"endpoint": "opc.tcp://left-over:4840"}  # another protocol's field: ignored
    made = await app_client.post("/platform/devices", data=form)
    assert made.status_code == 200, made.text
    meter = fleet.platform.devices.get("meter-0009")
    assert meter.connection["host"] == "127.0.0.1" and meter.connection["unit"] == 3
    assert "endpoint" not in meter.connection
    box = re.search(r'id="new-device">(.*?)</div>', made.text, re.S).group(1)  # type: ignore[union-attr]
    assert "MQTT" not in box and "设备密钥" in box and 'id="secret-use"' in box
    auto = {
        "id": "meter-0010",
        "name": "10号电表",
        "model": "indunet:power-meter",
        "host": "10.0.0.9",
    }
    assert (await app_client.post("/platform/devices", data=auto)).status_code == 200
    assert fleet.platform.devices.get("meter-0010").protocol == "modbus"
    mqtt = {"id": "env-0099", "name": "温湿度", "model": "indunet:env-sensor", "host": "x"}
    made = await app_client.post("/platform/devices", data=mqtt | {"protocol": "mqtt"})
    assert made.status_code == 200 and "MQTT 用户名" in made.text
    assert fleet.platform.devices.get("env-0099").connection == {}


async def test_add_errors_read_in_the_users_language(
    app_client: httpx.AsyncClient, fleet: Fleet
) -> None:
    await login(app_client, "ea")
    again = {"id": "cnc-0001", "name": "x", "model": "indunet:env-sensor"}
    zh = await app_client.post("/platform/devices", data=again)
    assert zh.status_code == 409 and "设备 cnc-0001 已存在" in zh.text
    app_client.cookies.set("lang", "en")
    en = await app_client.post(
        "/platform/devices", data=again | {"id": "new-1", "model": "acme:none"}
    )
    assert en.status_code == 404 and "There is no model acme:none" in en.text
    assert "/api/v1" not in re.search(r'role="alert">(.*?)</div>', en.text, re.S).group(1)  # type: ignore[union-attr]
    bad_port = {"id": "m-77", "name": "x", "model": "indunet:power-meter", "host": "h"}
    en = await app_client.post("/platform/devices", data=bad_port | {"port": "99999"})
    assert en.status_code == 400 and "must be a whole number from 1 to 65535" in en.text
    huge = await app_client.post("/platform/devices", data={"id": "x" * 100_000, "name": "y"})
    assert huge.status_code == 400 and fleet.platform.devices.lookup("x" * 63) is None


# -- importing from CSV -----------------------------------------------------------------------

CSV = (
    "id,name,model,protocol,tags\n"
    "env-2001,一号,indunet:env-sensor,http,env\n"
    "env-2001,重复,indunet:env-sensor,http,env\n"
    "env-2002,二号,indunet:env-sensor,http,env\n"
)


async def test_an_import_with_a_bad_row_is_an_error_box_and_its_secrets_a_one_time_file(
    app_client: httpx.AsyncClient, fleet: Fleet, admin_password: str
) -> None:
    await login(app_client, "ea")
    resp = await app_client.post("/platform/devices/import", data={"csv": CSV})
    assert resp.status_code == 200 and resp.headers["cache-control"] == "no-store"
    box = re.search(r'<div class="alert (\w+)" role="(\w+)" id="import-report">', resp.text)
    assert box and box.groups() == ("error", "alert")  # a failed row: not a green box
    assert "第 3 行" in resp.text and "设备 env-2001 已存在" in resp.text
    handle = re.search(r'name="handle" value="([^"]+)"', resp.text).group(1)  # type: ignore[union-attr]
    # Another user (even an admin of the same enterprise) cannot take it.
    other = httpx.AsyncClient(transport=app_client._transport, base_url="http://testserver")
    async with other:
        await login(other, "admin", admin_password)
        stolen = await other.post("/platform/devices/import/secrets", data={"handle": handle})
        assert stolen.status_code == 410
    got = await app_client.post("/platform/devices/import/secrets", data={"handle": handle})
    assert got.status_code == 200 and got.headers["cache-control"] == "no-store"
    assert got.headers["content-disposition"] == 'attachment; filename="device-secrets.csv"'
    lines = got.content.decode("utf-8-sig").splitlines()
    assert lines[0] == "id,secret" and [ln.split(",")[0] for ln in lines[1:]] == [
        "env-2001",
        "env-2002",
    ]
    for line in lines[1:]:
        did, secret = line.split(",")
        assert fleet.platform.devices.authenticate(did, secret)
        assert secret not in resp.text  # never printed on the page
    again = await app_client.post("/platform/devices/import/secrets", data={"handle": handle})
    assert again.status_code == 410 and "已经下载过或已过期" in again.text
    bogus = await app_client.post("/platform/devices/import/secrets", data={"handle": "x" * 5000})
    assert bogus.status_code == 410


async def test_a_clean_import_is_green_and_csv_errors_never_send_people_to_the_api(
    app_client: httpx.AsyncClient, fleet: Fleet
) -> None:
    await login(app_client, "ea")
    ok = await app_client.post(
        "/platform/devices/import", data={"csv": "id,name,model\nenv-3001,x,indunet:env-sensor\n"}
    )
    assert re.search(r'<div class="alert ok" role="status" id="import-report">', ok.text)
    app_client.cookies.set("lang", "en")
    for text, words in (
        ("id,name,model,colour\n", "unknown column(s) colour"),
        ("# nothing\n", "The CSV file is empty"),
        ("id,name\n", "the header lacks model"),
        ("id,name,model,name\n", "named twice"),
    ):
        bad = await app_client.post("/platform/devices/import", data={"csv": text})
        error = re.search(r'id="import-error">(.*?)</div>', bad.text, re.S)
        assert bad.status_code == 400 and error, text
        assert words.lower() in error.group(1).lower() and "API" not in error.group(1)


def test_handoffs_expire_and_are_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    store = Handoffs(ttl=10.0, max_files=3)
    now = [100.0]
    monkeypatch.setattr("indunet.web.console.handoff.time.monotonic", lambda: now[0])
    first = store.put("1:a", "f.csv", b"one")
    handles = [store.put(f"{i}:u", "f.csv", b"x") for i in range(3)]
    assert store.take("1:a", first) is None  # the oldest went first
    assert store.take("0:u", handles[0]) is not None
    keep = store.put("9:z", "f.csv", b"z")
    now[0] += 11
    assert store.take("9:z", keep) is None  # expired


# -- one device: edit, new secret, delete -------------------------------------------------------


async def test_editing_a_device_changes_it_and_is_audited(
    app_client: httpx.AsyncClient, fleet: Fleet, state: AppState
) -> None:
    await login(app_client, "ea")
    page = await app_client.get("/platform/devices/cnc-0001")
    assert 'id="edit-form"' in page.text and 'data-default-protocol="opcua"' in page.text
    form = {"name": "新名字", "protocol": "opcua", "endpoint": "opc.tcp://10.1.1.1:4840"}
    form |= {"site": "三车间", "tags": "line-2;cnc", "host": "ignored"}
    done = await app_client.post("/platform/devices/cnc-0001/edit", data=form)
    assert done.status_code == 200 and 'id="edit-done"' in done.text
    cnc = fleet.platform.devices.get("cnc-0001")
    assert (cnc.name, cnc.location["site"], cnc.tags) == ("新名字", "三车间", ("line-2", "cnc"))
    assert cnc.connection["endpoint"] == "opc.tcp://10.1.1.1:4840" and "host" not in cnc.connection
    assert "device.update" in audit_actions(state, "device:cnc-0001")
    bad = await app_client.post("/platform/devices/cnc-0001/edit", data=form | {"tags": "a b"})
    assert bad.status_code == 400 and "标签 “a b” 无效" in bad.text
    assert 'value="a b"' in bad.text and fleet.platform.devices.get("cnc-0001").tags == (
        "line-2",
        "cnc",
    )


async def test_readers_and_strangers_cannot_change_a_device(
    app_client: httpx.AsyncClient, fleet: Fleet
) -> None:
    before = fleet.platform.devices.get("cnc-0001")
    await login(app_client, "eu")  # an enterprise user: reads only
    page = await app_client.get("/platform/devices/cnc-0001")
    assert 'id="device-manage"' not in page.text
    for action, data in (
        ("edit", {"name": "hijacked"}),
        ("secret", {}),
        ("delete", {"confirm": "cnc-0001"}),
    ):
        refused = await app_client.post(f"/platform/devices/cnc-0001/{action}", data=data)
        assert refused.status_code == 403, action
    await login(app_client, "eb")  # another enterprise: not found
    for action in ("edit", "secret", "delete"):
        hidden = await app_client.post(
            f"/platform/devices/cnc-0001/{action}", data={"confirm": "cnc-0001", "name": "x"}
        )
        assert hidden.status_code == 404 and "cnc-0001" in hidden.text
    assert fleet.platform.devices.get("cnc-0001") == before


async def test_a_new_secret_is_shown_once_and_the_old_one_stops_working(
    app_client: httpx.AsyncClient, fleet: Fleet, state: AppState
) -> None:
    reg = fleet.platform.devices
    _, old = reg.create(fleet.a.id, {"id": "gw-0001", "name": "网关", **ENV}, actor="t")
    await login(app_client, "ea")
    resp = await app_client.post("/platform/devices/gw-0001/secret")
    assert resp.status_code == 200 and resp.headers["cache-control"] == "no-store"
    new = re.search(r'id="new-secret">([^<]+)<', resp.text).group(1)  # type: ignore[union-attr]
    assert reg.authenticate("gw-0001", new) and not reg.authenticate("gw-0001", old)
    assert new not in (await app_client.get("/platform/devices/gw-0001")).text
    assert "device.rotate_secret" in audit_actions(state, "device:gw-0001")


async def test_deleting_needs_the_typed_id(
    app_client: httpx.AsyncClient, fleet: Fleet, state: AppState
) -> None:
    reg = fleet.platform.devices
    reg.create(fleet.a.id, {"id": "old-0001", "name": "旧设备", **ENV}, actor="t")
    await login(app_client, "ea")
    wrong = await app_client.post("/platform/devices/old-0001/delete", data={"confirm": "old"})
    assert wrong.status_code == 400 and "请输入设备 ID old-0001" in wrong.text
    assert reg.lookup("old-0001") is not None
    done = await app_client.post("/platform/devices/old-0001/delete", data={"confirm": "old-0001"})
    assert done.status_code == 303 and done.headers["location"] == "/platform/devices"
    assert reg.lookup("old-0001") is None
    assert "device.delete" in audit_actions(state, "device:old-0001")
    gone = await app_client.get("/platform/devices/old-0001")
    assert gone.status_code == 404


async def test_identifier_urls_lead_to_the_resolve_page(
    app_client: httpx.AsyncClient, fleet: Fleet
) -> None:
    await login(app_client, "eu")
    page = await app_client.get("/platform/devices/cnc-0001")
    record = re.search(r'id="identifier-record">(.*?)</section>', page.text, re.S).group(1)  # type: ignore[union-attr]
    links = re.findall(r'<a href="([^"]+)"', record)
    assert links and all("/api/" not in link for link in links)
    assert any("/ids/resolve?handle=88.100.1/dev-cnc-0001" in link for link in links)


# -- charts -------------------------------------------------------------------------------------


async def test_long_ranges_draw_little_history_raw_and_much_as_buckets(
    app_client: httpx.AsyncClient, fleet: Fleet
) -> None:
    now = int(datetime.now(UTC).timestamp() * 1000)
    few = [Sample("meter-b1", "active_power", now - i * 3_600_000, 10.0 + i) for i in range(30)]
    fleet.platform.store.write_batch(few)
    await login(app_client, "eb")
    url = "/platform/devices/meter-b1/series"
    week = (await app_client.get(url, params={"point": "active_power", "range": "7d"})).json()
    assert week["mode"] == "raw" and len(week["data"]) == 31  # a day and a bit: every point
    many = [Sample("meter-b1", "active_power", now - i * 60_000, 1.0) for i in range(1, 3000)]
    fleet.platform.store.write_batch(many)
    week = (await app_client.get(url, params={"point": "active_power", "range": "7d"})).json()
    assert week["mode"] == "buckets" and week["bucket_ms"] == 600_000


def test_paging_of_the_list_reads_only_its_sorts() -> None:
    scope = {"type": "http", "method": "GET", "path": "/platform/devices", "headers": []}
    req = Request(scope | {"query_string": b"sort=secret_digest&desc=1"})
    from indunet.web.console.devices import SORTS

    assert paging_of(req, sorts=SORTS, default_sort="id").sort == "id"


async def test_hostile_device_forms_are_refused_without_a_change(
    app_client: httpx.AsyncClient, fleet: Fleet
) -> None:
    before = fleet.platform.devices.get("cnc-0001")
    await login(app_client, "ea")
    url = "/platform/devices/cnc-0001"
    endpoint = {"endpoint": before.connection["endpoint"]}
    long_name = await app_client.post(f"{url}/edit", data={"name": "名" * 100_000} | endpoint)
    assert long_name.status_code == 400 and "不超过 200 个字符" in long_name.text
    no_endpoint = await app_client.post(f"{url}/edit", data={"name": "x"})  # emptied: required
    assert no_endpoint.status_code == 400 and "OPC UA 设备需要端点地址" in no_endpoint.text
    bad_protocol = await app_client.post(f"{url}/edit", data={"name": "x", "protocol": "telnet"})
    assert bad_protocol.status_code == 400
    bad_endpoint = await app_client.post(
        f"{url}/edit", data={"name": "x", "protocol": "opcua", "endpoint": "http://nope"}
    )
    assert bad_endpoint.status_code == 400 and "OPC UA 设备需要端点地址" in bad_endpoint.text
    as_file = await app_client.post(
        f"{url}/delete", files={"confirm": ("id.txt", b"cnc-0001", "text/plain")}
    )
    assert as_file.status_code == 400  # a file is not a typed confirmation
    assert fleet.platform.devices.get("cnc-0001") == before
    big = await app_client.post("/platform/devices/import", data={"csv": "x" * (6 << 20)})
    assert big.status_code in (400, 413)


async def test_the_api_list_searches_sorts_and_pages(
    app_client: httpx.AsyncClient, fleet: Fleet, state: AppState
) -> None:
    reg = fleet.platform.devices
    for i in range(25):
        reg.create(fleet.a.id, {"id": f"hall-{i:03d}", "name": f"大厅 {i}", **ENV}, actor="t")
    admin = bearer(state.engine, "root", Role.PLATFORM_ADMIN)
    page = await app_client.get(
        "/api/v1/devices", params={"q": "HALL", "limit": 10, "offset": 20}, headers=admin
    )
    assert page.status_code == 200 and page.headers["x-total-count"] == "25"
    assert [d["id"] for d in page.json()] == [f"hall-{i:03d}" for i in range(20, 25)]
    newest = await app_client.get(
        "/api/v1/devices", params={"sort": "id", "desc": "true", "limit": 1}, headers=admin
    )
    assert [d["id"] for d in newest.json()] == ["meter-b1"]
    everything = await app_client.get("/api/v1/devices", headers=admin)  # as before: all
    assert len(everything.json()) == 28 and everything.headers["x-total-count"] == "28"
    for hostile in ({"limit": 0}, {"limit": 5000}, {"q": "x" * 101}, {"sort": "secret_digest"}):
        refused = await app_client.get("/api/v1/devices", params=hostile, headers=admin)
        assert refused.status_code in (400, 422), hostile


async def test_the_device_record_names_the_administrators_rights(
    app_client: httpx.AsyncClient, fleet: Fleet
) -> None:
    # The audit found the device page printing HS_ADMIN as "0:0.NA/88.100.1 (011111110011)"
    # while the identifier pages named the rights.
    await login(app_client, "eu")
    page = await app_client.get("/platform/devices/cnc-0001")
    record = re.search(r'id="identifier-record">(.*?)</section>', page.text, re.S).group(1)  # type: ignore[union-attr]
    row = re.search(r"<code>HS_ADMIN</code>.*?</tr>", record, re.S).group(0)  # type: ignore[union-attr]
    assert "可：" in row and "读取值" in row
    assert not re.search(r"\([01]{12}\)", row)


@pytest.mark.parametrize(
    ("extra", "shown", "not_shown"),
    [
        (
            {"model": "indunet:power-meter", "protocol": "modbus", "connection": {"host": "x"}},
            "设备本身不需要这个密钥",
            "请立即更新设备配置",
        ),
        ({"model": "indunet:env-sensor", "protocol": "mqtt"}, "MQTT 密码", "平台主动轮询"),
        ({"model": "indunet:env-sensor", "protocol": "http"}, "请立即更新设备配置", "MQTT"),
    ],
)
async def test_a_new_secret_says_what_it_is_for_per_protocol(
    app_client: httpx.AsyncClient,
    fleet: Fleet,
    extra: dict[str, Any],
    shown: str,
    not_shown: str,
) -> None:
    # The audit found a polled Modbus device told to "update the device's configuration"
    # with its new secret, which the device never uses (the add form already said so).
    fleet.platform.devices.create(fleet.a.id, {"id": "gw-0002", "name": "网关", **extra}, actor="t")
    await login(app_client, "ea")
    resp = await app_client.post("/platform/devices/gw-0002/secret")
    assert resp.status_code == 200
    box = re.search(r'id="secret-done">(.*?)</div>', resp.text, re.S).group(1)  # type: ignore[union-attr]
    assert shown in box and not_shown not in box
