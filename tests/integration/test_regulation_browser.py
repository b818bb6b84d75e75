"""The authority's regulation pages in a real headless Chromium: a regulator at a province
instance (``indunet up`` after ``federation init --level province``) with four enterprises in
three cities: the overview chart and counts, a grading reviewed (a refused review first, its
reason shown), a notice issued by region, the statistics by city with the drill-down, and the
overview in English. Screenshots land in build/screenshots/<test>/."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from tests.integration.browser import CHROMIUM, CHROMIUM_ARGS, check_a11y, need_chromium
from tests.integration.servers import group

from indunet import core
from indunet.core import Settings
from indunet.core.uscc import make_uscc
from indunet.regulation import Regulation
from indunet.web.app import build_state

pytestmark = pytest.mark.integration

PASSWORD = "Regulator-pass-1"
PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + b"\x00" * 64
ANSWERS = {"sector": "key", "scale": "large", "networking": "deep",
           "incident_impact": "severe", "cii": "no"}  # fmt: skip
FIRMS = (
    (make_uscc("9135020000000201"), "厦门示例机床有限公司", "350203"),
    (make_uscc("9135020000000202"), "厦门示例电子有限公司", "350206"),
    (make_uscc("9135050000000203"), "泉州示例纺织有限公司", "350502"),
    (make_uscc("9135010000000204"), "福州示例化工有限公司", "350102"),
)


def seed(data: Path) -> str:
    """The province's enterprises under supervision, one grading submitted, one notice
    already issued to two cities (so the statistics have rows); the grading's uid."""
    state = build_state(Settings(data_dir=data, port=8000))
    reg = state.services["regulation"]
    assert isinstance(reg, Regulation)
    admins = []
    with state.engine.begin() as conn:
        rita = core.create_user(conn, username="rita", password=PASSWORD,
                                role=core.Role.REGULATOR, actor="test")  # fmt: skip
    for i, (uscc, name, region) in enumerate(FIRMS):
        with state.engine.begin() as conn:
            e = core.create_enterprise(
                conn, uscc=uscc, name=name, actor="t", region=region, industry_code="C26"
            )
            admin = core.create_user(conn, username=f"boss{i}", password=PASSWORD,
                                     role=core.Role.ENTERPRISE_ADMIN, actor="t",
                                     enterprise_id=e.id)  # fmt: skip
        reg.set_profile(admin, e.id, "industrial" if i != 3 else "platform")
        admins.append(admin)
    sha = reg.upload(admins[0], FIRMS[0][0], "licence.png", PNG)["sha256"]
    g = reg.start_grading(admins[0], FIRMS[0][0], ANSWERS, [sha], "详见附件")
    reg.submit_grading(admins[0], g["uid"])
    n = reg.issue(rita, {"kind": "risk", "severity": "medium", "title": "弱口令风险预警"},
                  {"uscc": [FIRMS[0][0], FIRMS[2][0]]})  # fmt: skip
    reg.act(admins[0], n["uid"], FIRMS[0][0], "report", "已修改全部默认口令", [sha])
    state.engine.dispose()
    return str(g["uid"])


def test_a_province_regulator_reviews_issues_and_reads_the_statistics(
    tmp_path: Path, shots: Path
) -> None:
    need_chromium()
    from playwright.sync_api import expect, sync_playwright

    with group(tmp_path) as g:
        province = g.prepare("fj", "up")
        done = subprocess.run(
            [sys.executable, "-m", "indunet", "federation", "init", "--name", "fj",
             "--level", "province", "--url", province.url, "--title", "福建省工业互联网安全监管平台",
             "--data-dir", str(province.data_dir)],
            capture_output=True, text=True, timeout=120,
        )  # fmt: skip
        assert done.returncode == 0, done.stdout + done.stderr
        grading = seed(province.data_dir)
        province.start()

        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
            try:
                context = browser.new_context(
                    viewport={"width": 1280, "height": 900},
                    locale="zh-CN",
                    timezone_id="Asia/Shanghai",
                )
                page = context.new_page()
                page.set_default_timeout(15_000)

                def shot(name: str) -> None:
                    page.screenshot(path=str(shots / f"{name}.png"), full_page=True)

                def fits() -> None:  # the header and the page are no wider than the window
                    width = page.evaluate("() => document.documentElement.scrollWidth")
                    assert width <= 1280, width
                    header = page.evaluate(
                        "() => document.querySelector('header.top').offsetHeight"
                    )
                    assert header < 64, f"the header wraps ({header} px)"
                    assert "regulation." not in page.locator("body").inner_text()

                page.goto(province.url + "/regulation")
                page.fill("input[name=username]", "rita")
                page.fill("input[name=password]", PASSWORD)
                page.click("form.stack button[type=submit]")
                expect(page.locator("h1")).to_have_text("监管概览")
                page.wait_for_load_state("load")
                expect(page.locator("#regulation-overview")).to_contain_text("省级")
                expect(page.locator("#count-enterprises")).to_have_text("4")
                expect(page.locator("#count-submitted")).to_have_text("1")
                expect(page.locator("#chart-type-level canvas")).to_have_count(1)
                expect(page.locator("#chart-regions canvas")).to_have_count(1)
                row = page.locator('#region-stats tr[data-key="3502"]')  # a province: cities
                expect(row).to_contain_text("厦门市 (3502)")
                fits()
                check_a11y(page)
                shot("01-overview")

                # the review queue, a refused review (another level needs a reason), then one
                page.click('nav.tabs a[href="/regulation/gradings"]')
                expect(page.locator(f'#grading-rows tr[data-grading="{grading}"]')).to_contain_text(
                    FIRMS[0][1]
                )
                fits()
                check_a11y(page)
                shot("02-review-queue")
                page.click(f'#grading-rows tr[data-grading="{grading}"] a')
                expect(page.locator("#grading-answers")).to_contain_text("重点行业领域")
                expect(page.locator("#grading-evidence a")).to_have_count(1)
                page.select_option("#review-form select[name=level]", "2")
                page.click("#review-submit")
                expect(page.locator("#review-error")).to_have_text("该决定需要填写意见。")
                fits()
                check_a11y(page)
                shot("03-review-refused")
                page.fill("#review-form textarea[name=comment]", "核实后按二级管理")
                page.click("#review-submit")
                expect(page.locator("#review-done")).to_contain_text("定级已确认")
                expect(page.locator("#grading-comments")).to_contain_text("核实后按二级管理")
                expect(page.locator("#grading-level")).to_contain_text("二级")
                shot("04-review-confirmed")

                # the enterprise's page: its level and open obligations with due dates
                page.goto(province.url + f"/regulation/enterprises/{FIRMS[0][0]}")
                expect(page.locator("#obligation-rows tbody tr").first).to_be_visible()
                fits()
                check_a11y(page)
                shot("05-enterprise")

                # a notice to Xiamen by region, with its own deadlines
                page.goto(province.url + "/regulation/notices/new")
                page.select_option("#issue-form select[name=severity]", "critical")
                page.fill("#issue-form input[name=title]", "某型号 PLC 远程代码执行漏洞")
                page.fill("#issue-form textarea[name=body]", "请立即升级固件并报告处置情况。")
                page.fill("#issue-form input[name=region]", "3502")
                page.fill("#issue-form input[name=dispose_within_h]", "48")
                fits()
                check_a11y(page)
                shot("06-issue-form")
                page.click("#issue-submit")
                expect(page.locator("#notice-done")).to_contain_text("通报已发布")
                expect(page.locator("#recipient-rows tbody tr")).to_have_count(2)
                fits()
                check_a11y(page)
                shot("07-notice")

                # the notices list with progress; the statistics by city and a drill-down
                page.click('nav.tabs a[href="/regulation/notices"]')
                expect(page.locator("#notice-rows tbody tr")).to_have_count(2)
                shot("08-notices")
                page.goto(province.url + "/regulation")
                row = page.locator('#region-stats tr[data-key="3502"]')
                expect(row.locator("td").nth(1)).to_have_text("3")  # issued to Xiamen: 1 + 2
                shot("09-statistics")
                row.locator("a").first.click()
                expect(page.locator("#recipients-region")).to_contain_text("厦门市")
                expect(page.locator("#recipient-rows tbody tr")).to_have_count(3)
                fits()
                check_a11y(page)
                shot("10-drill-down")

                page.goto(province.url + "/lang/en?next=/regulation")
                expect(page.locator("h1")).to_have_text("Regulation overview")
                fits()
                shot("11-in-english")
            finally:
                browser.close()
