"""Migration ia0001 on PostgreSQL: stored HS_ADMIN permission strings are reversed into
Handle.Net's order exactly as on SQLite (the same scenario, tests/ids/test_admin_migration.py)."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from tests.ids.test_admin_migration import check_migration
from tests.integration.test_postgres import pg_url  # noqa: F401  (fixture)

pytestmark = pytest.mark.integration


def test_migration_reverses_stored_admin_strings_on_postgresql(pg_url: str) -> None:  # noqa: F811
    engine = sa.create_engine(pg_url.replace("postgresql://", "postgresql+psycopg://", 1))
    try:
        assert engine.dialect.name == "postgresql"
        check_migration(engine)
    finally:
        engine.dispose()
