"""The children API of a top-level node: a secondary pushes its reports and registry with its
prefix credential (a sibling's prefix, an oversize body, no or a wrong credential: a clear
4xx and nothing stored); overseers read them, nobody else does. A ``ParentLink`` over the
real app fills it from a second database."""

from __future__ import annotations

import warnings
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from tests.conftest import USCC_B, bearer
from tests.web.test_console import log_in

from indunet import core, ids
from indunet.core import Role, Settings
from indunet.ids import children, childview
from indunet.ids.parentlink import ParentLink
from indunet.ids.tables import daily_stats
from indunet.web import AppState, create_app, open_database
from indunet.web.api.children import REPORT_BODY

KEY = "key-of-88.200-at-the-top-level"
SIBLING_KEY = "key-of-88.300-at-the-top-level"
AUTH = ("300%3A0.NA/88.200", KEY)


@pytest.fixture
def parent(state: AppState) -> AppState:
    """The embedded hierarchy's top-level node 88 has allocated 88.200 and 88.300."""
    top = state.hierarchy.nodes["88"]
    ids.allocate(top, "88.200", None, actor="test", secret=KEY)
    ids.allocate(top, "88.300", None, actor="test", secret=SIBLING_KEY)
    state.settings.plain_http_auth = "loopback"
    return state


@pytest.fixture
async def client(parent: AppState) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=create_app(parent), client=("127.0.0.1", 40000))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
        yield c


def _yesterday() -> str:
    return (children.report_today() - timedelta(days=1)).isoformat()


def _report(*prefixes: str, day: str | None = None) -> dict[str, object]:
    day = day or _yesterday()
    return {
        "through": day,
        "rows": [{"day": day, "prefix": p, "registrations": 2, "resolutions": 9} for p in prefixes],
    }


async def _stored(client: httpx.AsyncClient, headers: dict[str, str]) -> int:
    resp = await client.get("/api/v1/children/reports", headers=headers)
    assert resp.status_code == 200, resp.text
    return int(resp.headers["X-Total-Count"])


async def test_a_child_reports_and_overseers_read_it(
    client: httpx.AsyncClient, parent: AppState
) -> None:
    first = await client.get("/api/v1/children/self", auth=AUTH)
    assert first.status_code == 200, first.text
    assert first.json()["last_report_day"] is None and first.json()["zone"] == "Asia/Shanghai"
    for _ in range(2):  # the same report twice: stored once
        resp = await client.put(
            "/api/v1/children/reports", json=_report("88.200.1", "88.200.2"), auth=AUTH
        )
        assert resp.status_code == 200, resp.text
        assert resp.json() == {"reporter": "88.200", "stored": 2, "through": _yesterday()}
    held = await client.get("/api/v1/children/self", auth=AUTH)
    assert held.json()["last_report_day"] == _yesterday()
    admin = bearer(parent.engine, "op", Role.PLATFORM_ADMIN)
    regulator = bearer(parent.engine, "reg", Role.REGULATOR)
    assert await _stored(client, admin) == 2
    assert await _stored(client, regulator) == 2
    search = await client.get("/api/v1/children/reports", params={"q": "200.2"}, headers=admin)
    assert [r["prefix"] for r in search.json()] == ["88.200.2"]
    days = await client.get("/api/v1/children/reports/days", headers=admin)
    assert days.json() == [{"day": _yesterday(), "registrations": 4, "resolutions": 18}]
    kids = await client.get("/api/v1/children", headers=admin)
    assert [k["reporter"] for k in kids.json()] == ["88.200"]
    with parent.engine.begin() as conn:
        ent = core.create_enterprise(conn, uscc=USCC_B, name="乙方", actor="t", verified=True)
    outsider = bearer(parent.engine, "ent", Role.ENTERPRISE_ADMIN, ent.id)
    for path in ("", "/reports", "/reports/days", "/enterprises", "/allocations"):
        resp = await client.get(f"/api/v1/children{path}", headers=outsider)
        assert resp.status_code == 404, (path, resp.text)


async def test_refusals_are_clear_and_store_nothing(
    client: httpx.AsyncClient, parent: AppState
) -> None:
    admin = bearer(parent.engine, "op", Role.PLATFORM_ADMIN)
    sibling = await client.put(
        "/api/v1/children/reports", json=_report("88.200.1", "88.300.1"), auth=AUTH
    )
    assert sibling.status_code == 403, sibling.text
    assert sibling.json()["reason"] == "child_prefix_foreign"
    assert "88.300.1" in sibling.json()["message"]
    none = await client.put("/api/v1/children/reports", json=_report("88.200.1"))
    assert none.status_code == 401, none.text
    wrong = await client.put(
        "/api/v1/children/reports",
        json=_report("88.200.1"),
        auth=("300%3A0.NA/88.200", "nope-nope"),
    )
    assert wrong.status_code == 401, wrong.text
    unknown = await client.put(
        "/api/v1/children/reports", json=_report("88.900.1"), auth=("300%3A0.NA/88.900", KEY)
    )
    assert unknown.status_code == 401 and unknown.json()["message"] == wrong.json()["message"]
    enterprise_key = await client.put(
        "/api/v1/children/reports", json=_report("88.200.1"), auth=("301%3A0.NA/88.200", KEY)
    )
    assert enterprise_key.status_code == 401, enterprise_key.text
    huge = b'{"through": "2026-01-01", "rows": [' + b" " * REPORT_BODY + b"]}"
    oversize = await client.put(
        "/api/v1/children/reports",
        content=huge,
        auth=AUTH,
        headers={"content-type": "application/json"},
    )
    assert oversize.status_code == 413, oversize.text
    many = _report(*(f"88.200.{i}" for i in range(children.MAX_REPORT_ROWS + 1)))
    too_many = await client.put("/api/v1/children/reports", json=many, auth=AUTH)
    assert too_many.status_code == 422, too_many.text[:300]
    assert "rows" in too_many.json()["message"]
    bad = await client.put("/api/v1/children/reports", content=b"{not json", auth=AUTH)
    assert bad.status_code == 422
    future = (children.report_today() + timedelta(days=2)).isoformat()
    later = await client.put(
        "/api/v1/children/reports", json=_report("88.200.1", day=future), auth=AUTH
    )
    assert later.status_code == 400 and later.json()["reason"] == "child_report_day"
    assert await _stored(client, admin) == 0
    foreign = await client.put(
        "/api/v1/children/registry",
        json={"enterprises": [], "allocations": [{"prefix": "88.300.1"}]},
        auth=AUTH,
    )
    assert foreign.status_code == 403, foreign.text
    listed = await client.get("/api/v1/children/allocations", headers=admin)
    assert listed.json() == []


async def test_plain_http_from_afar_is_refused(parent: AppState) -> None:
    transport = httpx.ASGITransport(app=create_app(parent), client=("203.0.113.5", 40000))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
        resp = await c.get("/api/v1/children/self", auth=AUTH)
    assert resp.status_code == 403 and resp.json()["reason"] == "plain_http_auth"


def _sync_client(app: object, base_url: str) -> Any:
    """Starlette's synchronous test client (what ``ParentLink`` takes: an ``httpx.Client``);
    its import warns that it will want ``httpx2`` one day."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from starlette.testclient import TestClient

    return TestClient(app, base_url=base_url)  # type: ignore[arg-type]


@pytest.fixture
def child_engine(tmp_path: Path) -> Iterator[sa.Engine]:
    engine = open_database(Settings(data_dir=tmp_path / "child"))
    yield engine
    engine.dispose()


def _count(engine: sa.Engine, day: date, prefix: str, reg: int, res: int) -> None:
    at = datetime(day.year, day.month, day.day, 9, tzinfo=children.REPORT_ZONE).astimezone(UTC)
    with engine.begin() as conn:
        conn.execute(
            daily_stats.insert().values(hour=at, prefix=prefix, registrations=reg, resolutions=res)
        )


def test_a_link_catches_up_and_pushes_the_registry_on_change(
    parent: AppState, child_engine: sa.Engine
) -> None:
    today = children.report_today()
    for back in (5, 3, 2):
        _count(child_engine, today - timedelta(days=back), "88.200.1", back, 10 * back)
    _count(child_engine, today - timedelta(days=2), "88.300.1", 1, 1)  # not its own: left out
    _count(child_engine, today, "88.200.1", 1, 1)  # today is not over: not reported yet
    child = ids.Node(
        "88.200", ids.NodeRole.SECONDARY, "88.200", child_engine, ids.TemplateRegistry(child_engine)
    )
    with child_engine.begin() as conn:
        ent = core.create_enterprise(conn, uscc=USCC_B, name="乙方", actor="t", verified=True)
    ids.allocate(child, "88.200.7", ent, actor="test", secret="an-enterprise-secret")
    with _sync_client(create_app(parent), "https://testserver") as http:
        link = ParentLink(child_engine, "https://testserver", "88.200", KEY, client=http)
        now = datetime.combine(today, time(12), children.REPORT_ZONE)  # noon: yesterday is over
        pushed = link.run_once(now)
        assert pushed.registry and pushed.rows == 3
        assert pushed.days[0] == today - timedelta(days=5)
        again = link.run_once(now)  # nothing new: nothing sent
        assert again.days == [] and not again.registry
        with child_engine.begin() as conn:
            core.set_verified(conn, USCC_B, verified=False, actor="t")
        assert link.run_once(now).registry
    with parent.engine.connect() as conn:
        rows, total = childview.page_reports(conn, childview.ReportFilter(), offset=0, limit=50)
        ents, _ = childview.page_enterprises(conn, offset=0, limit=10)
        allocs, _ = childview.page_allocations(conn, offset=0, limit=10)
    assert total == 3 and {r["prefix"] for r in rows} == {"88.200.1"}
    assert sorted(r["registrations"] for r in rows) == [2, 3, 5]
    assert [(e["uscc"], e["verified"]) for e in ents] == [(USCC_B, False)]
    assert [(a["prefix"], a["uscc"], a["name"]) for a in allocs] == [("88.200.7", USCC_B, "乙方")]
    assert children.state_of(parent.engine, "88.200").last_report_day == today - timedelta(days=1)


async def test_the_console_page_shows_reports_and_registries_to_overseers_only(
    client: httpx.AsyncClient, parent: AppState
) -> None:
    yesterday = _yesterday()
    children.store_report(
        parent.engine,
        "88.200",
        [children.DayRow(date.fromisoformat(yesterday), "88.200.1", 7, 70)],
        through=date.fromisoformat(yesterday),
    )
    children.store_registry(
        parent.engine,
        "88.200",
        [children.ChildEnterprise(USCC_B, "乙方精密", True)],
        [children.ChildAllocation("88.200.1", USCC_B, None)],
    )
    with parent.engine.begin() as conn:
        password = core.ensure_admin(conn)
        ent = core.create_enterprise(conn, uscc="91350100M000100Y43", name="甲", actor="t")
        core.create_user(
            conn,
            username="ent-admin",
            password="a-long-password",
            role=Role.ENTERPRISE_ADMIN,
            actor="t",
            enterprise_id=ent.id,
        )
    assert password
    assert (await log_in(client, "ent-admin", "a-long-password")).status_code == 303
    outsider = await client.get("/ids/children")
    assert outsider.status_code == 200 and "88.200.1" not in outsider.text
    client.cookies.clear()
    assert (await log_in(client, "admin", password)).status_code == 303
    page = await client.get("/ids/children")
    assert page.status_code == 200
    assert (
        yesterday in page.text and 'id="chart-days"' in page.text and "Asia/Shanghai" in page.text
    )
    found = await client.get("/ids/children", params={"q": "88.200.1"})
    assert "88.200.1" in found.text
    missing = await client.get("/ids/children", params={"q": "99.1"})
    assert "88.200.1" not in missing.text.split('id="children-list"')[1]
    ents = await client.get("/ids/children", params={"view": "enterprises", "q": "乙方"})
    assert "乙方精密" in ents.text and USCC_B in ents.text
    allocs = await client.get("/ids/children", params={"view": "allocations", "reporter": "88.200"})
    assert "乙方精密" in allocs.text and "88.200.1" in allocs.text
    hostile = await client.get("/ids/children", params={"view": "x", "days": "-1", "page": "x"})
    assert hostile.status_code == 200


def test_a_day_over_one_report_is_sent_in_parts(
    parent: AppState, child_engine: sa.Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(children, "MAX_REPORT_ROWS", 2)  # both ends read the same limit
    today = children.report_today()
    big, small = today - timedelta(days=2), today - timedelta(days=1)
    for n in range(5):
        _count(child_engine, big, f"88.200.{n}", 1, n)
    _count(child_engine, small, "88.200.9", 4, 4)
    noon = datetime.combine(today, time(12), children.REPORT_ZONE)
    with _sync_client(create_app(parent), "https://testserver") as http:
        link = ParentLink(child_engine, "https://testserver", "88.200", KEY, client=http)
        pushed = link.run_once(noon)
    assert pushed.rows == 6 and pushed.days == [big, small]
    with parent.engine.connect() as conn:
        rows, total = childview.page_reports(conn, childview.ReportFilter(), offset=0, limit=50)
    assert total == 6 and sorted(r["resolutions"] for r in rows if r["day"] == big) == [
        0,
        1,
        2,
        3,
        4,
    ]
    assert children.state_of(parent.engine, "88.200").last_report_day == small
