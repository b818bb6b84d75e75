"""Governance of a licensed node in a real headless Chromium against a real ``indunet up``.

An enterprise applies with its business licence (a PNG chosen in the form) and legal
representative; the operator sees the licence on the review page and approves. The enterprise
applies for a prefix, the operator approves, the enterprise takes its key by rotating it and
writes with it, applies for a renewal, the operator extends the term, then revokes the prefix
with a reason: its identifiers stop resolving. Pages are checked with axe-core and
photographed, in Chinese, and the list once in English.
"""

from __future__ import annotations

import base64
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from tests.core.test_documents import png
from tests.integration.browser import CHROMIUM, CHROMIUM_ARGS, check_a11y, need_chromium
from tests.integration.servers import Server, group

from indunet import core

pytestmark = pytest.mark.integration
USCC = core.make_uscc("91350200MA3GXRNK")
PASSWORD = "Spindle-Line-2026"
NAME = "厦门标识治理示范机床有限公司"
PREFIX = "88.100.7"
VALUE = {
    "values": [
        {"index": 1, "type": "URL", "data": {"format": "string", "value": "https://a.example/p"}}
    ]
}


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    need_chromium()
    with group(tmp_path) as g:
        yield g.start("platform", "up")


def _basic(user: str, secret: str) -> dict[str, str]:
    token = base64.b64encode(f"{user}:{secret}".encode()).decode()
    return {"Authorization": f"Basic {token}"}


def test_apply_review_renew_rotate_revoke(server: Server, shots: Path, tmp_path: Path) -> None:
    from playwright.sync_api import expect, sync_playwright

    admin_password = server.admin_password
    assert admin_password, server.output
    licence = tmp_path / "营业执照.png"
    licence.write_bytes(png(120, 80))

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:

            def page_in(locale: str) -> object:
                ctx = browser.new_context(
                    viewport={"width": 1280, "height": 900},
                    locale=locale,
                    timezone_id="Asia/Shanghai",
                )
                p = ctx.new_page()
                p.set_default_timeout(15_000)
                return p

            def shot(p: object, name: str) -> None:
                p.screenshot(path=str(shots / f"{name}.png"), full_page=True)  # type: ignore[attr-defined]

            def log_in(p: object, user: str, password: str, then: str) -> None:
                p.goto(server.url + then)  # type: ignore[attr-defined]
                p.fill("input[name=username]", user)  # type: ignore[attr-defined]
                p.fill("input[name=password]", password)  # type: ignore[attr-defined]
                p.click("form.stack button[type=submit]")  # type: ignore[attr-defined]

            # The enterprise applies with its licence and legal representative.
            them = page_in("zh-CN")
            them.goto(server.url + "/register")  # type: ignore[attr-defined]
            for name, value in (
                ("name", NAME),
                ("uscc", USCC),
                ("legal_representative", "陈法人"),
                ("contact", "王工"),
                ("contact_phone", "0592-5551234"),
                ("username", "gov-admin"),
                ("password", PASSWORD),
                ("confirm", PASSWORD),
            ):
                them.fill(f"input[name={name}]", value)  # type: ignore[attr-defined]
            them.set_input_files("input[name=licence]", str(licence))  # type: ignore[attr-defined]
            shot(them, "01-register-with-licence")
            them.click("#apply-form button[type=submit]")  # type: ignore[attr-defined]
            expect(them.locator("h1")).to_be_visible()  # type: ignore[attr-defined]

            # The operator sees the licence and the legal representative, and approves.
            ops = page_in("zh-CN")
            log_in(ops, "admin", admin_password, "/ids/enterprises?state=pending")
            ops.click(f"a:text('{NAME}')")  # type: ignore[attr-defined]
            expect(ops.locator("#licence-link")).to_be_visible()  # type: ignore[attr-defined]
            expect(ops.locator("#licence-image")).to_be_visible()  # type: ignore[attr-defined]
            loaded = ops.evaluate("document.getElementById('licence-image').naturalWidth")  # type: ignore[attr-defined]
            assert loaded == 120  # the image really is served to the reviewer
            expect(ops.locator("dl.facts")).to_contain_text("陈法人")  # type: ignore[attr-defined]
            check_a11y(ops)
            shot(ops, "02-review-with-licence")
            ops.click("button[value=approve]")  # type: ignore[attr-defined]
            expect(ops.locator("#review-state")).to_have_text("已通过")  # type: ignore[attr-defined]

            # The enterprise applies for a prefix.
            log_in(them, "gov-admin", PASSWORD, "/ids/prefix-applications")
            them.goto(server.url + "/ids/prefix-applications")  # type: ignore[attr-defined]
            them.fill("#apply-form input[name=prefix]", PREFIX)  # type: ignore[attr-defined]
            them.fill("#apply-form textarea[name=purpose]", "数控机床产品追溯")  # type: ignore[attr-defined]
            check_a11y(them)
            shot(them, "03-apply-for-prefix")
            them.click("#apply-button")  # type: ignore[attr-defined]
            expect(them.locator("#application-state")).to_have_text("待审核")  # type: ignore[attr-defined]
            shot(them, "04-applied")

            # The operator finds it among the pending ones and approves it.
            ops.goto(server.url + "/ids/prefix-applications?state=pending&q=100.7")  # type: ignore[attr-defined]
            expect(ops.locator("#application-table tbody tr")).to_have_count(1)  # type: ignore[attr-defined]
            shot(ops, "05-pending-list")
            ops.click(f"#application-table a:text('{PREFIX}')")  # type: ignore[attr-defined]
            check_a11y(ops)
            ops.click("#approve-button")  # type: ignore[attr-defined]
            expect(ops.locator("#application-state")).to_have_text("已通过")  # type: ignore[attr-defined]
            expect(ops.locator("#key-note")).to_be_visible()  # type: ignore[attr-defined]
            shot(ops, "06-approved")

            # The enterprise takes its key by rotating it, and writes with it.
            them.goto(server.url + f"/ids/prefixes/{PREFIX}")  # type: ignore[attr-defined]
            expect(them.locator("#expires")).to_contain_text("2027")  # type: ignore[attr-defined]
            them.click("#rotate button[type=submit]")  # type: ignore[attr-defined]
            secret = them.locator("#new-secret").inner_text().strip()  # type: ignore[attr-defined]
            shot(them, "07-key-shown-once")
            user = f"300%3A0.NA/{PREFIX}"
            put = httpx.put(
                server.url + f"/api/handles/{PREFIX}/cnc-1",
                json=VALUE,
                headers=_basic(user, secret),
                timeout=10.0,
            )
            assert put.status_code == 201, put.text

            # Renewal: applied from the prefix's page, approved by the operator.
            them.goto(server.url + f"/ids/prefixes/{PREFIX}")  # type: ignore[attr-defined]
            them.fill("#renew-purpose", "继续用于产品追溯")  # type: ignore[attr-defined]
            them.click("#renew-button")  # type: ignore[attr-defined]
            expect(them.locator("#application-state")).to_have_text("待审核")  # type: ignore[attr-defined]
            renewal_url = them.url  # type: ignore[attr-defined]
            ops.goto(renewal_url.split("?")[0])  # type: ignore[attr-defined]
            ops.click("#approve-button")  # type: ignore[attr-defined]
            expect(ops.locator("#term-end")).to_contain_text("2028")  # type: ignore[attr-defined]
            shot(ops, "08-renewed")

            # Revocation with a reason: the prefix stops resolving, its key stops working.
            ops.goto(server.url + f"/ids/prefixes/{PREFIX}")  # type: ignore[attr-defined]
            ops.fill("#revoke-reason-input", "企业申请注销")  # type: ignore[attr-defined]
            ops.fill("#revoke input[name=confirm]", PREFIX)  # type: ignore[attr-defined]
            ops.click("#revoke button.danger")  # type: ignore[attr-defined]
            expect(ops.locator("#prefix-state")).to_have_text("已撤销")  # type: ignore[attr-defined]
            shot(ops, "09-revoked")
            gone = httpx.get(server.url + f"/api/handles/{PREFIX}/cnc-1", timeout=10.0)
            assert gone.status_code == 404

            # The list in English.
            en = page_in("en-US")
            log_in(en, "admin", admin_password, "/lang/en?next=/ids/prefix-applications")
            en.goto(server.url + "/ids/prefix-applications")  # type: ignore[attr-defined]
            expect(en.locator("#application-list h1")).to_have_text("Prefix applications")  # type: ignore[attr-defined]
            expect(en.locator("#application-table tbody tr")).to_have_count(2)  # type: ignore[attr-defined]
            check_a11y(en)
            shot(en, "10-list-en")
        finally:
            browser.close()
