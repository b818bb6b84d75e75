"""Devices in a real headless Chromium against a real `indunet up`: the list of 163 devices
(pages, search, sort), adding a Modbus device from the form (only Modbus fields visible), a
CSV import with a bad row (error box, secrets as a one-time download), a device edited, given
a new secret and deleted, last data times that move while data flows, a 7-day chart of a
device with little history, and axe-core's WCAG A/AA check on every page. Screenshots land in
``build/screenshots/<test>/``.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from tests.integration.browser import CHROMIUM, CHROMIUM_ARGS, check_a11y, need_chromium
from tests.integration.servers import Server, group

from indunet import core

pytestmark = pytest.mark.integration
USCC = core.make_uscc("91350200MA3ABCDE")
COUNT = 163
FED = "meter-0007"


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    need_chromium()
    with group(tmp_path) as g:
        yield g.start("platform", "up")


def ok(resp: httpx.Response) -> Any:
    assert resp.status_code < 300, f"{resp.request.url}: {resp.status_code} {resp.text}"
    return resp.json() if resp.content else None


def seed(api: httpx.Client) -> int:
    """An enterprise with a prefix and 163 HTTP power meters on five lines and three sites."""
    ent = ok(api.post("/api/v1/enterprises", json={"uscc": USCC, "name": "厦门示例电气有限公司"}))
    ok(api.post("/api/v1/prefixes", json={"prefix": "88.100.1", "enterprise_uscc": USCC}))
    for i in range(1, COUNT + 1):
        device = {"id": f"meter-{i:04d}", "name": f"{i}号电表", "model": "indunet:power-meter"}
        device |= {"protocol": "http", "enterprise_id": ent["id"], "tags": [f"line-{i % 5}"]}
        device |= {"location": {"site": ["一车间", "二车间", "空压站"][i % 3]}}
        ok(api.post("/api/v1/devices", json=device))
    return int(ent["id"])


def feed(api: httpx.Client, hours: int = 0) -> None:
    """One reading of the fed meter now (and ``hours`` hourly readings before it)."""
    now = int(time.time() * 1000)
    stamps = [now - h * 3_600_000 for h in range(hours, -1, -1)]
    points = {"active_power": [40.0 + (i % 7) for i in range(len(stamps))]}
    points["voltage_a"] = [230.0 + (i % 3) for i in range(len(stamps))]
    ok(api.post("/api/v1/telemetry", json={"device": FED, "ts": stamps, "points": points}))


def last_seen(api: httpx.Client) -> datetime:
    shown = ok(api.get(f"/api/v1/devices/{FED}"))
    return datetime.fromisoformat(shown["last_seen"])


def test_devices_list_add_import_edit_rotate_delete(server: Server, shots: Path) -> None:
    from playwright.sync_api import expect, sync_playwright

    password = server.admin_password
    assert password, server.output
    api = httpx.Client(base_url=server.url, timeout=20.0)
    token = api.post("/api/v1/auth/token", json={"username": "admin", "password": password})
    api.headers["Authorization"] = f"Bearer {token.json()['token']}"
    seed(api)
    feed(api, hours=30)  # a day and a bit of hourly readings: little history for 7 days
    first = last_seen(api)
    time.sleep(1.2)
    feed(api)
    assert last_seen(api) > first  # the API's last_seen moves while data flows

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1366, "height": 900}, locale="zh-CN")
            page.set_default_timeout(15_000)

            def shot(name: str) -> None:
                page.screenshot(path=str(shots / f"{name}.png"), full_page=True)

            page.goto(server.url + "/platform/devices")
            page.fill("input[name=username]", "admin")
            page.fill("input[name=password]", password)
            page.click("form.stack button[type=submit]")
            expect(page).to_have_url(server.url + "/platform/devices")

            # 163 devices: one page of 20, a page that is not 14,000 px tall.
            rows = page.locator("#devices tbody tr")
            expect(rows).to_have_count(20)
            expect(page.locator("#count-total")).to_have_text(str(COUNT))
            expect(page.locator("#pager-count")).to_contain_text("163")
            height = page.evaluate("() => document.documentElement.scrollHeight")
            assert height < 3000, height
            fed = page.locator(f'#devices tr[data-device="{FED}"]')
            expect(fed.locator("[data-seen]")).not_to_contain_text("—")
            expect(fed.locator(".key-values")).to_contain_text("A 相电压")
            expect(fed.locator(".key-values")).to_contain_text("总有功功率")
            check_a11y(page)
            shot("01-list")
            # Data keeps coming: the row's last data time moves (the table refreshes by HTMX).
            seen_before = fed.locator("[data-seen]").inner_text()
            time.sleep(1.2)
            feed(api)
            expect(fed.locator("[data-seen]")).not_to_have_text(seen_before, timeout=12_000)

            # Search (HTMX swaps the table), sort by name, the next page keeps both.
            page.fill("#list-q", "空压站")
            page.press("#list-q", "Enter")
            expect(page.locator("#pager-count")).to_contain_text("54")
            assert "q=" in page.url  # the search is in the address, for back and reload
            page.click("#devices thead a.sort:has-text('名称')")
            expect(page.locator("#devices thead a.sort.on")).to_contain_text("名称")
            page.click("nav.pager a[rel=next]")
            expect(page.locator("#pager-count")).to_contain_text("21")
            assert "q=" in page.url and "sort=name" in page.url and "page=2" in page.url
            shot("02-search-sorted-page-2")
            page.goto(server.url + "/platform/devices?tag=line-3&q=meter-01")
            expect(rows).to_have_count(13)  # meter-0103 … meter-0163 on line 3
            expect(page.locator("#devices")).to_contain_text("meter-0108")

            # Add a Modbus device: only Modbus fields are visible; the secret is not MQTT's.
            page.goto(server.url + "/platform/devices")
            page.click("#add-device summary")
            form = page.locator("#add-device-form")
            form.locator("select[name=model]").select_option("indunet:power-meter@1.0.0")
            form.locator("select[name=protocol]").select_option("modbus")
            expect(form.locator("fieldset[data-for=modbus]")).to_be_visible()
            expect(form.locator("fieldset[data-for=opcua]")).to_be_hidden()
            expect(form.locator("input[name=endpoint]")).to_be_hidden()
            form.locator("select[name=protocol]").select_option("opcua")
            expect(form.locator("input[name=endpoint]")).to_be_visible()
            expect(form.locator("input[name=host]")).to_be_hidden()
            form.locator("select[name=protocol]").select_option("modbus")
            form.locator("input[name=id]").fill("meter-9001")
            form.locator("input[name=name]").fill("新装电表")
            form.locator("input[name=host]").fill("127.0.0.1")
            form.locator("input[name=port]").fill("1502")
            form.locator("input[name=unit]").fill("7")
            check_a11y(page)
            shot("03-add-modbus-form")
            form.locator("button[type=submit]").click()
            box = page.locator("#new-device")
            expect(box).to_contain_text("已添加设备 meter-9001")
            expect(box).not_to_contain_text("MQTT")
            expect(box.locator("#secret-use")).to_contain_text("平台主动轮询 Modbus TCP 设备")
            made = ok(api.get("/api/v1/devices/meter-9001"))
            assert made["protocol"] == "modbus" and made["connection"]["unit"] == 7
            check_a11y(page)
            shot("04-added-modbus")

            # Import from CSV with one bad row: an error box, secrets only as a download.
            page.goto(server.url + "/platform/devices")
            page.click("#import-devices summary")
            csv = "id,name,model,protocol,tags\n"
            csv += "".join(
                f"env-{i:04d},温湿度{i},indunet:env-sensor,http,env\n" for i in range(1, 6)
            )
            csv += "BAD ID,坏行,indunet:env-sensor,http,env\n"
            page.fill("textarea[name=csv]", csv)
            page.click("#import-devices button[type=submit]")
            report = page.locator("#import-report")
            expect(report).to_have_class("alert error")
            expect(report).to_contain_text("共 6 行：导入 5 台设备，1 行失败")
            expect(report.locator("#import-failures")).to_contain_text("第 7 行")
            expect(report.locator("#import-failures")).to_contain_text("设备 ID “BAD ID” 无效")
            check_a11y(page)
            shot("05-import-error-box")
            with page.expect_download() as waiting:
                report.locator("#secrets-download button").click()
            download = waiting.value
            lines = Path(download.path()).read_text(encoding="utf-8-sig").splitlines()
            assert lines[0] == "id,secret" and len(lines) == 6
            secret = lines[1].split(",")[1]
            assert secret not in page.content()

            # A device page: edit (name, site, tags), a new secret, then delete it.
            page.goto(server.url + "/platform/devices/meter-0003")
            page.click("#edit-device summary")
            edit = page.locator("#edit-form")
            expect(edit.locator("fieldset[data-for=modbus]")).to_be_hidden()  # an HTTP device
            edit.locator("input[name=name]").fill("三号电表（已迁移）")
            edit.locator("input[name=site]").fill("二车间")
            edit.locator("input[name=tags]").fill("line-9;moved")
            check_a11y(page)
            shot("06-edit-form")
            edit.locator("button[type=submit]").click()
            expect(page.locator("#edit-done")).to_be_visible()
            expect(page.locator("h1")).to_have_text("三号电表（已迁移）")
            assert ok(api.get("/api/v1/devices/meter-0003"))["tags"] == ["line-9", "moved"]
            page.click("#secret-form button")
            expect(page.locator("#new-secret")).to_be_visible()
            new = page.locator("#new-secret").inner_text().strip()
            posted = httpx.post(
                server.url + "/api/v1/telemetry",
                json={"samples": [{"device": "meter-0003", "point": "voltage_a", "value": 231.0}]},
                headers={"Authorization": f"Device meter-0003:{new}"},
            )
            assert posted.status_code == 200, posted.text
            check_a11y(page)
            shot("07-new-secret")
            page.click("#delete-device summary")
            page.fill("#delete-form input[name=confirm]", "meter-0003")
            page.click("#delete-form button.danger")
            expect(page).to_have_url(server.url + "/platform/devices")
            assert api.get("/api/v1/devices/meter-0003").status_code == 404

            # The fed meter's page: 7 days of little history draw its points, across the card.
            page.goto(server.url + f"/platform/devices/{FED}")
            page.click("#chart-ranges button[data-range='7d']")
            chart = "#chart-active_power"
            expect(page.locator(f"{chart} canvas")).to_have_count(1)
            page.wait_for_function(
                "sel => { const c = echarts.getInstanceByDom(document.querySelector(sel));"
                " const s = c && c.getOption().series;"
                " return s && s.length === 1 && s[0].data.length >= 30; }",
                arg=chart,
            )
            widths = page.evaluate(
                "sel => [document.querySelector(sel + ' canvas').clientWidth,"
                " document.querySelector('#charts').clientWidth]",
                chart,
            )
            assert widths[0] > 0.9 * widths[1], widths
            page.wait_for_timeout(500)
            check_a11y(page)
            shot("08-device-7d")
            page.click("#lang-switch")
            expect(page.locator("html")).to_have_attribute("lang", "en")
            page.goto(server.url + "/platform/devices?q=env")
            expect(page.locator("#devices thead")).to_contain_text("Last data")
            check_a11y(page)
            shot("09-list-english")
        finally:
            browser.close()
    api.close()
