"""The situation page (/security): figures, risk per asset and per enterprise, newest alerts,
open cases; each enterprise sees its own only, overseers every enterprise."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest
import sqlalchemy as sa
from tests.conftest import USCC_B

from indunet import core
from indunet.core import Role
from indunet.security import Alert, Security
from indunet.security.situation import risk_of, situation
from indunet.web import AppState, create_app

PASSWORD = "a-long-password"
NOW = datetime(2026, 12, 7, 10, 0, tzinfo=UTC)


def test_risk_weighs_criticality_vulnerabilities_and_alerts() -> None:
    assert risk_of("high", 0.0, 0) == 0
    assert risk_of("high", 9.8, 0) == 59  # 6 x 9.8
    assert risk_of("high", 9.8, 200) == 99  # alerts add at most 40
    assert risk_of("critical", 10.0, 200) == 100  # capped
    assert risk_of("low", 5.0, 10) == round(0.6 * (30 + 5))
    assert risk_of("", 5.0, 0) == risk_of("medium", 5.0, 0)


@pytest.fixture
async def seeded(state: AppState, enterprise: core.Enterprise) -> AsyncIterator[dict[str, int]]:
    svc = state.services["security"]
    assert isinstance(svc, Security)
    with state.engine.begin() as conn:
        b = core.create_enterprise(conn, uscc=USCC_B, name="乙厂", actor="t", verified=True)
        for name, role, eid in (
            ("ea", Role.ENTERPRISE_ADMIN, enterprise.id),
            ("eb", Role.ENTERPRISE_ADMIN, b.id),
            ("reg", Role.REGULATOR, None),
        ):
            core.create_user(
                conn, username=name, password=PASSWORD, role=role, actor="t", enterprise_id=eid
            )
        boss = core.get_user(conn, "ea")
    inventory = svc.part("assets").store
    plc = inventory.create(
        boss, enterprise.id, {"name": "甲-PLC-7", "ips": ["10.0.0.2"], "criticality": "critical"}
    )
    store = svc.part("alerts")
    await store.raise_alerts(
        [
            Alert(
                ts=datetime.now(UTC).timestamp() - 60,
                rule="ot.write.unlisted",
                rule_version=1,
                level=13,
                title="Write from a host that is not an allowed master",
                enterprise_id=enterprise.id,
                techniques=("T0855",),
                src_ip="10.0.0.66",
                dst_ip="10.0.0.2",
                assets=(plc.id,),
            )
        ]
    )
    yield {"plc": plc.id, "a": enterprise.id, "b": b.id}


async def login(client: httpx.AsyncClient, username: str) -> None:
    r = await client.post("/login", data={"username": username, "password": PASSWORD})
    assert r.status_code in (200, 303), r.text


async def test_the_situation_counts_and_ranks(state: AppState, seeded: dict[str, int]) -> None:
    mine = situation(state.engine, seeded["a"])
    assert mine.assets == 1 and mine.critical_assets == 1
    assert mine.alerts_24h == {"critical": 1}
    assert [a.id for a in mine.riskiest] == [seeded["plc"]]
    assert mine.riskiest[0].risk == risk_of("critical", 0.0, 13) == 8
    assert sum(mine.cases.values()) == 1  # level 13 >= 12: promoted into a case
    assert [a["rule"] for a in mine.newest_alerts] == ["ot.write.unlisted"]
    theirs = situation(state.engine, seeded["b"])
    assert theirs.assets == 0 and theirs.newest_alerts == [] and theirs.open_cases == []
    everyone = situation(state.engine, None)
    assert [e["enterprise_id"] for e in everyone.enterprises] == [seeded["a"]]
    later = situation(state.engine, seeded["a"], now=datetime.now(UTC) + timedelta(days=8))
    assert later.riskiest == [] and later.alerts_24h == {}  # the alert has aged out


@pytest.mark.parametrize("lang", ["zh-CN", "en"])
async def test_the_page_shows_each_enterprise_its_own(
    state: AppState, seeded: dict[str, int], lang: str
) -> None:
    transport = httpx.ASGITransport(app=create_app(state))
    for who, sees in (("ea", True), ("eb", False), ("reg", True)):
        async with httpx.AsyncClient(
            transport=transport, base_url="http://testserver", cookies={"lang": lang}
        ) as client:
            await login(client, who)
            page = await client.get("/security")
            assert page.status_code == 200
            assert ("甲-PLC-7" in page.text) is sees, who
            assert ('data-alert="' in page.text) is sees, who
            assert ('id="enterprise-risk"' in page.text) is (who == "reg")
            shown = re.sub(r'(href|action|src)="[^"]*"', "", page.text)
            assert not re.search(r"\bsec\.(overview|band|vsev|sla)\.", shown), who
            title = "安全态势" if lang == "zh-CN" else "Security situation"
            assert title in page.text
            wall = await client.get("/security/wall")
            assert wall.status_code == 200 and 'hx-trigger="every 15s"' in wall.text
            assert ("Write from a host" in wall.text) is sees, who  # the alert's title
            shown = re.sub(r'(href|action|src)="[^"]*"', "", wall.text)
            assert not re.search(r"\bsec\.(overview|wall|sla)\.", shown), who
            scope = {"ea": "厦门示例机床有限公司", "eb": "乙厂", "reg": "全部企业"}[who]
            assert lang != "zh-CN" or scope in wall.text, who


async def test_no_situation_query_scans_without_an_enterprise_filter(
    state: AppState, seeded: dict[str, int]
) -> None:
    statements: list[str] = []

    def seen(_conn, _cursor, statement, *_args) -> None:  # type: ignore[no-untyped-def]
        statements.append(statement)

    sa.event.listen(state.engine, "before_cursor_execute", seen)
    try:
        situation(state.engine, seeded["b"])
    finally:
        sa.event.remove(state.engine, "before_cursor_execute", seen)
    assert statements and all("enterprise_id" in s for s in statements)


def test_top_talkers_and_new_conversations_are_each_enterprises_own(
    state: AppState, seeded: dict[str, int]
) -> None:
    from indunet.security import SecurityEvent

    svc = state.services["security"]
    now = datetime.now(UTC).timestamp()

    def ev(i: int, src: str, dst: str, eid: int, ago: float) -> SecurityEvent:
        return SecurityEvent(
            ts=now - ago, source="zeek", kind="net.connection", enterprise_id=eid,
            src_ip=src, dst_ip=dst, dst_port=502, protocol="modbus", id=f"c{i}",
        )  # fmt: skip

    svc.part("event-store").write(
        [
            ev(1, "10.0.0.9", "10.0.0.2", seeded["a"], 3 * 86_400),  # an old pair, seen again
            ev(2, "10.0.0.9", "10.0.0.2", seeded["a"], 60),
            ev(3, "10.0.0.9", "10.0.0.3", seeded["a"], 120),  # new today
            ev(4, "10.0.0.66", "10.0.0.2", seeded["a"], 30),  # new today
            ev(5, "192.168.9.9", "10.9.9.9", seeded["b"], 30),  # B's
        ]
    )
    mine = situation(state.engine, seeded["a"])
    assert mine.talkers == [
        {"ip": "10.0.0.9", "events": 2, "peers": 2},
        {"ip": "10.0.0.66", "events": 1, "peers": 1},
    ]
    assert [(c["src_ip"], c["dst_ip"]) for c in mine.new_conversations] == [
        ("10.0.0.66", "10.0.0.2"),
        ("10.0.0.9", "10.0.0.3"),
    ]
    assert [t["ip"] for t in situation(state.engine, seeded["b"]).talkers] == ["192.168.9.9"]


def test_the_memo_keeps_a_situation_for_its_ttl_per_scope(
    state: AppState, seeded: dict[str, int]
) -> None:
    from indunet.security.situation import SituationMemo

    memo = SituationMemo(state.engine, ttl=60, size=2)
    first = memo.get(seeded["a"])
    assert memo.get(seeded["a"]) is first  # within the ttl: not computed again
    assert memo.get(seeded["b"]) is not first
    memo.get(None)  # a third scope: the oldest (A) goes
    assert memo.get(seeded["a"]) is not first
    stale = SituationMemo(state.engine, ttl=0)
    one = stale.get(seeded["a"])
    assert stale.get(seeded["a"]) is not one  # past the ttl: computed again
