"""The overview's charts, a composed dashboard and the wall display in a real headless Chromium
against a real `indunet up` process.

An enterprise with two HTTP devices, fifteen minutes of history and an alarm rule is set up
through the public API, and an enterprise admin and a reader through the CLI. The platform
admin sees the overview's charts with data; the enterprise admin composes a dashboard with
one widget of each type in the editor, orders it and saves it; the reader views it without
an edit button; a display token made on the console opens the wall display, with no login,
at 1920x1080 and at 3840x2160. Screenshots of each step land in build/screenshots/.
"""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from tests.integration.browser import CHROMIUM, CHROMIUM_ARGS, check_a11y, need_chromium
from tests.integration.servers import Server, group

from indunet import core

pytestmark = pytest.mark.integration
USCC = core.make_uscc("91350200MA3DA7HB")
PASSWORD = "dashboard-pass-2024"
HISTORY_S = 900


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    need_chromium()
    with group(tmp_path) as g:
        yield g.start("platform", "up")


def seed(api: httpx.Client, server: Server, tmp: Path) -> None:
    """An enterprise in 福建省 with a prefix, two HTTP devices with history, a rule that
    fires, and two users of the enterprise (an admin and a reader) made with the CLI."""

    def ok(resp: httpx.Response) -> Any:
        assert resp.status_code < 300, f"{resp.request.url}: {resp.status_code} {resp.text}"
        return resp.json() if resp.content else None

    ent = ok(
        api.post(
            "/api/v1/enterprises",
            json={"uscc": USCC, "name": "厦门示例机床有限公司", "region": "福建省"},
        )
    )
    ok(api.post("/api/v1/prefixes", json={"prefix": "88.100.1", "enterprise_uscc": USCC}))
    cnc = {"id": "cnc-0001", "name": "五轴加工中心", "model": "indunet:cnc-machine"}
    cnc |= {"protocol": "http", "enterprise_id": ent["id"]}
    cnc |= {"location": {"site": "一号车间", "line": "A 线"}}
    ok(api.post("/api/v1/devices", json=cnc))
    env = {"id": "env-0001", "name": "车间温湿度", "model": "indunet:env-sensor"}
    env |= {"protocol": "http", "enterprise_id": ent["id"], "location": {"site": "二号车间"}}
    ok(api.post("/api/v1/devices", json=env))
    rule = {"name": "主轴轴承过热", "device_id": "cnc-0001", "condition": "bearing_temp > 80"}
    rule |= {"severity": "critical", "duration_s": 0, "enterprise_id": ent["id"]}
    rule |= {"message": "主轴轴承温度 {bearing_temp} °C，超过 80 °C"}
    ok(api.post("/api/v1/rules", json=rule))
    now = int(time.time() * 1000)
    stamps = [now - HISTORY_S * 1000 + i * 10_000 for i in range(HISTORY_S // 10)]
    points = {
        "spindle_speed": [8000 + 400 * ((i % 12) - 6) for i in range(len(stamps))],
        "bearing_temp": [55 + i * 0.4 for i in range(len(stamps))],
        "feed_rate": [1200 + (i % 5) * 10 for i in range(len(stamps))],
    }
    ok(api.post("/api/v1/telemetry", json={"device": "cnc-0001", "ts": stamps, "points": points}))
    climate = {"temperature": [22 + (i % 7) * 0.3 for i in range(len(stamps))]}
    climate["humidity"] = [45 + (i % 9) for i in range(len(stamps))]
    ok(api.post("/api/v1/telemetry", json={"device": "env-0001", "ts": stamps, "points": climate}))
    secret = tmp / "password.txt"
    secret.write_text(PASSWORD + "\n")
    for user, role in (("ea", "enterprise_admin"), ("eu", "enterprise_user")):
        subprocess.run(
            [
                *(sys.executable, "-m", "indunet", "user", "add", user, "--role", role),
                *("--password-file", str(secret), "--enterprise", USCC),
                *("--data-dir", str(server.data_dir)),
            ],
            check=True,
            capture_output=True,
        )


def series_points(page: Any, selector: str, series: int = 0) -> int:
    """Points of one series of the ECharts chart in ``selector``."""
    return int(
        page.evaluate(
            """([sel, i]) => {
                const el = document.querySelector(sel);
                const c = el && echarts.getInstanceByDom(el);
                const s = c && c.getOption().series;
                return s && s[i] ? s[i].data.length : 0;
            }""",
            [selector, series],
        )
    )


def log_in(page: Any, url: str, username: str, password: str) -> None:
    page.context.clear_cookies()
    page.goto(url + "/login?next=/platform")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", password)
    page.click("form.stack button[type=submit]")
    page.wait_for_url(url + "/platform")


def add_widget(page: Any, kind: str) -> Any:
    """Add a widget of ``kind`` in the editor; its fieldset."""
    page.select_option("#new-widget-type", kind)
    page.click("#add-widget")
    return page.locator("#widget-editor fieldset.widget-edit").last


def bind_device(page: Any, box: Any, device: str) -> None:
    """Type a device id in a widget and wait for its points to be offered."""
    box.locator("input.mono").fill(device)
    page.wait_for_function(
        "() => [...document.querySelectorAll('#widget-editor fieldset.widget-edit')]"
        ".pop().querySelector('fieldset.points input')"
    )


def test_overview_dashboard_and_wall_display(server: Server, shots: Path, tmp_path: Path) -> None:
    from playwright.sync_api import expect, sync_playwright

    admin_password = server.admin_password
    assert admin_password, server.output
    api = httpx.Client(base_url=server.url, timeout=10.0)
    login = {"username": "admin", "password": admin_password}
    api.headers["Authorization"] = (
        f"Bearer {api.post('/api/v1/auth/token', json=login).json()['token']}"
    )
    seed(api, server, tmp_path)
    time.sleep(2.5)  # the platform flushes the devices' online status every 2 s

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1440, "height": 1000}, locale="zh-CN")
            page.set_default_timeout(15_000)

            def shot(name: str, full: bool = True) -> None:
                page.screenshot(path=str(shots / f"{name}.png"), full_page=full)

            # The overview: charts with data, in the page's zone.
            log_in(page, server.url, "admin", admin_password)
            page.wait_for_selector("#overview-charts[data-loaded='24h']")
            assert series_points(page, "#chart-online") >= 90
            page.wait_for_function(
                "() => echarts.getInstanceByDom(document.querySelector('#chart-online'))"
                ".getOption().series[0].data.some(p => p[1] >= 2)"
            )
            assert series_points(page, "#chart-top") == 1  # cnc-0001, one alarm
            ingested = page.evaluate(
                "() => echarts.getInstanceByDom(document.querySelector('#chart-ingest'))"
                ".getOption().series[0].data.reduce((n, p) => n + p[1], 0)"
            )
            assert ingested >= 90 * 5, ingested  # 90 stamps of 3 and of 2 points, this minute
            assert series_points(page, "#chart-alarms") > 0
            page.wait_for_timeout(400)
            shot("01-overview")
            check_a11y(page)
            page.click("#overview-charts button[data-range='7d']")
            page.wait_for_selector("#overview-charts[data-loaded='7d']")

            # The enterprise admin composes a dashboard with one widget of each type.
            log_in(page, server.url, "ea", PASSWORD)
            page.goto(server.url + "/platform/dashboards")
            check_a11y(page)
            page.fill("#new-board input[name=name]", "一号车间看板")
            page.click("#new-board button[type=submit]")
            expect(page.locator("#board-editor")).to_be_visible()
            text = add_widget(page, "text")
            text.locator("textarea").fill("早班：8:00–16:00，值班电话 1234")
            chart = add_widget(page, "chart")
            bind_device(page, chart, "cnc-0001")
            chart = page.locator("#widget-editor fieldset.widget-edit").last
            chart.locator("input[value=spindle_speed]").check()
            chart.locator("input[value=bearing_temp]").check()
            chart.locator("select").last.select_option("1h")
            chart.locator(".widget-fields select").first.select_option("8")
            gauge = add_widget(page, "gauge")
            bind_device(page, gauge, "cnc-0001")
            gauge = page.locator("#widget-editor fieldset.widget-edit").last
            gauge.locator("input[value=bearing_temp]").check()
            gauge.locator("input[type=number]").last.fill("120")
            latest = add_widget(page, "latest")
            bind_device(page, latest, "env-0001")
            add_widget(page, "alarms")
            places = add_widget(page, "locations")
            places.locator("input").nth(1).fill("cnc-0001, env-0001")
            # The text goes last: down moves a widget down, one place at a time.
            for _ in range(5):
                page.click("#widget-editor fieldset[data-type=text] button[data-move=down]")
            types = page.eval_on_selector_all(
                "#widget-editor fieldset.widget-edit", "els => els.map(e => e.dataset.type)"
            )
            assert types == ["chart", "gauge", "latest", "alarms", "locations", "text"], types
            page.wait_for_timeout(300)
            shot("02-editor")
            check_a11y(page)
            page.click("#save-board")
            expect(page.locator("#board-title")).to_have_text("一号车间看板")
            page.wait_for_selector("#board-grid[data-loaded='true']")
            assert series_points(page, ".widget[data-index='0'] .widget-chart") >= 10
            gauge_box = page.locator(".widget[data-index='1'] svg.gauge")
            expect(gauge_box).to_contain_text("°C")
            expect(gauge_box).to_contain_text("120")
            assert series_points(page, ".widget[data-index='0'] .widget-chart", 1) >= 10
            expect(page.locator(".widget[data-index='2'] tbody tr")).to_have_count(2)
            expect(page.locator(".widget[data-index='3']")).to_contain_text("主轴轴承温度")
            expect(page.locator(".widget[data-index='4']")).to_contain_text("一号车间")
            expect(page.locator(".widget[data-index='5']")).to_contain_text("值班电话")
            page.wait_for_timeout(400)
            shot("03-dashboard")
            check_a11y(page)
            board_url = page.url

            # A reader of the enterprise views it, with no way to edit.
            log_in(page, server.url, "eu", PASSWORD)
            page.goto(board_url)
            page.wait_for_selector("#board-grid[data-loaded='true']")
            expect(page.locator("#edit-board")).to_have_count(0)
            shot("04-dashboard-reader")
            assert page.goto(board_url + "/edit").status == 403  # type: ignore[union-attr]

            # The enterprise admin makes a display token; the wall opens with it, no login.
            log_in(page, server.url, "ea", PASSWORD)
            page.goto(server.url + "/platform/displays")
            check_a11y(page)
            page.fill("#new-display-form input[name=name]", "车间大屏")
            page.click("#new-display-form button[type=submit]")
            wall_url = page.locator("#display-url").inner_text().strip()
            shot("05-display-made")
            for width, height in ((1920, 1080), (3840, 2160)):
                wall = browser.new_page(viewport={"width": width, "height": height}, locale="zh-CN")
                wall.goto(wall_url)
                assert wall.url == server.url + "/wall"
                wall.wait_for_selector("body[data-loaded]")
                expect(wall.locator("#wall-scope")).to_have_text("厦门示例机床有限公司")
                expect(wall.locator("#kpi-total")).to_have_text("2")
                wall.wait_for_function(
                    "() => echarts.getInstanceByDom(document.querySelector('#wall-online'))"
                    ".getOption().series[0].data.length > 0"
                )
                fits = wall.evaluate(
                    "() => [document.documentElement.scrollWidth <= innerWidth,"
                    " document.documentElement.scrollHeight <= innerHeight,"
                    " parseFloat(getComputedStyle(document.querySelector('.kpi b')).fontSize)]"
                )
                assert fits[0] and fits[1], (width, fits)
                assert fits[2] >= width * 0.025, (width, fits)  # figures grow with the screen
                wall.wait_for_timeout(500)
                wall.screenshot(path=str(shots / f"06-wall-{width}x{height}.png"))
                check_a11y(wall)
                wall.close()
            # Revoked on the console, the wall closes at its next refresh; no login prompt.
            page.click("#displays button[type=submit]")
            wall = browser.new_page(viewport={"width": 1920, "height": 1080}, locale="zh-CN")
            assert wall.goto(wall_url).status == 401  # type: ignore[union-attr]
            expect(wall.locator("#wall-closed")).to_be_visible()
            expect(wall.locator("input[type=password]")).to_have_count(0)
            wall.screenshot(path=str(shots / "07-wall-closed.png"))
            check_a11y(wall)
            wall.close()
        finally:
            browser.close()
