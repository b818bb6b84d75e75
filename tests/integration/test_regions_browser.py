"""Regions by name in a real headless Chromium against a real `indunet up` process.

Two enterprises registered through the API in 320500 (苏州市) and 350200 (厦门市); the platform
admin makes a region display on the console, choosing 江苏省 苏州市 from the region chooser, and
the wall's title names the region, in the Chinese and in the English console; the enterprise
list names both regions. Screenshots land in build/screenshots/.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from tests.integration.browser import CHROMIUM, CHROMIUM_ARGS, check_a11y, need_chromium
from tests.integration.servers import Server, group

from indunet import core

pytestmark = pytest.mark.integration
ENTERPRISES = (
    (core.make_uscc("91320500MA1REGN0"), "苏州示例精密机械", "320500"),
    (core.make_uscc("91350200MA1REGN0"), "厦门示例机床", "350200"),
)


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    need_chromium()
    with group(tmp_path) as g:
        yield g.start("platform", "up")


def test_region_wall_and_enterprise_list_name_the_region(server: Server, shots: Path) -> None:
    from playwright.sync_api import expect, sync_playwright

    assert server.admin_password, server.output
    api = httpx.Client(base_url=server.url, timeout=10.0)
    login = {"username": "admin", "password": server.admin_password}
    api.headers["Authorization"] = (
        f"Bearer {api.post('/api/v1/auth/token', json=login).json()['token']}"
    )
    for uscc, name, region in ENTERPRISES:
        made = api.post("/api/v1/enterprises", json={"uscc": uscc, "name": name, "region": region})
        assert made.status_code == 201, made.text

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            for lang in ("zh-CN", "en"):
                context = browser.new_context(viewport={"width": 1440, "height": 900}, locale=lang)
                host = httpx.URL(server.url).host
                context.add_cookies([{"name": "lang", "value": lang, "domain": host, "path": "/"}])
                page = context.new_page()
                page.set_default_timeout(15_000)
                page.goto(server.url + "/login?next=/platform")
                page.fill("input[name=username]", "admin")
                page.fill("input[name=password]", server.admin_password)
                page.click("form.stack button[type=submit]")
                page.wait_for_url(server.url + "/platform")

                page.goto(server.url + "/ids/enterprises")
                table = page.locator("main table")
                expect(table).to_contain_text("苏州市 (320500)")
                expect(table).to_contain_text("厦门市 (350200)")
                page.screenshot(path=str(shots / f"01-enterprises-{lang}.png"), full_page=True)

                page.goto(server.url + "/platform/displays")
                page.fill("#new-display-form input[name=name]", "苏州大屏")
                page.select_option("#new-display-form select[name=scope]", "region")
                page.select_option(
                    "#new-display-form select[name=region]", label="江苏省 苏州市 (320500)"
                )
                page.click("#new-display-form button[type=submit]")
                wall_url = page.locator("#display-url").inner_text().strip()
                expect(page.locator("#displays")).to_contain_text("江苏省 苏州市 (320500)")
                page.screenshot(path=str(shots / f"02-display-made-{lang}.png"), full_page=True)
                check_a11y(page)

                wall = context.new_page()
                wall.set_viewport_size({"width": 1920, "height": 1080})
                wall.goto(wall_url)
                wall.wait_for_selector("body[data-loaded]")
                expect(wall.locator("#wall-scope")).to_have_text("江苏省 苏州市 (320500)")
                wall.wait_for_timeout(500)
                wall.screenshot(path=str(shots / f"03-wall-{lang}.png"))
                check_a11y(wall)
                context.close()
        finally:
            browser.close()
