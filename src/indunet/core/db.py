"""The database engine (SQLite by default, PostgreSQL by URL) and schema migrations with Alembic."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event

from indunet.core import sealed
from indunet.core.files import private_file, secure_tree
from indunet.core.settings import Settings

CORE_MIGRATIONS = Path(__file__).parent / "migrations"
BUFFER_FILE = "buffer.db"  # the ingest buffer's file in the data directory (telemetry.DiskBuffer)


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA busy_timeout=5000")
    cur.close()


def make_engine(settings: Settings) -> sa.Engine:
    """Create the engine for the configured database, with the data directory made private.

    The data directory becomes 0700 and every file in it 0600 (older files included); the
    SQLite files of this process (database, time-series store, ingest buffer) are created
    0600 before SQLite opens them, so their ``-wal`` and ``-shm`` files are 0600 too. The
    engine is tied to the key that seals stored secrets (``core.sealed``).
    """
    secure_tree(settings.data_dir)
    for path in _sqlite_files(settings):
        private_file(path)
    sealer = sealed.Sealer.from_settings(settings)
    url = settings.resolved_database_url()
    if url.startswith("sqlite"):
        engine = sa.create_engine(url, connect_args={"check_same_thread": False})
        event.listen(engine, "connect", _sqlite_pragmas)
    else:
        if url.startswith("postgresql://"):
            url = "postgresql+psycopg://" + url.removeprefix("postgresql://")
        engine = sa.create_engine(url, pool_size=10, max_overflow=10, pool_pre_ping=True)
    sealed.bind(engine, sealer)
    return engine


def _sqlite_files(settings: Settings) -> list[Path]:
    """The SQLite files this process will open: database, time-series store, ingest buffer."""
    out = [settings.data_dir / BUFFER_FILE]
    for url in (settings.resolved_database_url(), settings.resolved_telemetry_url()):
        path = sa.engine.make_url(url).database if url.startswith("sqlite") else None
        if path and path != ":memory:":
            out.append(Path(path))
    return out


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
