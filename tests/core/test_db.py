"""The engine and migrations: SQLite file in the data directory, idempotent upgrades."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa

from indunet import core, ids


def _versions(engine: sa.Engine) -> set[str]:
    with engine.connect() as conn:
        return {r[0] for r in conn.execute(sa.text("SELECT version_num FROM alembic_version"))}


def test_engine_creates_the_data_directory_and_a_sqlite_file(tmp_path: Path) -> None:
    settings = core.Settings(data_dir=tmp_path / "a" / "b")
    engine = core.make_engine(settings)
    try:
        core.migrate(engine, [])
        assert (tmp_path / "a" / "b" / "indunet.db").is_file()
        with engine.connect() as conn:
            assert conn.execute(sa.text("PRAGMA foreign_keys")).scalar_one() == 1
            assert conn.execute(sa.text("PRAGMA journal_mode")).scalar_one() == "wal"
    finally:
        engine.dispose()


def test_migrate_twice_changes_nothing_and_keeps_data(core_engine: sa.Engine) -> None:
    with core_engine.begin() as conn:
        core.create_enterprise(conn, uscc="91350100M000100Y43", name="Acme", actor="test")
    core.migrate(core_engine, [])
    heads = _versions(core_engine)
    core.migrate(core_engine, [])
    assert _versions(core_engine) == heads
    assert "cu0001" in heads  # core's branches (c0002 is their ancestor) at their heads
    with core_engine.connect() as conn:
        assert [e.name for e in core.list_enterprises(conn)] == ["Acme"]


def test_subsystem_migrations_join_core_and_stay_idempotent(core_engine: sa.Engine) -> None:
    core.migrate(core_engine, [ids.MIGRATIONS])
    core.migrate(core_engine, [ids.MIGRATIONS])
    assert "io0002" in _versions(core_engine)  # io0001 depends on i0001: io0002 stands for all
    tables = set(sa.inspect(core_engine).get_table_names())
    assert {"core_users", "core_enterprises", "ids_handles", "ids_templates"} <= tables


def test_foreign_keys_are_enforced(core_engine: sa.Engine) -> None:
    with pytest.raises(sa.exc.IntegrityError), core_engine.begin() as conn:
        core.create_user(
            conn,
            username="ghost",
            password="long enough",
            role=core.Role.ENTERPRISE_USER,
            actor="test",
            enterprise_id=999,
        )


def test_database_url_defaults_to_a_file_in_the_data_dir(tmp_path: Path) -> None:
    settings = core.Settings(data_dir=tmp_path)
    assert settings.resolved_database_url() == f"sqlite:///{(tmp_path / 'indunet.db').resolve()}"
    pg = core.Settings(data_dir=tmp_path, database_url="postgresql://u@h/db")
    assert pg.resolved_database_url() == "postgresql://u@h/db"
