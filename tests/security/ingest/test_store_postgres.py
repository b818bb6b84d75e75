"""The event store on PostgreSQL: migration se001 (on core's and security's root), writes,
pruning, scoped search and the histogram (PostgreSQL's floor, not SQLite's cast)."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
import sqlalchemy as sa

from indunet import core
from indunet.core import Role
from indunet.security import SecurityEvent
from indunet.security.eventstore import EventQuery, EventStore
from indunet.security.subsystem import SUBSYSTEM


@pytest.fixture
def engine(pg_schema_url: str) -> Iterator[sa.Engine]:
    eng = core.make_engine(core.Settings(database_url=pg_schema_url))
    assert SUBSYSTEM.migrations is not None
    core.migrate(eng, [SUBSYSTEM.migrations])  # core's own come with it
    yield eng
    eng.dispose()


def test_the_store_on_postgres(engine: sa.Engine) -> None:
    with engine.begin() as conn:
        ent = core.create_enterprise(
            conn, uscc=core.make_uscc("91350200MA3K7LL1"), name="甲厂", actor="t", verified=True
        )
    store = EventStore(engine, days=1, max_rows=1_000)
    now = time.time()
    events = [
        SecurityEvent(
            ts=now - 3600 + i,
            source="zeek",
            kind="ot.transaction",
            enterprise_id=ent.id if i % 2 else None,
            protocol="modbus",
            action="write_single_coil",
            src_ip="192.168.1.20",
            dst_ip="192.168.1.10",
            message=f"coil {i}",
            fields={"unit": 1, "values": [1, 0]},
            id=f"pg-{i}",
        )
        for i in range(100)
    ]
    events.append(SecurityEvent(ts=now - 5 * 86_400, source="syslog", kind="log.auth", id="old"))
    assert store.write(events) == 101
    assert store.write(events[:10]) == 0
    assert store.prune(now) == (1, 0)
    user = core.User(id=1, username="u", role=Role.ENTERPRISE_USER, enterprise_id=ent.id)
    rows, total = store.search(user, EventQuery(q="COIL 9"), limit=5)
    assert total == 6 and {r["enterprise_id"] for r in rows} == {ent.id}  # 9, 19, … 99 odd
    assert rows[0]["fields"] == {"unit": 1, "values": [1, 0]}
    reg = core.User(id=2, username="r", role=Role.REGULATOR, enterprise_id=None)
    hist = store.histogram(reg, EventQuery(ip="192.168.1.10"), buckets=10)
    assert sum(hist["counts"]) == 100 and len(hist["counts"]) == 10


def test_eve_details_kept_as_text_are_written_as_text(engine: sa.Engine) -> None:
    from tests.security.ingest.test_eve_fields import stored_alike

    stored_alike(EventStore(engine))
