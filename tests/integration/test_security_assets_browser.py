"""The asset inventory in a real headless Chromium against a real ``indunet up`` process:
the platform admin adds an asset, imports a CSV file whose row has the same MAC, and sees one
merged asset with both sources, the file's firmware, the person's vendor kept (the file's as
an alternative) and the merge explained. Every page passes axe-core and is photographed."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.integration.browser import CHROMIUM, CHROMIUM_ARGS, check_a11y, need_chromium
from tests.integration.servers import Server, group

pytestmark = pytest.mark.integration
CSV = (
    "name,macs,vendor,firmware,protocols,ports\r\n"
    "主站PLC,00:80:f4:09:00:10,Schneider Electric,v3.10,modbus,502\r\n"
    "2号HMI,00:0c:29:09:00:20,研华,1.2,modbus,\r\n"
)


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    need_chromium()
    with group(tmp_path) as g:
        yield g.start("platform", "up")


def test_add_import_and_see_the_merged_asset(server: Server, shots: Path, tmp_path: Path) -> None:
    from playwright.sync_api import expect, sync_playwright

    password = server.admin_password
    assert password, server.output
    csv_file = tmp_path / "资产.csv"
    csv_file.write_bytes(CSV.encode("utf-8-sig"))
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

            page.goto(server.url + "/security/assets")
            page.fill("input[name=username]", "admin")
            page.fill("input[name=password]", password)
            page.click("form.stack button[type=submit]")
            expect(page).to_have_url(server.url + "/security/assets")
            expect(page.locator("#no-assets")).to_be_visible()
            check_a11y(page)
            shot("01-empty")

            page.click("#add-asset summary")
            form = page.locator("#asset-form")
            form.locator("input[name=name]").fill("1号PLC")
            form.locator("select[name=asset_type]").select_option("A0003")
            form.locator("input[name=ips]").fill("10.9.0.10")
            form.locator("input[name=macs]").fill("00-80-F4-09-00-10")
            form.locator("input[name=vendor]").fill("施耐德")
            form.locator("select[name=criticality]").select_option("critical")
            check_a11y(page)
            shot("02-add-form")
            form.locator("button[type=submit]").click()
            expect(page.locator("#attributes")).to_contain_text("1号PLC")
            expect(page.locator("#attributes")).to_contain_text("00:80:f4:09:00:10")
            detail_url = page.url

            page.goto(server.url + "/security/assets")
            page.click("#import-assets summary")
            page.set_input_files("#import-form input[name=file]", str(csv_file))
            page.click("#import-form button[type=submit]")
            expect(page.locator("#imported")).to_contain_text("新建 1 项资产，合并 1 项")
            expect(page.locator("#assets tbody tr")).to_have_count(2)
            check_a11y(page)
            shot("03-imported")

            page.click("#assets a:text('1号PLC')")
            expect(page).to_have_url(detail_url)
            attrs = page.locator("#attributes")
            expect(attrs.locator("tr[data-attr=firmware]")).to_contain_text("v3.10")
            vendor = attrs.locator("tr[data-attr=vendor]")
            expect(vendor).to_contain_text("施耐德")
            expect(vendor.locator(".alternative")).to_contain_text("Schneider Electric")
            expect(page.locator("#sources")).to_contain_text("人工录入")
            expect(page.locator("#sources")).to_contain_text("CSV 导入")
            expect(
                page.locator("#merges li[data-matched='mac 00:80:f4:09:00:10']")
            ).to_contain_text("按 mac 00:80:f4:09:00:10 匹配")
            check_a11y(page)
            shot("04-merged")

            bad = tmp_path / "bad.csv"
            bad.write_text("name,ips\r\nok,10.9.0.30\r\nbad,10.9.0.999\r\n", encoding="utf-8")
            page.goto(server.url + "/security/assets")
            page.click("#import-assets summary")
            page.set_input_files("#import-form input[name=file]", str(bad))
            page.click("#import-form button[type=submit]")
            expect(page.locator("#import-problems")).to_contain_text("ips")
            expect(page.locator("#assets tbody tr")).to_have_count(2)
            check_a11y(page)
            shot("05-bad-file")

            page.goto(server.url + "/security/zones")
            page.click("#add-zone summary")
            page.fill("#zone-form input[name=name]", "控制区")
            page.select_option("#zone-form select[name=sl_target]", "3")
            page.click("#zone-form button[type=submit]")
            expect(page.locator("#zones")).to_contain_text("SL-T 3")
            check_a11y(page)
            shot("06-zones")
        finally:
            browser.close()
