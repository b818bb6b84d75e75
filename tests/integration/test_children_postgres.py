"""What a top-level node keeps of its secondaries, on a real PostgreSQL: migration iy0001,
reports upserted (sent twice, stored once; a sibling's refused), registry snapshots replaced,
and the reads' search and sums; a ``ParentLink``'s day rows read from ``ids_daily_stats``."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from indunet import core
from indunet.core import PermissionDenied
from indunet.ids import children, childview
from indunet.ids.parentlink import day_rows
from indunet.ids.subsystem import SUBSYSTEM
from indunet.ids.tables import daily_stats

pytestmark = pytest.mark.integration


@pytest.fixture
def engine(pg_schema_url: str) -> Iterator[sa.Engine]:
    eng = core.make_engine(core.Settings(database_url=pg_schema_url))
    assert SUBSYSTEM.migrations is not None
    core.migrate(eng, [SUBSYSTEM.migrations])
    yield eng
    eng.dispose()


def test_reports_and_registries_on_postgres(engine: sa.Engine) -> None:
    today = children.report_today()
    days = [today - timedelta(days=n) for n in (1, 2)]
    for _ in range(2):
        rows = [children.DayRow(d, p, 3, 30) for d in days for p in ("88.100.1", "88.100.2")]
        assert children.store_report(engine, "88.100", rows, through=days[0]) == 4
    with pytest.raises(PermissionDenied):
        children.store_report(
            engine, "88.100", [children.DayRow(days[0], "88.200.1", 1, 1)], through=days[0]
        )
    f = childview.ReportFilter(q="100.2")
    with engine.connect() as conn:
        found, total = childview.page_reports(conn, f, offset=0, limit=10)
        summed = childview.per_day(conn, childview.ReportFilter())
    assert total == 2 and {r["prefix"] for r in found} == {"88.100.2"}
    assert summed == [(days[1], 6, 60), (days[0], 6, 60)]
    assert children.state_of(engine, "88.100").last_report_day == days[0]
    ents = [children.ChildEnterprise("91350200MA31XK008H", "厦门示例机床有限公司", True)]
    alloc = [children.ChildAllocation("88.100.1", "91350200MA31XK008H", datetime.now(UTC))]
    digest = children.store_registry(engine, "88.100", ents, alloc)
    assert children.store_registry(engine, "88.100", ents, alloc) == digest
    with engine.connect() as conn:
        listed, n = childview.page_allocations(conn, q="示例", offset=0, limit=10)
    assert n == 1 and listed[0]["name"] == "厦门示例机床有限公司"


def test_day_rows_sum_hours_into_china_days_on_postgres(engine: sa.Engine) -> None:
    day = children.report_today() - timedelta(days=3)
    start = datetime(day.year, day.month, day.day, tzinfo=children.REPORT_ZONE).astimezone(UTC)
    with engine.begin() as conn:
        for h in (0, 5, 23, 24):
            conn.execute(
                daily_stats.insert().values(
                    hour=start + timedelta(hours=h),
                    prefix="88.100.1",
                    registrations=1,
                    resolutions=2,
                )
            )
    assert day_rows(engine, "88.100", day, day) == {day: [[day.isoformat(), "88.100.1", 3, 6]]}
