"""PostgresStore on a real PostgreSQL: the shared store behaviour, partitions and retention.

Runs against ``postgresql://postgres@127.0.0.1:5432/test`` (``INDUNET_TEST_DATABASE_URL``
overrides) in a schema of its own per test, dropped afterwards.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import UTC, datetime

import psycopg
import pytest
from tests.conftest import need_service
from tests.telemetry.store_suite import HOUR, MIN, T0, StoreSuite

from indunet.telemetry import PostgresStore, Sample, TimeSeriesStore, open_store

DEFAULT_URL = "postgresql://postgres@127.0.0.1:5432/test"
DAY = 86_400_000

pytestmark = pytest.mark.integration


@pytest.fixture
def pg_url(request: pytest.FixtureRequest) -> Iterator[str]:
    """The test database with a fresh schema of this test first on the search path."""
    base = os.environ.get("INDUNET_TEST_DATABASE_URL") or DEFAULT_URL
    info = psycopg.conninfo.conninfo_to_dict(base)
    need_service("PostgreSQL", str(info.get("host") or "127.0.0.1"), int(info.get("port") or 5432))
    schema = f"tel_test_{os.getpid()}_{abs(hash(request.node.nodeid)) % 10**8}"
    with psycopg.connect(base, autocommit=True) as conn:
        conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        conn.execute(f'CREATE SCHEMA "{schema}"')
    sep = "&" if "?" in base else "?"
    try:
        yield f"{base}{sep}options=-csearch_path%3D{schema}"
    finally:
        with psycopg.connect(base, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


def day(ts: int) -> str:
    return datetime.fromtimestamp(ts / 1000, UTC).strftime("%Y%m%d")


def partitions(url: str) -> list[str]:
    with psycopg.connect(url) as conn:
        rows = conn.execute(
            "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid"
            " WHERE i.inhparent = 'tel_samples'::regclass ORDER BY 1"
        ).fetchall()
    return [r[0] for r in rows]


class TestPostgresStore(StoreSuite):
    @pytest.fixture
    def store(self, pg_url: str) -> Iterator[TimeSeriesStore]:
        s = PostgresStore(pg_url)
        yield s
        s.close()


def test_open_store_gives_a_postgres_store_that_sees_earlier_data(pg_url: str) -> None:
    first = open_store(pg_url)
    assert isinstance(first, PostgresStore)
    first.write_batch([Sample("d1", "p", T0, 2**60), Sample("d1", "q", T0, 1.5)])
    first.close()
    again = open_store(pg_url.replace("postgresql://", "postgresql+psycopg://", 1))
    try:
        assert again.latest("d1") == {
            "p": Sample("d1", "p", T0, 2**60),  # beyond 2**53, still exact
            "q": Sample("d1", "q", T0, 1.5),
        }
        again.write_batch([Sample("d1", "p", T0, 5), Sample("d1", "p", T0 + 1, 6)])
        assert [s.value for s in again.query("d1", "p", T0, T0 + 2)] == [2**60, 6]
    finally:
        again.close()


def test_daily_partitions_are_made_on_demand_and_dropped_by_retention(pg_url: str) -> None:
    store = PostgresStore(pg_url)
    try:
        day0 = T0 - T0 % DAY
        batch = [
            Sample(dev, "p", day0 + d * DAY + i * MIN, float(i))
            for dev in ("old", "other")
            for d in range(3)
            for i in range(10)
        ]
        store.write_batch(batch)
        assert len(partitions(pg_url)) == 3
        # day 0 holds only "old" once "other" has been cleaned the same way
        assert store.delete_before(["other"], day0 + DAY) == 10
        assert len(partitions(pg_url)) == 3  # "old" still lives in day 0: rows deleted
        removed = store.delete_before(["old"], day0 + DAY + 5 * MIN + 30_000)
        assert removed == 10 + 6
        assert partitions(pg_url) == [f"tel_samples_{day(day0 + d * DAY)}" for d in (1, 2)]
        left = store.query("old", "p", 0, day0 + 3 * DAY)
        assert len(left) == 14 and left[0].ts == day0 + DAY + 6 * MIN
        # the minute rollups went with the samples; a later write to the dropped day works
        assert store.downsample("old", "p", day0, day0 + 2 * DAY, HOUR)[0].count == 4
        store.write_batch([Sample("late", "p", day0 + 1, 1.0)])
        assert store.query("late", "p", day0, day0 + DAY)[0].value == 1.0
    finally:
        store.close()


def test_another_process_dropping_a_partition_does_not_break_writes(pg_url: str) -> None:
    writer = PostgresStore(pg_url)
    janitor = PostgresStore(pg_url)
    try:
        writer.write_batch([Sample("d1", "p", T0, 1.0)])
        assert janitor.delete_before(["d1"], T0 + 2 * DAY) == 1
        writer.write_batch([Sample("d1", "p", T0 + 1000, 2.0)])
        assert [s.value for s in janitor.query("d1", "p", T0, T0 + DAY)] == [2.0]
    finally:
        writer.close()
        janitor.close()
