"""``indunet demo`` in a real headless Chromium: live data from the virtual factory, an alarm.

The acceptance test of the platform: start the demo as a user would, log in with the printed
admin password, see the ten devices of the virtual factory come online (OPC UA, Modbus TCP and
MQTT), watch the chart of a CNC machine grow with live data, see live values of a Modbus and an
MQTT device, wait for the bearing fault of cnc-0002 to raise its alarm and acknowledge it with
a note. Nothing is seeded through the API: everything comes from the demo itself.
Screenshots land in ``$INDUNET_SCREENSHOTS`` (default: the test's temporary directory).
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from tests.integration.servers import Server, free_port, group
from tests.integration.test_console_browser import CHROMIUM, CHROMIUM_ARGS, need_chromium

pytestmark = pytest.mark.integration
DEVICES = 10
CNC = "cnc-0002"  # its spindle bearing heats up from 5 s after start
MODBUS = "compressor-0001"
MQTT = "env-0001"
BEARING_RULE = "主轴轴承温度过高"
CHART = "#chart-bearing_temp"
ALARM_WITHIN_S = 120.0  # from the demo's start
SECURITY_WITHIN_S = 150.0  # the intruder starts 15 s after the factory, the page within a minute
NOTE = "已安排更换主轴轴承"
ONLINE = re.compile(r"\bonline\b")


@pytest.fixture
def demo(tmp_path: Path) -> Iterator[tuple[Server, float]]:
    """The running demo, and when it was launched (``time.monotonic``)."""
    need_chromium()
    with group(tmp_path) as g:
        server = g.prepare("demo", "demo", env={"INDUNET_MQTT_PORT": str(free_port())})
        launched = time.monotonic()
        yield server.start(timeout=60.0), launched


def test_demo_shows_live_data_and_an_alarm_to_acknowledge(
    demo: tuple[Server, float], shots: Path
) -> None:
    from playwright.sync_api import Page, expect, sync_playwright

    server, started = demo
    ready_s = time.monotonic() - started
    password = server.admin_password
    assert password, server.output
    # The banner names every port the demo opens: HTTP, the MQTT endpoint, the equipment's.
    mqtt_port = server.env["INDUNET_MQTT_PORT"]
    assert f"127.0.0.1:{server.port} HTTP" in server.output, server.output
    assert f"127.0.0.1:{mqtt_port} MQTT" in server.output, server.output
    deadline = time.monotonic() + 60
    while "Modbus TCP (" not in server.output and time.monotonic() < deadline:
        time.sleep(0.5)
    assert re.search(r"Simulated: +127\.0\.0\.1:\d+ OPC UA \(3 devices\)", server.output)
    assert re.search(r"Simulated: +127\.0\.0\.1:\d+ Modbus TCP", server.output)

    def points_in_chart(page: Page) -> int:
        return int(
            page.evaluate(
                """sel => {
                    const el = document.querySelector(sel);
                    const chart = el && window.echarts && echarts.getInstanceByDom(el);
                    const s = chart && chart.getOption().series;
                    return s && s[0] && s[0].data ? s[0].data.length : 0;
                }""",
                CHART,
            )
        )

    def live_values_change(page: Page, device: str) -> None:
        """The device page shows values that the 2-second refresh replaces with new ones."""
        page.goto(server.url + f"/platform/devices/{device}")
        expect(page.locator("#device-status .badge")).to_have_class(ONLINE)
        cells = page.locator("#live-values tr[data-point] .value-cell")
        expect(cells.first).not_to_have_text("")
        before = cells.all_inner_texts()
        assert any(v.strip() not in ("", "—") for v in before), (device, before)
        page.wait_for_function(
            """before => {
                const now = [...document.querySelectorAll('#live-values tr[data-point] .value-cell')]
                    .map(c => c.innerText);
                return now.length > 0 && now.join('|') !== before.join('|');
            }""",
            arg=before,
            timeout=15_000,
        )

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900}, locale="zh-CN")
            page.set_default_timeout(15_000)

            def shot(name: str) -> None:
                page.screenshot(path=str(shots / f"{name}.png"), full_page=True)

            # Log in through the console, landing on the device list.
            page.goto(server.url + "/platform/devices")
            page.fill("input[name=username]", "admin")
            page.fill("input[name=password]", password)
            page.click("form.stack button[type=submit]")
            expect(page).to_have_url(server.url + "/platform/devices")

            # Every device of the virtual factory comes online (the table refreshes every 5 s).
            expect(page.locator("#count-total")).to_have_text(str(DEVICES))
            expect(page.locator("#count-online")).to_have_text(str(DEVICES), timeout=60_000)
            for device in (CNC, MODBUS, MQTT, "excavator-0001", "meter-0001"):
                row = page.locator(f'#devices tr[data-device="{device}"]')
                expect(row.locator(".badge")).to_have_class(ONLINE)
            online_s = time.monotonic() - started
            shot("01-demo-devices")

            # The CNC machine's bearing temperature: a chart with data, growing while we watch.
            page.goto(server.url + f"/platform/devices/{CNC}")
            expect(page.locator("#device-identifier")).to_have_text(f"88.100.1/dev-{CNC}")
            expect(page.locator('#live-values tr[data-point="bearing_temp"]')).to_contain_text("°C")
            button = page.locator("#chart-points button[data-point='bearing_temp']")
            if button.get_attribute("aria-pressed") != "true":
                button.click()
            expect(page.locator(f"{CHART} canvas")).to_have_count(1)
            page.wait_for_function(
                """sel => { const el = document.querySelector(sel);
                    const c = el && echarts.getInstanceByDom(el);
                    const s = c && c.getOption().series;
                    return s && s[0] && s[0].data.length > 0; }""",
                arg=CHART,
            )
            before = points_in_chart(page)
            page.wait_for_function(
                """([sel, n]) => { const c = echarts.getInstanceByDom(document.querySelector(sel));
                    return c.getOption().series[0].data.length > n; }""",
                arg=[CHART, before],
                timeout=10_000,
            )
            after = points_in_chart(page)
            assert after > before > 0, (before, after)
            page.wait_for_timeout(300)
            shot("02-demo-cnc-chart")

            # A compressor read over Modbus TCP and a sensor publishing over MQTT: live values.
            live_values_change(page, MODBUS)
            live_values_change(page, MQTT)
            live_s = time.monotonic() - started

            # The bearing fault raises the alarm; acknowledge it with a note.
            page.goto(server.url + "/platform/alarms")
            row = page.locator("#alarms tbody tr").filter(has_text=BEARING_RULE)
            wait_ms = max(1_000, int((ALARM_WITHIN_S - (time.monotonic() - started)) * 1000))
            expect(row).to_have_count(1, timeout=wait_ms)
            alarm_s = time.monotonic() - started
            expect(row).to_contain_text(CNC)
            expect(row.locator(".alarm-state")).to_have_text("活动")
            shot("03-demo-alarm")
            row.locator("input[name=note]").fill(NOTE)
            row.locator("button:has-text('确认')").click()
            acked = page.locator("#alarms tbody tr").filter(has_text=NOTE)
            expect(acked).to_contain_text(BEARING_RULE)
            expect(acked.locator(".alarm-state")).to_have_text("已确认")
            expect(acked).to_contain_text("admin 于")
            # It stays acknowledged when the table refreshes itself.
            page.wait_for_timeout(5_500)
            expect(acked.locator(".alarm-state")).to_have_text("已确认")
            expect(page.locator("#open-major")).to_have_text("1")  # acknowledged is still open
            shot("04-demo-alarm-acknowledged")

            # The intruder (127.0.0.66) swept and wrote the Modbus gateway: the sensor saw it on
            # the factory's mirror, a rule mapped to ATT&CK for ICS fired, the alert names the
            # affected asset and a case collects it, within a minute of the start.
            page.goto(server.url + "/security")
            wait_ms = max(1_000, int((SECURITY_WITHIN_S - (time.monotonic() - started)) * 1000))
            write = page.locator("#newest-alerts tbody tr").filter(has_text="127.0.0.66")
            write = write.filter(has=page.locator("a.chip", has_text="T0855"))
            deadline = time.monotonic() + wait_ms / 1000
            while not write.count() and time.monotonic() < deadline:
                page.wait_for_timeout(2_000)
                page.reload()
            expect(write.first).to_be_visible(timeout=1_000)
            security_s = time.monotonic() - started
            expect(write.first).to_contain_text("非授权主站向设备写入")
            expect(write.first.locator("a.asset-chip")).to_have_count(1)
            expect(write.first.locator("a[href^='/security/cases/']")).to_have_count(1)
            expect(page.locator("#open-cases tbody tr")).not_to_have_count(0)
            expect(page.locator("#riskiest-assets tbody tr")).not_to_have_count(0)
            shot("05-demo-security-situation")
            write.first.locator("a[href^='/security/cases/']").click()
            expect(page.locator("h1")).to_contain_text("#")
            shot("06-demo-security-case")
            page.goto(server.url + "/security/attack?technique=T0855")
            shot("07-demo-security-attack")
            page.set_viewport_size({"width": 1920, "height": 1080})
            page.goto(server.url + "/security/wall")
            expect(page.locator("#wall-alerts li").first).to_contain_text("T0855")
            expect(page.locator("#wall-scope")).to_have_text("全部企业")
            page.screenshot(path=str(shots / "08-demo-security-wall.png"))
        finally:
            browser.close()
    total_s = time.monotonic() - started

    # The same factory seen by Prometheus.
    scrape = httpx.get(server.url + "/metrics", timeout=10.0).text
    for protocol, n in (("opcua", 3), ("modbus", 4), ("mqtt", 3)):
        assert f'indunet_connector_devices{{protocol="{protocol}"}} {n}' in scrape, scrape
    assert 'indunet_alarms_open{severity="major"} 1' in scrape, scrape
    stored = re.search(r"^indunet_ingest_samples_stored_total (\d+)$", scrape, re.MULTILINE)
    assert stored and int(stored.group(1)) > 100, scrape
    print(
        f"demo: ready at {ready_s:.1f} s, all online at {online_s:.1f} s, "
        f"chart {before}→{after} points, live values checked at {live_s:.1f} s, "
        f"alarm at {alarm_s:.1f} s, security alert at {security_s:.1f} s, done at {total_s:.1f} s, "
        f"{stored.group(1)} samples stored"
    )
