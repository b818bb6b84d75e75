"""The API documentation works on an air-gapped network: in real Chromium with every request
to another host refused, /docs renders Swagger UI with the API's operations, and trying an
operation reaches the server."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from tests.integration.servers import Server, group
from tests.integration.test_console_browser import CHROMIUM, CHROMIUM_ARGS, need_chromium

pytestmark = pytest.mark.integration


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    need_chromium()
    with group(tmp_path) as g:
        yield g.start("docs", "up")


def test_swagger_ui_renders_with_no_request_leaving_the_host(server: Server, shots: Path) -> None:
    from playwright.sync_api import Route, sync_playwright

    own = urlsplit(server.url).netloc
    refused: list[str] = []

    def air_gap(route: Route) -> None:
        if urlsplit(route.request.url).netloc == own:
            route.continue_()
        else:  # a CDN, a font, anything outside: the plant network has no way out
            refused.append(route.request.url)
            route.abort()

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(locale="en")
            page.set_default_timeout(20_000)
            page.route("**/*", air_gap)
            page.goto(server.url + "/docs")
            # Tags start collapsed (the API has 160 operations: Swagger UI stopped drawing
            # them after the second tag when all were expanded at once); each opens on a click.
            page.wait_for_selector(".opblock-tag")
            tags = page.locator(".opblock-tag").all_inner_texts()
            assert {"identifiers", "devices", "security", "taxii"} <= set(tags), tags
            for tag in ("identifiers", "security"):
                page.locator(f".opblock-tag[data-tag='{tag}']").click()
            page.wait_for_function("document.querySelectorAll('.opblock').length >= 40")
            operations = page.locator(".opblock").count()
            assert operations >= 40, operations  # two tags opened: their operations drawn
            assert page.locator(".info .title").inner_text().startswith("Indunet")
            page.screenshot(path=str(shots / "api-docs.png"), full_page=False)
            # Try one operation from the page: Swagger UI's own request reaches this server.
            block = page.locator(".opblock-get", has_text="/api/v1/resolve/").first
            block.locator(".opblock-summary").click()
            page.locator(".try-out__btn").first.click()
            page.locator("input[placeholder='handle']").first.fill("88.100/none")
            page.locator(".execute").first.click()
            cell = ".live-responses-table tbody .response-col_status"
            page.wait_for_selector(cell)
            status = page.locator(cell).first.inner_text()
            assert status.strip()[:3] in ("200", "404"), status  # answered by this server
            page.screenshot(path=str(shots / "api-docs-tried.png"), full_page=False)
        finally:
            browser.close()
    assert refused == [], f"the docs page tried to reach other hosts: {refused}"
