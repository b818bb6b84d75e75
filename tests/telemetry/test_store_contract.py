"""The shared store behaviour, run against MemoryStore and SqliteStore."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.telemetry.store_suite import StoreSuite

from indunet.telemetry import MemoryStore, SqliteStore, TimeSeriesStore


class TestMemoryStore(StoreSuite):
    @pytest.fixture
    def store(self) -> Iterator[TimeSeriesStore]:
        s = MemoryStore()
        yield s
        s.close()


class TestSqliteStore(StoreSuite):
    @pytest.fixture
    def store(self, tmp_path: Path) -> Iterator[TimeSeriesStore]:
        s = SqliteStore(tmp_path / "telemetry.db")
        yield s
        s.close()
