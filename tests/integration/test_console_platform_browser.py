"""The platform pages in a real headless Chromium against a real `indunet up` process.

An operator's look at a device: the device is made and fed through the public API (HTTP
telemetry, an alarm rule), then the browser opens the device page, sees live values and a
chart that has data and keeps growing, switches the range to downsampled buckets, goes to the
alarms, acknowledges the alarm (HTMX swaps its row) and checks the device list and English.
Screenshots land in ``$INDUNET_SCREENSHOTS`` (default: the test's temporary directory).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from tests.integration.servers import Server, group
from tests.integration.test_console_browser import CHROMIUM, CHROMIUM_ARGS, need_chromium

from indunet import core

pytestmark = pytest.mark.integration
USCC = core.make_uscc("91350200MA3ABCDE")
DEVICE = "cnc-0001"
HISTORY_S = 900  # fifteen minutes of history, one sample every ten seconds
CHART = "#chart-spindle_speed"


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    need_chromium()
    with group(tmp_path) as g:
        yield g.start("platform", "up")


def seed(api: httpx.Client) -> None:
    """An enterprise with a prefix, a CNC machine fed over HTTP, and a rule that will fire."""

    def ok(resp: httpx.Response) -> Any:
        assert resp.status_code < 300, f"{resp.request.url}: {resp.status_code} {resp.text}"
        return resp.json() if resp.content else None

    ent = ok(api.post("/api/v1/enterprises", json={"uscc": USCC, "name": "厦门示例机床有限公司"}))
    ok(api.post("/api/v1/prefixes", json={"prefix": "88.100.1", "enterprise_uscc": USCC}))
    device = {"id": DEVICE, "name": "五轴加工中心", "model": "indunet:cnc-machine"}
    device |= {"protocol": "http", "enterprise_id": ent["id"], "tags": ["line-1"]}
    ok(api.post("/api/v1/devices", json=device))
    rule = {"name": "主轴轴承过热", "device_id": DEVICE, "condition": "bearing_temp > 80"}
    rule |= {"severity": "critical", "duration_s": 0, "enterprise_id": ent["id"]}
    rule |= {"message": "主轴轴承温度 {bearing_temp} °C，超过 80 °C"}
    ok(api.post("/api/v1/rules", json=rule))
    now = int(time.time() * 1000)
    stamps = [now - HISTORY_S * 1000 + i * 10_000 for i in range(HISTORY_S // 10)]
    points = {
        "spindle_speed": [8000 + 400 * ((i % 12) - 6) for i in range(len(stamps))],
        "bearing_temp": [55 + i * 0.4 for i in range(len(stamps))],  # climbs past 80 °C
        "feed_rate": [1200 + (i % 5) * 10 for i in range(len(stamps))],
    }
    ok(api.post("/api/v1/telemetry", json={"device": DEVICE, "ts": stamps, "points": points}))


def keep_feeding(api: httpx.Client, stop: threading.Event) -> None:
    """One new spindle speed a second until ``stop``: the chart should grow while we watch."""
    i = 0
    while not stop.wait(1.0):
        body = {"samples": [{"device": DEVICE, "point": "spindle_speed", "value": 8100 + i}]}
        api.post("/api/v1/telemetry", json=body)
        i += 1


def test_device_chart_live_values_and_acknowledging_an_alarm(server: Server, shots: Path) -> None:
    from playwright.sync_api import expect, sync_playwright

    password = server.admin_password
    assert password, server.output
    api = httpx.Client(base_url=server.url, timeout=10.0)
    token = api.post("/api/v1/auth/token", json={"username": "admin", "password": password})
    api.headers["Authorization"] = f"Bearer {token.json()['token']}"
    seed(api)
    stop = threading.Event()
    feeder = threading.Thread(target=keep_feeding, args=(api, stop), daemon=True)
    feeder.start()
    try:
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
            try:
                page = browser.new_page(viewport={"width": 1280, "height": 900}, locale="zh-CN")
                page.set_default_timeout(15_000)

                def shot(name: str) -> None:
                    page.screenshot(path=str(shots / f"{name}.png"), full_page=True)

                def points_in_chart(selector: str = CHART, series: int = 0) -> int:
                    return int(
                        page.evaluate(
                            """([sel, i]) => {
                                const el = document.querySelector(sel);
                                const chart = el && echarts.getInstanceByDom(el);
                                const s = chart && chart.getOption().series;
                                return s && s[i] ? s[i].data.length : 0;
                            }""",
                            [selector, series],
                        )
                    )

                page.goto(server.url + f"/platform/devices/{DEVICE}")
                page.fill("input[name=username]", "admin")
                page.fill("input[name=password]", password)
                page.click("form.stack button[type=submit]")
                expect(page).to_have_url(server.url + f"/platform/devices/{DEVICE}")
                expect(page.locator("h1")).to_have_text("五轴加工中心")
                expect(page.locator("#device-identifier")).to_have_text(f"88.100.1/dev-{DEVICE}")

                # Live values in Chinese, refreshed by HTMX every 2 s.
                speed_row = page.locator('#live-values tr[data-point="spindle_speed"]')
                expect(speed_row).to_contain_text("主轴转速")
                expect(speed_row).to_contain_text("r/min")
                expect(speed_row.locator(".badge")).to_have_text("正常")
                first = speed_row.locator(".value-cell").inner_text()
                expect(speed_row.locator(".value-cell")).not_to_have_text(first, timeout=8000)

                # The chart of the first point draws the last 15 minutes, then keeps growing.
                expect(page.locator(f"{CHART} canvas")).to_have_count(1)
                page.wait_for_function(
                    "sel => { const el = document.querySelector(sel);"
                    " const c = el && echarts.getInstanceByDom(el);"
                    " return c && c.getOption().series[0].data.length >= 80; }",
                    arg=CHART,
                )
                before = points_in_chart()
                assert before >= 80, before
                page.wait_for_timeout(4500)
                after = points_in_chart()
                assert after > before, (before, after)
                expect(page.locator("#device-alarm-rows")).to_contain_text("主轴轴承温度")
                page.wait_for_timeout(500)
                shot("01-device")

                # A long range with little history (15 minutes in 24 hours) draws every
                # point (tests/web/test_console_devices.py: buckets of a long history).
                page.click("#chart-ranges button[data-range='24h']")
                page.wait_for_function(
                    "sel => { const c = echarts.getInstanceByDom(document.querySelector(sel));"
                    " const s = c.getOption().series;"
                    " return s.length === 1 && s[0].data.length >= 80; }",
                    arg=CHART,
                )
                # Another point gets a chart of its own.
                page.click("#chart-points button[data-point='bearing_temp']")
                expect(page.locator("#chart-bearing_temp canvas")).to_have_count(1)
                page.wait_for_function(
                    "() => { const c = echarts.getInstanceByDom("
                    "document.querySelector('#chart-bearing_temp'));"
                    " return c && c.getOption().series.length === 1 &&"
                    " c.getOption().series[0].data.length > 0; }"
                )
                page.wait_for_timeout(500)
                shot("02-device-24h")

                # The alarm: acknowledge it with a note; HTMX swaps the row.
                page.click("nav.tabs >> text=告警")
                expect(page.locator("h1")).to_have_text("告警")
                row = page.locator("#alarms tbody tr").filter(has_text="主轴轴承温度")
                expect(row).to_have_count(1)
                expect(row.locator(".alarm-state")).to_have_text("活动")
                expect(row.locator(".badge.sev-critical")).to_have_text("紧急")
                shot("03-alarms")
                row.locator("input[name=note]").fill("已通知设备科检修")
                row.locator("button:has-text('确认')").click()
                acked = page.locator("#alarms tbody tr").filter(has_text="已通知设备科检修")
                expect(acked.locator(".alarm-state")).to_have_text("已确认")
                expect(acked).to_contain_text("admin 于")
                expect(page.locator("#open-critical")).to_have_text("1")
                shot("04-alarm-acknowledged")

                # The device list counts and links; then English, one click away.
                page.click("nav.tabs >> text=设备")
                expect(page.locator(f'#devices tr[data-device="{DEVICE}"]')).to_contain_text(
                    "五轴加工中心"
                )
                expect(page.locator("#count-total")).to_have_text("1")
                shot("05-devices")
                page.goto(server.url + f"/platform/devices/{DEVICE}")
                page.click("#lang-switch")
                expect(page.locator("html")).to_have_attribute("lang", "en")
                expect(page.locator("#live-values")).to_contain_text("Spindle speed")
                expect(page.locator("#chart-ranges")).to_contain_text("24 h")
                page.wait_for_function(
                    "sel => { const el = document.querySelector(sel);"
                    " const c = el && echarts.getInstanceByDom(el);"
                    " return c && c.getOption().series[0].data.length > 0; }",
                    arg=CHART,
                )
                page.wait_for_timeout(500)
                shot("06-device-english")
            finally:
                browser.close()
    finally:
        stop.set()
        feeder.join(timeout=5)
        api.close()
