"""Detection rule files in a real headless Chromium against a real ``indunet up`` process.

A platform admin uploads a rule file with an error (the page names file, rule and line in
Chinese; nothing changes), then the corrected file: its rule is listed and in force; then
removes the file. Every page passes axe-core and is photographed.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.integration.browser import (
    CHROMIUM,
    CHROMIUM_ARGS,
    admin_page_zh,
    check_a11y,
    need_chromium,
)
from tests.integration.servers import Server, group

pytestmark = pytest.mark.integration

RULES = """rules:
  - id: plant.night-write
    version: 1
    title: {zh-CN: 夜间写操作, en: Write at night}
    level: LEVEL
    techniques: [T0855]
    match:
      kind: ot.transaction
      fields.write: true
"""


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    need_chromium()
    with group(tmp_path) as g:
        yield g.start("platform", "up")


def test_upload_a_rule_file_fix_it_and_remove_it(
    server: Server, shots: Path, tmp_path: Path
) -> None:
    from playwright.sync_api import expect, sync_playwright

    password = server.admin_password
    assert password, server.output
    broken, fixed = tmp_path / "broken" / "plant.yml", tmp_path / "fixed" / "plant.yml"
    for path, level in ((broken, "99"), (fixed, "9")):
        path.parent.mkdir()
        path.write_text(RULES.replace("LEVEL", level), encoding="utf-8")
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            page = admin_page_zh(browser, server.url + "/security/rules", password)

            def shot(name: str) -> None:
                page.screenshot(path=str(shots / f"{name}.png"), full_page=True)

            expect(page.locator("#rule-file-list tr[data-file='ot-commands.yml']")).to_be_visible()
            check_a11y(page)
            shot("01-rule-files")

            page.set_input_files("#rule-upload input[type=file]", str(broken))
            page.click("#rule-upload button[type=submit]")
            expect(page.locator("#rule-error")).to_contain_text("plant.yml 第 5 行")
            expect(page.locator("#rule-error")).to_contain_text("plant.night-write")
            expect(page.locator("#rule-file-list tr[data-file='plant.yml']")).to_have_count(0)
            check_a11y(page)
            shot("02-rule-file-refused")

            page.set_input_files("#rule-upload input[type=file]", str(fixed))
            page.click("#rule-upload button[type=submit]")
            expect(page.locator("#rule-uploaded")).to_contain_text("plant.yml")
            expect(page.locator("#rule-file-list tr[data-file='plant.yml']")).to_be_visible()
            page.fill("#list-q", "plant.")
            page.keyboard.press("Enter")
            expect(page.locator("tr[data-rule='plant.night-write']")).to_contain_text("夜间写操作")
            check_a11y(page)
            shot("03-rule-file-in-force")

            page.click("#rule-file-list tr[data-file='plant.yml'] button")
            expect(page.locator("#rule-file-list tr[data-file='plant.yml']")).to_have_count(0)
            page.goto(server.url + "/security/rules?q=plant.")
            expect(page.locator("tr[data-rule='plant.night-write']")).to_have_count(0)
            shot("04-rule-file-removed")
        finally:
            browser.close()
