"""The telemetry explorer, dead letters with a retry after a model fix, and the model form
editor, in a real headless Chromium against a real `indunet up` process.

Explorer: find a device, two points on one chart, a custom range typed in the page's zone,
zoom (the zoomed window is fetched again), and the CSV export of exactly that window,
downloaded and read. Models and letters: samples of a point the model lacks become dead
letters; a new version of the model is built in the form editor (a bad minimum is named next
to its field while typing, then fixed) and published; the device moves to it; retrying the
device's letters stores them. Every page passes axe-core; screenshots in build/screenshots.
"""

from __future__ import annotations

import csv
import io
import time
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
from tests.integration.browser import CHROMIUM, CHROMIUM_ARGS, check_a11y, need_chromium
from tests.integration.servers import Server, group

from indunet import core

pytestmark = pytest.mark.integration
USCC = core.make_uscc("91350200MA3EXPL0")
ZONE = "Asia/Shanghai"
PRESS = {
    "@context": ["https://www.w3.org/2022/wot/td/v1.1"],
    "@type": "tm:ThingModel",
    "indunet:modelId": "acme:press",
    "title": "Press",
    "titles": {"zh": "液压机", "en": "Press"},
    "version": {"model": "1.0.0"},
    "properties": {
        "force": {"type": "number", "title": "Force", "titles": {"zh": "压力"}, "unit": "kN"}
    },
}


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    need_chromium()
    with group(tmp_path) as g:
        yield g.start("platform", "up")


def ok(resp: httpx.Response) -> Any:
    assert resp.status_code < 300, f"{resp.request.url}: {resp.status_code} {resp.text}"
    return resp.json() if resp.content else None


def api_of(server: Server) -> httpx.Client:
    password = server.admin_password
    assert password, server.output
    api = httpx.Client(base_url=server.url, timeout=10.0)
    token = ok(api.post("/api/v1/auth/token", json={"username": "admin", "password": password}))
    api.headers["Authorization"] = f"Bearer {token['token']}"
    return api


def seed(api: httpx.Client) -> int:
    """An enterprise with a prefix, an environment sensor with two hours of history, and a
    press on acme:press 1.0.0 (which has no stroke point yet)."""
    ent = ok(api.post("/api/v1/enterprises", json={"uscc": USCC, "name": "厦门示例机床有限公司"}))
    ok(api.post("/api/v1/prefixes", json={"prefix": "88.100.1", "enterprise_uscc": USCC}))
    env = {"id": "env-1", "name": "车间温湿度", "model": "indunet:env-sensor", "protocol": "http"}
    ok(api.post("/api/v1/devices", json=env | {"enterprise_id": ent["id"]}))
    now = int(time.time() * 1000)
    stamps = [now - 7_200_000 + i * 30_000 for i in range(240)]
    points = {
        "temperature": [20 + (i % 40) * 0.25 for i in range(240)],
        "humidity": [40 + (i % 20) for i in range(240)],
    }
    ok(api.post("/api/v1/telemetry", json={"device": "env-1", "ts": stamps, "points": points}))
    ok(api.post("/api/v1/models", json=PRESS))
    press = {"id": "press-1", "name": "1号液压机", "model": "acme:press@1.0.0", "protocol": "http"}
    ok(api.post("/api/v1/devices", json=press | {"enterprise_id": ent["id"]}))
    return now


def login(page: Any, server: Server, path: str) -> None:
    from playwright.sync_api import expect

    page.goto(server.url + path)
    page.fill("input[name=username]", "admin")
    page.fill("input[name=password]", server.admin_password or "")
    page.click("form.stack button[type=submit]")
    expect(page).to_have_url(server.url + path)


def test_explorer_two_points_custom_range_zoom_and_csv(server: Server, shots: Path) -> None:
    from playwright.sync_api import expect, sync_playwright

    now = seed(api_of(server))
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            context = browser.new_context(
                viewport={"width": 1280, "height": 1000}, locale="zh-CN", timezone_id=ZONE
            )
            page = context.new_page()
            page.set_default_timeout(15_000)
            login(page, server, "/platform/explore")
            page.fill("#device-q", "温湿度")
            page.click("#device-search button[type=submit]")
            page.click('#device-matches li[data-device="env-1"] a')
            expect(page.locator(".device-head")).to_contain_text("车间温湿度")
            for name in ("temperature", "humidity"):
                box = page.locator(f'fieldset.points input[value="{name}"]')
                if not box.is_checked():
                    box.check()

            # A custom range in the page's zone: the last 90 minutes, Beijing time.
            here = datetime.fromtimestamp(now / 1000, ZoneInfo(ZONE))
            start = (here - timedelta(minutes=90)).replace(second=0, microsecond=0)
            end = (here + timedelta(minutes=1)).replace(second=0, microsecond=0)
            # set as the form reads them (typing into datetime-local fields on a loaded host
            # once left the "from" field a day off: a flake of the typing, not of the page)
            for field, value in (("#range-from", start), ("#range-to", end)):
                page.eval_on_selector(
                    field,
                    """(el, v) => { el.value = v;
                        el.dispatchEvent(new Event('input', {bubbles: true}));
                        el.dispatchEvent(new Event('change', {bubbles: true})); }""",
                    value.strftime("%Y-%m-%dT%H:%M"),
                )
                expect(page.locator(field)).to_have_value(value.strftime("%Y-%m-%dT%H:%M"))
            page.click("#explore-show")
            chart = page.locator("#explore-chart")
            expect(chart).to_have_attribute(
                "data-drawn", f"{int(start.timestamp() * 1000)}-{int(end.timestamp() * 1000)}"
            )
            series = page.evaluate(
                """() => echarts.getInstanceByDom(document.getElementById('explore-chart'))
                    .getOption().series.map(s => [s.name, s.data.length, s.yAxisIndex])"""
            )
            assert [s[0] for s in series] == ["温度 (°C)", "相对湿度 (%RH)"]
            assert all(n >= 170 for _, n, _ in series), series  # 90 min at 30 s, raw
            assert sorted(s[2] for s in series) == [0, 1]  # one y axis per unit
            shown = page.locator("#shown-range").inner_text()
            assert shown.startswith(start.strftime("%Y-%m-%d %H:%M")), shown
            page.screenshot(path=str(shots / "explore-range.png"), full_page=True)
            check_a11y(page)

            # Zoom into the second half: the window is fetched again and the export follows.
            page.evaluate(
                """() => echarts.getInstanceByDom(document.getElementById('explore-chart'))
                    .dispatchAction({type: 'dataZoom', start: 50, end: 100})"""
            )
            expect(chart).not_to_have_attribute(
                "data-drawn", f"{int(start.timestamp() * 1000)}-{int(end.timestamp() * 1000)}"
            )
            drawn = chart.get_attribute("data-drawn") or ""
            lo, hi = (int(x) for x in drawn.split("-"))
            assert start.timestamp() * 1000 < lo < hi <= end.timestamp() * 1000 + 1000
            href = page.locator("#export-csv").get_attribute("href") or ""
            assert f"start={lo}" in href and f"end={hi}" in href
            page.screenshot(path=str(shots / "explore-zoomed.png"), full_page=True)

            with page.expect_download() as waiting:
                page.click("#export-csv")
            body = Path(waiting.value.path()).read_text(encoding="utf-8")
            rows = [r for r in csv.DictReader(io.StringIO(body)) if r["quality"] != "gap"]
            assert rows and {r["point"] for r in rows} == {"temperature", "humidity"}
            assert all(lo <= int(r["ts_ms"]) < hi for r in rows)
            expected = sum(1 for i in range(240) if lo <= now - 7_200_000 + i * 30_000 < hi)
            assert len(rows) == 2 * expected
        finally:
            browser.close()


def test_a_model_fixed_in_the_form_editor_then_dead_letters_retried(
    server: Server, shots: Path
) -> None:
    from playwright.sync_api import expect, sync_playwright

    api = api_of(server)
    now = seed(api)
    samples = [
        {"device": "press-1", "point": "stroke", "ts": now - i * 1000, "value": 100.0 + i}
        for i in range(3)
    ] + [{"device": "press-1", "point": "force", "ts": now, "value": "heavy"}]
    answer = ok(api.post("/api/v1/telemetry", json={"samples": samples}))
    assert answer["dead_lettered"] == 4
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            context = browser.new_context(
                viewport={"width": 1280, "height": 1000}, locale="zh-CN", timezone_id=ZONE
            )
            page = context.new_page()
            page.set_default_timeout(15_000)
            login(page, server, "/platform/ingest")
            letters = page.locator("#letters tbody tr[data-letter]")
            expect(letters).to_have_count(4)
            expect(page.locator("#letters")).to_contain_text("模型中没有该测点")
            expect(page.locator("#ingest-counters")).to_contain_text("进入死信")
            page.screenshot(path=str(shots / "ingest-before.png"), full_page=True)
            check_a11y(page)

            # The fix: a new version with a stroke point, built in the form editor.
            page.goto(server.url + "/platform/models/acme:press")
            page.click("#new-version-form")
            expect(page.locator("#form-valid")).to_have_count(0)  # nothing checked yet
            expect(page.locator("#f-version")).to_have_value("1.1.0")
            expect(page.locator("#f-p0-name")).to_have_value("force")
            page.click("#add-point")
            page.fill("#f-p1-name", "stroke")
            page.fill("#f-p1-title_zh", "行程")
            page.fill("#f-p1-unit", "mm")
            page.fill("#f-p1-minimum", "abc")
            expect(page.locator("#err-p1-minimum")).to_contain_text("须为数字")
            page.screenshot(path=str(shots / "model-form-problem.png"), full_page=True)
            page.fill("#f-p1-minimum", "0")
            page.fill("#f-p1-maximum", "500")
            expect(page.locator("#form-valid")).to_be_visible()
            expect(page.locator("#err-p1-minimum")).to_have_text("")
            # Its Modbus address: the register fields appear once the protocol is chosen.
            expect(page.locator("#f-p1-mb_address")).to_be_hidden()
            page.select_option("#f-p1-protocol", "modbus")
            page.select_option("#f-p1-mb_table", "input")
            page.fill("#f-p1-mb_address", "70000")
            expect(page.locator("#err-p1-mb_address")).to_contain_text("超出 65535")
            page.fill("#f-p1-mb_address", "4")
            page.select_option("#f-p1-mb_datatype", "float32")
            expect(page.locator("#form-valid")).to_be_visible()
            check_a11y(page)
            page.screenshot(path=str(shots / "model-form-valid.png"), full_page=True)
            page.click("#publish")
            expect(page.locator("#model-published")).to_contain_text("acme:press@1.1.0")
            expect(page.locator("#points")).to_contain_text("行程")
            expect(page.locator("#points")).to_contain_text("Modbus input@4 float32")
            page.screenshot(path=str(shots / "model-published.png"), full_page=True)

            ok(api.patch("/api/v1/devices/press-1", json={"model": "acme:press@1.1.0"}))
            page.goto(server.url + "/platform/ingest?device=press-1")
            page.click("#retry-device")
            expect(page.locator("#retry-report")).to_contain_text("3 条已入库并删除")
            expect(letters).to_have_count(1)
            expect(letters.first).to_have_attribute("data-reason", "wrong_type")
            page.screenshot(path=str(shots / "ingest-after-retry.png"), full_page=True)
            check_a11y(page)
        finally:
            browser.close()
    stored = ok(api.get("/api/v1/devices/press-1/points/stroke/samples", params={"start": 0}))
    assert [s["value"] for s in stored["samples"]] == [102.0, 101.0, 100.0]


def test_the_pages_pass_axe_in_both_languages_empty_and_full(server: Server, shots: Path) -> None:
    from playwright.sync_api import sync_playwright

    seed(api_of(server))
    paths = [
        "/platform/explore",
        "/platform/explore?device=env-1&range=1h",
        "/platform/explore?device=env-1&from=tomorrow",
        "/platform/ingest",
        "/platform/ingest?device=ghost&reason=bogus",
        "/platform/models",
        "/platform/models/form",
        "/platform/models/form?base=acme:press",
    ]
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            context = browser.new_context(
                viewport={"width": 1280, "height": 900}, locale="zh-CN", timezone_id=ZONE
            )
            page = context.new_page()
            page.set_default_timeout(15_000)
            login(page, server, "/platform/explore")
            for lang in ("zh-CN", "en"):
                page.goto(f"{server.url}/lang/{lang}?next=/platform/explore")
                for path in paths:
                    resp = page.goto(server.url + path)
                    assert resp is not None and resp.status < 500, path
                    page.wait_for_load_state("networkidle")
                    name = f"{lang}{path.replace('/', '-').replace('?', '_')}"[:100]
                    page.screenshot(path=str(shots / f"{name}.png"), full_page=True)
                    check_a11y(page)
        finally:
            browser.close()
