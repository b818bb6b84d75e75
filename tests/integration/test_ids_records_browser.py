"""Identifier records in a real headless Chromium against a real `indunet up` process.

An enterprise administrator's afternoon, in Chinese: build the README's spindle template in the
form (an integer item with a range, an enum item with choices) and publish it; see a value out
of range refused in Chinese; register an identifier with it; find it in the prefix's list by
searching the suffix; open it (HS_ADMIN reads as rights); edit it pre-filled; see the change in
its history; delete it after a confirmation. Every page is checked with axe-core and saved as a
screenshot.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from tests.integration.browser import CHROMIUM, CHROMIUM_ARGS, check_a11y, need_chromium
from tests.integration.servers import Server, group

from indunet import core

USCC = core.make_uscc("91350200MA3ABCDE")
HANDLE = "88.100.1/SP-0009"

pytestmark = pytest.mark.integration


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    need_chromium()
    with group(tmp_path) as g:
        yield g.start("console", "up")


def _prefix_for_an_enterprise(server: Server, password: str) -> None:
    with httpx.Client(base_url=server.url, timeout=15) as api:
        token = api.post("/api/v1/auth/token", json={"username": "admin", "password": password})
        headers = {"Authorization": f"Bearer {token.json()['token']}"}
        ent = {"uscc": USCC, "name": "厦门示例机床有限公司"}
        assert api.post("/api/v1/enterprises", json=ent, headers=headers).status_code == 201
        prefix = {"prefix": "88.100.1", "enterprise_uscc": USCC}
        assert api.post("/api/v1/prefixes", json=prefix, headers=headers).status_code == 201


def test_template_identifier_browse_edit_history_delete(server: Server, shots: Path) -> None:
    from playwright.sync_api import expect, sync_playwright

    password = server.admin_password
    assert password, server.output
    _prefix_for_an_enterprise(server, password)
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            context = browser.new_context(
                viewport={"width": 1280, "height": 860},
                locale="zh-CN",
                timezone_id="Asia/Shanghai",
            )
            page = context.new_page()
            page.set_default_timeout(15_000)

            def shot(name: str) -> None:
                check_a11y(page)
                page.screenshot(path=str(shots / f"{name}.png"), full_page=True)

            page.goto(server.url + "/login?next=/ids/templates")
            page.fill("input[name=username]", "admin")
            page.fill("input[name=password]", password)
            page.click("form.stack button[type=submit]")
            expect(page).to_have_url(server.url + "/ids/templates")

            # The README's spindle template, built in the form.
            page.goto(server.url + "/ids/templates?prefix=88.100.1")
            form = page.locator("form[method=post][action='/ids/templates']")
            form.locator("input[name=prefix]").fill("88.100.1")
            form.locator("input[name=name]").fill("spindle")
            form.locator("input[name=version]").fill("1.0")
            form.locator("input[name=industry_code]").fill("C3484")
            rpm, bearing = page.locator("tbody.item").nth(0), page.locator("tbody.item").nth(1)
            rpm.locator("input[name=item_name]").fill("max_rpm")
            rpm.locator("input[name=item_title]").fill("最高转速")
            rpm.locator("select[name=item_type]").select_option("integer")
            rpm.locator("input[name=item_index]").fill("2101")
            rpm.locator("select[name=item_required]").select_option("1")
            rpm.locator("input[name=item_minimum]").fill("1000")
            rpm.locator("input[name=item_maximum]").fill("60000")
            bearing.locator("input[name=item_name]").fill("bearing")
            bearing.locator("input[name=item_title]").fill("轴承")
            bearing.locator("select[name=item_type]").select_option("enum")
            bearing.locator("input[name=item_index]").fill("2102")
            bearing.locator("textarea[name=item_choices]").fill("ceramic\nsteel")
            shot("01-template-form")
            form.locator("button[type=submit]").click()
            expect(page.locator(".alert.ok")).to_contain_text("已发布模板 spindle@1.0")
            expect(page.locator("table.grid").first).to_contain_text("ceramic / steel")
            shot("02-template-published")

            # Registering with it: a value out of range is refused in Chinese.
            page.goto(server.url + "/ids/register")
            page.fill("input[name=handle]", HANDLE)
            page.select_option("select[name=template]", "spindle@1.0")
            expect(page.locator("input[name=type]").nth(1)).to_have_value("max_rpm")
            values = page.locator("input[name=value]")
            values.nth(0).fill("https://example.com/spindles/9")
            values.nth(1).fill("90000")
            expect(values.nth(1)).to_have_attribute("placeholder", "必填 · 最高转速 · 1000–60000")
            page.select_option("select[name=value]", "steel")  # the enum's choices, to pick
            page.click("#register-form button[type=submit]")
            expect(page.locator(".alert.error")).to_contain_text(
                "字段「最高转速」的值 90000 大于最大值 60000"
            )
            shot("03-register-out-of-range")
            page.locator("input[name=value]").nth(1).fill("24000")
            page.click("#register-form button[type=submit]")
            expect(page.locator(".alert.ok")).to_contain_text(f"已登记标识 {HANDLE}")

            # Browsing the prefix, searching the suffix, opening the identifier.
            page.click("nav.tabs >> text=标识管理")
            expect(page).to_have_url(server.url + "/ids/handles?prefix=88.100.1")
            page.fill("input[name=q]", "sp-00")
            page.click("form.search button[type=submit]")
            expect(page.locator("#handle-list table")).to_contain_text(HANDLE)
            expect(page.locator("#pager-count")).to_contain_text("共 1 条")
            shot("04-handles-search")
            page.click(f"a:has-text('{HANDLE}')")
            expect(page.locator("h1")).to_have_text(HANDLE)
            expect(page.locator("table.values")).to_contain_text(
                "0:0.NA/88.100.1 可：添加标识、删除标识、修改值"
            )
            expect(page.locator("table.history")).to_contain_text("创建")
            shot("05-handle-record")

            # Editing it pre-filled; the change lands in the history, in Beijing time.
            page.click("a.button:has-text('修改')")
            rows = page.locator("#rows input[name=value]")
            expect(rows.nth(0)).to_have_value("https://example.com/spindles/9")
            expect(page.locator("#rows input[name=value][value='24000']")).to_have_count(1)
            shot("06-handle-edit")
            page.locator("#rows input[name=value][value='24000']").fill("30000")
            page.click("form[action='/ids/handles/edit'] button[type=submit]")
            expect(page.locator(".alert.ok")).to_contain_text(f"已保存标识 {HANDLE}")
            history = page.locator("table.history > tbody > tr")
            expect(history).to_have_count(2)
            expect(history.nth(0)).to_contain_text("修改")
            history.nth(0).locator("summary").click()
            expect(history.nth(0)).to_contain_text("24000")  # the value before
            expect(page.locator("header")).to_contain_text("Asia/Shanghai")
            shot("07-handle-history")

            # Deleting asks first; the list then says it is gone.
            page.click("a.button:has-text('删除')")
            expect(page.locator(".alert.warn")).to_contain_text("不能撤销")
            shot("08-handle-delete-confirm")
            page.click(f"button:has-text('确认删除 {HANDLE}')")
            expect(page.locator(".alert.ok")).to_contain_text(f"已删除标识 {HANDLE}")
            expect(page.locator("#handle-list")).not_to_contain_text(HANDLE)
            shot("09-handles-after-delete")

            # The same pages in English.
            page.click("#lang-switch")
            expect(page.locator("h1")).to_have_text("Identifiers")
            page.goto(server.url + f"/ids/handles/record?handle={HANDLE}")
            expect(page.locator("table.history")).to_contain_text("Deleted")
            shot("10-history-en")
        finally:
            browser.close()
