"""SqliteStore specifics: its file, reopening it, closing it, opening stores by URL."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

import pytest

from indunet.core import InvalidInput
from indunet.telemetry import MemoryStore, Sample, SqliteStore, StoreClosed, open_store

T0 = 1_714_550_400_000


def test_the_file_is_in_wal_mode_and_survives_reopening(tmp_path: Path) -> None:
    path = tmp_path / "sub" / "telemetry.db"
    store = SqliteStore(path)
    store.write_batch([Sample("d1", "p", T0, 1.5), Sample("d1", "flag", T0, True)])
    store.close()
    with sqlite3.connect(path) as raw:
        assert raw.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    again = SqliteStore(path)
    try:
        again.write_batch([Sample("d1", "p", T0, 9.9), Sample("d1", "p", T0 + 1, 2.5)])
        assert [s.value for s in again.query("d1", "p", T0, T0 + 2)] == [1.5, 2.5]
        assert again.latest("d1")["flag"].value is True
        assert again.downsample("d1", "p", T0, T0 + 60_000, 60_000)[0].count == 2
    finally:
        again.close()


def test_a_closed_store_refuses_work(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "t.db")
    store.query("d1", "p", 0, 1)  # opens a reader connection in this thread
    store.close()
    store.close()  # twice is fine
    with pytest.raises(StoreClosed):
        store.write_batch([Sample("d1", "p", T0, 1.0)])
    with pytest.raises(StoreClosed):
        store.latest("d1")


def test_readers_in_other_threads_see_committed_batches(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "t.db")
    seen: list[int] = []

    def read() -> None:
        seen.append(len(store.query("d1", "p", 0, T0 + 10**6)))

    try:
        for i in range(3):
            store.write_batch([Sample("d1", "p", T0 + i, float(i))])
            t = threading.Thread(target=read)
            t.start()
            t.join(10)
    finally:
        store.close()
    assert seen == [1, 2, 3]


def test_a_newer_schema_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "t.db"
    SqliteStore(path).close()
    with sqlite3.connect(path) as raw:
        raw.execute("PRAGMA user_version=99")
    with pytest.raises(InvalidInput, match="upgrade Indunet"):
        SqliteStore(path)


def test_open_store_by_url(tmp_path: Path) -> None:
    store = open_store(f"sqlite:///{tmp_path}/by-url/telemetry.db")
    assert isinstance(store, SqliteStore)
    assert store.path == tmp_path / "by-url" / "telemetry.db"
    store.close()
    assert isinstance(open_store("memory://"), MemoryStore)
    with pytest.raises(InvalidInput, match="'influxdb'"):
        open_store("influxdb://localhost:8086")
    with pytest.raises(InvalidInput, match="memory://"):
        open_store("sqlite:///:memory:")
