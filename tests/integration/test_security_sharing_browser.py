"""TAXII feeds in a real headless Chromium against a real ``indunet up`` process: a platform
admin adds a feed, opens it again to edit, pauses it with a longer interval (the password
left empty keeps the stored one), and sees it paused. axe-core on every page; screenshots."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.integration.browser import (
    CHROMIUM,
    CHROMIUM_ARGS,
    admin_page_zh,
    check_a11y,
    need_chromium,
)
from tests.integration.servers import Server, group

pytestmark = pytest.mark.integration


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    need_chromium()
    with group(tmp_path) as g:
        yield g.start("platform", "up")


def test_add_edit_and_pause_a_feed(server: Server, shots: Path) -> None:
    from playwright.sync_api import expect, sync_playwright

    password = server.admin_password
    assert password, server.output
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            page = admin_page_zh(browser, server.url + "/security/sharing", password)

            def shot(name: str) -> None:
                page.screenshot(path=str(shots / f"{name}.png"), full_page=True)

            page.click("#add-feed summary")
            page.fill("#feed-form input[name=name]", "国家工控安全情报")
            page.fill("#feed-form input[name=api_root]", "https://taxii.example.org/api1/")
            page.fill("#feed-form input[name=remote_collection]", "ics-advisories")
            page.fill("#feed-form input[name=username]", "plant-7")
            page.fill("#feed-form input[name=password]", "feed-secret-1")
            page.click("#feed-form button[type=submit]")
            expect(page.locator("#feed-made")).to_be_visible()
            row = page.locator("#feeds tbody tr").first
            expect(row).to_contain_text("国家工控安全情报")
            check_a11y(page)
            shot("01-feed-added")

            row.locator("a", has_text="编辑").click()
            expect(page.locator("#feed-form input[name=remote_collection]")).to_have_value(
                "ics-advisories"
            )
            expect(page.locator("#feed-form input[name=password]")).to_have_value("")
            page.fill("#feed-form input[name=interval_s]", "7200")
            page.uncheck("#feed-form input[name=enabled]")
            check_a11y(page)
            shot("02-feed-editing")
            page.click("#feed-form button[type=submit]")
            expect(page.locator("#feed-changed")).to_be_visible()
            row = page.locator("#feeds tbody tr").first
            expect(row.locator("[data-paused]")).to_have_text("已暂停")
            expect(row).to_contain_text("7200")
            check_a11y(page)
            shot("03-feed-paused")
        finally:
            browser.close()
