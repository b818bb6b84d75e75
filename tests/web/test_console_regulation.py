"""The authority's regulation pages in-process (regulators and platform admins): the overview
with its counts and statistics by region, the enterprises searched and filtered, a grading
reviewed, a notice issued and a disposal verified; an enterprise's users refused; bad input
shown with its reason in the reader's language and nothing changed."""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from tests.web.test_console import log_in, text_of, with_cjk

from indunet import core
from indunet.core import regions
from indunet.core.uscc import make_uscc
from indunet.regulation import Regulation
from indunet.web import AppState, create_app

PASSWORD = "a-long-enough-password-1"
PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + b"\x00" * 64
ANSWERS = {
    "sector": "key",
    "scale": "large",
    "networking": "deep",
    "incident_impact": "severe",
    "cii": "no",
}
HTML = {"Accept": "text/html"}
#: Three enterprises of two provinces: 福建 (厦门, 泉州) and 广东 (深圳).
FIRMS = (
    (make_uscc("9135020000000101"), "厦门示例机床有限公司", "350203"),
    (make_uscc("9135050000000102"), "泉州示例纺织有限公司", "350502"),
    (make_uscc("9144030000000103"), "深圳示例电子有限公司", "440305"),
)


@dataclass
class World:
    state: AppState
    reg: Regulation
    admins: list[core.User]
    regulator: core.User
    grading: str
    sha: str


def _user(state: AppState, name: str, role: core.Role, eid: int | None) -> core.User:
    with state.engine.begin() as conn:
        return core.create_user(
            conn, username=name, password=PASSWORD, role=role, actor="test", enterprise_id=eid
        )


@pytest.fixture
def world(state: AppState) -> World:
    reg = state.services["regulation"]
    assert isinstance(reg, Regulation)
    admins = []
    for i, (uscc, name, region) in enumerate(FIRMS):
        with state.engine.begin() as conn:
            e = core.create_enterprise(
                conn, uscc=uscc, name=name, actor="t", region=region, industry_code="C26"
            )
        admin = _user(state, f"boss{i}", core.Role.ENTERPRISE_ADMIN, e.id)
        reg.set_profile(admin, e.id, "industrial")
        admins.append(admin)
    sha = reg.upload(admins[0], FIRMS[0][0], "licence.png", PNG)["sha256"]
    g = reg.start_grading(admins[0], FIRMS[0][0], ANSWERS, [sha], "见附件")
    reg.submit_grading(admins[0], g["uid"])
    regulator = _user(state, "rita", core.Role.REGULATOR, None)
    return World(state, reg, admins, regulator, g["uid"], sha)


@pytest.fixture
async def app(state: AppState) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=create_app(state))
    async with httpx.AsyncClient(
        transport=transport, base_url="http://testserver", headers=HTML
    ) as c:
        yield c


async def as_(client: httpx.AsyncClient, name: str) -> httpx.AsyncClient:
    assert (await log_in(client, name, PASSWORD)).status_code == 303
    return client


def shown(resp: httpx.Response) -> str:
    return re.sub(r"\s+", " ", text_of(resp.text))


def chart_of(resp: httpx.Response) -> dict[str, Any]:
    found = re.search(r'id="regulation-data">(.*?)</script>', resp.text, re.S)
    assert found, resp.text[:400]
    data: dict[str, Any] = json.loads(found.group(1))
    return data


@pytest.mark.parametrize("lang", ["zh-CN", "en"])
async def test_every_authority_page_reads_in_both_languages(
    world: World, app: httpx.AsyncClient, lang: str
) -> None:
    c = await as_(app, "rita")
    c.cookies.set("lang", lang)
    notice = world.reg.issue(
        world.regulator,
        {"kind": "risk", "severity": "low", "title": "弱口令风险"},
        {"region": "35"},
    )
    pages = [
        "/regulation",
        "/regulation?digits=4",
        "/regulation/enterprises",
        f"/regulation/enterprises/{FIRMS[0][0]}",
        "/regulation/gradings",
        f"/regulation/gradings/{world.grading}",
        "/regulation/notices",
        "/regulation/notices/new",
        f"/regulation/notices/{notice['uid']}",
        "/regulation/recipients?region=35",
        "/regulation/recipients?overdue=1",
    ]
    data = {name for _, name, _ in FIRMS} | {"弱口令风险", "见附件", "中文"}
    data |= {
        regions.name_of(code.ljust(6, "0")) or "" for _, _, r in FIRMS for code in (r, r[:2], r[:4])
    }
    for path in pages:
        resp = await c.get(path)
        assert resp.status_code == 200, (path, resp.text[:300])
        assert f'<html lang="{lang}">' in resp.text
        assert "regulation." not in shown(resp) and "{{" not in resp.text, path
        if lang == "en":
            assert with_cjk(resp, data) == set(), path
        else:
            assert "监管" in resp.text


async def test_the_overview_counts_and_compares_regions(
    world: World, app: httpx.AsyncClient
) -> None:
    world.reg.issue(
        world.regulator,
        {"kind": "vulnerability", "severity": "high", "title": "PLC 漏洞"},
        {"etype": "industrial"},
    )
    c = await as_(app, "rita")
    page = await c.get("/regulation")  # no federation identity: provinces (2 digits)
    text = shown(page)
    assert re.search(r'id="count-enterprises">3<', page.text)
    assert re.search(r'id="count-submitted">1<', page.text)
    assert re.search(r'id="count-open-notices">3<', page.text)
    chart = chart_of(page)
    assert chart["types"][0] == "联网工业企业"
    assert chart["levels"][0] == ["未定级", [3, 0, 0]]
    assert [r[0] for r in chart["regions"]] == ["福建省 (35)", "广东省 (44)"]
    assert [r[1] for r in chart["regions"]] == [2, 1]
    assert 'href="/regulation/recipients?region=35"' in page.text
    assert "按时签收" in text and "平均处置用时" in text
    cities = chart_of(await c.get("/regulation?digits=4"))
    assert [r[0] for r in cities["regions"]] == ["厦门市 (3502)", "泉州市 (3505)", "深圳市 (4403)"]
    drill = await c.get("/regulation/recipients?region=3505")
    assert FIRMS[1][1] in drill.text and FIRMS[0][1] not in drill.text
    assert "泉州市 (3505)" in shown(drill)


async def test_enterprises_are_searched_filtered_and_paged(
    world: World, app: httpx.AsyncClient
) -> None:
    c = await as_(app, "rita")
    every = await c.get("/regulation/enterprises")
    assert all(name in every.text for _, name, _ in FIRMS)
    assert "本实例" in shown(every)  # where each lives
    found = await c.get("/regulation/enterprises", params={"q": "泉州"})
    assert FIRMS[1][1] in found.text and FIRMS[0][1] not in found.text
    by_code = await c.get("/regulation/enterprises", params={"q": FIRMS[2][0]})
    assert FIRMS[2][1] in by_code.text and FIRMS[1][1] not in by_code.text
    fujian = await c.get("/regulation/enterprises", params={"region": "35"})
    assert FIRMS[0][1] in fujian.text and FIRMS[2][1] not in fujian.text
    waiting = await c.get("/regulation/enterprises", params={"state": "submitted"})
    assert FIRMS[0][1] in waiting.text and FIRMS[1][1] not in waiting.text
    hostile = await c.get(
        "/regulation/enterprises", params={"level": "x", "etype": "<b>", "region": "3x"}
    )
    assert hostile.status_code == 200 and FIRMS[2][1] in hostile.text
    paged = await c.get("/regulation/enterprises", params={"size": "20", "page": "9"})
    assert paged.status_code == 303  # past the last page: to the last one


async def test_a_regulator_reviews_a_grading_and_a_bad_review_changes_nothing(
    world: World, app: httpx.AsyncClient
) -> None:
    c = await as_(app, "rita")
    page = await c.get(f"/regulation/gradings/{world.grading}")
    assert "所属行业" in page.text and "重点行业领域" in page.text  # the question and answer
    assert f"/regulation/evidence/{world.sha}" in page.text
    assert 'id="review-form"' in page.text
    proposed = world.reg.grading(world.regulator, world.grading)["proposed"]
    other = 1 if proposed != 1 else 2
    url = f"/regulation/gradings/{world.grading}/review"
    bad = await c.post(url, data={"decision": "confirm", "level": str(other), "comment": ""})
    assert bad.status_code == 400
    assert "该决定需要填写意见。" in bad.text
    assert world.reg.grading(world.regulator, world.grading)["state"] == "submitted"
    c.cookies.set("lang", "en")
    bad_en = await c.post(url, data={"decision": "maybe", "level": "1", "comment": ""})
    assert bad_en.status_code == 400 and "That decision is not valid here." in bad_en.text
    c.cookies.set("lang", "zh-CN")
    done = await c.post(url, data={"decision": "confirm", "level": str(other), "comment": "核实"})
    assert done.status_code == 303
    g = world.reg.grading(world.regulator, world.grading)
    assert (g["state"], g["level"]) == ("confirmed", other)
    after = await c.get(done.headers["location"])
    assert (
        "定级已确认" in after.text and "核实" in after.text and 'id="review-form"' not in after.text
    )
    firm = await c.get(f"/regulation/enterprises/{FIRMS[0][0]}")
    assert 'id="obligation-rows"' in firm.text and "分级防护" in firm.text
    queue = await c.get("/regulation/gradings")
    assert FIRMS[0][1] not in queue.text  # no longer waiting
    assert FIRMS[0][1] in (await c.get("/regulation/gradings?state=confirmed")).text
    evidence = await c.get(f"/regulation/evidence/{world.sha}")
    assert evidence.status_code == 200 and evidence.content == PNG


async def test_a_regulator_issues_a_notice_and_verifies_a_disposal(
    world: World, app: httpx.AsyncClient
) -> None:
    c = await as_(app, "rita")
    form = {
        "kind": "vulnerability",
        "severity": "critical",
        "title": "某型号 PLC 远程代码执行漏洞",
        "body": "请立即升级固件。",
        "uscc": "",
        "region": "",
        "products": "",
        "sign_within_h": "",
        "dispose_within_h": "",
    }
    for bad, says in (
        ({}, "通报的接收范围无效"),
        ({"region": "35", "sign_within_h": "soon"}, "的期限应在 10 秒到 180 天之间"),
        ({"region": "35", "title": " "}, "字段 title 无效"),
        ({"uscc": make_uscc("9111000000000999")}, "不在本实例的管辖范围内"),
        ({"region": "11"}, "没有企业符合所选条件"),
    ):
        resp = await c.post("/regulation/notices", data={**form, **bad})
        assert resp.status_code in (400, 403), (bad, resp.status_code)
        assert says in resp.text, (bad, shown(resp)[:500])
        assert form["title"] in resp.text or bad.get("title")  # the form keeps what was typed
    with world.reg.engine.connect() as conn:
        from indunet.regulation.views import notices_page

        assert notices_page(conn, q="", offset=0, limit=5)[1] == 0
    issued = await c.post(
        "/regulation/notices", data={**form, "region": "35", "dispose_within_h": "48"}
    )
    assert issued.status_code == 303, shown(issued)[:400]
    url = issued.headers["location"].split("?")[0]
    uid = url.rsplit("/", 1)[-1]
    page = await c.get(issued.headers["location"])
    assert "通报已发布" in page.text
    assert "user:rita" not in page.text and "rita" in page.text  # who issued it, by name
    assert FIRMS[0][1] in page.text and FIRMS[1][1] in page.text and FIRMS[2][1] not in page.text
    listed = await c.get("/regulation/notices", params={"q": "PLC"})
    assert uid in listed.text
    world.reg.act(world.admins[0], uid, FIRMS[0][0], "report", "已升级固件", [world.sha])
    page = await c.get(url)
    assert "已升级固件" in page.text and f"{url}/recipients/{FIRMS[0][0]}/verify" in page.text
    verify = f"{url}/recipients/{FIRMS[0][0]}/verify"
    refused = await c.post(verify, data={"decision": "return", "text": ""})
    assert refused.status_code == 400 and "该决定需要填写意见。" in refused.text
    assert world.reg.act  # nothing changed:
    with world.reg.engine.connect() as conn:
        from indunet.regulation.views import recipients_page

        rows, _ = recipients_page(conn, notice=uid, uscc=FIRMS[0][0])
    assert rows[0]["state"] == "reported"
    closed = await c.post(verify, data={"decision": "close", "text": ""})
    assert closed.status_code == 303
    only_closed = await c.get(url, params={"state": "closed"})
    assert FIRMS[0][1] in only_closed.text and FIRMS[1][1] not in only_closed.text
    found = await c.get(url, params={"q": "泉州"})
    assert FIRMS[1][1] in found.text and FIRMS[0][1] not in found.text


async def test_enterprise_users_are_refused_and_change_nothing(
    world: World, app: httpx.AsyncClient, state: AppState
) -> None:
    _user(state, "worker0", core.Role.ENTERPRISE_USER, world.admins[0].enterprise_id)
    c = await as_(app, "boss0")
    entry = await c.get("/regulation")  # the section's entry leads to its own enterprise
    assert entry.status_code == 303 and entry.headers["location"] == "/regulation/mine"
    mine = await c.get("/regulation/mine")
    assert 'href="/regulation/gradings"' not in mine.text  # the authority's tabs are not shown
    for path in (
        "/regulation/enterprises",
        "/regulation/gradings",
        "/regulation/notices",
        "/regulation/notices/new",
        "/regulation/recipients",
        f"/regulation/gradings/{world.grading}",  # its own grading: still the authority's page
        f"/regulation/enterprises/{FIRMS[0][0]}",
    ):
        resp = await c.get(path)
        assert resp.status_code == 403, path
        assert "这些页面供监管人员和平台管理员使用。" in resp.text, path
        assert FIRMS[1][1] not in resp.text
    review = f"/regulation/gradings/{world.grading}/review"
    resp = await c.post(review, data={"decision": "confirm", "level": "3", "comment": "x"})
    assert resp.status_code == 403 and "该操作需要监管人员" in resp.text
    assert world.reg.grading(world.regulator, world.grading)["state"] == "submitted"
    issue = await c.post("/regulation/notices", data={"kind": "risk", "severity": "low",
                                                      "title": "x", "region": "35"})  # fmt: skip
    assert issue.status_code == 403
    other = await as_(app, "boss1")  # another enterprise: the grading is not found at all
    assert (await other.get(f"/regulation/gradings/{world.grading}")).status_code == 404
    assert (await other.get(f"/regulation/enterprises/{FIRMS[0][0]}")).status_code == 404
    assert (await other.get(f"/regulation/evidence/{world.sha}")).status_code == 404
    resp = await other.post(review, data={"decision": "confirm", "level": "3", "comment": "x"})
    assert resp.status_code == 404
    assert world.reg.grading(world.regulator, world.grading)["state"] == "submitted"
