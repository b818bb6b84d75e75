"""Detection's tables on a real PostgreSQL: migration sd001, rule files and versions, lists,
baseline items written in batches (duplicates skipped) and searched page by page."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest
import sqlalchemy as sa

from indunet import core
from indunet.core import Role
from indunet.security.detect.baseline import Baseline, BaselineStore, Item
from indunet.security.detect.store import RuleStore
from indunet.security.subsystem import SUBSYSTEM

pytestmark = pytest.mark.integration
RULES = """\
rules:
  - id: pg.one
    version: 1
    title: {zh-CN: 一, en: one}
    level: 5
    techniques: [T0855]
    match: {kind: x}
"""


@pytest.fixture
def engine(pg_schema_url: str) -> Iterator[sa.Engine]:
    eng = core.make_engine(core.Settings(database_url=pg_schema_url))
    assert SUBSYSTEM.migrations is not None
    core.migrate(eng, [SUBSYSTEM.migrations])
    yield eng
    eng.dispose()


def test_rules_lists_and_baseline_on_postgres(engine: sa.Engine) -> None:
    with engine.begin() as conn:
        ent = core.create_enterprise(
            conn, uscc="91350100M000100Y43", name="甲", actor="t", verified=True
        )
        admin = core.create_user(
            conn, username="pa", password="a-long-password", role=Role.PLATFORM_ADMIN, actor="t"
        )
    store = RuleStore(engine)
    assert store.put_file(admin, "pg.yml", RULES) == 1
    assert store.put_file(admin, "pg.yml", RULES.replace("level: 5", "level: 6")) == 2
    assert store.ruleset().get("pg.one") is not None
    assert [v["version"] for v in store.file_versions("pg.yml")] == [2, 1]
    store.put_list(admin, ent.id, "allowed_masters", ["10.0.0.5", "10.1.0.0/16"])
    assert "10.1.2.3" in store.lists()[ent.id]["allowed_masters"]

    base = Baseline()
    bstore = BaselineStore(engine, base)
    for i in range(300):
        base.add(
            Item(ent.id, "conversation", "10.0.0.5", f"10.0.1.{i % 250}", "modbus", 502 + i // 250)
        )
    assert asyncio.run(bstore.flush()) == 300
    base.remove(Item(ent.id, "conversation", "10.0.0.5", "10.0.1.1", "modbus", 502))
    base.add(Item(ent.id, "conversation", "10.0.0.5", "10.0.1.1", "modbus", 502))
    assert asyncio.run(bstore.flush()) == 1  # already stored: skipped, not an error
    rows, total = bstore.page(ent.id, "10.0.1.1|modbus|502", "", 0, 20)
    assert total == 1 and rows[0]["dst_ip"] == "10.0.1.1"
    rows, total = bstore.page(ent.id, "", "conversation", 280, 50)
    assert total == 300 and len(rows) == 20
    fresh = Baseline()
    BaselineStore(engine, fresh).load()
    assert sum(len(v) for v in fresh.keys[ent.id].values()) == 300
