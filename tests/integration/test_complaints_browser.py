"""Complaints in a real headless Chromium against a real ``indunet up``.

In Chinese, a member of the public finds the complaint form from the login page without an
account, files a complaint about an identifier and is given a reference number; looking it up
with the reference and the phone shows it received. The platform admin sees the counts and
the list with an overdue complaint highlighted, opens the new one, starts handling it and
resolves it with a reply; the complainant's lookup then shows the reply. In English the
operator's list reads in English. Every page is checked with axe-core and photographed.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from tests.integration.browser import CHROMIUM, CHROMIUM_ARGS, check_a11y, need_chromium
from tests.integration.servers import Server, group

from indunet.core import Settings
from indunet.ids import complaints as cp
from indunet.web import open_database

pytestmark = pytest.mark.integration
TEXT = "扫描 88.100.1/PUMP-7 的标签后打开的页面是别家公司的产品。"


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    need_chromium()
    with group(tmp_path) as g:
        yield g.start("platform", "up")


def _late_complaint(server: Server) -> str:
    """A complaint filed 20 days ago, written into the server's database."""
    engine = open_database(Settings(data_dir=server.data_dir))
    try:
        with engine.begin() as conn:
            late = cp.file(
                conn,
                cp.ComplaintForm(
                    subject_kind="service",
                    subject="",
                    text="解析服务在工作日上午经常超时。",
                    contact="李四",
                    contact_email="li@example.cn",
                ),
                source="test",
                now=datetime.now(UTC) - timedelta(days=20),
            )
        return late.reference
    finally:
        engine.dispose()


def test_file_handle_and_look_up_a_complaint(server: Server, shots: Path) -> None:
    from playwright.sync_api import expect, sync_playwright

    admin_password = server.admin_password
    assert admin_password, server.output
    late_ref = _late_complaint(server)

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:

            def context(locale: str) -> object:
                return browser.new_context(
                    viewport={"width": 1280, "height": 900},
                    locale=locale,
                    timezone_id="Asia/Shanghai",
                )

            def shot(p: object, name: str) -> None:
                p.screenshot(path=str(shots / f"{name}.png"), full_page=True)  # type: ignore[attr-defined]

            # Someone without an account finds the form from the login page and files.
            them = context("zh-CN").new_page()  # type: ignore[attr-defined]
            them.set_default_timeout(15_000)
            them.goto(server.url + "/login")
            them.click("#complain-link")
            expect(them.locator("h1")).to_have_text("投诉")
            check_a11y(them)
            them.select_option("#complain-kind", "identifier")
            them.fill("input[name=subject]", "88.100.1/PUMP-7")
            them.fill("textarea[name=text]", TEXT)
            them.fill("input[name=contact]", "张三")
            them.fill("input[name=contact_phone]", "0592-5551234")
            shot(them, "01-complain-filled")
            them.click("#complain-form button[type=submit]")
            expect(them.locator("#complain-done")).to_have_text("我们已收到您的投诉。")
            reference = them.locator("#complaint-reference").inner_text().strip()
            assert re.fullmatch(r"TS-[2-9A-Z]{4}-[2-9A-Z]{4}", reference), reference
            check_a11y(them)
            shot(them, "02-complain-done")

            # The reference and the phone show its state.
            them.click("a[href^='/complain/status']")
            them.fill("input[name=contact]", "0592 5551234")
            them.click("#status-form button[type=submit]")
            expect(them.locator("#status-state")).to_have_text("已受理")
            check_a11y(them)
            shot(them, "03-status-received")

            # The platform admin sees the counts, the overdue one in red, and the new one.
            page = context("zh-CN").new_page()  # type: ignore[attr-defined]
            page.set_default_timeout(15_000)
            page.goto(server.url + "/ids/complaints")
            page.fill("input[name=username]", "admin")
            page.fill("input[name=password]", admin_password)
            page.click("form.stack button[type=submit]")
            expect(page.locator("#count-total")).to_have_text("2")
            expect(page.locator("#count-overdue")).to_have_text("1")
            late_row = page.locator("#complaint-table tr", has_text=late_ref)
            expect(late_row).to_have_class("overdue")
            expect(late_row.locator(".badge.overdue")).to_have_text("已逾期")
            bg = late_row.locator("td").first.evaluate("e => getComputedStyle(e).backgroundColor")
            assert bg not in ("rgba(0, 0, 0, 0)", "transparent", "rgb(255, 255, 255)"), bg
            check_a11y(page)
            shot(page, "04-operator-list")

            page.fill("#list-q", "PUMP-7")
            page.click("form.search button[type=submit]")
            expect(page.locator("#complaint-table tbody tr")).to_have_count(1)
            page.click(f"a:text('{reference}')")
            expect(page.locator("#complaint-text")).to_have_text(TEXT)
            check_a11y(page)
            page.click("#start-button")
            expect(page.locator("#complaint-state")).to_have_text("处理中")
            page.click("#resolve-button")  # without a reply: refused, nothing changes
            expect(page.locator(".alert.error")).to_be_visible()
            page.fill("#reply-input", "该标识的网址已更正为贵司产品页面。")
            page.click("#resolve-button")
            expect(page.locator("#complaint-state")).to_have_text("已办结")
            expect(page.locator("#complaint-reply")).to_have_text(
                "该标识的网址已更正为贵司产品页面。"
            )
            check_a11y(page)
            shot(page, "05-resolved")

            # The complainant's lookup now shows the reply.
            them.fill("input[name=contact]", "0592-5551234")
            them.click("#status-form button[type=submit]")
            expect(them.locator("#status-state")).to_have_text("已办结")
            expect(them.locator("#status-reply")).to_have_text("该标识的网址已更正为贵司产品页面。")
            shot(them, "06-status-resolved")

            # The operator's list in English.
            page.goto(server.url + "/lang/en?next=/ids/complaints")
            expect(page.locator("h1")).to_have_text("Complaints")
            expect(page.locator("#complaint-counts")).to_contain_text("Overdue")
            check_a11y(page)
            shot(page, "07-operator-list-en")
        finally:
            browser.close()
