"""Core tests run on a temporary SQLite file migrated with core's migrations only."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from indunet import core


@pytest.fixture
def core_engine(tmp_path: Path) -> Iterator[sa.Engine]:
    eng = core.make_engine(core.Settings(data_dir=tmp_path / "core-data"))
    core.migrate(eng, [])
    yield eng
    eng.dispose()


def count(engine: sa.Engine, table: str) -> int:
    """How many rows ``table`` holds."""
    with engine.connect() as conn:
        return int(conn.execute(sa.text(f"SELECT count(*) FROM {table}")).scalar_one())


@pytest.fixture
def rows(core_engine: sa.Engine) -> Callable[[str], int]:
    return lambda table: count(core_engine, table)
