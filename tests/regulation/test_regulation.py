"""Grading and notices across three instances, each a whole Indunet app with its own database
(national ``cn`` ← province ``fj`` ← enterprise ``xm``; the province also hosts a small
enterprise itself), messages delivered over their real API in process: the whole grading
workflow, a notice from the nation reaching both enterprises, one disposed in time and one
escalated; every bad input refused with its reason and nothing changed."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa

from indunet.core import Conflict, InvalidInput, NotFound, PermissionDenied, Role, Settings
from indunet.core.enterprises import create_enterprise
from indunet.core.uscc import make_uscc
from indunet.core.users import User, create_user
from indunet.federation import Federation, enrolment, identity
from indunet.federation.outbox import Sender
from indunet.federation.tables import received
from indunet.regulation import Regulation, rules
from indunet.regulation.evidence import EvidenceTooLarge
from indunet.regulation.views import overview, stats
from indunet.web import create_app
from indunet.web.app import build_state

PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + b"\x00" * 64
XM = make_uscc("9135020000000001")
QZ = make_uscc("9135050000000002")
ANSWERS = {
    "sector": "key",
    "scale": "large",
    "networking": "deep",
    "incident_impact": "severe",
    "cii": "no",
}


def allow_all(url: str) -> None:
    """In-process peers have made-up host names (the destination policy is tested apart)."""


@dataclass
class Node:
    name: str
    fed: Federation
    reg: Regulation
    engine: sa.Engine
    client: httpx.AsyncClient
    users: dict[str, User]


async def node(tmp: Path, name: str, level: str) -> Node:
    state = build_state(Settings(data_dir=tmp / name / "data", port=8000))
    fed, reg = state.services["federation"], state.services["regulation"]
    assert isinstance(fed, Federation) and isinstance(reg, Regulation)
    identity.init(state.engine, name, level, f"http://{name}.test", title=name.upper())
    fed.reload()
    fed.check_url = allow_all
    users: dict[str, User] = {}
    with state.engine.begin() as conn:
        users["regulator"] = create_user(
            conn,
            username=f"{name}-reg",
            password="Regulator-pass-1",
            role=Role.REGULATOR,
            actor="test",
        )
    client = httpx.AsyncClient(
        transport=httpx.ASGITransport(app=create_app(state)), base_url=f"http://{name}.test"
    )
    return Node(name, fed, reg, state.engine, client, users)


def tenant(n: Node, uscc: str, title: str, region: str) -> User:
    with n.engine.begin() as conn:
        e = create_enterprise(
            conn, uscc=uscc, name=title, actor="test", region=region, industry_code="C26"
        )
        return create_user(
            conn,
            username=f"{n.name}-{uscc[-4:]}",
            password="Admin-pass-12",
            role=Role.ENTERPRISE_ADMIN,
            actor="test",
            enterprise_id=e.id,
        )


async def join(parent: Node, child: Node, level: str) -> None:
    token = enrolment.issue_token(parent.engine, level, child.name)
    me = identity.load(child.engine)
    assert me is not None
    await enrolment.join(
        child.engine, me, f"http://{parent.name}.test", token, allow_all, client=parent.client
    )


async def pump(*links: tuple[Node, Node]) -> int:
    """Deliver every pending message along ``links`` (sender, receiver) until none is left."""
    moved = total = 1
    while moved:
        moved = 0
        for a, b in links:
            me = identity.load(a.engine)
            assert me is not None
            n = await Sender(a.engine, me.name, me.key, client=b.client).deliver(
                b.name, f"http://{b.name}.test"
            )
            moved += n
            total += n
    return total - 1


@dataclass
class Tree:
    cn: Node
    fj: Node
    xm: Node
    xm_admin: User
    qz_admin: User

    async def flow(self) -> int:
        return await pump(
            (self.xm, self.fj), (self.fj, self.cn), (self.cn, self.fj), (self.fj, self.xm)
        )


@pytest.fixture
async def fed_tree(tmp_path: Path) -> AsyncIterator[Tree]:
    cn = await node(tmp_path, "cn", "national")
    fj = await node(tmp_path, "fj", "province")
    xm = await node(tmp_path, "xm", "enterprise")
    await join(cn, fj, "province")
    await join(fj, xm, "enterprise")
    xm_admin = tenant(xm, XM, "厦门精密机械", "350203")
    qz_admin = tenant(fj, QZ, "泉州纺织", "350500")
    xm.reg.set_profile(xm_admin, xm_admin.enterprise_id or 0, "industrial")
    fj.reg.set_profile(qz_admin, qz_admin.enterprise_id or 0, "industrial")
    t = Tree(cn, fj, xm, xm_admin, qz_admin)
    await t.flow()
    yield t
    for n in (cn, fj, xm):
        await n.client.aclose()


def test_the_shipped_table_scores_and_refuses_what_it_does_not_know() -> None:
    table = rules.shipped()
    s = rules.score(table, "industrial", ANSWERS)
    assert (s.points, s.level, s.decisive) == (100, 3, None)
    low = {
        **ANSWERS,
        "sector": "other",
        "scale": "small",
        "networking": "basic",
        "incident_impact": "limited",
    }
    assert rules.score(table, "industrial", low).level == 1
    decisive = rules.score(table, "industrial", {**low, "cii": "yes"})
    assert (decisive.level, decisive.decisive) == (3, "cii")
    for bad, factor in (
        ({**ANSWERS, "scale": "huge"}, "scale"),
        ({k: v for k, v in ANSWERS.items() if k != "cii"}, "cii"),
        ({**ANSWERS, "extra": "x"}, "extra"),
    ):
        with pytest.raises(InvalidInput) as e:
            rules.score(table, "industrial", bad)
        assert e.value.reason == "regulation_answer" and e.value.params["factor"] == factor
    with pytest.raises(InvalidInput) as e:
        rules.check({**table, "obligations": {"1": table["obligations"]["1"]}})
    assert e.value.reason == "regulation_rules"


async def test_profiles_travel_up_and_each_level_knows_the_way(fed_tree: Tree) -> None:
    t = fed_tree
    with t.fj.engine.connect() as conn:
        assert overview(conn)["enterprises"] == 2
    xm_at_cn = t.cn.reg.enterprise(t.cn.users["regulator"], XM)["enterprise"]
    assert (xm_at_cn["instance"], xm_at_cn["via"], xm_at_cn["tenant_id"]) == ("xm", "fj", None)
    qz_at_cn = t.cn.reg.enterprise(t.cn.users["regulator"], QZ)["enterprise"]
    assert (qz_at_cn["instance"], qz_at_cn["via"]) == ("fj", "fj")
    xm_at_fj = t.fj.reg.enterprise(t.fj.users["regulator"], XM)["enterprise"]
    assert (xm_at_fj["instance"], xm_at_fj["via"]) == ("xm", "xm")
    # the province's own enterprise admin sees its enterprise only
    with pytest.raises(NotFound):
        t.fj.reg.enterprise(t.qz_admin, XM)


async def test_the_whole_grading_workflow_across_three_instances(fed_tree: Tree) -> None:
    t = fed_tree
    reg_fj = t.fj.users["regulator"]
    sha = t.xm.reg.upload(t.xm_admin, XM, "评估报告.png", PNG)["sha256"]
    g = t.xm.reg.start_grading(t.xm_admin, XM, ANSWERS, [sha], "首次定级")
    assert (g["state"], g["proposed"], g["data"]["scoring"]["points"]) == ("draft", 3, 100)
    with pytest.raises(Conflict):  # one open grading at a time
        t.xm.reg.start_grading(t.xm_admin, XM, ANSWERS, [], "")
    t.xm.reg.submit_grading(t.xm_admin, g["uid"])
    await t.flow()
    queue = t.fj.reg.grading(reg_fj, g["uid"])
    assert queue["state"] == "submitted" and queue["data"]["evidence"] == [sha]
    meta, content = t.fj.reg.evidence(reg_fj, sha)
    assert content == PNG and meta["name"] == "评估报告.png"
    with pytest.raises(PermissionDenied):  # an enterprise's instance does not review
        t.xm.reg.review_grading(t.xm.users["regulator"], g["uid"], "confirm", "", None)
    with pytest.raises(InvalidInput) as e:  # returning needs a comment
        t.fj.reg.review_grading(reg_fj, g["uid"], "return", "", None)
    assert e.value.reason == "regulation_comment_required"
    t.fj.reg.review_grading(reg_fj, g["uid"], "return", "补充联网设备清单", None)
    await t.flow()
    back = t.xm.reg.grading(t.xm_admin, g["uid"])
    assert (
        back["state"] == "returned" and back["data"]["comments"][-1]["text"] == "补充联网设备清单"
    )
    t.xm.reg.update_grading(
        t.xm_admin, g["uid"], {**ANSWERS, "networking": "partial"}, [sha], "已补充"
    )
    t.xm.reg.submit_grading(t.xm_admin, g["uid"])
    await t.flow()
    done = t.fj.reg.review_grading(reg_fj, g["uid"], "confirm", "", None)
    assert (done["state"], done["level"]) == ("confirmed", 3)
    await t.flow()
    for n, who in ((t.xm, t.xm_admin), (t.cn, t.cn.users["regulator"])):
        view = n.reg.enterprise(who, XM)
        assert (view["enterprise"]["level"], view["enterprise"]["grading_state"]) == (
            3,
            "confirmed",
        )
        kinds = sorted({o["kind"] for o in view["obligations"]})
        assert kinds == ["evaluation", "protection", "risk"]
        assert len(view["obligations"]) == 11 + 2
    # the history says who did what, from which state
    steps = [
        (h["action"], h["state"])
        for h in t.cn.reg.grading(t.cn.users["regulator"], g["uid"])["data"]["history"]
    ]
    assert steps == [
        ("grading.draft", None),
        ("grading.submit", "draft"),
        ("grading.return", "submitted"),
        ("grading.update", "returned"),
        ("grading.submit", "returned"),
        ("grading.confirm", "submitted"),
    ]

    # 符合性评测: completed with evidence, its findings become rectification items
    ev = next(
        o for o in t.xm.reg.enterprise(t.xm_admin, XM)["obligations"] if o["kind"] == "evaluation"
    )
    with pytest.raises(InvalidInput) as e:
        t.xm.reg.complete(t.xm_admin, ev["uid"], "", [], ["弱口令"])
    assert e.value.reason == "regulation_evidence_required"
    t.xm.reg.complete(t.xm_admin, ev["uid"], "测评完成", [sha], ["弱口令", "未分区"])
    await t.flow()
    rect, _ = t.cn.reg.obligations(
        t.cn.users["regulator"], 0, 50, uscc=XM, kind="rectification", open_only=True
    )
    assert sorted(r["item"] for r in rect) == ["弱口令", "未分区"]
    nxt, _ = t.fj.reg.obligations(reg_fj, 0, 50, uscc=XM, kind="evaluation", open_only=True)
    assert len(nxt) == 1 and nxt[0]["due"] > time.time() + 300 * 86_400
    # overdue obligations are visible to both sides
    late, _ = t.xm.reg.obligations(t.xm_admin, 0, 50, overdue=True)
    assert late == []
    with t.cn.engine.connect() as conn:
        assert overview(conn, now=time.time() + 400 * 86_400)["overdue_obligations"] >= 13


async def test_a_national_notice_reaches_both_enterprises_one_disposes_one_escalates(
    fed_tree: Tree,
) -> None:
    t = fed_tree
    reg_cn = t.cn.users["regulator"]
    n = t.cn.reg.issue(
        reg_cn,
        {
            "kind": "vulnerability",
            "severity": "high",
            "title": "某PLC远程代码执行漏洞",
            "body": "升级固件",
            "sign_within_s": 60,
            "dispose_within_s": 120,
        },
        {"etype": "industrial", "region": "35"},
    )
    assert n["recipients"] == 2
    await t.flow()
    _, total = t.xm.reg.enterprises(t.xm_admin, 0, 10)
    assert total == 1
    at_xm = t.xm.reg.notice(t.xm_admin, n["uid"])
    assert at_xm["title"] == "某PLC远程代码执行漏洞" and at_xm["issuer"] == "cn"
    # the enterprise signs and reports; the hosted one at the province does nothing
    t.xm.reg.act(t.xm_admin, n["uid"], XM, "sign")
    sha = t.xm.reg.upload(t.xm_admin, XM, "patch.png", PNG)["sha256"]
    t.xm.reg.act(t.xm_admin, n["uid"], XM, "report", "已升级固件", [sha])
    await t.flow()
    # the province escalates its late enterprise to the nation, once
    later = time.time() + 600
    assert t.fj.reg.upkeep(now=later) == 1
    assert t.fj.reg.upkeep(now=later) == 0
    assert t.xm.reg.upkeep(now=later) == 0  # an enterprise's instance supervises no one
    assert t.cn.reg.upkeep(now=later) == 0  # the nation reaches both through the province
    await t.flow()
    with pytest.raises(PermissionDenied):  # verified by the issuer only
        t.fj.reg.act(t.fj.users["regulator"], n["uid"], XM, "verify", "", None, "close")
    t.cn.reg.act(reg_cn, n["uid"], XM, "verify", "ok", None, "close")
    await t.flow()
    with t.cn.engine.connect() as conn:
        rows = {r["key"]: r for r in stats(conn, "region", 4)}
        row = {
            r["uscc"]: r
            for r in conn.execute(
                sa.text("SELECT uscc, state, escalated_to FROM reg_recipients")
            ).mappings()
        }
    assert rows["3502"]["disposed_in_time"] == 1 and rows["3502"]["escalated"] == 0
    assert rows["3505"]["escalated"] == 1 and rows["3505"]["disposed_in_time"] == 0
    assert row[XM]["state"] == "closed" and row[QZ]["escalated_to"] == "cn"
    with t.xm.engine.connect() as conn:
        assert conn.execute(sa.text("SELECT state FROM reg_recipients")).scalar() == "closed"


async def test_bad_input_changes_nothing(fed_tree: Tree) -> None:
    t = fed_tree
    reg_cn = t.cn.users["regulator"]
    fields = {"kind": "risk", "severity": "low", "title": "风险提示"}
    with pytest.raises(PermissionDenied) as e:
        t.fj.reg.issue(t.fj.users["regulator"], fields, {"uscc": [make_uscc("9111000000000009")]})
    assert e.value.reason == "regulation_jurisdiction"
    with pytest.raises(PermissionDenied):  # an enterprise admin issues nothing
        t.fj.reg.issue(t.qz_admin, fields, {"etype": "industrial"})
    with pytest.raises(InvalidInput) as e:
        t.cn.reg.issue(reg_cn, fields, {"etype": "platform"})
    assert e.value.reason == "regulation_no_recipients"
    with pytest.raises(InvalidInput):
        t.cn.reg.issue(reg_cn, {**fields, "severity": "urgent"}, {"etype": "industrial"})
    with pytest.raises(InvalidInput) as e:
        t.xm.reg.upload(t.xm_admin, XM, "x.exe", b"MZ\x90\x00")
    assert e.value.reason == "regulation_evidence_type"
    with pytest.raises(EvidenceTooLarge):
        t.xm.reg.upload(t.xm_admin, XM, "big.png", PNG + b"\x00" * (4 * 1024 * 1024))
    with pytest.raises(InvalidInput) as e:
        t.xm.reg.start_grading(t.xm_admin, XM, {**ANSWERS, "scale": 99}, [], "")
    assert e.value.reason == "regulation_answer"
    with pytest.raises(Conflict) as e:  # a remote enterprise is changed at its own instance
        t.fj.reg.start_grading(t.fj.users["regulator"], XM, ANSWERS, [], "")
    with t.cn.engine.connect() as conn:
        counts = [
            conn.execute(sa.text(f"SELECT count(*) FROM {tb}")).scalar()
            for tb in ("reg_notices", "reg_gradings", "reg_evidence")
        ]
    assert counts == [0, 0, 0]
    with t.xm.engine.connect() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM reg_gradings")).scalar() == 0


async def test_a_child_may_not_speak_for_an_enterprise_it_does_not_reach(fed_tree: Tree) -> None:
    t = fed_tree
    from indunet.federation import put

    # the enterprise instance claims the province's hosted enterprise: refused, recorded
    with t.xm.engine.begin() as conn:
        put(
            conn,
            "fj",
            "regulation.profile",
            {"uscc": QZ, "name": "冒名", "etype": "platform", "region": "350500", "industry": ""},
        )
        put(conn, "fj", "regulation.record", {"type": "grading", "record": {"uid": "x"}})
    await t.flow()
    with t.fj.engine.connect() as conn:
        outcomes = [
            r[0]
            for r in conn.execute(
                sa.select(received.c.outcome)
                .where(received.c.sender == "xm")
                .order_by(received.c.seq.desc())
                .limit(2)
            )
        ]
    assert outcomes == ["refused: regulation_message", "refused: regulation_not_yours"]
    qz = t.fj.reg.enterprise(t.fj.users["regulator"], QZ)["enterprise"]
    assert (qz["name"], qz["etype"]) == ("泉州纺织", "industrial")


async def test_an_enterprise_instance_may_not_decide_for_its_authority(fed_tree: Tree) -> None:
    t = fed_tree
    from indunet.federation import put
    from indunet.regulation.replicate import record_body
    from indunet.regulation.tables import gradings, recipients

    n = t.cn.reg.issue(
        t.cn.users["regulator"],
        {"kind": "risk", "severity": "low", "title": "提示"},
        {"uscc": [XM]},
    )
    g = t.xm.reg.start_grading(t.xm_admin, XM, ANSWERS, [], "")
    await t.flow()
    with t.xm.engine.begin() as conn:
        r = conn.execute(sa.select(recipients)).mappings().one()
        row = conn.execute(sa.select(gradings)).mappings().one()
        forged = [
            record_body("recipient", recipients, {**r, "state": "closed", "rev": 9}),
            record_body(
                "recipient", recipients, {**r, "dispose_due": r["dispose_due"] + 1e6, "rev": 9}
            ),
            record_body("grading", gradings, {**row, "state": "confirmed", "level": 3, "rev": 9}),
        ]
        for body in forged:
            put(conn, "fj", "regulation.record", body)
    await t.flow()
    with t.fj.engine.connect() as conn:
        outcomes = [
            o
            for (o,) in conn.execute(
                sa.select(received.c.outcome)
                .where(received.c.sender == "xm")
                .order_by(received.c.seq.desc())
                .limit(3)
            )
        ]
        state = conn.execute(sa.select(recipients.c.state)).scalar()
    assert outcomes == ["refused: regulation_not_yours"] * 3
    assert state == "sent" and t.fj.reg.grading(t.fj.users["regulator"], g["uid"])["level"] == 0
    assert n["recipients"] == 1


async def test_a_peers_records_and_files_of_the_wrong_shape_are_refused(fed_tree: Tree) -> None:
    import base64

    from indunet.federation import put
    from indunet.regulation.replicate import record_body
    from indunet.regulation.tables import gradings

    t = fed_tree
    g = t.xm.reg.start_grading(t.xm_admin, XM, ANSWERS, [], "")
    await t.flow()
    with t.xm.engine.begin() as conn:
        row = dict(conn.execute(sa.select(gradings)).mappings().one())
        for data in ("not json", '{"history": "not a list"}', '{"answers": {"sector": 1}}',
                     '{"script": "x"}'):  # fmt: skip
            put(conn, "fj", "regulation.record",
                record_body("grading", gradings, {**row, "data": data, "rev": 9}))  # fmt: skip
        png = PNG + b"\x00" * 10
        meta = {"sha256": "a" * 64, "uscc": XM, "name": "x", "media_type": "text/html",
                "size": len(png), "parts": 1, "uploaded_by": "x", "uploaded": 1.0}  # fmt: skip
        part = base64.b64encode(png).decode()
        put(conn, "fj", "regulation.evidence", {"meta": meta, "n": 0, "data": part})
        short = {**meta, "media_type": "image/png", "size": len(png) + 5}
        put(conn, "fj", "regulation.evidence", {"meta": short, "n": 0, "data": part})
    await t.flow()
    with t.fj.engine.connect() as conn:
        outcomes = [o for (o,) in conn.execute(
            sa.select(received.c.outcome).where(received.c.sender == "xm")
            .order_by(received.c.seq.desc()).limit(6))]  # fmt: skip
        files = conn.execute(sa.text("SELECT count(*) FROM reg_evidence")).scalar()
    assert outcomes == ["refused: regulation_message"] * 6
    assert files == 0
    # the province's copy is the one the enterprise sent properly, and it reads
    assert t.fj.reg.grading(t.fj.users["regulator"], g["uid"])["data"]["answers"] == ANSWERS


async def test_a_new_rule_edition_flows_down(fed_tree: Tree) -> None:
    t = fed_tree
    table = rules.shipped()
    new = {**table, "edition": "2025-test-v2"}
    with pytest.raises(PermissionDenied):
        t.cn.reg.publish(t.xm_admin, new)
    t.cn.reg.publish(t.cn.users["regulator"], new)
    with pytest.raises(Conflict):
        t.cn.reg.publish(t.cn.users["regulator"], new)
    await t.flow()
    for n in (t.fj, t.xm):
        assert n.reg.rules()["edition"] == "2025-test-v2"
    with pytest.raises(PermissionDenied):  # an enterprise's instance publishes nothing
        t.xm.reg.publish(t.xm.users["regulator"], {**table, "edition": "x-1"})


async def test_the_api_answers_with_reasons(fed_tree: Tree) -> None:
    t = fed_tree
    from indunet.core.users import issue_token

    with t.cn.engine.begin() as conn:
        token = issue_token(conn, t.cn.users["regulator"], name="t")
    h = {"Authorization": f"Bearer {token}"}
    r = await t.cn.client.get("/api/v1/regulation", headers=h)
    assert r.status_code == 200 and r.json()["enterprises"] == 2
    r = await t.cn.client.get("/api/v1/regulation/enterprises?region=3505", headers=h)
    assert [e["uscc"] for e in r.json()["items"]] == [QZ]
    r = await t.cn.client.post(
        "/api/v1/regulation/notices",
        headers=h,
        json={"kind": "incident", "severity": "critical", "title": "t", "select": {"uscc": ["X"]}},
    )
    assert r.status_code == 403 and r.json()["reason"] == "regulation_jurisdiction"
    r = await t.cn.client.post("/api/v1/regulation/rules", headers=h, content=b"{not json")
    assert r.status_code == 400 and r.json()["reason"] == "regulation_rules"
    r = await t.cn.client.get("/api/v1/regulation/stats?by=level", headers=h)
    assert r.status_code == 200 and r.json()["rows"] == []
    r = await t.cn.client.get("/api/v1/regulation")
    assert r.status_code == 401
