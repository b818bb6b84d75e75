"""An outage on the device page, in a real headless Chromium against a real `indunet up`.

An HTTP device posts a CNC machine's telemetry, falls silent for four minutes, and comes back.
Its online/offline changes are recorded the way the platform records them
(``DeviceRegistry.set_status`` then ``flush_status``, on the server's own database) and its
samples arrive through ``POST /api/v1/telemetry`` with their own timestamps. The operator
opens the device page in Chinese and in English, reads the status history card (times in the
page's one zone: the browser's, Asia/Shanghai here) and sees the outage shaded on the chart,
the line stopping at it rather than running straight across, and the time axis labelled in
the same zone as the card. Screenshots (page, chart, card) land in ``$INDUNET_SCREENSHOTS``.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
from tests.integration.servers import Server, group
from tests.integration.test_console_browser import CHROMIUM, CHROMIUM_ARGS, need_chromium

from indunet import core, devices
from indunet.core.db import make_engine
from indunet.core.settings import Settings

pytestmark = pytest.mark.integration
USCC = core.make_uscc("91350200MA3ABCDE")
DEVICE = "cnc-0007"
CHART = "#chart-spindle_speed"
STEP_S = 10  # one sample every ten seconds
ZONE = "Asia/Shanghai"  # the browser's zone, which the page takes as its own


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    need_chromium()
    with group(tmp_path) as g:
        yield g.start("platform", "up")


def ok(resp: httpx.Response) -> Any:
    assert resp.status_code < 300, f"{resp.request.url}: {resp.status_code} {resp.text}"
    return resp.json() if resp.content else None


def zone_text(at: float) -> str:
    """How the page should print a status change's time: in the browser's zone."""
    return datetime.fromtimestamp(at, ZoneInfo(ZONE)).strftime("%Y-%m-%d %H:%M:%S")


def record_outage(server: Server, first: int, off: int, on: int) -> None:
    """Online at ``first``, offline at ``off``, online again at ``on`` (seconds), recorded by
    the device registry on the server's database, as the platform's ingest and housekeeping
    record them."""
    # The server's defaults (it runs without INDUNET_* variables), whatever this process has.
    settings = Settings(data_dir=server.data_dir, database_url=None, telemetry_url=None)
    engine = make_engine(settings)
    try:
        registry = devices.DeviceRegistry(engine, devices.ModelRegistry(engine), None)
        registry.set_status(DEVICE, True, first)
        registry.set_status(DEVICE, False, off)
        registry.set_status(DEVICE, True, on)
        assert registry.flush_status() == 1
    finally:
        engine.dispose()


def seed(server: Server, api: httpx.Client) -> tuple[int, int, int]:
    """A CNC machine fed over HTTP with a four-minute outage; returns (first, off, on) in s."""
    ent = ok(api.post("/api/v1/enterprises", json={"uscc": USCC, "name": "厦门示例机床有限公司"}))
    ok(api.post("/api/v1/prefixes", json={"prefix": "88.100.1", "enterprise_uscc": USCC}))
    device = {"id": DEVICE, "name": "立式加工中心", "model": "indunet:cnc-machine"}
    device |= {"protocol": "http", "enterprise_id": ent["id"]}
    ok(api.post("/api/v1/devices", json=device))
    now = int(time.time())
    first, off, on = now - 720, now - 480, now - 240
    record_outage(server, first, off, on)
    # The server picks the recorded status up on its next reload; then the posts below only
    # move last_seen and record no change of their own.
    deadline = time.monotonic() + 15
    while ok(api.get(f"/api/v1/devices/{DEVICE}"))["status"] != "online":
        assert time.monotonic() < deadline, "the server never read the recorded status"
        time.sleep(0.2)
    stamps = [t * 1000 for t in range(first, off + 1, STEP_S)]
    stamps += [t * 1000 for t in range(on, now + 1, STEP_S)]
    points = {"spindle_speed": [8000 + 300 * ((i % 8) - 4) for i in range(len(stamps))]}
    body = {"device": DEVICE, "ts": stamps, "points": points}
    assert ok(api.post("/api/v1/telemetry", json=body))["accepted"] == len(stamps)
    return first, off, on


GAPS = """sel => {
    const el = document.querySelector(sel);
    const chart = el && echarts.getInstanceByDom(el);
    const option = chart && chart.getOption();  // undefined until the first setOption
    const series = option && option.series;
    if (!series || !series.length || !series[0].data.length) { return null; }
    const area = series[series.length - 1].markArea;
    const data = (Array.isArray(area) ? area[0] : area).data;
    return data.map(pair => [pair[0].xAxis, pair[1].xAxis]);
}"""

# The average line of a bucketed chart: [ts, avg] rows (null: no line there).
BUCKETS = """sel => {
    const chart = echarts.getInstanceByDom(document.querySelector(sel));
    const series = chart.getOption().series;
    return series.length === 3 && series[2].data.length ? series[2].data : null;
}"""

AXIS = """sel => {
    const chart = echarts.getInstanceByDom(document.querySelector(sel));
    const option = chart.getOption();
    return { utc: option.useUTC === true,
             labels: chart.getModel().getComponent("xAxis").axis.getViewLabels()
                          .map(l => l.formattedLabel) };
}"""

# The colours painted in the plot's column at time ``ms``, top to bottom ([r, g, b] each).
COLUMN = """([sel, ms]) => {
    const chart = echarts.getInstanceByDom(document.querySelector(sel));
    const x = chart.convertToPixel({ gridIndex: 0 }, [ms, 0])[0];
    const rect = chart.getModel().getComponent("grid").coordinateSystem.getRect();
    const canvas = document.querySelector(sel + " canvas");
    const ratio = canvas.width / canvas.clientWidth;
    const top = Math.round((rect.y + 2) * ratio), height = Math.round((rect.height - 4) * ratio);
    const px = canvas.getContext("2d").getImageData(Math.round(x * ratio), top, 1, height).data;
    const out = [];
    for (let i = 0; i < px.length; i += 4) { out.push([px[i], px[i + 1], px[i + 2]]); }
    return out;
}"""


def shaded(column: list[list[int]]) -> bool:
    """The column is tinted red (the gap's shading) over most of its height."""
    return sum(r > g + 10 and r > b + 10 for r, g, b in column) > 0.8 * len(column)


def lined(column: list[list[int]]) -> bool:
    """The column crosses the chart's line (#1d4ed8, blue)."""
    return any(b > r + 80 and b > g + 60 for r, g, b in column)


def test_status_history_card_and_gap_shading(server: Server, shots: Path) -> None:
    from playwright.sync_api import expect, sync_playwright

    password = server.admin_password
    assert password, server.output
    api = httpx.Client(base_url=server.url, timeout=10.0)
    token = ok(api.post("/api/v1/auth/token", json={"username": "admin", "password": password}))
    api.headers["Authorization"] = f"Bearer {token['token']}"
    try:
        first, off, on = seed(server, api)
    finally:
        api.close()
    rows = [("在线", zone_text(on)), ("离线", zone_text(off)), ("在线", zone_text(first))]

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            context = browser.new_context(
                viewport={"width": 1280, "height": 1000}, locale="zh-CN", timezone_id=ZONE
            )
            page = context.new_page()
            page.set_default_timeout(15_000)
            card = page.locator("#device-status-history")

            def shot(name: str) -> None:
                page.screenshot(path=str(shots / f"{name}.png"), full_page=True)

            def shots_of(name: str) -> None:
                shot(name)
                page.locator(f"figure.chart-box:has({CHART})").screenshot(
                    path=str(shots / f"{name}-chart.png")
                )
                card.screenshot(path=str(shots / f"{name}-card.png"))

            def card_rows() -> list[tuple[str, str]]:
                cells = page.locator("#device-status-history tbody tr")
                return [
                    (r.locator("td").nth(1).inner_text(), r.locator("td").nth(0).inner_text())
                    for r in cells.all()
                ]

            def gaps_drawn() -> list[list[int]]:
                page.wait_for_function(f"sel => ({GAPS})(sel) !== null", arg=CHART)
                return list(page.evaluate(GAPS, CHART))

            page.goto(server.url + f"/platform/devices/{DEVICE}")
            page.fill("input[name=username]", "admin")
            page.fill("input[name=password]", password)
            page.click("form.stack button[type=submit]")
            expect(page).to_have_url(server.url + f"/platform/devices/{DEVICE}")
            expect(page.locator("html")).to_have_attribute("lang", "zh-CN")
            expect(card.locator("h2")).to_have_text("上线与离线记录")
            expect(card.locator("th")).to_have_text(["时间", "变化"])
            # Newest first, in the page's language, each at the time it happened (its zone).
            assert card_rows() == rows

            # The chart shades exactly the outage: from the offline change to the online one.
            assert gaps_drawn() == [[off * 1000, on * 1000]]
            # ... its ticks are placed in UTC and labelled in the card's zone.
            axis = page.evaluate(AXIS, CHART)
            assert axis["utc"], axis
            hour = datetime.fromtimestamp(off, ZoneInfo(ZONE)).strftime("%H:")
            assert any(label.startswith(hour) for label in axis["labels"]), (hour, axis)
            # In the middle of the outage the plot is shaded and no line runs across it;
            # half a minute before it, the line is drawn and nothing is shaded.
            inside = page.evaluate(COLUMN, [CHART, (off + on) * 500])
            assert shaded(inside) and not lined(inside)
            before = page.evaluate(COLUMN, [CHART, (off - 25) * 1000])
            assert lined(before) and not shaded(before)
            page.locator(CHART).scroll_into_view_if_needed()
            page.wait_for_timeout(300)
            shots_of("01-outage-zh")

            # The day's chart: with this little history (under 2,000 samples) it draws the raw
            # samples too (a range with more draws minute buckets); the line breaks at the
            # outage and the outage is shaded all the same.
            page.click("#chart-ranges button[data-range='24h']")
            page.wait_for_function(
                "sel => { const c = echarts.getInstanceByDom(document.querySelector(sel));"
                " return c && c.getOption().xAxis[0].min < Date.now() - 20 * 3600 * 1000; }",
                arg=CHART,
            )
            assert gaps_drawn() == [[off * 1000, on * 1000]]
            breaks = page.evaluate(
                """([sel, off, on]) => echarts.getInstanceByDom(document.querySelector(sel))
                    .getOption().series[0].data
                    .filter(r => r[1] === null && r[0] >= off && r[0] <= on).length""",
                [CHART, off * 1000, on * 1000],
            )
            assert breaks >= 1, "the line runs across the outage"
            page.click("#chart-ranges button[data-range='15m']")

            # English: the same card and the same shading, in English words.
            page.click("#lang-switch")
            expect(page.locator("html")).to_have_attribute("lang", "en")
            expect(card.locator("h2")).to_have_text("Online and offline")
            expect(card.locator("th")).to_have_text(["Time", "Change"])
            english = [("Online", rows[0][1]), ("Offline", rows[1][1]), ("Online", rows[2][1])]
            assert card_rows() == english
            assert gaps_drawn() == [[off * 1000, on * 1000]]
            assert page.evaluate(AXIS, CHART)["utc"]
            page.wait_for_timeout(300)
            shots_of("02-outage-en")
        finally:
            browser.close()
