"""The database engine (SQLite by default, PostgreSQL by URL) and schema migrations with Alembic.

PostgreSQL connections are pooled for many processes sharing one server (the scaled mode):
``Settings.db_pool_size`` connections kept per process, at most as many again opened under a
burst (``max_overflow``, closed again as they come back), reused most-recently-returned first
(LIFO: light load keeps reusing the same few warm connections); replaced after
``POOL_RECYCLE_S``. A
checkout does not ping the server (``pool_pre_ping`` cost a round trip per request): only a
connection idle for ``IDLE_PING_S`` or longer is pinged, and a failed ping swaps it (and
every older pooled connection) for a fresh one before the caller sees it. A connection that
dies while in use (failover, ``pg_terminate_backend``) fails that one call; SQLAlchemy then
invalidates the pool, so the next checkout connects afresh. Every connection carries an
``application_name`` of the process's role and shard (``indunet-worker-1/4``), shown in
``pg_stat_activity``. ``docs/postgres.md`` has the counts per process and PgBouncer advice.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event

from indunet.core import sealed
from indunet.core.errors import IndunetError
from indunet.core.files import private_file, secure_tree
from indunet.core.settings import Settings

CORE_MIGRATIONS = Path(__file__).parent / "migrations"
BUFFER_FILE = "buffer.db"  # the ingest buffer's file in the data directory (telemetry.DiskBuffer)
POOL_RECYCLE_S = 1800  # a pooled PostgreSQL connection is replaced after this long
POOL_TIMEOUT_S = 10.0  # a checkout waits this long for a free connection, then fails
CONNECT_TIMEOUT_S = 5  # libpq's connect_timeout: an unreachable server fails fast
IDLE_PING_S = 10.0  # a connection idle this long is pinged at checkout; busy ones are not
_IDLE_SINCE = "indunet_idle_since"


class DatabaseUnavailable(IndunetError):
    """The database did not answer or lost the connection (a restart, a failover): retry in
    a moment."""

    code = "database_unavailable"
    status = 503

    def headers(self) -> dict[str, str]:
        """Retry after two seconds."""
        return {"Retry-After": "2"}


def unavailable(exc: sa.exc.OperationalError) -> DatabaseUnavailable:
    """The answer to a lost or refused database connection, without the server's address.

    SQLAlchemy has invalidated the pool by then, so the next request connects afresh.
    """
    what = "lost its connection" if exc.connection_invalidated else "did not answer"
    return DatabaseUnavailable(f"the database {what}; retry in a moment")


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
        engine = _postgres_engine(url, settings)
    sealed.bind(engine, sealer)
    return engine


def application_name(settings: Settings, part: str = "") -> str:
    """What ``pg_stat_activity`` shows for this process: ``indunet-<role>-<shard>[-part]``."""
    name = f"indunet-{settings.role}-{settings.shard}"
    return f"{name}-{part}" if part else name


def _postgres_engine(url: str, settings: Settings) -> sa.Engine:
    """A pooled PostgreSQL engine without a ping per checkout (see the module docstring)."""
    if url.startswith(("postgresql://", "postgres://")):
        url = "postgresql+psycopg://" + url.split("://", 1)[1]
    query = sa.engine.make_url(url).query
    connect_args: dict[str, Any] = {}
    if "connect_timeout" not in query:
        connect_args["connect_timeout"] = CONNECT_TIMEOUT_S
    if "application_name" not in query:
        connect_args["application_name"] = application_name(settings)
    engine = sa.create_engine(
        url,
        pool_size=settings.db_pool_size,
        max_overflow=settings.db_pool_size,
        pool_timeout=POOL_TIMEOUT_S,
        pool_recycle=POOL_RECYCLE_S,
        pool_pre_ping=False,
        pool_use_lifo=True,
        connect_args=connect_args,
    )
    event.listen(engine, "connect", _fresh)
    event.listen(engine, "checkin", _idle_from_now)
    event.listen(engine, "checkout", _ping_if_idle)
    return engine


def _fresh(_dbapi_conn: Any, record: Any) -> None:
    record.info.pop(_IDLE_SINCE, None)  # a new connection (also after a recycle): no ping


def _idle_from_now(_dbapi_conn: Any, record: Any) -> None:
    if record is not None:
        record.info[_IDLE_SINCE] = time.monotonic()


def _ping_if_idle(dbapi_conn: Any, record: Any, proxy: Any) -> None:
    """Ping a connection that sat idle for ``IDLE_PING_S``; a dead one is replaced, and the
    pool's older connections with it (the server likely restarted), before use."""
    since = record.info.get(_IDLE_SINCE)
    if since is None or time.monotonic() - since < IDLE_PING_S:
        return
    try:
        cur = dbapi_conn.cursor()
        try:
            cur.execute("SELECT 1")
        finally:
            cur.close()
        if not dbapi_conn.autocommit:  # end the ping's transaction: the caller may want
            dbapi_conn.rollback()  # autocommit (ids.HandleStore reads), set only when idle
    except Exception as exc:
        raise sa.exc.InvalidatePoolError(f"an idle pooled connection is gone ({exc})") from exc


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
