"""Devices online over time without replaying the history: each change's effect on the count
(``delta``) and the newest change of each device (``dev_status_latest``), kept by the database.

Devices online over time (``devices.online_series``) replayed the whole status history to
find each device's status at the window's start: about 1 s at 100,000 devices with 560,000
changes, growing with the history. Now each history row carries ``delta``: +1 if it turned
its device online, -1 if it turned an online device offline, 0 if it changed nothing (an
``offline`` first row, a repeated status), against the device's previous row by
``(at, id)``. The devices online at time t are then the sum of ``delta`` over the rows
before t, and that sum is the devices online now (``dev_status_latest``) less the sum after t:
the database sums one index range per chart bucket, and reads no row.

Triggers on ``dev_status_history`` keep both, in the writer's transaction, whatever writes
and in whatever order (on PostgreSQL one writer at a time, see ``_ONE_WRITER``): after an insert, the new row's delta and that of the row after it;
after a delete, the delta of the row after it; and the newest row per device. History rows
are never updated otherwise. Note: an Alembic batch operation on ``dev_status_history`` in
SQLite recreates the table without its triggers; a migration doing one must create them
again (``create_triggers``).

Revision ID: d0003
"""

# ruff: noqa: S608 - the statements are put together from this file's constants only

import sqlalchemy as sa
from alembic import op

revision = "d0003"
down_revision = "d0002"
branch_labels = None
depends_on = None

H = "dev_status_history"


def _on(column: str) -> str:
    return f"(CASE WHEN {column} = 'online' THEN 1 ELSE 0 END)"


def _after(row: str) -> str:
    """The id of the device's row after ``row`` (NEW or OLD), by (at, id)."""
    return (
        f"(SELECT n.id FROM {H} AS n WHERE n.device_id = {row}.device_id"
        f" AND n.enterprise_id = {row}.enterprise_id AND n.at >= {row}.at"
        f" AND NOT (n.at = {row}.at AND n.id <= {row}.id) ORDER BY n.at, n.id LIMIT 1)"
    )


def _set_delta(ids: str) -> str:
    """Recompute the delta of the rows ``ids`` from each one's previous row."""
    return (
        f"UPDATE {H} SET delta = {_on('status')} - COALESCE((SELECT {_on('p.status')}"
        f" FROM {H} AS p WHERE p.device_id = {H}.device_id"
        f" AND p.enterprise_id = {H}.enterprise_id AND p.at <= {H}.at"
        f" AND NOT (p.at = {H}.at AND p.id >= {H}.id) ORDER BY p.at DESC, p.id DESC LIMIT 1), 0)"
        f" WHERE id IN ({ids})"
    )


_SET_NEWER = """
    ON CONFLICT (device_id, enterprise_id) DO UPDATE
    SET status = excluded.status, at = excluded.at, row_id = excluded.row_id
    WHERE excluded.at > dev_status_latest.at
       OR (excluded.at = dev_status_latest.at AND excluded.row_id > dev_status_latest.row_id)
"""
_NEWEST_LEFT = """
    INSERT INTO dev_status_latest (device_id, enterprise_id, status, at, row_id)
    SELECT device_id, enterprise_id, status, at, id FROM dev_status_history
    WHERE device_id = OLD.device_id AND enterprise_id = OLD.enterprise_id
    ORDER BY at DESC, id DESC LIMIT 1
"""
_HELD = """dev_status_latest.device_id = OLD.device_id
    AND dev_status_latest.enterprise_id = OLD.enterprise_id AND dev_status_latest.row_id = OLD.id"""

_ON_INSERT = f"""
    {_set_delta("NEW.id, " + _after("NEW"))};
    INSERT INTO dev_status_latest (device_id, enterprise_id, status, at, row_id)
    VALUES (NEW.device_id, NEW.enterprise_id, NEW.status, NEW.at, NEW.id) {_SET_NEWER};
"""
_ON_DELETE = f"""
    {_set_delta(_after("OLD"))};
    IF EXISTS (SELECT 1 FROM dev_status_latest WHERE {_HELD}) THEN
        DELETE FROM dev_status_latest
        WHERE device_id = OLD.device_id AND enterprise_id = OLD.enterprise_id;
        {_NEWEST_LEFT};
    END IF;
"""
SQLITE = [
    f"""CREATE TRIGGER dev_status_history_insert AFTER INSERT ON {H}
    BEGIN {_ON_INSERT} END""",
    f"""CREATE TRIGGER dev_status_history_delete AFTER DELETE ON {H}
    BEGIN {_set_delta(_after("OLD"))}; END""",
    f"""CREATE TRIGGER dev_status_latest_delete AFTER DELETE ON {H}
    WHEN EXISTS (SELECT 1 FROM dev_status_latest WHERE {_HELD})
    BEGIN
    DELETE FROM dev_status_latest
    WHERE device_id = OLD.device_id AND enterprise_id = OLD.enterprise_id;
    {_NEWEST_LEFT};
    END""",
]
# PostgreSQL: concurrent transactions writing changes of one device would each compute their
# rows' deltas without seeing the other's rows, so writers of the history take one lock, held
# until they commit, before the trigger reads; each statement after it sees what the previous
# writer committed (READ COMMITTED). Status changes are few and their transactions short.
_ONE_WRITER = "PERFORM pg_advisory_xact_lock(7324011);"
POSTGRESQL = [
    f"""CREATE FUNCTION dev_status_history_insert() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN {_ONE_WRITER} {_ON_INSERT} RETURN NULL; END $$""",
    f"""CREATE FUNCTION dev_status_history_delete() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN {_ONE_WRITER} {_ON_DELETE} RETURN NULL; END $$""",
    f"""CREATE TRIGGER dev_status_history_insert AFTER INSERT ON {H}
    FOR EACH ROW EXECUTE FUNCTION dev_status_history_insert()""",
    f"""CREATE TRIGGER dev_status_history_delete AFTER DELETE ON {H}
    FOR EACH ROW EXECUTE FUNCTION dev_status_history_delete()""",
]


def create_triggers() -> None:
    """The triggers that keep ``delta`` and dev_status_latest (SQLite or PostgreSQL)."""
    for statement in SQLITE if op.get_bind().dialect.name == "sqlite" else POSTGRESQL:
        op.execute(statement)


def upgrade() -> None:
    op.add_column(H, sa.Column("delta", sa.SmallInteger, nullable=False, server_default="0"))
    op.create_table(
        "dev_status_latest",
        sa.Column("device_id", sa.String(63), primary_key=True),
        sa.Column("enterprise_id", sa.Integer, primary_key=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("at", sa.Float, nullable=False),
        sa.Column("row_id", sa.Integer, nullable=False),
    )
    op.create_index("ix_dev_status_latest_status", "dev_status_latest", ["status", "enterprise_id"])
    op.create_index("ix_dev_status_history_at", H, ["at", "delta"])
    op.create_index("ix_dev_status_history_enterprise", H, ["enterprise_id", "at", "delta"])
    op.execute(_set_delta(f"SELECT id FROM {H}"))
    op.execute(
        "INSERT INTO dev_status_latest (device_id, enterprise_id, status, at, row_id) "
        "SELECT device_id, enterprise_id, status, at, id FROM ("
        " SELECT device_id, enterprise_id, status, at, id, row_number() OVER ("
        "  PARTITION BY device_id, enterprise_id ORDER BY at DESC, id DESC) AS newest"
        f" FROM {H}) AS ranked WHERE newest = 1"
    )
    create_triggers()


def downgrade() -> None:
    names = ("dev_status_history_insert", "dev_status_history_delete", "dev_status_latest_delete")
    for name in names:
        if op.get_bind().dialect.name == "sqlite":
            op.execute(f"DROP TRIGGER IF EXISTS {name}")
        else:
            op.execute(f"DROP TRIGGER IF EXISTS {name} ON {H}")
            op.execute(f"DROP FUNCTION IF EXISTS {name}()")
    op.drop_index("ix_dev_status_history_enterprise", H)
    op.drop_index("ix_dev_status_history_at", H)
    op.drop_table("dev_status_latest")
    with op.batch_alter_table(H) as batch:
        batch.drop_column("delta")
