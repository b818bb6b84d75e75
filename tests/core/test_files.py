"""The data directory is 0700 and every file Indunet keeps in it 0600, whatever the umask."""

from __future__ import annotations

import asyncio
import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from indunet import core, telemetry
from indunet.web import open_database


def mode(path: Path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


@pytest.fixture(autouse=True)
def open_umask() -> Iterator[None]:
    """A umask that would leave new files readable to everyone (the common default)."""
    old = os.umask(0o022)
    yield
    os.umask(old)


def test_a_new_data_directory_and_its_databases_are_private(tmp_path: Path) -> None:
    data = tmp_path / "data"
    engine = open_database(core.Settings(data_dir=data))
    with engine.begin() as conn:  # a write, so SQLite has its -wal and -shm files
        core.create_enterprise(conn, uscc="91350100M000100Y43", name="A", actor="t")
        files = {p.name: mode(p) for p in data.iterdir()}
    engine.dispose()
    assert mode(data) == 0o700
    assert {"indunet.db", "indunet.db-wal", "indunet.db-shm", "secret.key"} <= files.keys()
    assert {"telemetry.db", "buffer.db"} <= files.keys()
    assert files == dict.fromkeys(files, 0o600)


def test_files_an_older_version_left_open_are_fixed_on_start(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir(mode=0o755)
    os.chmod(data, 0o755)
    old = data / "indunet.db"
    sa.create_engine(f"sqlite:///{old}").dispose()
    old.touch()
    os.chmod(old, 0o644)
    (data / "keys").mkdir()
    os.chmod(data / "keys", 0o755)
    (data / "keys" / "site.pem").write_text("x")
    os.chmod(data / "keys" / "site.pem", 0o644)
    core.make_engine(core.Settings(data_dir=data)).dispose()
    assert mode(data) == 0o700
    assert mode(old) == 0o600
    assert mode(data / "keys") == 0o700
    assert mode(data / "keys" / "site.pem") == 0o600


async def test_the_store_and_the_buffer_keep_their_files_private(tmp_path: Path) -> None:
    """The time-series store and the ingest buffer, opened as the platform opens them."""
    settings = core.Settings(data_dir=tmp_path / "data")
    engine = await asyncio.to_thread(open_database, settings)
    sample = telemetry.Sample("dev-1", "temp", 1_700_000_000_000, 21.5, 0)
    store = telemetry.open_store(settings.resolved_telemetry_url())
    await asyncio.to_thread(store.write_batch, [sample])
    buffer = telemetry.DiskBuffer(settings.data_dir / "buffer.db", settings.buffer_max_bytes)
    await buffer.open()
    await buffer.append([sample])
    try:
        files = {p.name: mode(p) for p in settings.data_dir.iterdir()}
    finally:
        await buffer.close()
        store.close()
        engine.dispose()
    assert {"telemetry.db-wal", "buffer.db-wal"} <= files.keys()
    assert files == dict.fromkeys(files, 0o600)
