"""The top-level node's Secondaries tab in a real headless Chromium, against a real top-level
node and its secondary (two ``indunet node`` processes; the secondary reports 20 completed
days and pushes its registry). In Chinese the platform admin sees the secondary with the day
it reported through, the chart of 20 days drawn, the report rows paged and searched on the
server, the enterprises and the allocations; in English the headings read in English. Every
page is checked with axe-core and photographed, and so is the secondary's node status page,
which says where it reports and the last day its parent holds.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from tests.integration.browser import CHROMIUM, CHROMIUM_ARGS, check_a11y, need_chromium
from tests.integration.servers import group
from tests.integration.test_children_processes import Pair, start_pair

from indunet.ids import children

pytestmark = pytest.mark.integration
DAYS = tuple(range(1, 21))


@pytest.fixture
def pair(tmp_path: Path) -> Iterator[Pair]:
    need_chromium()
    with group(tmp_path) as g:
        yield start_pair(g, DAYS)


def _reported(pair: Pair) -> int:
    resp = httpx.get(pair.top.url + "/api/v1/children/reports", headers=pair.admin, timeout=10)
    return int(resp.headers.get("X-Total-Count", "0"))


def test_the_top_level_shows_its_secondaries_reports(pair: Pair, shots: Path) -> None:
    from playwright.sync_api import expect, sync_playwright

    deadline = time.monotonic() + 30
    while _reported(pair) < len(DAYS):
        assert time.monotonic() < deadline, pair.secondary.output
        time.sleep(0.2)
    password = pair.top.admin_password
    assert password, pair.top.output
    secondary_password = pair.secondary.admin_password
    assert secondary_password, pair.secondary.output
    last = (children.report_today() - timedelta(days=1)).isoformat()

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            ctx = browser.new_context(
                viewport={"width": 1280, "height": 900}, locale="zh-CN", timezone_id="Asia/Shanghai"
            )
            page = ctx.new_page()
            page.set_default_timeout(15_000)
            page.goto(pair.top.url + "/ids/children")
            page.fill("input[name=username]", "admin")
            page.fill("input[name=password]", password)
            page.click("form.stack button[type=submit]")
            expect(page.locator("h1")).to_have_text("下级节点报送")
            row = page.locator("#children-table tbody tr")
            expect(row).to_have_count(1)
            expect(row.locator("td").nth(1)).to_have_text(last)
            expect(page.locator("#chart-days canvas")).to_have_count(1)
            expect(page.locator("#total-registrations")).to_have_text(str(sum(DAYS)))
            expect(page.locator("#pager-count")).to_contain_text("20")
            check_a11y(page)
            page.screenshot(path=str(shots / "01-reports.png"), full_page=True)

            page.fill("#list-q", "88.100.1")
            page.press("#list-q", "Enter")
            expect(page.locator("#children-rows tbody tr")).to_have_count(20)
            page.fill("#list-q", "99.9")
            page.press("#list-q", "Enter")
            expect(page.locator("#children-empty")).to_be_visible()

            page.goto(pair.top.url + "/ids/children?view=enterprises")
            expect(page.locator("#children-rows tbody tr")).to_have_count(1)
            expect(page.locator("#children-rows")).to_contain_text("厦门示例机床有限公司")
            check_a11y(page)
            page.screenshot(path=str(shots / "02-enterprises.png"), full_page=True)

            page.goto(pair.top.url + "/ids/children?view=allocations")
            expect(page.locator("#children-rows")).to_contain_text("88.100.1")
            check_a11y(page)
            page.screenshot(path=str(shots / "03-allocations.png"), full_page=True)

            page.goto(pair.top.url + "/lang/en?next=/ids/children")
            page.goto(pair.top.url + "/ids/children")
            expect(page.locator("h1")).to_have_text("Secondary nodes' reports")
            check_a11y(page)
            page.screenshot(path=str(shots / "04-reports-en.png"), full_page=True)

            # The secondary's own status page says where it reports and how far the parent is.
            mine = browser.new_context(
                viewport={"width": 1280, "height": 900}, locale="zh-CN", timezone_id="Asia/Shanghai"
            ).new_page()
            mine.set_default_timeout(15_000)
            mine.goto(pair.secondary.url + "/ids/nodes")
            mine.fill("input[name=username]", "admin")
            mine.fill("input[name=password]", secondary_password)
            mine.click("form.stack button[type=submit]")
            expect(mine.locator("#parent-link")).to_contain_text(pair.top.url)
            expect(mine.locator("#parent-through")).to_have_text(last)
            check_a11y(mine)
            mine.screenshot(path=str(shots / "05-secondary-link.png"), full_page=True)
        finally:
            browser.close()
