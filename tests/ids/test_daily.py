"""Registrations and resolutions per day: counted in memory, flushed, read back per day."""

from __future__ import annotations

import asyncio
import random
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import sqlalchemy as sa

from indunet import ids
from indunet.ids import daily
from indunet.ids.tables import daily_stats, prefixes
from indunet.ids.upkeep import Upkeep
from indunet.web.state import AppState

SHANGHAI = ZoneInfo("Asia/Shanghai")


def test_resolutions_and_registrations_are_counted_per_prefix_and_day(
    state: AppState, allocation: ids.Allocation
) -> None:
    node = state.hierarchy.front
    principal = ids.OPERATOR
    node.put(
        "88.100.1/a", [{"index": 1, "type": "URL", "data": "https://example.com/a"}], principal
    )
    node.put(
        "88.100.1/a", [{"index": 1, "type": "URL", "data": "https://example.com/b"}], principal
    )
    for _ in range(3):
        assert asyncio.run(node.resolve("88.100.1/a")).rc == ids.RC.SUCCESS
    asyncio.run(node.resolve("88.100.1/missing"))  # not found: not a resolution
    tallies = [n.stats.daily for n in state.hierarchy.nodes.values()]
    assert daily.flush(state.engine, tallies) == 1
    assert daily.flush(state.engine, tallies) == 0  # drained
    today = datetime.now(UTC).date()
    rows = daily.counts(state.engine, since_day=today - timedelta(days=6), prefix="88.100.1")
    assert len(rows) == 7 and rows[-1] == daily.DayCount(today, 1, 3)  # a modify is no registration
    assert sum(r.resolutions for r in rows[:-1]) == 0
    assert daily.counts(state.engine, since_day=today, prefix="88.100.2") == [
        daily.DayCount(today, 0, 0)
    ]
    ent = daily.counts(state.engine, since_day=today, enterprise_id=allocation.enterprise_id)
    assert ent[-1].resolutions == 3
    assert daily.counts(state.engine, since_day=today, enterprise_id=9999)[-1].resolutions == 0
    top, owners = daily.rankings(state.engine, since_day=today)
    assert top == [daily.PrefixCount("88.100.1", allocation.enterprise_id, 1, 3)]
    assert owners == [daily.EnterpriseCount(allocation.enterprise_id, 1, 3)]


def test_flushes_add_up_and_days_follow_the_zone(state: AppState) -> None:
    tally = daily.DailyTally()
    # 2026-03-01 20:30 UTC is 2026-03-02 04:30 in Shanghai
    evening = datetime(2026, 3, 1, 20, 30, tzinfo=UTC).timestamp()
    tally.resolved("88.100.9", now=evening)
    daily.flush(state.engine, [tally])
    tally.resolved("88.100.9", now=evening + 60)
    tally.registered("88.100.9", 5, now=evening)
    daily.flush(state.engine, [tally])
    with state.engine.connect() as conn:
        assert conn.execute(
            sa.text("select registrations, resolutions from ids_daily_stats")
        ).all() == [(5, 2)]
    utc_days = {r.day: r for r in daily.counts(state.engine, since_day=date(2026, 3, 1))}
    assert utc_days[date(2026, 3, 1)].resolutions == 2
    local = {
        r.day: r for r in daily.counts(state.engine, since_day=date(2026, 3, 1), zone=SHANGHAI)
    }
    assert date(2026, 3, 1) not in local or local[date(2026, 3, 1)].resolutions == 0


def test_a_failed_flush_keeps_the_counts(state: AppState) -> None:
    tally = daily.DailyTally()
    tally.resolved("88.100.1")
    broken = sa.create_engine("sqlite://")  # no table there
    try:
        daily.flush(broken, [tally])
    except sa.exc.OperationalError:
        pass
    else:
        raise AssertionError("the flush should have failed")
    assert daily.flush(state.engine, [tally]) == 1


def test_upkeep_stores_on_stop(state: AppState) -> None:
    node = state.hierarchy.front
    keeper = Upkeep(state.engine, [node], every=60)

    async def run() -> None:
        await keeper.start()
        node.stats.daily.registered("88.100.1")
        await keeper.stop()

    asyncio.run(run())
    today = datetime.now(UTC).date()
    assert daily.counts(state.engine, since_day=today, prefix="88.100.1")[-1].registrations == 1


def test_rankings_sum_and_rank_prefixes_and_enterprises(engine: sa.Engine) -> None:
    """The rankings agree with sums worked out here from the rows written (random counts,
    ties broken as the docstring says; prefixes of no enterprise under None; rows
    before the first day, read in Shanghai, left out)."""
    rnd = random.Random(5)
    hour = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    names = [f"88.{300 + i}.1" for i in range(40)]
    with engine.begin() as conn:
        conn.execute(
            prefixes.insert(),
            [
                {"prefix": p, "node": "n", "enterprise_id": None if i % 7 == 0 else 1 + i % 5}
                | {"created_at": hour}
                for i, p in enumerate(names)
            ],
        )
        rows = [
            {
                "hour": hour - timedelta(hours=h),
                "prefix": p,
                "registrations": rnd.randrange(5),
                "resolutions": 1000 * i + h,  # distinct totals: one order only
            }
            for i, p in enumerate(names)
            for h in rnd.sample(range(24 * 40), 6)
        ]
        conn.execute(daily_stats.insert(), rows)
    owner_of = {p: None if i % 7 == 0 else 1 + i % 5 for i, p in enumerate(names)}
    since = datetime.now(SHANGHAI).date() - timedelta(days=20)
    start = datetime.combine(since, datetime.min.time(), SHANGHAI)
    for enterprise in (None, 3):
        sums: dict[str, list[int]] = {}
        for r in rows:
            if r["hour"] >= start and enterprise in (None, owner_of[r["prefix"]]):
                total = sums.setdefault(r["prefix"], [0, 0])
                total[0] += r["registrations"]
                total[1] += r["resolutions"]
        by_owner: dict[int | None, list[int]] = {}
        for p, (g, s) in sums.items():
            total = by_owner.setdefault(owner_of[p], [0, 0])
            total[0] += g
            total[1] += s
        for limit in (3, 50):
            ranked, owners = daily.rankings(
                engine, since_day=since, enterprise_id=enterprise, zone=SHANGHAI, limit=limit
            )
            want = sorted(sums.items(), key=lambda kv: (-kv[1][1], -kv[1][0], kv[0]))[:limit]
            assert ranked == [daily.PrefixCount(p, owner_of[p], g, s) for p, (g, s) in want]
            top = sorted(by_owner.items(), key=lambda kv: (-kv[1][1], -kv[1][0], kv[0] or 0))[
                :limit
            ]
            assert owners == [daily.EnterpriseCount(e, g, s) for e, (g, s) in top]
            assert ranked and owners
