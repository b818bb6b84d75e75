"""Every console page, walked in a real Chromium in both languages: axe-core finds no WCAG 2.x
A/AA violation, no catalogue key shows through untranslated, and each page is saved as a
screenshot (``build/screenshots/``).

The pages are found from the application's routes, like the isolation walk: every console GET
route without a path parameter, so a new page is checked without anyone adding it here. Pages
that need an object (a device, an alarm) are checked by the browser test of their task.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.routing import APIRoute, iter_route_contexts
from starlette.routing import Mount
from tests.integration.browser import CHROMIUM, CHROMIUM_ARGS, check_a11y, need_chromium
from tests.integration.servers import Server, group

from indunet.web import AppState, create_app

pytestmark = pytest.mark.integration
# Not pages: redirects, downloads, HTMX fragments and the API's own documentation.
NOT_PAGES = re.compile(r"^/(api|docs|openapi|metrics|favicon|lang/|logout|nodes/)|\.(csv|json)$")
# A catalogue key that reached the page untranslated looks like "section.word_word".
RAW_KEY = re.compile(r"\b[a-z]+(?:\.[a-z_]+)+\b")
KEY_PREFIXES = ("nav.", "device.", "alarm.", "list.", "zone.", "page.", "ids.", "platform.")


def console_pages(state: AppState) -> list[str]:
    """GET routes of the console with no path parameter."""
    app = create_app(state)
    paths = set()
    for rc in iter_route_contexts(app.routes):
        route = rc.original_route
        if (
            isinstance(route, Mount)
            or isinstance(rc.route, Mount)
            or "GET" not in (rc.methods or ())
        ):
            continue
        if isinstance(route, APIRoute) and route.include_in_schema:
            continue
        path = str(rc.path)
        if "{" in path or NOT_PAGES.search(path):
            continue
        paths.add(path)
    return sorted(paths)


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    need_chromium()
    with group(tmp_path) as g:
        yield g.start("a11y", "up")


def test_every_console_page_is_accessible_in_both_languages(
    server: Server, state: AppState, shots: Path
) -> None:
    from playwright.sync_api import sync_playwright

    pages = console_pages(state)
    assert "/platform/devices" in pages and "/ids/resolve" in pages, pages
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 860}, locale="zh-CN")
            page.set_default_timeout(15_000)
            page.goto(server.url + "/login")
            check_a11y(page)
            page.fill("input[name=username]", "admin")
            page.fill("input[name=password]", server.admin_password or "")
            page.click("form.stack button[type=submit]")
            page.wait_for_url(re.compile(r"/ids/resolve$"))
            for lang in ("zh-CN", "en"):
                page.goto(f"{server.url}/lang/{lang}?next=/ids/resolve")
                for path in pages:
                    head = page.request.get(server.url + path)
                    kind = head.headers.get("content-type", "")
                    if head.status < 500 and not kind.startswith("text/html"):
                        continue  # a download or data for a page (CSV, JSON), not a page
                    assert head.status < 500, (path, head.status)
                    resp = page.goto(server.url + path)
                    assert resp is not None and resp.status < 500, (path, resp and resp.status)
                    if not resp.text().lstrip().lower().startswith("<!doctype html"):
                        continue  # an HTMX fragment, checked inside its page
                    page.wait_for_load_state("networkidle")
                    name = f"{lang}{path.replace('/', '-') or '-home'}"
                    page.screenshot(path=str(shots / f"{name}.png"), full_page=True)
                    check_a11y(page)
                    text = page.locator("body").inner_text()
                    raw = [k for k in RAW_KEY.findall(text) if k.startswith(KEY_PREFIXES)]
                    assert raw == [], f"{path} ({lang}) shows catalogue keys {raw[:5]}"
        finally:
            browser.close()
