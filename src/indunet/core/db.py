"""The database engine (SQLite by default, PostgreSQL by URL) and schema migrations with Alembic."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event

from indunet.core.settings import Settings

CORE_MIGRATIONS = Path(__file__).parent / "migrations"


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA busy_timeout=5000")
    cur.close()


def make_engine(settings: Settings) -> sa.Engine:
    """Create the engine for the configured database, creating the data directory if needed."""
    url = settings.resolved_database_url()
    if url.startswith("sqlite"):
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        engine = sa.create_engine(url, connect_args={"check_same_thread": False})
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url.removeprefix("postgresql://")
    return sa.create_engine(url, pool_size=10, max_overflow=10, pool_pre_ping=True)


def migrate(engine: sa.Engine, version_locations: Sequence[Path]) -> None:
    """Apply every pending migration of the given subsystems (Alembic ``upgrade heads``)."""
    from alembic import command
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(CORE_MIGRATIONS))
    cfg.set_main_option(
        "version_locations",
        " ".join(str(p) for p in [CORE_MIGRATIONS / "versions", *version_locations]),
    )
    cfg.set_main_option("path_separator", "space")
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "heads")
