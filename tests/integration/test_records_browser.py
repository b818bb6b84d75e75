"""Identifier records (备案记录) in a real headless Chromium against a real ``indunet up``.

An enterprise's prefix is allocated and its identifiers registered one by one, by a bulk
import, changed and deleted (written into the server's database by the library, as the CLI
would). The platform admin opens 标识 › 备案记录: one line per identifier and change, newest
first, times in the page's zone (Asia/Shanghai); the search on the identifier, the action
filter and the time range narrow the list; a change's values before open in place; the export
downloads the CSV with the values before; the page reads in English too. Every page is checked
with axe-core and photographed.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.conftest import USCC_A
from tests.integration.browser import CHROMIUM, CHROMIUM_ARGS, check_a11y, need_chromium
from tests.integration.servers import Server, group

from indunet import core, ids
from indunet.core import Settings
from indunet.web import build_state, open_database

pytestmark = pytest.mark.integration
OPS = ids.Principal(actor="cli:ops", identity=None, prefixes=None)


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    need_chromium()
    with group(tmp_path) as g:
        yield g.start("platform", "up")


def _seed(server: Server, tmp_path: Path) -> None:
    settings = Settings(data_dir=server.data_dir)
    engine = open_database(settings)
    try:
        state = build_state(settings, engine=engine)
        with engine.begin() as conn:
            ent = core.create_enterprise(
                conn, uscc=USCC_A, name="厦门示例机床有限公司", actor="test", verified=True
            )
        node = state.hierarchy.front
        ids.allocate(node, "88.100.1", ent, actor="test", secret="s3cret-key-for-tests")
        rows = "".join(f"88.100.1/CNC-{i:02d},https://a.example.cn/{i}\n" for i in range(30))
        path = tmp_path / "cnc.csv"
        path.write_text("handle,URL\n" + rows, encoding="utf-8")
        ids.import_file(node, path, OPS)
        url = {"index": 1, "type": "URL", "data": "https://a.example.cn/new"}
        node.put("88.100.1/CNC-07", [url], OPS, overwrite=True)
        node.delete("88.100.1/CNC-08", OPS)
    finally:
        engine.dispose()


def test_records_are_listed_filtered_and_exported(
    server: Server, shots: Path, tmp_path: Path
) -> None:
    from playwright.sync_api import expect, sync_playwright

    admin_password = server.admin_password
    assert admin_password, server.output
    _seed(server, tmp_path)

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            ctx = browser.new_context(
                viewport={"width": 1280, "height": 900},
                locale="zh-CN",
                timezone_id="Asia/Shanghai",
                accept_downloads=True,
            )
            page = ctx.new_page()
            page.set_default_timeout(15_000)

            def shot(name: str) -> None:
                page.screenshot(path=str(shots / f"{name}.png"), full_page=True)

            page.goto(server.url + "/ids/records")
            page.fill("input[name=username]", "admin")
            page.fill("input[name=password]", admin_password)
            page.click("form.stack button[type=submit]")
            expect(page.locator("h1")).to_have_text("标识备案记录")
            expect(page.locator("a[href='/ids/records'][aria-current=page]")).to_have_text(
                "备案记录"
            )
            first = page.locator("#records-table > tbody > tr").first
            expect(first).to_contain_text("88.100.1/CNC-08")
            expect(first.locator("td[data-action]")).to_have_text("删除")
            stamp = first.locator("time").get_attribute("datetime") or ""
            assert stamp.endswith("+08:00"), stamp
            check_a11y(page)
            shot("01-records")

            # The prefix's records: 30 bulk rows, a change, a deletion and its prefix record.
            page.fill("#f-prefix", "88.100.1")
            page.click("#records-filters button[type=submit]")
            expect(page.locator("#records-total")).to_have_text("共 33 条记录")

            # Search one identifier: its registration by the bulk import and its change.
            page.fill("#f-q", "cnc-07")
            page.click("#records-filters button[type=submit]")
            rows = page.locator("#records-table > tbody > tr")
            expect(rows).to_have_count(2)
            expect(rows.nth(0).locator("td[data-action]")).to_have_text("修改")
            expect(rows.nth(1).locator("td[data-action]")).to_have_text("创建")
            expect(rows.nth(1)).to_contain_text("cli:ops")
            rows.nth(0).locator("summary").click()
            expect(rows.nth(0).locator("td.data").first).to_contain_text("https://a.example.cn/7")
            check_a11y(page)
            shot("02-one-identifier-before")

            # Only deletions; then a time range that ends before anything happened.
            page.goto(server.url + "/ids/records")
            page.select_option("#f-action", "handle.delete")
            page.click("#records-filters button[type=submit]")
            expect(page.locator("#records-table > tbody > tr")).to_have_count(1)
            page.fill("#f-to", "2020-01-01T00:00:00")
            page.click("#records-filters button[type=submit]")
            expect(page.locator("#records-table")).to_have_count(0)
            expect(page.locator("main")).to_contain_text("没有符合条件的记录")
            shot("03-deletions-none-before-2020")

            # The export with the search applied: the CSV has the values before.
            page.goto(server.url + "/ids/records?q=CNC-08")
            with page.expect_download() as info:
                page.click("#records-export")
            text = Path(info.value.path()).read_text(encoding="utf-8")
            lines = list(csv.DictReader(io.StringIO(text)))
            assert [r["action"] for r in lines] == ["handle.delete", "handle.create"]
            assert "https://a.example.cn/8" in lines[0]["before"] and lines[1]["before"] == ""
            assert lines[0]["at"].endswith("+08:00")

            page.goto(server.url + "/lang/en?next=/ids/records")
            expect(page.locator("h1")).to_have_text("Identifier records")
            expect(page.locator("#records-table thead")).to_contain_text("Values before")
            check_a11y(page)
            shot("04-records-en")
        finally:
            browser.close()
