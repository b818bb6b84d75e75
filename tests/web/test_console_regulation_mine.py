"""The enterprise's regulation pages in-process (web/console/regulation_mine*.py), in both
languages: the whole path (type chosen, questionnaire filled from the rule table, saved with
its proposed level and scoring, submitted, returned with comments), refusals shown by their
reason with nothing changed, obligations and notices, and another enterprise's things 404."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from dataclasses import dataclass

import httpx
import pytest
from tests.conftest import USCC_A, USCC_B, api_token
from tests.core.test_documents import png
from tests.web.test_console import text_of, with_cjk

from indunet import core
from indunet.core import Role
from indunet.regulation import Regulation
from indunet.web import AppState, create_app
from indunet.web.auth import SESSION_COOKIE
from indunet.web.csrf import HEADER, csrf_token

ANSWERS = {
    "answer.sector": "key",
    "answer.scale": "large",
    "answer.networking": "deep",
    "answer.incident_impact": "severe",
    "answer.cii": "no",
}  # 30 + 20 + 20 + 30 = 100 points: level 3
PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


@dataclass
class World:
    state: AppState
    svc: Regulation
    app: object
    a: core.Enterprise
    b: core.Enterprise

    async def client(self, username: str, lang: str = "zh-CN") -> httpx.AsyncClient:
        transport = httpx.ASGITransport(app=self.app)  # type: ignore[arg-type]
        c = httpx.AsyncClient(transport=transport, base_url="http://testserver")
        resp = await c.post("/login", data={"username": username, "password": "a-long-password"})
        assert resp.status_code == 303, resp.text
        c.headers[HEADER] = csrf_token(c.cookies[SESSION_COOKIE])
        c.cookies.set("lang", lang)
        return c

    def user(self, username: str) -> core.User:
        with self.state.engine.begin() as conn:
            found = core.get_user(conn, username)
        assert found is not None
        return found


@pytest.fixture
async def world(state: AppState) -> AsyncIterator[World]:
    with state.engine.begin() as conn:
        a = core.create_enterprise(
            conn, uscc=USCC_A, name="甲方机床有限公司", actor="t", verified=True
        )
        b = core.create_enterprise(
            conn, uscc=USCC_B, name="乙方化工有限公司", actor="t", verified=True
        )
    for name, role, eid in (
        ("a-admin", Role.ENTERPRISE_ADMIN, a.id),
        ("a-user", Role.ENTERPRISE_USER, a.id),
        ("b-admin", Role.ENTERPRISE_ADMIN, b.id),
        ("rita", Role.REGULATOR, None),
        ("root", Role.PLATFORM_ADMIN, None),
    ):
        api_token(state.engine, name, role, eid)
    svc = state.services["regulation"]
    assert isinstance(svc, Regulation)
    yield World(state, svc, create_app(state), a, b)


def shown_error(html: str) -> str:
    found = re.search(r'<div class="alert error" role="alert">(.*?)</div>', html, re.S)
    assert found, "no error shown"
    return text_of(found.group(1))


@pytest.mark.parametrize("lang", ["zh-CN", "en"])
async def test_the_whole_enterprise_path(world: World, lang: str) -> None:
    zh = lang == "zh-CN"
    admin = await world.client("a-admin", lang)
    page = await admin.get("/regulation/mine")
    assert page.status_code == 200
    assert 'id="profile-form"' in page.text
    assert ("联网工业企业" if zh else "Networked industrial enterprise") in page.text  # the table's
    assert "regmine." not in text_of(page.text)
    if not zh:
        assert with_cjk(page, {"甲方机床有限公司", "中文"}) == set()

    done = await admin.post("/regulation/mine/profile", data={"etype": "industrial"})
    assert done.status_code == 303 and done.headers["location"] == "/regulation/mine"
    page = await admin.get("/regulation/mine")
    assert 'id="regmine-level"' in page.text and ("未定级" if zh else "Not graded") in page.text
    assert f"/regulation/mine/{USCC_A}/grading" in page.text

    grading = await admin.get(f"/regulation/mine/{USCC_A}/grading")
    form = grading.text
    assert 'id="grading-form"' in form and 'name="answer.cii"' in form
    assert ("是否认定为关键信息基础设施" if zh else "Designated critical information") in form
    assert 'id="grading-submit"' not in form  # nothing saved yet

    saved = await admin.post(
        f"/regulation/mine/{USCC_A}/grading",
        data={**ANSWERS, "note": "首次自评"},
        files={"file": ("licence.png", png(), "image/png")},
    )
    assert saved.status_code == 303, saved.text
    page = await admin.get(f"/regulation/mine/{USCC_A}/grading")
    assert 'data-state="draft"' in page.text
    level = text_of(re.search(r'id="scoring-level">(.*?)</p>', page.text, re.S).group(1))
    assert ("三级" if zh else "Level 3") in level and "100" in level
    assert page.text.count('<tr data-factor="') == 5
    assert ("重点行业领域" if zh else "A key sector") in page.text  # the chosen option's label
    assert "licence.png" in page.text  # the evidence kept
    assert 'name="keep"' in page.text and 'id="grading-submit"' in page.text
    assert ("创建自评草稿" if zh else "Draft started") in page.text  # history
    assert "a-admin" in page.text and "regmine." not in text_of(page.text)

    # a decisive factor: the same answers but a designated CII, saved again (level 3, lines)
    uid = world.svc.mine(world.user("a-admin"))
    assert uid is not None
    g = world.svc.enterprise(world.user("a-admin"), USCC_A)["grading"]
    changed = await admin.post(
        f"/regulation/mine/gradings/{g['uid']}",
        data={**ANSWERS, "answer.sector": "other", "answer.scale": "small", "answer.cii": "yes",
              "keep": g["data"]["evidence"][0]},
    )  # fmt: skip
    assert changed.status_code == 303, changed.text
    page = await admin.get(f"/regulation/mine/{USCC_A}/grading")
    assert 'id="scoring-decisive"' in page.text

    submitted = await admin.post(f"/regulation/mine/gradings/{g['uid']}/submit")
    assert submitted.status_code == 303
    page = await admin.get(f"/regulation/mine/{USCC_A}/grading")
    assert 'data-state="submitted"' in page.text and 'id="grading-form"' not in page.text

    # the authority returns it with a comment: the page shows it, and the form again
    world.svc.review_grading(world.user("rita"), g["uid"], "return", "请补充等保测评报告", None)
    page = await admin.get(f"/regulation/mine/{USCC_A}/grading")
    assert 'data-state="returned"' in page.text
    assert "请补充等保测评报告" in page.text and 'id="grading-comments"' in page.text
    assert 'id="grading-form"' in page.text
    summary = await admin.get("/regulation/mine")
    assert ("主管部门退回了自评" if zh else "The authority returned") in summary.text


async def test_bad_answers_and_a_wrong_file_are_refused_by_their_reason_and_change_nothing(
    world: World,
) -> None:
    admin = await world.client("a-admin", "en")
    await admin.post("/regulation/mine/profile", data={"etype": "industrial"})
    missing = {k: v for k, v in ANSWERS.items() if k != "answer.scale"}
    resp = await admin.post(
        f"/regulation/mine/{USCC_A}/grading",
        data=missing,
        files={"file": ("licence.png", png(), "image/png")},
    )
    assert resp.status_code == 400
    assert "Size of the enterprise" in shown_error(resp.text)  # the factor, by its title
    assert 'value="deep" checked' in resp.text  # what was entered stays on the page
    with world.state.engine.connect() as conn:
        assert conn.exec_driver_sql("SELECT count(*) FROM reg_gradings").scalar() == 0
        assert conn.exec_driver_sql("SELECT count(*) FROM reg_evidence").scalar() == 0

    zh = await world.client("a-admin", "zh-CN")
    resp = await zh.post(
        f"/regulation/mine/{USCC_A}/grading",
        data=ANSWERS,
        files={"file": ("report.png", b"MZ\x90\x00 not an image", "image/png")},
    )
    assert resp.status_code == 400
    assert "证明材料须为 PNG、JPEG 图片或 PDF 文件" in shown_error(resp.text)
    with world.state.engine.connect() as conn:
        assert conn.exec_driver_sql("SELECT count(*) FROM reg_gradings").scalar() == 0
        assert conn.exec_driver_sql("SELECT count(*) FROM reg_evidence").scalar() == 0

    # a file over 4 MiB by the console's form: refused by its reason (not by the body limit)
    big = PDF + b"0" * (4 * 1024 * 1024)
    resp = await zh.post(
        f"/regulation/mine/{USCC_A}/grading",
        data=ANSWERS,
        files={"file": ("big.pdf", big, "application/pdf")},
    )
    assert resp.status_code == 413 and "证明材料最大 4 MiB" in shown_error(resp.text)

    # submitting twice: the second is refused with the state named in the reader's language
    ok = await zh.post(f"/regulation/mine/{USCC_A}/grading", data=ANSWERS)
    assert ok.status_code == 303
    g = world.svc.enterprise(world.user("a-admin"), USCC_A)["grading"]
    await zh.post(f"/regulation/mine/gradings/{g['uid']}/submit")
    again = await zh.post(f"/regulation/mine/gradings/{g['uid']}/submit")
    assert again.status_code == 409
    assert "处于“已提交，待核查”状态的定级不能提交" in shown_error(again.text)


async def test_users_see_but_only_admins_are_offered_the_self_assessment(world: World) -> None:
    admin = await world.client("a-admin")
    user = await world.client("a-user")
    page = await user.get("/regulation/mine")
    assert 'id="regmine-ask-admin"' in page.text and 'id="profile-form"' not in page.text
    await admin.post("/regulation/mine/profile", data={"etype": "platform"})
    page = await user.get(f"/regulation/mine/{USCC_A}/grading")
    assert page.status_code == 200 and 'id="grading-form"' not in page.text
    assert 'id="grading-admins-only"' in page.text
    refused = await user.post(f"/regulation/mine/{USCC_A}/grading", data={"answer.reach": "own"})
    assert refused.status_code == 403


async def test_obligations_complete_with_evidence_and_findings(world: World) -> None:
    admin = await world.client("a-admin", "en")
    await admin.post("/regulation/mine/profile", data={"etype": "industrial"})
    await admin.post(f"/regulation/mine/{USCC_A}/grading", data=ANSWERS)
    me = world.user("a-admin")
    g = world.svc.enterprise(me, USCC_A)["grading"]
    world.svc.submit_grading(me, g["uid"])
    world.svc.review_grading(world.user("rita"), g["uid"], "confirm", "", None)

    page = await admin.get(f"/regulation/mine/{USCC_A}/obligations")
    assert page.status_code == 200 and 'data-kind="evaluation"' in page.text
    assert "Conformity evaluation" in page.text and "Due (UTC)" in page.text
    rows, _ = world.svc.obligations(me, 0, 50, uscc=USCC_A, kind="evaluation", open_only=True)
    ev = rows[0]["uid"]
    # an evaluation needs evidence: refused by its reason, still open
    resp = await admin.post(f"/regulation/mine/obligations/{ev}/complete", data={"note": "done"})
    assert resp.status_code == 400 and "at least one evidence file" in shown_error(resp.text)
    done = await admin.post(
        f"/regulation/mine/obligations/{ev}/complete",
        data={"note": "evaluated", "findings": "弱口令\n\n未分区"},
        files={"file": ("report.pdf", PDF, "application/pdf")},
    )
    assert done.status_code == 303, done.text
    rect, n = world.svc.obligations(me, 0, 50, uscc=USCC_A, kind="rectification")
    assert n == 2 and {r["item"] for r in rect} == {"弱口令", "未分区"}
    page = await admin.get(f"/regulation/mine/{USCC_A}/obligations?show=all")
    assert "report.pdf" in page.text and "2 findings" in page.text
    overdue = await admin.get(f"/regulation/mine/{USCC_A}/obligations?show=overdue")
    assert 'id="obligations-empty"' in overdue.text


async def test_notices_are_signed_and_reported_by_the_enterprises_users(world: World) -> None:
    admin = await world.client("a-admin")
    await admin.post("/regulation/mine/profile", data={"etype": "industrial"})
    rita = world.user("rita")
    notice = world.svc.issue(
        rita,
        {
            "kind": "vulnerability",
            "severity": "high",
            "title": "西门子 PLC 漏洞处置",
            "body": "请升级固件",
        },
        {"uscc": [USCC_A]},
    )
    world.svc.issue(rita, {"kind": "risk", "severity": "low", "title": "勒索软件风险提示"},
                    {"uscc": [USCC_A]})  # fmt: skip
    user = await world.client("a-user")
    page = await user.get(f"/regulation/mine/{USCC_A}/notices")
    assert page.status_code == 200 and page.text.count('class="notice-item"') == 2
    assert "待签收" in page.text and "签收期限（Asia/Shanghai）" in page.text
    found = await user.get(f"/regulation/mine/{USCC_A}/notices?q=PLC")
    assert found.text.count('class="notice-item"') == 1 and "勒索" not in found.text

    base = f"/regulation/mine/{USCC_A}/notices/{notice['uid']}"
    assert (await user.post(f"{base}/sign")).status_code == 303
    empty = await user.post(f"{base}/report", data={"text": " "})
    assert empty.status_code == 400 and "该决定需要填写意见" in shown_error(empty.text)
    assert 'type="file"' not in (await user.get(f"/regulation/mine/{USCC_A}/notices")).text
    sent = await user.post(f"{base}/report", data={"text": "已升级固件"})
    assert sent.status_code == 303, sent.text
    world.svc.act(rita, notice["uid"], USCC_A, "verify", "请补充升级截图", None, "return")
    again = await admin.post(  # an admin reports again, with the photo asked for
        f"{base}/report",
        data={"text": "附升级截图"},
        files={"file": ("photo.png", png(), "image/png")},
    )
    assert again.status_code == 303, again.text
    page = await user.get(f"/regulation/mine/{USCC_A}/notices")
    item = page.text.split(f'id="notice-{notice["uid"]}"')[1].split("</article>")[0]
    assert "已升级固件" in item and "附升级截图" in item and "photo.png" in item
    assert "请补充升级截图" in item and "退回重新处置" in item and "已反馈，待核验" in item


async def test_another_enterprises_things_are_not_found(world: World) -> None:
    b_admin = await world.client("b-admin")
    await b_admin.post("/regulation/mine/profile", data={"etype": "industrial"})
    await b_admin.post(f"/regulation/mine/{USCC_B}/grading", data=ANSWERS)
    g = world.svc.enterprise(world.user("b-admin"), USCC_B)["grading"]
    notice = world.svc.issue(
        world.user("rita"), {"kind": "risk", "severity": "low", "title": "x"}, {"uscc": [USCC_B]}
    )
    a_admin = await world.client("a-admin")
    for path in ("grading", "obligations", "notices"):
        assert (await a_admin.get(f"/regulation/mine/{USCC_B}/{path}")).status_code == 404
    assert (await a_admin.get(f"/regulation/mine?enterprise_id={world.b.id}")).status_code == 404
    for path in (
        f"/regulation/mine/gradings/{g['uid']}",
        f"/regulation/mine/gradings/{g['uid']}/submit",
        f"/regulation/mine/{USCC_B}/grading",
        f"/regulation/mine/{USCC_B}/notices/{notice['uid']}/sign",
        f"/regulation/mine/{USCC_B}/notices/{notice['uid']}/report",
    ):
        resp = await a_admin.post(path, data={**ANSWERS, "text": "x"})
        assert resp.status_code == 404, (path, resp.status_code)
        assert "乙方化工有限公司" not in resp.text
    resp = await a_admin.post(
        "/regulation/mine/profile", data={"etype": "platform", "enterprise_id": str(world.b.id)}
    )
    assert resp.status_code == 404
    assert (
        world.svc.enterprise(world.user("b-admin"), USCC_B)["enterprise"]["etype"] == "industrial"
    )
    assert world.svc.grading(world.user("b-admin"), g["uid"])["state"] == "draft"


async def test_a_platform_admin_picks_an_enterprise(world: World) -> None:
    root = await world.client("root", "en")
    page = await root.get("/regulation/mine?q=乙方")
    assert 'id="regmine-pick"' in page.text and "乙方化工有限公司" in page.text
    assert "甲方机床有限公司" not in page.text
    done = await root.post(
        "/regulation/mine/profile", data={"etype": "identifier", "enterprise_id": str(world.b.id)}
    )
    assert done.status_code == 303
    assert done.headers["location"] == f"/regulation/mine?enterprise_id={world.b.id}"
    page = await root.get(done.headers["location"])
    assert "Identifier resolution" in page.text or 'id="regmine-etype"' in page.text
    nothing = await root.post("/regulation/mine/profile", data={"etype": "platform"})
    assert nothing.status_code == 400 and "Pick an enterprise first" in shown_error(nothing.text)
