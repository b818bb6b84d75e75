"""The console's shared header and tables fit a 1280 px laptop screen in a real headless
Chromium against a real `indunet up`, in zh-CN and English, logged in as the platform admin
(who sees every section). The acceptance audit of issue 9 found "Administration" dropped to a
second header line in English, the alarm list's 确认 button on two lines and the delivery
log's 尝试/错误 headers one character a line. Screenshots land in
``build/screenshots/<test>/``.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.integration.browser import CHROMIUM, CHROMIUM_ARGS, need_chromium
from tests.integration.servers import Server, group

pytestmark = pytest.mark.integration
PAGES = ("/", "/admin/audit", "/platform/alarms", "/platform/notifications/log", "/ids/prefixes")


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    need_chromium()
    with group(tmp_path) as g:
        yield g.start("platform", "up")


def test_the_header_keeps_one_line_at_1280_in_both_languages(server: Server, shots: Path) -> None:
    from playwright.sync_api import sync_playwright

    password = server.admin_password
    assert password, server.output
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(
                viewport={"width": 1280, "height": 800}, locale="zh-CN", timezone_id="Asia/Shanghai"
            )
            page.set_default_timeout(15_000)
            page.goto(server.url + "/login")
            page.fill("input[name=username]", "admin")
            page.fill("input[name=password]", password)
            page.click("form.stack button[type=submit]")
            page.wait_for_url(server.url + "/**")
            for lang in ("zh-CN", "en"):
                page.goto(server.url + f"/lang/{lang}?next=/")
                for path in PAGES:
                    page.goto(server.url + path)
                    tops = page.eval_on_selector_all(
                        "header.top .sections a, header.top .who > *",
                        "els => els.map(e => [e.textContent.trim(), e.getBoundingClientRect().top,"
                        " e.getBoundingClientRect().height])",
                    )
                    name = path.strip("/").replace("/", "-") or "home"
                    page.screenshot(path=str(shots / f"{lang}-{name}.png"))
                    assert len(tops) >= 6, tops  # every section of a platform admin
                    first = tops[0][1]
                    for text, top, height in tops:
                        assert abs(top + height / 2 - (first + tops[0][2] / 2)) < 12, (
                            f"{lang} {path}: {text!r} is not on the header's line: {tops}"
                        )
                    header = page.eval_on_selector("header.top", "e => e.offsetHeight")
                    assert header <= 64, f"{lang} {path}: header {header}px tall"
        finally:
            browser.close()
