"""One time zone on every page, in a real Chromium: tables and charts agree.

The defect (issue 9): on a Beijing-time browser the alarm row said 13:50:50 (UTC) while its
spike was drawn at 21:50 (browser time). Now a browser in Asia/Shanghai sees the alarm's time
in Shanghai time in the table, the chart labels that instant with the same clock, and the
header names the zone; a person who chooses Europe/London sees everything move together.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import httpx
import pytest
from tests.integration.browser import CHROMIUM, CHROMIUM_ARGS, check_a11y, need_chromium
from tests.integration.servers import Server, group
from tests.integration.test_console_platform_browser import DEVICE, seed

pytestmark = pytest.mark.integration


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    need_chromium()
    with group(tmp_path) as g:
        yield g.start("zones", "up")


def in_zone(iso_utc: str, zone: str) -> str:
    return datetime.fromisoformat(iso_utc).astimezone(ZoneInfo(zone)).strftime("%Y-%m-%d %H:%M:%S")


def test_tables_and_charts_show_one_zone(server: Server, shots: Path) -> None:
    from playwright.sync_api import expect, sync_playwright

    password = server.admin_password or ""
    api = httpx.Client(base_url=server.url, timeout=10.0)
    token = api.post("/api/v1/auth/token", json={"username": "admin", "password": password})
    api.headers["Authorization"] = f"Bearer {token.json()['token']}"
    seed(api)
    deadline = time.monotonic() + 20
    alarms: list[dict[str, object]] = []
    while not alarms and time.monotonic() < deadline:
        alarms = api.get("/api/v1/alarms", params={"device_id": DEVICE}).json()
        time.sleep(0.3)
    assert alarms, "the rule raised no alarm"
    raised = str(alarms[0]["raised_at"])
    assert raised.endswith(("Z", "+00:00")), raised  # the API speaks UTC
    raised_ms = int(datetime.fromisoformat(raised).timestamp() * 1000)

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            ctx = browser.new_context(
                viewport={"width": 1280, "height": 900},
                locale="zh-CN",
                timezone_id="Asia/Shanghai",
            )
            page = ctx.new_page()
            page.set_default_timeout(15_000)
            page.goto(server.url + "/login?next=/platform/alarms")
            page.fill("input[name=username]", "admin")
            page.fill("input[name=password]", password)
            page.click("form.stack button[type=submit]")
            page.wait_for_url(server.url + "/platform/alarms")
            shanghai = in_zone(raised, "Asia/Shanghai")
            expect(page.locator("#zone-name")).to_have_text("时区：Asia/Shanghai (UTC+08:00)")
            expect(page.locator("main")).to_contain_text(shanghai)
            assert in_zone(raised, "UTC") not in page.locator("main").inner_text()
            check_a11y(page)
            page.screenshot(path=str(shots / "01-alarms-shanghai.png"), full_page=True)

            # The device chart labels the alarm's instant with the table's clock.
            page.goto(server.url + f"/platform/devices/{DEVICE}")
            expect(page.locator("main")).to_contain_text(shanghai)
            page.wait_for_function(
                "() => document.querySelector('[id^=chart-]:has(canvas) canvas')"
            )
            drawn = page.evaluate(
                """ms => {
                    const el = document.querySelector('[id^=chart-]:has(canvas)');
                    const opt = echarts.getInstanceByDom(el).getOption();
                    return [opt.xAxis[0].axisLabel.formatter(ms),
                            indunetZone.tooltip([{value: [ms, 1], marker: '', seriesName: 'x'}])];
                }""",
                raised_ms,
            )
            assert drawn[0] == shanghai[11:16], drawn  # HH:MM on the axis
            assert drawn[1].startswith(shanghai), drawn  # the tooltip's title
            page.screenshot(path=str(shots / "02-device-shanghai.png"), full_page=True)

            # Choosing another zone moves tables and charts together.
            page.click("#zone-name")
            page.fill("#zone-input", "Europe/London")
            page.click("form[action='/tz'] button[type=submit]")
            page.wait_for_url(server.url + f"/platform/devices/{DEVICE}")
            london = in_zone(raised, "Europe/London")
            expect(page.locator("#zone-name")).to_contain_text("Europe/London")
            expect(page.locator("main")).to_contain_text(london)
            page.wait_for_function(
                "() => document.querySelector('[id^=chart-]:has(canvas) canvas')"
            )
            label = page.evaluate(
                """ms => echarts.getInstanceByDom(document.querySelector('[id^=chart-]:has(canvas)'))
                    .getOption().xAxis[0].axisLabel.formatter(ms)""",
                raised_ms,
            )
            assert label == london[11:16], label
            page.screenshot(path=str(shots / "03-device-london.png"), full_page=True)

            # A browser elsewhere gets its own zone by default.
            ny = browser.new_context(locale="en", timezone_id="America/New_York").new_page()
            ny.goto(server.url + "/login")
            ny.reload()  # the first visit stored the browser's zone
            expect(ny.locator("#zone-name")).to_contain_text("America/New_York")
        finally:
            browser.close()
