"""The federation page in a real headless Chromium, on a province instance with a real
enterprise instance enrolled (two `indunet up` processes): the regulator's view of the
province's identity and its child (last heard from, version, nothing waiting), the search,
a token issued and shown once, the aggregate of the subtree, and the same page in English.
Screenshots land in build/screenshots/<test>/."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from tests.integration.browser import CHROMIUM, CHROMIUM_ARGS, check_a11y, need_chromium
from tests.integration.servers import group

pytestmark = pytest.mark.integration


def cli(data: Path, *args: str) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "indunet", "federation", *args, "--data-dir", str(data)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout.strip()


def test_the_province_sees_its_enterprise_and_enrols_another(tmp_path: Path, shots: Path) -> None:
    need_chromium()
    from playwright.sync_api import expect, sync_playwright

    with group(tmp_path) as g:
        province, factory = g.prepare("gd", "up"), g.prepare("acme", "up")
        cli(province.data_dir, "init", "--name", "gd", "--level", "province",
            "--url", province.url, "--title", "广东省工业互联网安全监测平台")  # fmt: skip
        cli(factory.data_dir, "init", "--name", "acme", "--level", "enterprise",
            "--url", factory.url, "--title", "厦门示例机床", "--algorithm", "sm2")  # fmt: skip
        province.start()
        token = cli(province.data_dir, "token", "--level", "enterprise")
        cli(factory.data_dir, "join", "--parent", province.url, "--token", token)
        factory.start()
        password = province.admin_password
        assert password, province.output
        api = httpx.Client(base_url=province.url, timeout=10.0)
        login = api.post("/api/v1/auth/token", json={"username": "admin", "password": password})
        api.headers["Authorization"] = f"Bearer {login.json()['token']}"
        deadline = time.monotonic() + 60
        while not api.get("/api/v1/federation").json()["peers"][0]["version"]:
            assert time.monotonic() < deadline, "the child never reported"
            time.sleep(0.3)

        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
            try:
                context = browser.new_context(
                    viewport={"width": 1366, "height": 900},
                    locale="zh-CN",
                    timezone_id="Asia/Shanghai",
                )
                page = context.new_page()
                page.set_default_timeout(15_000)

                def shot(name: str) -> None:
                    page.screenshot(path=str(shots / f"{name}.png"), full_page=True)

                page.goto(province.url + "/federation")
                page.fill("input[name=username]", "admin")
                page.fill("input[name=password]", password)
                page.click("form.stack button[type=submit]")
                expect(page.locator("h1")).to_have_text("三级联动")
                page.wait_for_load_state("load")
                expect(page.locator("#federation-identity")).to_contain_text(
                    "广东省工业互联网安全监测平台"
                )
                expect(page.locator("#federation-identity")).to_contain_text("88.100/inst-gd")
                expect(page.locator("#federation-identity")).to_contain_text("省级")
                expect(page.locator("#federation-no-parent")).to_be_visible()
                row = page.locator('#children-rows tr[data-child="acme"]')
                expect(row).to_contain_text("厦门示例机床")
                expect(row).to_contain_text("企业")
                expect(row).to_contain_text("正常")
                expect(row).to_contain_text("0.1.0")
                expect(row).not_to_contain_text("从未")  # heard from, at a time shown
                expect(page.locator("#children-rows thead")).to_contain_text("Asia/Shanghai")
                check_a11y(page)
                shot("01-province-with-its-enterprise")

                # the search is the server's: a name that matches nothing empties the list
                page.fill("#federation-children input[name=q]", "nobody")
                page.press("#federation-children input[name=q]", "Enter")
                expect(page.locator("#children-empty")).to_be_visible()
                page.fill("#federation-children input[name=q]", "厦门")
                page.press("#federation-children input[name=q]", "Enter")
                expect(page.locator('#children-rows tr[data-child="acme"]')).to_be_visible()

                # a token for another enterprise, shown once
                page.select_option("#token-form select[name=level]", "enterprise")
                page.fill("#token-form input[name=note]", "泉州一家工厂")
                page.click("#issue-token")
                expect(page.locator("#federation-token-issued")).to_contain_text("企业")
                value = page.locator("#federation-token-value").inner_text()
                assert value.startswith("fed1.") and len(value) > 40
                check_a11y(page)
                shot("02-token-issued")
                page.goto(province.url + "/federation")
                expect(page.locator("#federation-token-value")).to_have_count(0)

                # the aggregate: the province's own counts, its enterprise's last report (with
                # when it came and whether it is fresh) and the whole subtree's total
                page.goto(province.url + "/federation/aggregate")
                expect(page.locator("h1")).to_have_text("下级汇总")
                row = page.locator('#aggregate-rows tr[data-child="acme"]')
                expect(row).to_contain_text("厦门示例机床")
                expect(row).to_contain_text("企业")
                expect(row).to_contain_text("最新")
                expect(row).to_contain_text("前")  # "… 秒前": how old the report is
                expect(page.locator('#aggregate-rows tr[data-instance="gd"]')).to_be_visible()
                header = page.locator('#aggregate-rows th[data-indicator="security.assets"]')
                expect(header).to_have_text("资产")
                expect(page.locator("#aggregate-total")).to_contain_text("总计")
                expect(page.locator("#aggregate-rows thead")).to_contain_text("Asia/Shanghai")
                check_a11y(page)
                shot("03-aggregate")

                page.goto(province.url + "/lang/en?next=/federation")
                expect(page.locator("h1")).to_have_text("Federation")
                expect(page.locator('#children-rows tr[data-child="acme"]')).to_contain_text(
                    "Enterprise"
                )
                shot("04-in-english")
            finally:
                browser.close()
