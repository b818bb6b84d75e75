"""Identifier operations on PostgreSQL: the daily counters' upsert and reads, revocation, and
the searched lists' one-pass counts (SQLite runs the same code in tests/web and tests/ids)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest
from tests.integration.test_postgres import pg_state, pg_url  # noqa: F401  (fixtures)

from indunet import ids
from indunet.core import enterprises as core_enterprises
from indunet.ids import daily
from indunet.ids import prefixes as ids_prefixes
from indunet.web import AppState

pytestmark = pytest.mark.integration


def test_daily_counts_revocation_and_searches(pg_state: AppState) -> None:  # noqa: F811
    state = pg_state
    node = state.hierarchy.front  # pg_state gave 深圳示例 the prefix 88.100.1
    eid = ids_prefixes.allocation_of(state.engine, "88.100.1").enterprise_id
    node.put("88.100.1/a", [{"index": 1, "type": "URL", "data": "https://a"}], ids.OPERATOR)
    for _ in range(2):
        assert asyncio.run(node.resolve("88.100.1/a")).rc == ids.RC.SUCCESS
    tallies = [n.stats.daily for n in state.hierarchy.nodes.values()]
    daily.flush(state.engine, tallies)
    node.stats.daily.resolved("88.100.1")
    daily.flush(state.engine, tallies)  # adds to the same row
    today = datetime.now(UTC).date()
    assert daily.counts(state.engine, since_day=today, enterprise_id=eid)[-1] == daily.DayCount(
        today, 1, 3
    )
    assert daily.rankings(state.engine, since_day=today) == (
        [daily.PrefixCount("88.100.1", eid, 1, 3)],
        [daily.EnterpriseCount(eid, 1, 3)],
    )
    with state.engine.connect() as conn:
        found, total = core_enterprises.page_enterprises(conn, like="%深圳%")
        assert [e.id for e in found] == [eid] and total == 1
        none = core_enterprises.page_enterprises(conn, like="%no-such-name%", offset=50)
        assert none == ([], 0)
    found_prefixes, total = ids_prefixes.page_allocations(state.engine, like="%100%")
    assert total == 1 and found_prefixes[0].prefix == "88.100.1"
    ids_prefixes.revoke(state.hierarchy.nodes, "88.100.1", reason="test", actor="t")
    answer = asyncio.run(node.resolve("88.100.1/a"))
    assert answer.rc == ids.RC.HANDLE_NOT_FOUND and "revoked" in (answer.message or "")
