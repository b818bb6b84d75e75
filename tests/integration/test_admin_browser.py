"""Users and access in a real headless Chromium against a real ``indunet up`` process.

The platform admin invites an enterprise user (a one-time temporary password shown once);
the user logs in with it and must set their own password first (a weak one is refused in
Chinese); the admin disables the user, whose open page drops back to the login at once; the
audit log filtered by action shows the change; the admin creates an API token, uses it, and
revokes it. Every page is checked with axe-core and photographed.
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
USCC = core.make_uscc("91350200MA3ADMXN")
NEW_USER = "li.lei"
NEW_PASSWORD = "Spindle-Line-2026"


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    need_chromium()
    with group(tmp_path) as g:
        yield g.start("platform", "up")


def test_invite_first_login_disable_audit_and_tokens(server: Server, shots: Path) -> None:
    from playwright.sync_api import expect, sync_playwright

    password = server.admin_password
    assert password, server.output
    api = httpx.Client(base_url=server.url, timeout=10.0)
    token = api.post("/api/v1/auth/token", json={"username": "admin", "password": password})
    api.headers["Authorization"] = f"Bearer {token.json()['token']}"
    made = api.post("/api/v1/enterprises", json={"uscc": USCC, "name": "厦门示例机床有限公司"})
    assert made.status_code == 201, made.text

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            admin_ctx = browser.new_context(
                viewport={"width": 1280, "height": 900}, locale="zh-CN", timezone_id="Asia/Shanghai"
            )
            page = admin_ctx.new_page()
            page.set_default_timeout(15_000)

            def shot(p: object, name: str) -> None:
                p.screenshot(path=str(shots / f"{name}.png"), full_page=True)  # type: ignore[attr-defined]

            # The admin logs in and invites an enterprise user.
            page.goto(server.url + "/admin/users")
            page.fill("input[name=username]", "admin")
            page.fill("input[name=password]", password)
            page.click("form.stack button[type=submit]")
            expect(page).to_have_url(server.url + "/admin/users")
            expect(page.locator("h1")).to_have_text("用户")
            check_a11y(page)
            page.fill("#invite-username", NEW_USER)
            page.select_option("#invite-role", "enterprise_user")
            page.select_option("#invite-enterprise", label="厦门示例机床有限公司")
            page.click("#invite button[type=submit]")
            expect(page.locator("#invited")).to_contain_text(NEW_USER)
            temporary = page.locator("#temporary-password").inner_text().strip()
            assert len(temporary) >= 16
            expect(page.locator("#user-table")).to_contain_text("待设置密码")
            check_a11y(page)
            shot(page, "01-invited")

            # The new user logs in with it and must choose a password first.
            user_ctx = browser.new_context(
                viewport={"width": 1280, "height": 900}, locale="zh-CN", timezone_id="Asia/Shanghai"
            )
            them = user_ctx.new_page()
            them.set_default_timeout(15_000)
            them.goto(server.url + "/admin/account")
            them.fill("input[name=username]", NEW_USER)
            them.fill("input[name=password]", temporary)
            them.click("form.stack button[type=submit]")
            expect(them.locator("h1")).to_have_text("设置新密码")
            check_a11y(them)
            them.fill("#first-password", "abcdefghij")
            them.fill("#first-confirm", "abcdefghij")
            them.click("form.stack button[type=submit]")
            expect(them.locator(".alert.error")).to_contain_text("两类字符")
            shot(them, "02-first-password-refused")
            them.fill("#first-password", NEW_PASSWORD)
            them.fill("#first-confirm", NEW_PASSWORD)
            them.click("form.stack button[type=submit]")
            expect(them).to_have_url(server.url + "/admin/account")
            expect(them.locator(".who .user")).to_contain_text(NEW_USER)
            check_a11y(them)
            shot(them, "03-their-account")

            # The admin disables them: their open page answers with the login at once.
            page.goto(server.url + f"/admin/users?q={NEW_USER}")
            page.click(f"#user-table a:text('{NEW_USER}')")
            expect(page.locator("h1")).to_contain_text(NEW_USER)
            check_a11y(page)
            page.click("#disable-user")
            expect(page.locator("#user-status")).to_have_text("已停用")
            shot(page, "04-disabled")
            them.goto(server.url + "/admin/account")
            expect(them).to_have_url(server.url + "/login?next=/admin/account")
            them.fill("input[name=username]", NEW_USER)
            them.fill("input[name=password]", NEW_PASSWORD)
            them.click("form.stack button[type=submit]")
            expect(them.locator(".alert.error")).to_contain_text("已被停用")
            shot(them, "05-disabled-login")

            # The audit log, filtered by action, shows who disabled whom.
            page.goto(server.url + "/admin/audit")
            page.fill("#f-action", "user.disable")
            page.click("#audit-filters button[type=submit]")
            rows = page.locator("#audit-table tbody tr")
            expect(rows).to_have_count(1)
            expect(rows.first).to_contain_text(f"user:{NEW_USER}")
            expect(rows.first).to_contain_text("user:admin")
            check_a11y(page)
            shot(page, "06-audit-filtered")
            with page.expect_download() as download:
                page.click("#audit-export")
            exported = Path(download.value.path()).read_text(encoding="utf-8")
            assert exported.startswith("id,at,actor,action,target,detail")
            assert f"user:{NEW_USER}" in exported and "+08:00" in exported

            # An API token of my own: made, shown once, used, revoked.
            page.goto(server.url + "/admin/account")
            check_a11y(page)
            page.fill("#token-name", "巡检脚本")
            page.fill("#token-days", "30")
            page.click("#tokens form.row-form button[type=submit]")
            secret = page.locator("#new-token-secret").inner_text().strip()
            expect(page.locator("#token-table")).to_contain_text("巡检脚本")
            shot(page, "07-token-created")
            bearer = {"Authorization": f"Bearer {secret}"}
            assert httpx.get(server.url + "/api/v1/auth/tokens", headers=bearer).status_code == 200
            page.goto(server.url + "/admin/account")
            page.click("#token-table button[aria-label='撤销令牌 巡检脚本']")
            expect(page.locator("#token-table")).not_to_contain_text("巡检脚本")
            assert httpx.get(server.url + "/api/v1/auth/tokens", headers=bearer).status_code == 401
            page.goto(server.url + "/lang/en?next=/admin/audit")
            expect(page.locator("h1")).to_have_text("Audit log")
            check_a11y(page)
            shot(page, "08-audit-en")
        finally:
            browser.close()
