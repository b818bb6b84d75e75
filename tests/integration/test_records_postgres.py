"""Identifier records on PostgreSQL: migration ih0002 fills old entries as on SQLite, and a
bulk import writes one entry per row by ``COPY`` in the batch's transaction (and none when the
batch's transaction fails)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from tests.conftest import USCC_A
from tests.ids.test_records_migration import check_migration

from indunet import core, ids
from indunet.ids import history
from indunet.web import AppState, build_state, open_database

pytestmark = pytest.mark.integration
OPS = ids.Principal(actor="cli:ops", identity=None, prefixes=None)


def test_migration_fills_prefix_and_owner_on_postgresql(pg_schema_url: str) -> None:
    engine = core.make_engine(core.Settings(database_url=pg_schema_url))
    try:
        assert engine.dialect.name == "postgresql"
        check_migration(engine)
    finally:
        engine.dispose()


@pytest.fixture
def pg_state(pg_schema_url: str, tmp_path: Path) -> Iterator[AppState]:
    settings = core.Settings(data_dir=tmp_path / "data", database_url=pg_schema_url)
    engine = open_database(settings)
    yield build_state(settings, engine=engine)
    engine.dispose()


def test_bulk_rows_are_recorded_by_copy(pg_state: AppState, tmp_path: Path) -> None:
    engine = pg_state.engine
    assert engine.dialect.driver == "psycopg"
    with engine.begin() as conn:
        ent = core.create_enterprise(conn, uscc=USCC_A, name="甲", actor="t", verified=True)
    node = pg_state.hierarchy.front
    ids.allocate(node, "88.100.1", ent, actor="t", secret="s3cret-key-for-tests")
    path = tmp_path / "a.csv"
    path.write_text(
        "handle,URL\n" + "".join(f"88.100.1/P-{i},https://x.cn/{i}\n" for i in range(1200)),
        encoding="utf-8",
    )
    ids.import_file(node, path, OPS, batch_size=500)
    path.write_text("handle,URL\n88.100.1/P-3,https://x.cn/changed\n", encoding="utf-8")
    ids.import_file(node, path, OPS, overwrite=True)
    f = history.RecordFilter(q="/P-", enterprise_id=ent.id)
    total, page = history.search(engine, f, limit=1)
    assert total == 1201
    (changed,) = page
    assert changed.action == "handle.modify" and changed.at.tzinfo is not None
    urls = [v["data"]["value"] for v in changed.before or [] if v["type"] == "URL"]
    assert urls == ["https://x.cn/3"]
    # a batch whose transaction fails after its entries were copied leaves none behind
    one = [history.Written("88.100.1/Z", "88.100.1/Z", None)]
    with pytest.raises(sa.exc.DBAPIError), engine.begin() as conn:
        history.record_many(conn, node=node.name, actor="x", written=one)
        conn.execute(sa.text("SELECT 1/0"))
    assert history.search(engine, history.RecordFilter(handle="88.100.1/Z"))[0] == 0
