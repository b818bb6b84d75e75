"""The upward aggregate (国家—省—企业): four Indunet instances, each a whole app with its own
SQLite database (the nation ``cn``, the province ``gd``, its enterprises ``acme`` and ``xm``),
enrolled through their real API; each status report is signed and delivered through the real
inbox. A province's totals are the sum over its enterprises, the nation's the sum over its
provinces; a removed child drops out, a silent child is shown stale, a malformed report is
refused whole and counted."""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import AsyncIterator, Mapping
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from tests.conftest import USCC_A, bearer
from tests.federation.test_federation import Instance, allow_all, instance, sender_of

from indunet import core
from indunet.core import Role
from indunet.federation import Envelope, enrolment, identity, seal
from indunet.federation.envelope import new_id
from indunet.federation.indicators import LIMITS, Indicators
from indunet.federation.outbox import PATH
from indunet.federation.tables import peers, received

OWN: dict[str, dict[str, int]] = {
    "cn": {"assets": 1, "alerts.high": 0},
    "gd": {"assets": 10, "alerts.high": 2},
    "acme": {"assets": 100, "alerts.high": 30, "cases": 4},
    "xm": {"assets": 1000, "alerts.high": 500},
}

ACME = peers.c.name == "acme"


def totals(*names: str) -> dict[str, int]:
    out: dict[str, int] = {}
    for name in names:
        for key, value in OWN[name].items():
            out[f"test.{key}"] = out.get(f"test.{key}", 0) + value
    return out


async def make(tmp: Path, name: str, level: str) -> Instance:
    inst = await instance(tmp, name, level)
    inst.fed.indicator("test", lambda conn: OWN[name])
    return inst


async def join(child: Instance, parent: Instance, level: str) -> None:
    token = enrolment.issue_token(parent.engine, level)
    me, up = identity.load(child.engine), identity.load(parent.engine)
    assert me is not None and up is not None
    url = f"http://{up.name}.test"
    await enrolment.join(child.engine, me, url, token, allow_all, client=parent.client)


async def report(child: Instance, parent: Instance) -> None:
    """The child's status report, queued and delivered to its parent's real inbox."""
    assert child.fed.report_status() > 0
    up = identity.load(parent.engine)
    assert up is not None
    assert await sender_of(child, parent).deliver(up.name, f"http://{up.name}.test") >= 1


def shown(view: Mapping[str, Any], prefix: str = "test.") -> dict[str, int]:
    return {k: v for k, v in view.items() if k.startswith(prefix)}


@pytest.fixture
async def tree(tmp_path: Path) -> AsyncIterator[dict[str, Instance]]:
    insts = {
        "cn": await make(tmp_path, "cn", "national"),
        "gd": await make(tmp_path, "gd", "province"),
        "acme": await make(tmp_path, "acme", "enterprise"),
        "xm": await make(tmp_path, "xm", "enterprise"),
    }
    await join(insts["gd"], insts["cn"], "province")
    await join(insts["acme"], insts["gd"], "enterprise")
    await join(insts["xm"], insts["gd"], "enterprise")
    yield insts
    for inst in insts.values():
        await inst.client.aclose()


async def climb(t: dict[str, Instance]) -> None:
    """Each enterprise reports to the province, then the province to the nation."""
    await report(t["acme"], t["gd"])
    await report(t["xm"], t["gd"])
    await report(t["gd"], t["cn"])


async def test_totals_add_up_from_the_enterprises_to_the_nation(
    tree: dict[str, Instance],
) -> None:
    await climb(tree)
    province = tree["gd"].fed.aggregate()
    assert shown(province["own"]) == totals("gd")
    assert shown(province["totals"]) == totals("gd", "acme", "xm")
    rows = {r["name"]: r for r in province["children"]}
    assert set(rows) == {"acme", "xm"} and province["children_matched"] == 2
    assert shown(rows["acme"]["totals"]) == totals("acme")
    assert rows["acme"]["level"] == "enterprise" and not rows["acme"]["stale"]
    assert 0 <= rows["acme"]["age_s"] < 60 and rows["acme"]["reported_at"] <= time.time()

    nation = tree["cn"].fed.aggregate()
    assert nation["instance"] == "cn"
    assert shown(nation["totals"]) == totals("cn", "gd", "acme", "xm")
    (gd,) = nation["children"]
    assert (gd["name"], gd["level"]) == ("gd", "province")
    assert shown(gd["totals"]) == totals("gd", "acme", "xm")
    assert shown(gd["indicators"]) == totals("gd")  # its own, apart from its subtree's
    assert gd["oldest"] <= gd["reported_at"] and nation["oldest"] <= gd["oldest"]
    # the real subsystems' counts ride along (a new instance: all zero)
    assert nation["totals"]["security.assets"] == 0
    assert nation["totals"]["devices.registered"] == 0
    assert "security.vulns.critical" in nation["names"]

    # the API says the same, with where each row came from and how fresh it is
    headers = bearer(tree["cn"].engine, "admin-cn", Role.PLATFORM_ADMIN)
    answer = await tree["cn"].client.get("/api/v1/federation", headers=headers)
    assert answer.status_code == 200, answer.text
    agg = answer.json()["aggregate"]
    assert agg["instance"] == "cn" and agg["totals"]["test.assets"] == 1111
    assert [(c["name"], c["level"], c["stale"]) for c in agg["children"]] == [
        ("gd", "province", False)
    ]
    assert agg["children"][0]["age_s"] >= 0 and agg["children"][0]["reported_at"] > 0
    with tree["cn"].engine.begin() as conn:
        firm = core.create_enterprise(conn, uscc=USCC_A, name="甲厂", actor="t", verified=True)
    theirs = bearer(tree["cn"].engine, "ent", Role.ENTERPRISE_ADMIN, firm.id)
    assert (await tree["cn"].client.get("/api/v1/federation", headers=theirs)).status_code == 403


async def test_a_removed_child_drops_out_of_the_total(tree: dict[str, Instance]) -> None:
    await climb(tree)
    with tree["gd"].engine.begin() as conn:
        conn.execute(peers.update().where(peers.c.name == "xm").values(status="removed"))
    province = tree["gd"].fed.aggregate()
    assert shown(province["totals"]) == totals("gd", "acme")
    assert [r["name"] for r in province["children"]] == ["acme"]
    # the nation sees it with the province's next report
    assert shown(tree["cn"].fed.aggregate()["totals"]) == totals("cn", "gd", "acme", "xm")
    await report(tree["gd"], tree["cn"])
    assert shown(tree["cn"].fed.aggregate()["totals"]) == totals("cn", "gd", "acme")


async def test_a_silent_child_is_shown_stale_and_still_counted(tree: dict[str, Instance]) -> None:
    fed = tree["gd"].fed
    await report(tree["acme"], tree["gd"])
    rows = {r["name"]: r for r in fed.aggregate()["children"]}
    assert not rows["acme"]["stale"]
    # a child that never reported is listed, stale, with nothing counted
    assert rows["xm"]["stale"] and rows["xm"]["reported_at"] is None and rows["xm"]["totals"] == {}
    assert shown(fed.aggregate()["totals"]) == totals("gd", "acme")
    await report(tree["xm"], tree["gd"])
    # three status intervals later, without a word from either: stale, last totals counted
    later = time.time() + 3 * fed.status_s + 1
    view = fed.aggregate(now=later)
    assert view["stale_after_s"] == 3 * fed.status_s
    assert all(r["stale"] and r["age_s"] > view["stale_after_s"] for r in view["children"])
    assert shown(view["totals"]) == totals("gd", "acme", "xm")
    # the search and the paging cover the children; the total stays the whole subtree's
    page = fed.aggregate(q="ac", offset=0, limit=1)
    assert [r["name"] for r in page["children"]] == ["acme"] and page["children_matched"] == 1
    assert shown(page["totals"]) == totals("gd", "acme", "xm")
    assert fed.aggregate(offset=1, limit=1)["children"][0]["name"] == "xm"


def status(
    inst: Instance, seq: int, body: dict[str, Any], to: str = "gd", sender: str = "acme"
) -> dict[str, Any]:
    me = identity.load(inst.engine)
    assert me is not None
    env = Envelope(new_id(), sender, to, "federation.status", seq, time.time(), body)
    return seal(env, me.key)


MALFORMED: list[tuple[str, dict[str, Any]]] = [
    ("not an object", {"indicators": [1, 2], "totals": {}}),
    ("totals missing", {"indicators": {"test.assets": 1}}),
    ("a negative count", {"indicators": {}, "totals": {"test.assets": -1}}),
    ("a fraction", {"indicators": {}, "totals": {"test.assets": 1.5}}),
    ("a boolean", {"indicators": {}, "totals": {"test.assets": True}}),
    ("a text", {"indicators": {}, "totals": {"test.assets": "7"}}),
    ("a number too large", {"indicators": {}, "totals": {"test.assets": 2**60}}),
    ("an undotted name", {"indicators": {}, "totals": {"assets": 1}}),
    ("an upper-case name", {"indicators": {}, "totals": {"Test.Assets": 1}}),
    ("a name too long", {"indicators": {}, "totals": {"test." + "a" * 64: 1}}),
    ("65 names", {"indicators": {}, "totals": {f"test.n{i}": i for i in range(65)}}),
    ("a time that is not one", {"indicators": {}, "totals": {}, "at": "now"}),
    ("an oldest that is not one", {"indicators": {}, "totals": {}, "oldest": -5}),
]


async def test_a_malformed_report_is_refused_whole_and_counted(tree: dict[str, Instance]) -> None:
    province, acme = tree["gd"], tree["acme"]
    await report(acme, province)  # a good one first (seq 1): kept through what follows
    with province.engine.connect() as conn:
        kept = conn.execute(
            sa.select(peers.c.report, peers.c.reported_at, peers.c.version).where(ACME)
        ).all()
    seq = 1
    for what, bad in MALFORMED:
        seq += 1
        body = {"version": "9.9.9", "backlog": 0, "at": time.time(), **bad}
        answer = await province.client.post(PATH, json={"messages": [status(acme, seq, body)]})
        assert answer.status_code == 200, (what, answer.text)
        assert answer.json()["bodies_refused"] == 1 and answer.json()["through"] == seq, what
    with province.engine.connect() as conn:
        assert (
            conn.execute(
                sa.select(peers.c.report, peers.c.reported_at, peers.c.version).where(ACME)
            ).all()
            == kept
        )  # not the version either: the body is refused whole
        outcomes = conn.execute(
            sa.select(received.c.outcome).where(received.c.seq > 1).order_by(received.c.seq)
        ).scalars()
        assert set(outcomes) == {"refused: federation_report"}
    assert province.fed.inbox is not None
    assert province.fed.inbox.stats.bodies_refused == len(MALFORMED)
    # the largest report allowed is taken: 64 names of 64 characters at the largest count
    big = {f"test.{'a' * 31}.{'b' * 25}{i:02d}": LIMITS.value for i in range(64)}
    assert all(len(n) == LIMITS.name_chars for n in big)
    body = {"version": "1", "backlog": 0, "at": time.time(), "indicators": big, "totals": big}
    answer = await province.client.post(PATH, json={"messages": [status(acme, seq + 1, body)]})
    assert answer.json()["applied"] == 1
    with province.engine.connect() as conn:
        kept = conn.execute(
            sa.select(peers.c.report, peers.c.reported_at, peers.c.version).where(ACME)
        ).all()
    assert len(kept[0].report) < 12_000
    # a child from before indicators (no report in its status) keeps its version applied
    body = {"version": "0.0.1", "backlog": 0, "at": time.time()}
    answer = await province.client.post(PATH, json={"messages": [status(acme, seq + 2, body)]})
    assert answer.json()["applied"] == 1
    with province.engine.connect() as conn:
        row = conn.execute(sa.select(peers.c.version, peers.c.report).where(ACME)).one()
    assert row.version == "0.0.1" and row.report == kept[0].report


async def test_a_clock_ahead_is_not_fresher_than_now(tree: dict[str, Instance]) -> None:
    province, acme = tree["gd"], tree["acme"]
    ahead = time.time() + 3600
    body = {"version": "1", "backlog": 0, "at": ahead, "indicators": {}, "totals": {}}
    answer = await province.client.post(PATH, json={"messages": [status(acme, 1, body)]})
    assert answer.json()["applied"] == 1
    with province.engine.connect() as conn:
        assert conn.execute(sa.select(peers.c.reported_at).where(ACME)).scalar() <= time.time()


def test_indicators_are_bounded_and_a_failing_group_is_left_out(tmp_path: Path) -> None:
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'x.db'}")
    ind = Indicators()

    def broken(conn: sa.Connection) -> dict[str, int]:
        raise RuntimeError("the table is gone")

    ind.register("broken", broken)
    ind.register("many", lambda conn: {f"n{i:03d}": i for i in range(100)})
    ind.register("odd", lambda conn: {"ok": 1, "Bad Name": 2, "neg": -1, "flag": True})
    with pytest.raises(ValueError):
        ind.register("Not.A.Group", broken)
    with engine.connect() as conn:
        got = ind.collect(conn)
    assert len(got) == LIMITS.names
    assert "broken" not in {k.split(".")[0] for k in got}
    assert list(got) == sorted(got)  # the first 64 in name order: many.n000 … many.n063
    ind.groups.pop("many")
    with engine.connect() as conn:
        assert ind.collect(conn) == {"odd.ok": 1}


def test_the_aggregate_of_an_instance_without_identity_or_children(tmp_path: Path) -> None:
    from indunet.core import Settings
    from indunet.web.app import build_state

    state = build_state(Settings(data_dir=tmp_path / "lone", port=8000))
    fed = state.services["federation"]
    view = fed.aggregate()  # type: ignore[attr-defined]
    assert view["instance"] is None and view["children"] == [] and view["children_matched"] == 0
    assert view["totals"] == view["own"] and view["totals"]["devices.online"] == 0


@pytest.mark.parametrize(
    ("lang", "words"),
    [
        ("zh-CN", ("下级汇总", "过期", "资产", "总计")),
        ("en", ("Aggregate", "stale", "Assets", "Total")),
    ],
)
async def test_the_console_page_shows_the_aggregate_table(
    tree: dict[str, Instance], lang: str, words: tuple[str, ...]
) -> None:
    await climb(tree)
    cn = tree["cn"]
    with cn.engine.begin() as conn:
        core.create_user(
            conn, username="reg", password="a-long-password", role=Role.REGULATOR, actor="t"
        )
    cn.client.cookies.set("lang", lang)
    r = await cn.client.post("/login", data={"username": "reg", "password": "a-long-password"})
    assert r.status_code in (200, 303), r.text
    page = await cn.client.get("/federation/aggregate")
    assert page.status_code == 200
    assert 'data-child="gd"' in page.text and 'data-instance="cn"' in page.text
    assert all(w in page.text for w in words[:1] + words[2:]), page.text
    total = page.text[page.text.index('id="aggregate-total"') :]
    assert "1,111" in total  # test.assets over the whole tree
    assert not re.search(r"\bfederation\.(aggregate|indicator)\.", page.text)
    cn.fed.status_s = 0.001  # three intervals pass at once: the province is stale
    await asyncio.sleep(0.01)
    page = await cn.client.get("/federation/aggregate")
    assert words[1] in page.text
    assert "1,111" in page.text[page.text.index('id="aggregate-total"') :]
    nobody = await cn.client.get("/federation/aggregate", params={"q": "nobody"})
    assert 'id="aggregate-empty"' in nobody.text and "1,111" in nobody.text
