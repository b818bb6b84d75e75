"""The device list fits a 1280 x 800 screen in a real headless Chromium against a real
`indunet up`: with the demo's kind of devices (long English names, long model references, an
identifier under each id, three latest values) the page does not scroll sideways and the
enterprise column stays readable, in zh-CN and in English. The acceptance audit of issue 9
found the enterprise name squeezed to one character a line and the tags column cut off.
Screenshots land in ``build/screenshots/<test>/``.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from tests.integration.browser import CHROMIUM, CHROMIUM_ARGS, need_chromium
from tests.integration.servers import Server, group

from indunet import core

pytestmark = pytest.mark.integration
USCC = core.make_uscc("91350200MA31F7T0")
DEVICES = {
    "compressor-0001": ("Screw air compressor 1", "indunet:air-compressor", "discharge_pressure"),
    "cnc-0001": ("CNC machining centre 1", "indunet:cnc-machine", "spindle_speed"),
    "excavator-0001": ("Hydraulic excavator 1", "indunet:excavator", "engine_rpm"),
}
POINTS = {
    "indunet:air-compressor": ("discharge_pressure", "motor_temp", "bearing_temp"),
    "indunet:cnc-machine": ("spindle_speed", "spindle_load", "feed_rate"),
    "indunet:excavator": ("engine_rpm", "engine_temp", "hydraulic_pressure"),
}


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    need_chromium()
    with group(tmp_path) as g:
        yield g.start("platform", "up")


def ok(resp: httpx.Response) -> Any:
    assert resp.status_code < 300, f"{resp.request.url}: {resp.status_code} {resp.text}"
    return resp.json() if resp.content else None


def seed(api: httpx.Client) -> None:
    ent = ok(api.post("/api/v1/enterprises", json={"uscc": USCC, "name": "厦门示例机床有限公司"}))
    ok(api.post("/api/v1/prefixes", json={"prefix": "88.100.1", "enterprise_uscc": USCC}))
    now = int(time.time() * 1000)
    for device_id, (name, model, _) in DEVICES.items():
        device = {"id": device_id, "name": name, "model": model, "protocol": "http"}
        device |= {"enterprise_id": ent["id"], "tags": ["line-1"]}
        ok(api.post("/api/v1/devices", json=device))
        points = {p: [12.345] for p in POINTS[model]}
        ok(api.post("/api/v1/telemetry", json={"device": device_id, "ts": [now], "points": points}))


def test_device_list_fits_a_1280_screen_in_both_languages(server: Server, shots: Path) -> None:
    from playwright.sync_api import expect, sync_playwright

    password = server.admin_password
    assert password, server.output
    api = httpx.Client(base_url=server.url, timeout=20.0)
    token = api.post("/api/v1/auth/token", json={"username": "admin", "password": password})
    api.headers["Authorization"] = f"Bearer {token.json()['token']}"
    seed(api)

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 800}, locale="zh-CN")
            page.set_default_timeout(15_000)
            page.goto(server.url + "/platform/devices")
            page.fill("input[name=username]", "admin")
            page.fill("input[name=password]", password)
            page.click("form.stack button[type=submit]")
            expect(page).to_have_url(server.url + "/platform/devices")
            for lang in ("zh-CN", "en"):
                if lang == "en":
                    page.click("#lang-switch")
                    expect(page.locator("html")).to_have_attribute("lang", "en")
                rows = page.locator("#devices tbody tr")
                expect(rows).to_have_count(len(DEVICES))
                expect(rows.first.locator(".key-values div")).to_have_count(3)
                fit = page.evaluate(
                    """() => {
                        const table = document.querySelector('#devices').getBoundingClientRect();
                        const card = document.querySelector('#device-table').getBoundingClientRect();
                        const cell = document.querySelector('#devices tbody tr td:nth-child(7)');
                        return {page: document.documentElement.scrollWidth, screen: innerWidth,
                                right: table.right, cardRight: card.right,
                                enterprise: cell.getBoundingClientRect().width};
                    }"""
                )
                page.screenshot(path=str(shots / f"devices-1280-{lang}.png"), full_page=True)
                assert fit["page"] <= fit["screen"], fit  # no sideways scrolling
                assert fit["right"] <= fit["cardRight"] + 1, fit  # the table stays in its card
                assert fit["enterprise"] >= 80, fit  # the enterprise name is readable
        finally:
            browser.close()
    api.close()
