"""Opening a time-series store from its URL (``Settings.resolved_telemetry_url()``)."""

from __future__ import annotations

from pathlib import Path

from indunet.core import InvalidInput
from indunet.telemetry.memory_store import MemoryStore
from indunet.telemetry.sqlite_store import SqliteStore
from indunet.telemetry.store import TimeSeriesStore

SCHEMES = ("sqlite:///", "postgresql://", "postgres://", "postgresql+psycopg://", "memory://")


def open_store(url: str, *, application_name: str = "indunet-telemetry") -> TimeSeriesStore:
    """The store a URL names: ``sqlite:///path``, ``postgresql://...`` or ``memory://``.

    ``sqlite:///data/telemetry.db`` is relative to the working directory and
    ``sqlite:////var/lib/indunet/telemetry.db`` absolute, as in SQLAlchemy. PostgreSQL needs
    psycopg (``pip install indunet[postgres]``); its connections show ``application_name`` in
    ``pg_stat_activity``.
    """
    if url.startswith("sqlite:///"):
        path = url.removeprefix("sqlite:///").split("?", 1)[0]
        if not path or path == ":memory:":
            raise InvalidInput(f"{url!r} names no file; use memory:// for an in-memory store")
        return SqliteStore(Path(path))
    if url.startswith(("postgresql://", "postgres://", "postgresql+psycopg://")):
        from indunet.telemetry.postgres_store import PostgresStore  # psycopg is optional

        return PostgresStore(url, application_name=application_name)
    if url.startswith("memory://"):
        return MemoryStore()
    scheme = url.split(":", 1)[0] if ":" in url else url
    raise InvalidInput(
        f"unknown telemetry store URL scheme {scheme!r} in {url!r}; use one of "
        + ", ".join(SCHEMES),
        detail={"setting": "telemetry_url"},
    )
