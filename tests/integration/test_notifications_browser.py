"""Notifications in a real headless Chromium against a real ``indunet up`` process.

The platform admin adds a signed webhook channel (only that kind's fields are shown; the key
is never shown back), sends a test, subscribes to finished bulk imports, runs one through the
API and sees both deliveries in the log, filters and searches it, reads it in English, and
deletes the subscription after confirming. A receiver on loopback (allowed by
``INDUNET_NOTIFY_ALLOW``) checks every signature. Every page passes axe-core and is
photographed.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from tests.integration.browser import CHROMIUM, CHROMIUM_ARGS, check_a11y, need_chromium
from tests.integration.servers import Server, group
from tests.notify.conftest import Receiver, receiver  # noqa: F401 - the receiver fixture

from indunet import core
from indunet.notify.channels import webhook

pytestmark = pytest.mark.integration
USCC = core.make_uscc("91350200MA3NTFY0")
KEY = "browser-signing-key-0001"


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    need_chromium()
    env = {"INDUNET_NOTIFY_ALLOW": "127.0.0.0/8", "INDUNET_NOTIFY_WINDOW": "1"}
    with group(tmp_path) as g:
        yield g.start("platform", "up", env=env)


def test_channel_rule_and_delivery_log(server: Server, receiver: Receiver, shots: Path) -> None:  # noqa: F811
    from playwright.sync_api import expect, sync_playwright

    password = server.admin_password
    assert password, server.output
    api = httpx.Client(base_url=server.url, timeout=10.0)
    token = api.post("/api/v1/auth/token", json={"username": "admin", "password": password})
    api.headers["Authorization"] = f"Bearer {token.json()['token']}"
    made = api.post("/api/v1/enterprises", json={"uscc": USCC, "name": "厦门通知测试有限公司"})
    assert made.status_code == 201, made.text
    prefix = api.post("/api/v1/prefixes", json={"prefix": "88.100.61", "enterprise_uscc": USCC})
    assert prefix.status_code == 201, prefix.text

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            ctx = browser.new_context(
                viewport={"width": 1280, "height": 900}, locale="zh-CN", timezone_id="Asia/Shanghai"
            )
            page = ctx.new_page()
            page.set_default_timeout(15_000)
            page.on("dialog", lambda d: d.accept())

            def shot(name: str) -> None:
                page.screenshot(path=str(shots / f"{name}.png"), full_page=True)

            page.goto(server.url + "/platform/notifications")
            page.fill("input[name=username]", "admin")
            page.fill("input[name=password]", password)
            page.click("form.stack button[type=submit]")
            expect(page).to_have_url(server.url + "/platform/notifications")
            expect(page.locator("#no-channels")).to_be_visible()
            check_a11y(page)
            shot("01-no-channels")

            # A signed webhook: the form shows only that kind's fields.
            page.click("#add-channel summary")
            page.fill("#channel-form input[name=name]", "值班群 Webhook")
            page.select_option("#channel-kind", "webhook")
            expect(page.locator("fieldset[data-kind=email]")).to_be_hidden()
            hook = page.locator("fieldset[data-kind=webhook]")
            hook.locator("input[name=url]").fill(receiver.url("/indunet-hook"))
            hook.locator("input[name=secret]").fill(KEY)
            check_a11y(page)
            shot("02-channel-form")
            page.click("#channel-form button[type=submit]")
            expect(page.locator("#channel-made")).to_be_visible()
            expect(page.locator("#channels")).to_contain_text("值班群 Webhook")
            assert KEY not in page.content() and "indunet-hook" not in page.content()
            page.click("#channels button:text('发送测试')")
            expect(page.locator("#test-sent")).to_contain_text("值班群 Webhook")
            (hit,) = receiver.hits
            assert webhook.verify(
                KEY,
                hit.headers["x-indunet-timestamp"],
                hit.body,
                hit.headers["x-indunet-signature"],
            )
            check_a11y(page)
            shot("03-channel-tested")

            # A subscription to finished bulk imports, then one through the API.
            page.click("nav.subtabs a:text('订阅规则')")
            expect(page.locator("#no-rules")).to_be_visible()
            page.fill("#rule-form input[name=name]", "批量导入结果")
            page.uncheck("#rule-form input[value='alarm.raised']")
            page.check("#rule-form input[value='bulk.finished']")
            page.fill("#rule-form input[name=zone]", "Asia/Shanghai")
            check_a11y(page)
            page.click("#rule-form button[type=submit]")
            expect(page.locator("#rules")).to_contain_text("批量导入结果")
            expect(page.locator("#rules")).to_contain_text("批量导入完成")
            shot("04-rule")
            page.click("#rules a:text('编辑')")
            expect(page.locator("#rule-form input[name=name]")).to_have_value("批量导入结果")
            expect(page.locator("#rule-form input[value='bulk.finished']")).to_be_checked()
            check_a11y(page)
            shot("05-rule-edit")

            csv = "handle,URL\n88.100.61/notify-1,https://example.com/1\n"
            job = api.post("/api/v1/bulk", files={"file": ("pumps.csv", csv, "text/csv")})
            assert job.status_code == 202, job.text  # imported in the background, then told
            deadline = time.monotonic() + 20
            while len(receiver.hits) < 2 and time.monotonic() < deadline:
                time.sleep(0.2)
            assert len(receiver.hits) == 2, "the bulk.finished digest did not arrive"
            assert receiver.hits[1].json()["subject"] == "批量导入完成：pumps.csv"

            # The delivery log: both messages, filters and search.
            page.click("nav.subtabs a:text('发送记录')")
            expect(page.locator("#deliveries tbody tr")).to_have_count(2)
            expect(page.locator("#deliveries")).to_contain_text("批量导入完成：pumps.csv")
            check_a11y(page)
            shot("06-log")
            page.select_option("select[name=kind]", "bulk.finished")
            page.click("form.filters button[type=submit]")
            expect(page.locator("#deliveries tbody tr")).to_have_count(1)
            page.fill("#list-q", "没有这样的主题")
            page.press("#list-q", "Enter")
            expect(page.locator("#no-deliveries")).to_be_visible()
            shot("07-log-filtered")
            page.goto(server.url + "/lang/en?next=/platform/notifications/log")
            expect(page.locator("h1")).to_have_text("Notifications")
            expect(page.locator("#deliveries")).to_contain_text("Sent")
            check_a11y(page)
            shot("08-log-en")

            # Deleting the subscription asks first.
            page.goto(server.url + "/platform/notifications/rules")
            page.click("#rules button:text('Delete')")
            expect(page.locator("#no-rules")).to_be_visible()
            shot("09-rule-deleted")
        finally:
            browser.close()
