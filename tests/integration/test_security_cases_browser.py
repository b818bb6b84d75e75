"""Alerts and cases in a real headless Chromium against a real ``indunet up`` process.

An alert is raised into the running server's database through the alert store (as the
detection engine would); the platform admin finds it, promotes it into a case, assigns the
case, adds a task and a note, attaches an evidence file (its SHA-256 shown), resolves the case
with a disposition, and reads the history. Every page passes axe-core and is photographed.
"""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa
from tests.integration.browser import CHROMIUM, CHROMIUM_ARGS, check_a11y, need_chromium
from tests.integration.servers import Server, group

from indunet import core
from indunet.security import Alert, SecurityEvent
from indunet.security.cases import AlertStore
from indunet.web.console.i18n import LANG_COOKIE

pytestmark = pytest.mark.integration
USCC = core.make_uscc("91350200MA3RCAE0")


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    need_chromium()
    with group(tmp_path) as g:
        yield g.start("platform", "up")


def raise_alert(server: Server, enterprise_id: int) -> Alert:
    engine = sa.create_engine(f"sqlite:///{server.data_dir / 'indunet.db'}")
    now = time.time()
    event = SecurityEvent(
        id="ev-1",
        ts=now - 5,
        source="zeek",
        kind="ot.transaction",
        src_ip="10.0.0.9",
        dst_ip="10.0.0.20",
        dst_port=502,
        message="Modbus write single register 40001",
    )
    alert = Alert(
        ts=now,
        rule="ot.write.unauthorized-master",  # a built-in rule: titled in the reader's language
        rule_version=1,
        level=9,
        title="Write to a device from a host that is not an allowed master",
        enterprise_id=enterprise_id,
        techniques=("T0855", "T0836"),
        src_ip="10.0.0.9",
        dst_ip="10.0.0.20",
        assets=(7,),
        events=(event,),
        count=3,
        group="src 10.0.0.9",
    )
    asyncio.run(AlertStore(engine).raise_alerts([alert]))
    engine.dispose()
    return alert


def test_promote_assign_work_and_resolve(server: Server, shots: Path, tmp_path: Path) -> None:
    from playwright.sync_api import expect, sync_playwright

    password = server.admin_password
    assert password, server.output
    api = httpx.Client(base_url=server.url, timeout=10.0)
    token = api.post("/api/v1/auth/token", json={"username": "admin", "password": password})
    api.headers["Authorization"] = f"Bearer {token.json()['token']}"
    made = api.post("/api/v1/enterprises", json={"uscc": USCC, "name": "厦门安全处置测试有限公司"})
    assert made.status_code == 201, made.text
    alert = raise_alert(server, made.json()["id"])
    capture = tmp_path / "capture.pcap"
    capture.write_bytes(b"\xd4\xc3\xb2\xa1" + bytes(range(256)) * 40)
    digest = hashlib.sha256(capture.read_bytes()).hexdigest()

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            ctx = browser.new_context(
                viewport={"width": 1280, "height": 900}, locale="zh-CN", timezone_id="Asia/Shanghai"
            )
            page = ctx.new_page()
            page.set_default_timeout(15_000)

            def shot(name: str) -> None:
                page.screenshot(path=str(shots / f"{name}.png"), full_page=True)

            page.goto(server.url + "/security/alerts")
            page.fill("input[name=username]", "admin")
            page.fill("input[name=password]", password)
            page.click("form.stack button[type=submit]")
            expect(page).to_have_url(server.url + "/security/alerts")
            row = page.locator(f"tr[data-alert='{alert.id}']")
            expect(row).to_contain_text("非授权主站向设备写入")
            expect(row.locator("a.chip", has_text="T0855")).to_have_attribute(
                "href", "/security/attack?technique=T0855"
            )
            check_a11y(page)
            shot("01-alerts")

            row.locator("a", has_text="非授权主站向设备写入").click()
            expect(page.locator("#alert-events")).to_contain_text("40001")
            check_a11y(page)
            shot("02-alert")

            page.click("#promote-form button")
            expect(page.locator("#case-detail")).to_have_attribute("data-status", "new")
            case_url = page.url

            page.click("details.edit summary")
            page.fill("#case-form input[name=assignee]", "admin")
            page.select_option("#case-form select[name=tlp]", "AMBER+STRICT")
            page.click("#case-form button[type=submit]")
            expect(page.locator("#case-assignee")).to_have_text("admin")

            page.fill("#task-form input[name=title]", "核对交换机端口日志")
            page.click("#task-form button[type=submit]")
            expect(page.locator("#task-list")).to_contain_text("核对交换机端口日志")
            page.click("#task-list li button")
            expect(page.locator("#task-list .task-state")).to_have_text("已完成")
            page.fill("#note-form textarea[name=text]", "10.0.0.9 是厂商调试笔记本，已断开。")
            page.click("#note-form button[type=submit]")
            expect(page.locator("#note-list")).to_contain_text("厂商调试笔记本")

            page.set_input_files("#evidence-form input[type=file]", str(capture))
            page.click("#evidence-form button[type=submit]")
            expect(page.locator("#evidence-list")).to_contain_text(digest)
            check_a11y(page)
            shot("03-case-worked")

            page.select_option("#status-form select[name=status]", "resolved")
            page.click("#status-form button[type=submit]")
            expect(page.locator(".alert.error")).to_be_visible()  # a disposition is required
            shot("04-disposition-required")
            page.select_option("#status-form select[name=status]", "resolved")
            page.select_option("#status-form select[name=disposition]", "authorised_activity")
            page.click("#status-form button[type=submit]")
            expect(page.locator("#case-detail")).to_have_attribute("data-status", "resolved")
            expect(page.locator("#case-disposition")).to_have_text("授权操作")
            history = page.locator("#case-history li")
            expect(history.first).to_contain_text("创建了事件")
            expect(page.locator("#case-history")).to_contain_text("已解决")
            check_a11y(page)
            shot("05-case-resolved")
            assert page.url.split("#")[0] == case_url

            page.goto(server.url + "/security/cases?status=all")
            expect(page.locator("#cases tbody tr")).to_have_count(1)
            check_a11y(page)
            shot("06-cases")
            ctx.close()

            en = browser.new_context(viewport={"width": 1280, "height": 900}, locale="en")
            en.add_cookies([{"name": LANG_COOKIE, "value": "en", "url": server.url}])
            en_page = en.new_page()
            en_page.goto(server.url + "/login?next=/security/cases")
            en_page.fill("input[name=username]", "admin")
            en_page.fill("input[name=password]", password)
            en_page.click("form.stack button[type=submit]")
            en_page.goto(case_url)
            expect(en_page.locator("#case-history")).to_contain_text("Resolved")
            expect(en_page.locator("h1")).to_contain_text("not an allowed master")
            expect(en_page.locator("#case-disposition")).to_have_text("Authorised activity")
            check_a11y(en_page)
            en_page.screenshot(path=str(shots / "07-case-en.png"), full_page=True)
        finally:
            browser.close()
