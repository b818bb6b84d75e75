"""A top-level node (88) and its secondary (88.100) as two OS processes: the secondary records
registrations and resolutions, reports its completed days (China Standard Time) and pushes
its registry; the top level shows them over its API, refuses a sibling's, an oversize and an
unauthenticated report, and is caught up after it was down and lost the last days.

Days before today cannot be lived through in a test: the secondary's database gets hourly
counts of earlier days written into ``ids_daily_stats`` before it starts (what its upkeep
would have stored then); today's come from real registrations and resolutions over HTTP.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from tests.conftest import USCC_A, USCC_B
from tests.integration.servers import Server, ServerGroup, group

from indunet import core, ids
from indunet.core import Settings
from indunet.ids import children
from indunet.ids.childtables import child_nodes, child_reports
from indunet.ids.tables import daily_stats
from indunet.web import open_database

pytestmark = pytest.mark.integration

TOP_KEY = "key-of-88.100-at-top-level"
SIBLING_KEY = "key-of-88.300-at-top-level"
ENTERPRISE_KEY = "key-of-enterprise-88.100.1"
CHILD_AUTH = ("300%3A0.NA/88.100", TOP_KEY)
SIBLING_AUTH = ("300%3A0.NA/88.300", SIBLING_KEY)
BACK = (1, 2, 4)  # days before today with counts at the secondary
ALLOW_LOOPBACK = {"INDUNET_SITE_ALLOW": "127.0.0.0/8"}  # both nodes listen on 127.0.0.1


@dataclass
class Pair:
    top: Server
    secondary: Server
    admin: dict[str, str]


def _engine(server: Server) -> sa.Engine:
    return open_database(Settings(data_dir=server.data_dir))


def _node(engine: sa.Engine, name: str, role: ids.NodeRole) -> ids.Node:
    return ids.Node(name, role, name, engine, ids.TemplateRegistry(engine))


def _prepare_top(top: Server) -> None:
    engine = _engine(top)
    try:
        node = _node(engine, "88", ids.NodeRole.TOP_LEVEL)
        ids.allocate(node, "88.100", None, actor="test", secret=TOP_KEY)
        ids.allocate(node, "88.300", None, actor="test", secret=SIBLING_KEY)
    finally:
        engine.dispose()


def _prepare_secondary(secondary: Server, back: tuple[int, ...]) -> None:
    engine = _engine(secondary)
    try:
        with engine.begin() as conn:
            ent = core.create_enterprise(
                conn, uscc=USCC_A, name="厦门示例机床有限公司", actor="test", verified=True
            )
        node = _node(engine, "88.100", ids.NodeRole.SECONDARY)
        ids.allocate(node, "88.100.1", ent, actor="test", secret=ENTERPRISE_KEY)
        today = children.report_today()
        with engine.begin() as conn:
            for b in back:
                day = today - timedelta(days=b)
                at = datetime(day.year, day.month, day.day, 10, tzinfo=children.REPORT_ZONE)
                conn.execute(
                    daily_stats.insert().values(
                        hour=at.astimezone(UTC),
                        prefix="88.100.1",
                        registrations=b,
                        resolutions=100 * b,
                    )
                )
    finally:
        engine.dispose()


def _admin(server: Server) -> dict[str, str]:
    password = server.admin_password
    assert password, server.output
    resp = httpx.post(
        server.url + "/api/v1/auth/token",
        json={"username": "admin", "password": password},
        timeout=10,
    )
    assert resp.status_code == 200, resp.text
    return {"Authorization": f"Bearer {resp.json()['token']}"}


def start_pair(g: ServerGroup, back: tuple[int, ...] = BACK) -> Pair:
    top = g.prepare("top", "node", "--role", "top-level", "--prefix", "88", env=ALLOW_LOOPBACK)
    _prepare_top(top)
    top.start()
    (g.base / "key").write_text(TOP_KEY + "\n")
    secondary = g.prepare(
        "secondary",
        *("node", "--role", "secondary", "--prefix", "88.100", "--parent", top.url),
        *("--parent-key-file", str(g.base / "key"), "--report-every", "1"),
        env=ALLOW_LOOPBACK,
    )
    _prepare_secondary(secondary, back)
    secondary.start()
    return Pair(top, secondary, _admin(top))


@pytest.fixture(scope="module")
def pair(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Pair]:
    with group(tmp_path_factory.mktemp("children")) as g:
        yield start_pair(g)


def _get(p: Pair, path: str, **params: Any) -> httpx.Response:
    resp = httpx.get(p.top.url + path, params=params, headers=p.admin, timeout=10)
    assert resp.status_code == 200, resp.text
    return resp


def _wait(check: Callable[[], bool], what: str, within: float = 30.0) -> None:
    deadline = time.monotonic() + within
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {within:g} s waiting for {what}")
        time.sleep(0.2)


def _days(p: Pair) -> dict[str, list[int]]:
    rows = _get(p, "/api/v1/children/reports", reporter="88.100").json()
    return {r["day"]: [r["registrations"], r["resolutions"]] for r in rows}


def _expected(*back: int) -> dict[str, list[int]]:
    today = children.report_today()
    return {(today - timedelta(days=b)).isoformat(): [b, 100 * b] for b in back}


def test_the_secondary_reports_its_completed_days_and_registry(pair: Pair) -> None:
    # today's registrations and resolutions, counted by the secondary
    for n in range(3):
        put = httpx.put(
            f"{pair.secondary.url}/api/handles/88.100.1/DAY-{n}",
            json={"values": [{"index": 1, "type": "URL", "data": "https://example.cn"}]},
            auth=("300%3A0.NA/88.100.1", ENTERPRISE_KEY),
            timeout=10,
        )
        assert put.status_code == 201, put.text
        assert httpx.get(f"{pair.secondary.url}/api/handles/88.100.1/DAY-{n}").status_code == 200
    _wait(lambda: _days(pair) == _expected(*BACK), "the three past days at the top level")
    today = children.report_today().isoformat()
    assert today not in _days(pair)  # not over yet: not reported
    kids = _get(pair, "/api/v1/children").json()
    assert kids[0]["reporter"] == "88.100"
    assert kids[0]["last_report_day"] == _expected(1).popitem()[0]
    ents = _get(pair, "/api/v1/children/enterprises").json()
    assert [(e["reporter"], e["uscc"], e["verified"]) for e in ents] == [("88.100", USCC_A, True)]
    allocs = _get(pair, "/api/v1/children/allocations", q="88.100").json()
    assert [(a["prefix"], a["uscc"]) for a in allocs] == [("88.100.1", USCC_A)]
    assert "key" not in str(allocs).lower() and ENTERPRISE_KEY not in str(allocs)
    # the secondary stores today's counts itself (its upkeep), ready for tomorrow's report
    _wait(lambda: _registrations(pair.secondary) == sum(BACK) + 3, "today's counts stored")


def _registrations(server: Server) -> int:
    engine = _engine(server)
    try:
        with engine.connect() as conn:
            return int(conn.execute(sa.select(sa.func.sum(daily_stats.c.registrations))).scalar())
    finally:
        engine.dispose()


def test_the_top_level_refuses_a_sibling_an_oversize_and_a_stranger(pair: Pair) -> None:
    yesterday = (children.report_today() - timedelta(days=1)).isoformat()
    row = {"day": yesterday, "prefix": "88.100.1", "registrations": 999, "resolutions": 999}
    url = pair.top.url + "/api/v1/children/reports"
    sibling = httpx.put(url, json={"through": yesterday, "rows": [row]}, auth=SIBLING_AUTH)
    assert sibling.status_code == 403, sibling.text
    assert sibling.json()["reason"] == "child_prefix_foreign"
    stranger = httpx.put(url, json={"through": yesterday, "rows": [row]})
    assert stranger.status_code == 401, stranger.text
    wrong = httpx.put(url, json={"through": yesterday, "rows": [row]}, auth=(CHILD_AUTH[0], "no"))
    assert wrong.status_code == 401, wrong.text
    big = b'{"through":"' + yesterday.encode() + b'","rows":[' + b" " * (600 * 1024) + b"]}"
    oversize = httpx.put(
        url, content=big, auth=CHILD_AUTH, headers={"content-type": "application/json"}
    )
    assert oversize.status_code == 413, oversize.text
    assert all(v[0] != 999 for v in _days(pair).values())


def test_a_parent_that_was_down_is_caught_up(pair: Pair) -> None:
    pair.top.stop()
    # the top level comes back from a backup that lacks the last two days
    engine = _engine(pair.top)
    today = children.report_today()
    try:
        with engine.begin() as conn:
            conn.execute(
                child_reports.delete().where(child_reports.c.day >= today - timedelta(days=2))
            )
            conn.execute(child_nodes.update().values(last_report_day=today - timedelta(days=3)))
    finally:
        engine.dispose()
    sec = _engine(pair.secondary)  # and, meanwhile, the secondary registered one more enterprise
    try:
        with sec.begin() as conn:
            core.create_enterprise(conn, uscc=USCC_B, name="乙方", actor="test", verified=False)
    finally:
        sec.dispose()
    _wait(lambda: "reporting to" in pair.secondary.output, "the secondary to notice")
    pair.top.start()
    _wait(lambda: _days(pair) == _expected(*BACK), "the lost days to come back")
    _wait(
        lambda: len(_get(pair, "/api/v1/children/enterprises").json()) == 2,
        "the new enterprise at the top level",
    )
