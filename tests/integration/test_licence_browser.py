"""The operator's licence on the node's public page, in a real headless Chromium against a real
``indunet up`` configured by ``INDUNET_LICENCE_*`` variables: a visitor without an account
sees the number, holder, scope and validity on the resolve page (where the console opens), in
Chinese and in English, and reaches the complaint form from it. Checked with axe-core and
photographed."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.integration.browser import CHROMIUM, CHROMIUM_ARGS, check_a11y, need_chromium
from tests.integration.servers import Server, group

pytestmark = pytest.mark.integration
ENV = {
    "INDUNET_LICENCE_NUMBER": "工信部标识〔2026〕第 0012 号",
    "INDUNET_LICENCE_HOLDER": "厦门示例标识解析服务有限公司",
    "INDUNET_LICENCE_SCOPE": "工业互联网标识解析二级节点服务（机械装备行业）",
    "INDUNET_LICENCE_VALID_FROM": "2025-01-01",
    "INDUNET_LICENCE_VALID_UNTIL": "2035-12-31",
}


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    need_chromium()
    with group(tmp_path) as g:
        yield g.start("licensed", "up", env=ENV)


def test_the_public_page_shows_the_operators_licence(server: Server, shots: Path) -> None:
    from playwright.sync_api import expect, sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            ctx = browser.new_context(
                viewport={"width": 1280, "height": 900}, locale="zh-CN", timezone_id="UTC"
            )
            page = ctx.new_page()
            page.set_default_timeout(15_000)
            page.goto(server.url + "/")  # the console opens on the public resolve page
            expect(page.locator("#licence-title")).to_have_text("标识解析服务许可")
            expect(page.locator("#licence-number")).to_have_text(ENV["INDUNET_LICENCE_NUMBER"])
            expect(page.locator("#licence-holder")).to_have_text(ENV["INDUNET_LICENCE_HOLDER"])
            expect(page.locator("#licence-scope")).to_have_text(ENV["INDUNET_LICENCE_SCOPE"])
            expect(page.locator("#licence-validity")).to_contain_text("2025-01-01 – 2035-12-31")
            expect(page.locator("#licence-status")).to_have_text("有效")
            check_a11y(page)
            page.screenshot(path=str(shots / "01-public-page-zh.png"), full_page=True)
            page.goto(server.url + "/lang/en?next=/ids/resolve")
            expect(page.locator("#licence-title")).to_have_text(
                "Identifier resolution service licence"
            )
            expect(page.locator("#licence-status")).to_have_text("in force")
            check_a11y(page)
            page.screenshot(path=str(shots / "02-public-page-en.png"), full_page=True)
            page.click("#licence-complain")
            expect(page.locator("h1")).to_have_text("Complaints")
        finally:
            browser.close()
