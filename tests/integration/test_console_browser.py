"""The console in a real headless Chromium against a real `indunet up` process.

A person's first session: log in with the printed admin password, add an enterprise, give it a
prefix, register an identifier, resolve it (HTMX swaps the answer in) and see the referral
path, look at node status, then switch to English. Each page is saved as a screenshot in
``$INDUNET_SCREENSHOTS`` (default: the test's temporary directory).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.integration.browser import CHROMIUM, CHROMIUM_ARGS, need_chromium
from tests.integration.servers import Server, group

from indunet import core

USCC = core.make_uscc("91350200MA3ABCDE")
HANDLE = "88.100.1/CNC-0001"

pytestmark = pytest.mark.integration


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    need_chromium()
    with group(tmp_path) as g:
        yield g.start("console", "up")


def test_first_session_in_a_real_browser(server: Server, shots: Path) -> None:
    from playwright.sync_api import expect, sync_playwright

    password = server.admin_password
    assert password, server.output
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 860}, locale="zh-CN")
            page.set_default_timeout(15_000)

            def shot(name: str) -> None:
                page.screenshot(path=str(shots / f"{name}.png"), full_page=True)

            # Pages need a login; the login page names what went wrong.
            page.goto(server.url + "/ids/register")
            expect(page).to_have_url(re.compile(r"/login\?next=/ids/register$"))
            page.fill("input[name=username]", "admin")
            page.fill("input[name=password]", "wrong-password")
            page.click("form.stack button[type=submit]")
            expect(page.locator(".alert.error")).to_contain_text("用户名或密码错误")
            shot("01-login-failed")
            page.fill("input[name=password]", password)
            page.click("form.stack button[type=submit]")
            expect(page).to_have_url(server.url + "/ids/register")
            expect(page.locator(".who .user")).to_contain_text("admin · 平台管理员")

            # An enterprise with real-name data, then a prefix for it (key shown once).
            page.click("nav.tabs >> text=企业")
            page.fill("input[name=uscc]", USCC)
            page.fill("input[name=name]", "厦门示例机床有限公司")
            page.fill("input[name=region]", "福建省厦门市")
            page.fill("input[name=industry_code]", "C342")
            page.click("button:has-text('添加')")
            expect(page.locator(".alert.ok")).to_contain_text("已添加企业 厦门示例机床有限公司")
            shot("02-enterprises")
            page.click("nav.tabs >> text=前缀")
            page.fill("input[name=prefix]", "88.100.1")
            page.click("button:has-text('分配')")
            expect(page.locator("#new-username")).to_have_text("300:0.NA/88.100.1")
            assert len(page.inner_text("#new-secret")) >= 24
            shot("03-prefix-allocated")

            # A data template version for the prefix.
            page.click("nav.tabs >> text=数据模板")
            page.fill("form.stack input[name=prefix]", "88.100.1")
            page.fill("input[name=name]", "cnc")
            page.fill("input[name=version]", "1.0")
            page.fill("input[name=industry_code]", "C342")
            first = page.locator("#items tbody.item").first  # an item: its row and its limits
            first.locator("input[name=item_name]").fill("serial")
            first.locator("input[name=item_index]").fill("2000")
            first.locator("select[name=item_required]").select_option("1")
            first.locator("input[name=item_pattern]").fill("[A-Z0-9-]+")
            page.click("button:has-text('添加一项')")  # HTMX appends a row
            expect(page.locator("#items tbody.item")).to_have_count(4)  # 3 blank + 1
            page.click("button:has-text('发布')")
            expect(page.locator(".alert.ok")).to_contain_text("已发布模板 cnc@1.0")
            shot("04-templates")

            # Register: a bad handle is refused, then the real one with the template's item.
            page.click("nav.tabs >> text=标识登记")
            page.fill("input[name=handle]", "88.999/CNC-0001")
            rows = page.locator("#rows tr")
            rows.nth(0).locator("input[name=value]").fill("https://example.com/cnc-0001")
            page.click("button:has-text('登记')")
            expect(page.locator(".alert.error")).to_contain_text("未写入任何数据")
            shot("05-register-error")
            page.fill("input[name=handle]", HANDLE)
            page.select_option("select[name=template]", "cnc@1.0")  # HTMX swaps in its rows
            expect(page.locator("#rows input[name=type][value=serial]")).to_have_count(1)
            page.locator("#rows tr").nth(0).locator("input[name=value]").fill(
                "https://example.com/cnc-0001"
            )
            page.locator("#rows tr").nth(1).locator("input[name=value]").fill("SN-2026-0001")
            page.click("button:has-text('＋ 添加一行')")
            expect(page.locator("#rows tr")).to_have_count(3)
            page.locator("#rows tr").nth(2).locator("input[name=index]").fill("2")
            page.locator("#rows tr").nth(2).locator("input[name=type]").fill("DESC")
            page.locator("#rows tr").nth(2).locator("input[name=value]").fill("五轴数控机床")
            page.click("button:has-text('登记')")
            expect(page.locator(".alert.ok")).to_contain_text(f"已登记标识 {HANDLE}")
            shot("06-registered")

            # Resolve through the recursive node; HTMX swaps the answer into the page.
            page.click("nav.tabs >> text=标识解析")
            page.fill("#handle", HANDLE)
            page.click("form.row-form button[type=submit]")
            answer = page.locator("#answer .answer")
            expect(answer.locator("h2")).to_have_text(HANDLE)
            expect(answer.locator("table.values")).to_contain_text("SN-2026-0001")
            expect(answer.locator("table.values")).to_contain_text("五轴数控机床")
            sites = answer.locator("ol.path .site")
            expect(sites).to_have_text(
                [f"{server.url}/nodes/root", f"{server.url}/nodes/88", f"{server.url}/nodes/88.100"]
            )
            expect(page).to_have_url(re.compile(r"/ids/resolve\?handle=88\.100\.1%2FCNC-0001$"))
            shot("07-resolved")
            page.click("form.row-form button[type=submit]")
            expect(answer.locator("ol.path .site")).to_have_text(["递归节点缓存"])

            # Node status with its charts.
            page.click("nav.tabs >> text=节点状态")
            expect(page.locator("#node-table tbody tr")).to_have_count(4)
            expect(page.locator("#chart-minutes canvas")).to_have_count(1)
            expect(page.locator("#chart-cache canvas")).to_have_count(1)
            page.wait_for_timeout(800)  # let the charts' entry animation finish
            shot("08-nodes")

            # A section still to come.
            page.click("nav.sections >> text=运行监测")
            expect(page.locator("h1")).to_have_text("运行监测")
            shot("09-coming")

            # English is one click away, and stays on the same page.
            page.goto(server.url + f"/ids/resolve?handle={HANDLE}")
            page.click("#lang-switch")
            expect(page.locator("html")).to_have_attribute("lang", "en")
            expect(page.locator("h1")).to_have_text("Resolve an identifier")
            expect(page.locator("#answer h3").nth(1)).to_have_text("Referral path")
            expect(page.locator("nav.sections")).to_contain_text("Identifiers")
            shot("10-english-resolve")
            page.click("nav.tabs >> text=Node status")
            expect(page.locator("h1")).to_have_text("Node status")
            page.wait_for_timeout(800)
            shot("11-english-nodes")
        finally:
            browser.close()
