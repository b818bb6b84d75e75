"""The enterprise's regulation pages in a real headless Chromium against a real ``indunet up``
process: an enterprise admin chooses the type, fills in the questionnaire read from the rule
table, attaches an evidence file, saves (the proposed level and scoring shown) and submits;
then signs a notice a regulator issued and reports its disposal with a photo. Each page
passes axe-core, is photographed in build/screenshots/<test>/, and is checked in English too.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa
from tests.core.test_documents import png
from tests.integration.browser import CHROMIUM, CHROMIUM_ARGS, check_a11y, need_chromium
from tests.integration.servers import Server, group

from indunet import core
from indunet.core import Role

pytestmark = pytest.mark.integration
USCC = core.make_uscc("91350200MA3RGLM0")
NAME = "厦门精工数控机床有限公司"
PASSWORD = "a-long-password"


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    need_chromium()
    with group(tmp_path) as g:
        yield g.start("platform", "up")


def people(server: Server) -> None:
    """The enterprise (approved), its admin, and a regulator, straight in the database."""
    engine = sa.create_engine(f"sqlite:///{server.data_dir / 'indunet.db'}")
    with engine.begin() as conn:
        ent = core.create_enterprise(
            conn, uscc=USCC, name=NAME, actor="t", verified=True, region="350206"
        )
        core.create_user(conn, username="chen", password=PASSWORD,
                         role=Role.ENTERPRISE_ADMIN, actor="t", enterprise_id=ent.id)  # fmt: skip
        core.create_user(conn, username="rita", password=PASSWORD, role=Role.REGULATOR, actor="t")
    engine.dispose()


def test_an_enterprise_admin_grades_itself_and_disposes_of_a_notice(
    server: Server, shots: Path, tmp_path: Path
) -> None:
    from playwright.sync_api import expect, sync_playwright

    people(server)
    photo = tmp_path / "firmware.png"
    photo.write_bytes(png(8, 8))
    api = httpx.Client(base_url=server.url, timeout=10.0)
    token = api.post("/api/v1/auth/token", json={"username": "rita", "password": PASSWORD})
    rita = {"Authorization": f"Bearer {token.json()['token']}"}

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

            def header_fits() -> None:
                width = page.evaluate("() => document.querySelector('header.top').scrollWidth")
                assert width <= 1280, f"the header is {width} px wide"
                tops = page.evaluate(
                    "() => [...document.querySelectorAll('header.top nav.sections a')]"
                    ".map(a => a.getBoundingClientRect().top)"
                )
                assert len(set(tops)) == 1, "the sections wrap onto a second line"

            def no_keys() -> None:
                body = page.inner_text("main")
                assert "regmine." not in body and "regulation." not in body, body[:400]

            page.goto(server.url + "/regulation/mine")
            page.fill("input[name=username]", "chen")
            page.fill("input[name=password]", PASSWORD)
            page.click("form.stack button[type=submit]")
            expect(page).to_have_url(server.url + "/regulation/mine")
            expect(page.locator("#regmine-no-profile")).to_be_visible()
            header_fits()
            no_keys()
            check_a11y(page)
            shot("01-choose-type")

            page.check("#profile-form input[value=industrial]")
            page.click("#profile-save")
            expect(page.locator("#regmine-etype")).to_have_text("联网工业企业")
            expect(page.locator("#regmine-level")).to_have_text("未定级")
            check_a11y(page)
            shot("02-my-enterprise")

            page.click("#link-grading")
            form = page.locator("#grading-form")
            expect(form.locator("fieldset.factor[data-factor]")).to_have_count(5)
            expect(form).to_contain_text("是否认定为关键信息基础设施")
            for factor, value in (("sector", "key"), ("scale", "medium"),
                                  ("networking", "partial"), ("incident_impact", "notable"),
                                  ("cii", "no")):  # fmt: skip
                form.locator(f"input[name='answer.{factor}'][value={value}]").check()
            page.fill("#grading-form textarea[name=note]", "2025 年度自评，附等保测评报告")
            page.set_input_files("#grading-form input[type=file]", str(photo))
            check_a11y(page)
            shot("03-questionnaire")
            page.click("#grading-save")
            expect(page.locator("#grading")).to_have_attribute("data-state", "draft")
            # 30 + 12 + 12 + 15 = 69 points: level 2
            expect(page.locator("#scoring-level")).to_contain_text("二级")
            expect(page.locator("#scoring-level")).to_contain_text("69")
            expect(page.locator("#scoring-lines tbody tr")).to_have_count(5)
            expect(page.locator("#grading-form")).to_contain_text("firmware.png")
            expect(page.locator("#grading-history")).to_contain_text("创建自评草稿")
            expect(page.locator("#grading-history thead")).to_contain_text("Asia/Shanghai")
            no_keys()
            check_a11y(page)
            shot("04-saved-with-scoring")

            page.click("#grading-submit")
            expect(page.locator("#grading")).to_have_attribute("data-state", "submitted")
            expect(page.locator("#grading-state")).to_have_text("已提交，待核查")
            expect(page.locator("#grading-form")).to_have_count(0)
            check_a11y(page)
            shot("05-submitted")

            issued = api.post(
                "/api/v1/regulation/notices",
                json={
                    "kind": "vulnerability",
                    "severity": "high",
                    "title": "数控系统远程代码执行漏洞处置通报",
                    "body": "请于期限内升级数控系统固件至 V2.3.1，并反馈处置情况。",
                    "select": {"uscc": [USCC]},
                },
                headers=rita,
            )
            assert issued.status_code == 201, issued.text
            uid = issued.json()["uid"]

            page.click("nav.regmine-tabs >> text=通报处置")
            item = page.locator(f"#notice-{uid}")
            expect(item).to_have_attribute("data-state", "sent")
            expect(item).to_contain_text("待签收")
            expect(item).to_contain_text("签收期限（Asia/Shanghai）")
            no_keys()
            check_a11y(page)
            shot("06-notice-received")

            item.locator(".sign-form button").click()
            item = page.locator(f"#notice-{uid}")
            expect(item).to_have_attribute("data-state", "signed")
            item.locator("details.act summary").click()
            item.locator("textarea[name=text]").fill(
                "已于当日升级全部 12 台数控系统固件，附升级截图。"
            )
            item.locator("input[type=file]").set_input_files(str(photo))
            check_a11y(page)
            shot("07-report-form")
            item.locator(".report-form button").click()
            item = page.locator(f"#notice-{uid}")
            expect(item).to_have_attribute("data-state", "reported")
            expect(item.locator(".notice-reports")).to_contain_text("升级全部 12 台")
            expect(item.locator(".notice-reports")).to_contain_text("firmware.png")

            verdict = api.post(
                f"/api/v1/regulation/notices/{uid}/recipients/{USCC}/verify",
                json={"decision": "close", "text": "处置到位"},
                headers=rita,
            )
            assert verdict.status_code == 200, verdict.text
            page.reload()
            item = page.locator(f"#notice-{uid}")
            expect(item).to_have_attribute("data-state", "closed")
            expect(item.locator(".notice-verdicts")).to_contain_text("处置到位")
            check_a11y(page)
            shot("08-notice-closed")

            page.goto(server.url + f"/lang/en?next=/regulation/mine/{USCC}/grading")
            expect(page.locator("h1")).to_have_text("Self-assessment")
            expect(page.locator("#scoring-level")).to_contain_text("Level 2")
            expect(page.locator("#scoring-lines")).to_contain_text("A key sector")
            shot("09-in-english")
            header_fits()
            no_keys()
            check_a11y(page)
            page.goto(server.url + "/regulation/mine")
            header_fits()
            shot("10-summary-in-english")
        finally:
            browser.close()
