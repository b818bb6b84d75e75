"""Migration ih0002: history entries written before it get the prefix their record is under
and the enterprise that prefix is allocated to (the nearest allocated prefix above), in
batches; ``check_migration`` runs on SQLite here and on PostgreSQL in
tests/integration/test_records_postgres.py."""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa
from tests.ids.test_admin_migration import _alembic

from indunet import core, ids
from indunet.ids import history as ids_history

MANY = 4_100  # more than the migration's batch, twice over

history = sa.table(
    "ids_handle_history",
    *(sa.column(c) for c in ("id", "node", "hkey", "handle", "action", "actor", "at")),
)
prefixes = sa.table(
    "ids_prefixes", sa.column("prefix"), sa.column("node"), sa.column("enterprise_id"),
    sa.column("created_at"),
)  # fmt: skip


def check_migration(engine: sa.Engine) -> None:
    _alembic(engine, "upgrade", "ih0001")
    now = datetime.now(UTC)
    keys = ["0.NA/88.100.1", "88.100.1/A", "88.100.1.5/B", "88.100.2/C", "88/ROOT", "0.NA/88"]
    keys += [f"88.100.1/M-{i:05d}" for i in range(MANY)]
    with engine.begin() as conn:
        conn.execute(
            prefixes.insert(),
            [
                {"prefix": "88.100.1", "node": "n", "enterprise_id": 7, "created_at": now},
                {"prefix": "88.100.2", "node": "n", "enterprise_id": None, "created_at": now},
            ],
        )
        conn.execute(
            history.insert(),
            [
                {
                    "node": "n",
                    "hkey": k,
                    "handle": k,
                    "action": "handle.create",
                    "actor": "t",
                    "at": now,
                }
                for k in keys
            ],
        )
    core.migrate(engine, [ids.MIGRATIONS])
    with engine.connect() as conn:
        got = {
            r.hkey: (r.prefix, r.enterprise_id)
            for r in conn.execute(
                sa.text("SELECT hkey, prefix, enterprise_id FROM ids_handle_history")
            )
        }
    assert got["0.NA/88.100.1"] == ("88.100.1", 7)
    assert got["88.100.1/A"] == ("88.100.1", 7)
    assert got["88.100.1.5/B"] == ("88.100.1.5", 7)  # under A's prefix: A's
    assert got["88.100.2/C"] == ("88.100.2", None)
    assert got["88/ROOT"] == ("88", None) and got["0.NA/88"] == ("88", None)
    assert all(got[f"88.100.1/M-{i:05d}"] == ("88.100.1", 7) for i in range(MANY))
    found = ids_history.search(engine, ids_history.RecordFilter(enterprise_id=7), limit=1)
    assert found[0] == MANY + 3
    _alembic(engine, "downgrade", "ih0001")
    _alembic(engine, "upgrade", "heads")


def test_migration_fills_prefix_and_owner_on_sqlite(tmp_path: object) -> None:
    engine = sa.create_engine(f"sqlite:///{tmp_path}/m.db")
    try:
        check_migration(engine)
    finally:
        engine.dispose()
