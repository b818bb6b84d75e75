"""A top-level node's store of its secondaries' reports and registries (``ids.children``), and
a secondary's link that fills it (``ids.parentlink``), over a real app in this process."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
import sqlalchemy as sa
from tests.conftest import USCC_A

from indunet import ids
from indunet.core import InvalidInput, PermissionDenied
from indunet.ids import children, childview
from indunet.ids.childtables import child_reports
from indunet.ids.parentlink import completed_through, day_rows, registry
from indunet.ids.tables import daily_stats
from indunet.web.state import AppState

ZONE = children.REPORT_ZONE


def _hour(day: date, hour: int) -> datetime:
    return datetime(day.year, day.month, day.day, hour, tzinfo=ZONE).astimezone(UTC)


def _count(engine: sa.Engine, at: datetime, prefix: str, reg: int, res: int) -> None:
    with engine.begin() as conn:
        conn.execute(
            daily_stats.insert().values(hour=at, prefix=prefix, registrations=reg, resolutions=res)
        )


def test_a_report_is_stored_once_however_often_it_is_sent(engine: sa.Engine) -> None:
    yesterday = children.report_today() - timedelta(days=1)
    rows = [children.DayRow(yesterday, "88.200.1", 3, 10)]
    assert children.store_report(engine, "88.200", rows, through=yesterday) == 1
    rows = [children.DayRow(yesterday, "88.200.1", 4, 12)]  # sent again: replaces
    assert children.store_report(engine, "88.200", rows, through=yesterday) == 1
    with engine.connect() as conn:
        stored = conn.execute(
            sa.select(child_reports.c.registrations, child_reports.c.resolutions)
        ).all()
    assert [tuple(r) for r in stored] == [(4, 12)]
    # an older report never moves the day the parent holds back
    children.store_report(engine, "88.200", [], through=yesterday - timedelta(days=5))
    assert children.state_of(engine, "88.200").last_report_day == yesterday


def test_a_report_for_a_sibling_or_out_of_bounds_stores_nothing(engine: sa.Engine) -> None:
    today = children.report_today()
    good = children.DayRow(today, "88.200.1", 1, 1)
    with pytest.raises(PermissionDenied) as sibling:
        children.store_report(
            engine, "88.200", [good, children.DayRow(today, "88.300.1", 1, 1)], through=today
        )
    assert sibling.value.reason == "child_prefix_foreign"
    with pytest.raises(PermissionDenied):  # a prefix that merely starts the same
        children.store_report(
            engine, "88.200", [children.DayRow(today, "88.2001", 1, 1)], through=today
        )
    with pytest.raises(InvalidInput) as future:
        children.store_report(
            engine,
            "88.200",
            [children.DayRow(today + timedelta(days=1), "88.200", 1, 1)],
            through=today,
        )
    assert future.value.reason == "child_report_day"
    with pytest.raises(InvalidInput):
        children.store_report(
            engine, "88.200", [children.DayRow(today, "88.200", -1, 1)], through=today
        )
    too_many = [
        children.DayRow(today, f"88.200.{i}", 1, 1) for i in range(children.MAX_REPORT_ROWS + 1)
    ]
    with pytest.raises(InvalidInput) as many:
        children.store_report(engine, "88.200", too_many, through=today)
    assert many.value.reason == "child_too_many_rows"
    with engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(child_reports)).scalar() == 0
    assert children.state_of(engine, "88.200").last_report_day is None


def test_a_registry_push_replaces_the_childs_previous_one_only(engine: sa.Engine) -> None:
    ent = [children.ChildEnterprise("91350200MA2XXXXX1A", "甲公司", True)]
    alloc = [children.ChildAllocation("88.200.1", "91350200MA2XXXXX1A", None)]
    d1 = children.store_registry(engine, "88.200", ent, alloc)
    children.store_registry(
        engine, "88.300", [], [children.ChildAllocation("88.300.9", None, None)]
    )
    assert (
        d1
        == children.registry_digest(ent, alloc)
        == children.state_of(engine, "88.200").registry_digest
    )
    d2 = children.store_registry(engine, "88.200", ent, [])
    assert d2 != d1
    with engine.connect() as conn:
        found, total = childview.page_allocations(conn, offset=0, limit=10)
    assert total == 1 and found[0]["prefix"] == "88.300.9"  # 88.200's allocation is gone
    with pytest.raises(PermissionDenied):
        children.store_registry(
            engine, "88.200", [], [children.ChildAllocation("88.300.2", None, None)]
        )
    with pytest.raises(PermissionDenied):  # its own prefix is not an allocation of its own
        children.store_registry(
            engine, "88.200", [], [children.ChildAllocation("88.200", None, None)]
        )
    with pytest.raises(InvalidInput) as unknown:
        children.store_registry(
            engine, "88.200", [], [children.ChildAllocation("88.200.5", "X", None)]
        )
    assert unknown.value.reason == "child_registry_unknown_enterprise"
    assert children.state_of(engine, "88.200").registry_digest == d2


def test_days_are_china_standard_time_days(engine: sa.Engine) -> None:
    day = date(2026, 3, 2)
    _count(engine, _hour(day, 0), "88.200.1", 1, 2)  # 16:00 UTC the day before
    _count(engine, _hour(day, 23), "88.200.1", 1, 3)
    _count(engine, _hour(day + timedelta(days=1), 0), "88.200.1", 5, 5)
    _count(engine, _hour(day, 12), "88.300.1", 7, 7)  # not under 88.200: not reported
    rows = day_rows(engine, "88.200", day, day)
    assert rows == {day: [[day.isoformat(), "88.200.1", 2, 5]]}
    # a day is complete ten minutes after its midnight in Beijing
    assert completed_through(_hour(day, 0) + timedelta(minutes=9)) == day - timedelta(days=2)
    assert completed_through(_hour(day, 0) + timedelta(minutes=11)) == day - timedelta(days=1)


def test_the_registry_holds_enterprises_and_allocations_below_the_node(
    state: AppState, allocation: ids.Allocation
) -> None:
    enterprises, allocations = registry(state.engine, "88.100")
    assert [(e.uscc, e.verified) for e in enterprises] == [(USCC_A, True)]
    assert [(a.prefix, a.uscc) for a in allocations] == [(allocation.prefix, USCC_A)]
    assert registry(state.engine, "88.200")[1] == []
