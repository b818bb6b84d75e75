"""Identifier operations in a real headless Chromium against a real `indunet up` process.

A platform operator's day, in Chinese: review an enterprise that registered itself (reject it
with a reason, then approve it); upload a bulk registration file and watch its progress bar
to the end, then download the error report; see registrations and resolutions per day as
charts; rotate a prefix's key (the old key is refused, the new one works) and finally revoke
the prefix (its identifiers stop resolving). Every page is checked with axe-core and saved
as a screenshot.
"""

from __future__ import annotations

import csv
import io
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from tests.integration.browser import CHROMIUM, CHROMIUM_ARGS, check_a11y, need_chromium
from tests.integration.servers import Server, group

from indunet import core

USCC = core.make_uscc("91350200MA3ABCDE")
SELF_USCC = core.make_uscc("91110108MA7ABC01")
ROWS = 3000

pytestmark = pytest.mark.integration


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    need_chromium()
    with group(tmp_path) as g:
        yield g.start("console", "up")


def _setup(server: Server, password: str) -> str:
    """A verified enterprise with prefix 88.100.1 (its key returned), and one that registered
    itself and waits for review (written as self-registration would, unverified)."""
    with httpx.Client(base_url=server.url, timeout=15) as api:
        token = api.post("/api/v1/auth/token", json={"username": "admin", "password": password})
        headers = {"Authorization": f"Bearer {token.json()['token']}"}
        ent = {"uscc": USCC, "name": "厦门示例机床有限公司"}
        assert api.post("/api/v1/enterprises", json=ent, headers=headers).status_code == 201
        prefix = {"prefix": "88.100.1", "enterprise_uscc": USCC}
        made = api.post("/api/v1/prefixes", json=prefix, headers=headers)
        assert made.status_code == 201, made.text
    engine = core.make_engine(core.Settings(data_dir=server.data_dir))
    try:
        with engine.begin() as conn:
            core.create_enterprise(
                conn, uscc=SELF_USCC, name="北京自助注册科技有限公司", actor="self", region="北京"
            )
    finally:
        engine.dispose()
    return str(made.json()["secret"])


def _put(server: Server, handle: str, secret: str) -> int:
    value = [{"index": 1, "type": "URL", "data": {"format": "string", "value": "https://e.x/1"}}]
    with httpx.Client(base_url=server.url, timeout=15) as api:
        return api.put(
            f"/api/handles/{handle}", json={"values": value}, auth=("300%3A0.NA/88.100.1", secret)
        ).status_code


def test_review_bulk_stats_rotate_revoke(server: Server, shots: Path, tmp_path: Path) -> None:
    from playwright.sync_api import expect, sync_playwright

    password = server.admin_password
    assert password, server.output
    secret = _setup(server, password)
    upload = tmp_path / "设备标识.csv"
    rows = "".join(f"88.100.1/PUMP-{i:05d},https://example.com/pumps/{i}\n" for i in range(ROWS))
    upload.write_text(
        "handle,URL:1\n" + rows + "88.100.1/PUMP-00001,https://other.example\nno-slash,x\n",
        encoding="utf-8",
    )
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            context = browser.new_context(
                viewport={"width": 1280, "height": 860},
                locale="zh-CN",
                timezone_id="Asia/Shanghai",
                accept_downloads=True,
            )
            page = context.new_page()
            page.set_default_timeout(20_000)

            def shot(name: str) -> None:
                check_a11y(page)
                page.screenshot(path=str(shots / f"{name}.png"), full_page=True)

            page.goto(server.url + "/login?next=/ids/enterprises")
            page.fill("input[name=username]", "admin")
            page.fill("input[name=password]", password)
            page.click("form.stack button[type=submit]")
            expect(page).to_have_url(server.url + "/ids/enterprises")

            # Real-name review: the pending enterprise, rejected with a reason, then approved.
            page.select_option("select[name=state]", "pending")
            page.click("form.filters button[type=submit]")
            expect(page.locator("#enterprise-table")).to_contain_text("北京自助注册科技有限公司")
            expect(page.locator("#enterprise-table")).not_to_contain_text("厦门示例机床有限公司")
            shot("01-enterprises-pending")
            page.click("text=北京自助注册科技有限公司")
            expect(page.locator("#review-state")).to_have_text("待审核")
            page.click("#review button[value=reject]")
            expect(page.locator(".alert.error")).to_contain_text("驳回须填写")
            page.fill("#review-reason-input", "营业执照照片不清晰，请重新上传")
            page.click("#review button[value=reject]")
            expect(page.locator("#review-state")).to_have_text("已驳回")
            expect(page.locator("#review-reason")).to_have_text("营业执照照片不清晰，请重新上传")
            shot("02-enterprise-rejected")
            page.fill("#review-reason-input", "材料已补齐")
            page.click("#review button[value=approve]")
            expect(page.locator("#review-state")).to_have_text("已通过")
            shot("03-enterprise-approved")

            # Bulk registration: upload, the bar moves to 100 %, the error report downloads.
            page.goto(server.url + "/ids/bulk")
            shot("04-bulk-form")
            page.set_input_files("input[name=file]", str(upload))
            page.click("#bulk-form button[type=submit]")
            expect(page).to_have_url(server.url + "/ids/bulk/1")
            seen = {int(page.locator("#job-bar").get_attribute("value") or 0)}
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline and page.locator("#job-failures").count() == 0:
                seen.add(int(page.locator("#job-bar").get_attribute("value") or 0))
                page.wait_for_timeout(150)
            expect(page.locator("#job-failures")).to_contain_text("2 行失败")
            expect(page.locator("#job-bar")).to_have_attribute("value", "100")
            assert len(seen) >= 1
            shot("05-bulk-done")
            with page.expect_download() as info:
                page.click("#error-report")
            report = Path(info.value.path()).read_text(encoding="utf-8-sig")
            lines = list(csv.reader(io.StringIO(report)))
            assert lines[0] == ["行号", "标识", "原因"]
            assert [r[0] for r in lines[1:]] == [str(ROWS + 2), str(ROWS + 3)]
            assert "已存在且值不同" in lines[1][2]
            page.goto(server.url + "/ids/bulk")
            expect(page.locator("#job-table")).to_contain_text("设备标识.csv")
            shot("06-bulk-jobs")

            # Statistics: resolve a few, wait for the counters to be stored, see the charts.
            with httpx.Client(base_url=server.url, timeout=15) as api:
                for i in range(5):
                    assert (
                        api.get(f"/api/handles/88.100.1/PUMP-{i:05d}?auth=true").status_code == 200
                    )
            deadline = time.monotonic() + 20
            while time.monotonic() < deadline:
                page.goto(server.url + "/ids/stats?days=7")
                if page.locator("#total-resolutions").inner_text() == "5":
                    break
                page.wait_for_timeout(1000)
            expect(page.locator("#total-registrations")).to_have_text(str(ROWS))
            expect(page.locator("#total-resolutions")).to_have_text("5")
            expect(page.locator("#chart-days canvas")).to_have_count(1)
            expect(page.locator("#chart-prefixes canvas")).to_have_count(1)
            expect(page.locator("#chart-enterprises canvas")).to_have_count(1)
            page.wait_for_timeout(400)
            shot("07-stats")

            # Key rotation: the new key is shown once; the old one is refused.
            assert _put(server, "88.100.1/ROT-1", secret) == 201
            page.goto(server.url + "/ids/prefixes/88.100.1")
            expect(page.locator("#handle-count")).to_have_text(str(ROWS + 1))
            expect(page.locator("#admins")).to_contain_text("全部权限")
            shot("08-prefix")
            page.click("#rotate button[type=submit]")
            new_secret = page.locator("#new-secret").inner_text()
            shot("09-prefix-rotated")
            assert _put(server, "88.100.1/ROT-2", secret) == 401
            assert _put(server, "88.100.1/ROT-2", new_secret) == 201

            # Revocation: a reason and the prefix typed again; resolution stops.
            page.goto(server.url + "/ids/prefixes/88.100.1")
            page.fill("#revoke-reason-input", "企业注销，停止服务")
            page.fill("#revoke input[name=confirm]", "88.100.9")
            page.click("#revoke button[type=submit]")
            expect(page.locator("#revoke-error")).to_contain_text("88.100.1")
            page.fill("#revoke-reason-input", "企业注销，停止服务")
            page.fill("#revoke input[name=confirm]", "88.100.1")
            page.click("#revoke button[type=submit]")
            expect(page.locator("#prefix-state")).to_have_text("已撤销")
            expect(page.locator("#revoke-reason")).to_have_text("企业注销，停止服务")
            shot("10-prefix-revoked")
            with httpx.Client(base_url=server.url, timeout=15) as api:
                gone = api.get("/api/handles/88.100.1/PUMP-00003")
            assert gone.status_code == 404 and "revoked" in gone.text
            assert _put(server, "88.100.1/ROT-3", new_secret) == 401
            page.goto(server.url + "/ids/prefixes?state=revoked")
            expect(page.locator("#prefix-table")).to_contain_text("88.100.1")
            shot("11-prefixes-revoked")
        finally:
            browser.close()
