"""Enterprise self-registration in a real headless Chromium against a real ``indunet up``.

In Chinese, an enterprise fills in /register (reached from the login page) and is told its
application awaits review; its admin's login is held with that reason; the platform admin
finds it among the pending enterprises, sees its contact on the detail page and approves it;
the applicant then logs in. In English, a second applicant whose enterprise was rejected is
told the reviewer's reason at login. Every page is checked with axe-core and photographed.
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
USCC = core.make_uscc("91350200MA3APPLY")
OTHER_USCC = core.make_uscc("91110108MA0REJEC")
PASSWORD = "Spindle-Line-2026"
NAME = "厦门自助注册精密机床有限公司"


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    need_chromium()
    with group(tmp_path) as g:
        yield g.start("platform", "up")


def test_apply_review_and_log_in(server: Server, shots: Path) -> None:
    from playwright.sync_api import expect, sync_playwright

    admin_password = server.admin_password
    assert admin_password, server.output

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

            # The applicant finds the form from the login page and applies (zh-CN).
            them = context("zh-CN").new_page()  # type: ignore[attr-defined]
            them.set_default_timeout(15_000)
            them.goto(server.url + "/login")
            them.click("#apply-link")
            expect(them.locator("h1")).to_have_text("企业注册申请")
            check_a11y(them)
            them.fill("input[name=name]", NAME)
            them.fill("input[name=uscc]", USCC)
            them.fill("input[name=region]", "福建省厦门市")
            them.fill("input[name=contact]", "王工")
            them.fill("input[name=contact_phone]", "0592-5551234")
            them.fill("input[name=contact_email]", "wang@example.cn")
            them.fill("input[name=username]", "xm-admin")
            them.fill("input[name=password]", PASSWORD)
            them.fill("input[name=confirm]", PASSWORD)
            shot(them, "01-register-filled")
            them.click("#apply-form button[type=submit]")
            expect(them.locator("#apply-done")).to_have_text("您的申请正在等待平台管理员审核。")
            expect(them.locator("#review-state")).to_have_text("待审核")
            check_a11y(them)
            shot(them, "02-register-done")

            # Its admin cannot log in yet, and is told why.
            them.goto(server.url + "/login")
            them.fill("input[name=username]", "xm-admin")
            them.fill("input[name=password]", PASSWORD)
            them.click("form.stack button[type=submit]")
            expect(them.locator(".alert.error")).to_contain_text("正在等待平台管理员审核")
            shot(them, "03-login-pending")

            # The platform admin finds it among the pending enterprises and approves it.
            page = context("zh-CN").new_page()  # type: ignore[attr-defined]
            page.set_default_timeout(15_000)
            page.goto(server.url + "/ids/enterprises?state=pending")
            page.fill("input[name=username]", "admin")
            page.fill("input[name=password]", admin_password)
            page.click("form.stack button[type=submit]")
            page.click(f"a:text('{NAME}')")
            expect(page.locator("h1")).to_have_text(NAME)
            expect(page.locator("#contact-phone")).to_have_text("0592-5551234")
            expect(page.locator("#origin")).to_have_text("企业自主注册")
            check_a11y(page)
            shot(page, "04-enterprise-pending")
            page.click("button[value=approve]")
            expect(page.locator("#review-state")).to_have_text("已通过")
            shot(page, "05-approved")

            # Now the applicant logs in.
            them.fill("input[name=username]", "xm-admin")
            them.fill("input[name=password]", PASSWORD)
            them.click("form.stack button[type=submit]")
            expect(them.locator(".who .user")).to_contain_text("xm-admin")
            shot(them, "06-applicant-in")

            # A second applicant (over the API) is rejected with a reason ...
            applied = httpx.post(
                server.url + "/api/v1/registrations",
                json={
                    "name": "北京被驳回科技有限公司",
                    "uscc": OTHER_USCC,
                    "contact": "Li",
                    "contact_email": "li@example.cn",
                    "username": "bj-admin",
                    "password": PASSWORD,
                },
                timeout=10.0,
            )
            assert applied.status_code == 201, applied.text
            page.goto(server.url + f"/ids/enterprises/{applied.json()['enterprise']['id']}")
            page.fill("#review-reason-input", "营业执照副本模糊，请重新上传")
            page.click("button[value=reject]")
            expect(page.locator("#review-state")).to_have_text("已驳回")

            # ... and is told the reason at login, in English.
            en = context("en-US").new_page()  # type: ignore[attr-defined]
            en.set_default_timeout(15_000)
            en.goto(server.url + "/lang/en?next=/login")
            expect(en.locator("h1")).to_have_text("Log in to the console")
            en.fill("input[name=username]", "bj-admin")
            en.fill("input[name=password]", PASSWORD)
            en.click("form.stack button[type=submit]")
            expect(en.locator(".alert.error")).to_have_text(
                "Your enterprise's application was rejected: 营业执照副本模糊，请重新上传"
            )
            check_a11y(en)
            shot(en, "07-login-rejected-en")
        finally:
            browser.close()
