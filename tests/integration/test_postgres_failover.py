"""The telemetry store and the pool outlive a PostgreSQL crash and restart.

Each test runs its own PostgreSQL server (``initdb`` into a temporary directory, as the
``postgres`` OS user when run as root, on a free port), crashes it with
``pg_ctl stop -m immediate`` and starts it again. The store object is never recreated: it
fails while the server is down (``StoreUnavailable``, fast) and works once it is back. A
worker fed by the real NATS (``BusWorker`` over a ``Pipeline`` without a disk buffer) loses
nothing across the crash: JetStream keeps what the store did not take.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from tests.conftest import REQUIRE_SERVICES
from tests.telemetry.fleet import Fleet

from indunet import bus
from indunet.core import Settings, make_engine
from indunet.telemetry import DeadLetters, Pipeline, PostgresStore, Sample
from indunet.telemetry.postgres_link import StoreUnavailable

pytestmark = pytest.mark.integration
BIN = Path(os.environ.get("INDUNET_PG_BIN", "/usr/local/bin"))
T0 = 1_767_225_600_000  # 2026-01-01T00:00:00Z


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class OwnPostgres:
    """A PostgreSQL server of this test: a data directory, a port, start and crash."""

    def __init__(self) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix="indunet-pg-"))
        self.data = self.dir / "data"
        self.port = free_port()
        self.url = f"postgresql://postgres@127.0.0.1:{self.port}/postgres"
        self.as_root = os.geteuid() == 0
        if self.as_root:
            shutil.chown(self.dir, "postgres", "postgres")
        self._run("initdb", "-D", str(self.data), "-A", "trust", "-U", "postgres", "--no-sync")

    def _run(self, tool: str, *args: str) -> None:
        cmd = [str(BIN / tool), *args]
        if self.as_root:
            cmd = ["runuser", "-u", "postgres", "--", *cmd]
        subprocess.run(cmd, check=True, capture_output=True, timeout=60)

    def start(self) -> None:
        """Start the server and wait until it takes connections."""
        opts = f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1 -c fsync=off"
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.dir / "log"), "-o", opts, "-w",
                  "start")  # fmt: skip

    def crash(self) -> None:
        """Stop at once, as a crash or a failover does: connections are cut, nothing flushed."""
        self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop")

    def remove(self) -> None:
        with contextlib.suppress(subprocess.CalledProcessError):  # not running
            self.crash()
        shutil.rmtree(self.dir, ignore_errors=True)


@pytest.fixture
def pg() -> Iterator[OwnPostgres]:
    if not (BIN / "initdb").exists() or (os.geteuid() == 0 and shutil.which("runuser") is None):
        msg = f"no PostgreSQL binaries in {BIN} (INDUNET_PG_BIN) to run a server of the test's own"
        if REQUIRE_SERVICES:
            pytest.fail(msg)
        pytest.skip(msg)
    server = OwnPostgres()
    server.start()
    yield server
    server.remove()


def samples(first: int, n: int, device: str = "press-1") -> list[Sample]:
    return [
        Sample(device, "bearing_temp", T0 + (first + i) * 1000, 20.0 + i % 50) for i in range(n)
    ]


def stored(store: PostgresStore, device: str = "press-1") -> list[int]:
    return [s.ts for s in store.query(device, "bearing_temp", T0, T0 + 10**9)]


def test_the_store_fails_while_down_and_works_again_without_being_recreated(
    pg: OwnPostgres,
) -> None:
    store = PostgresStore(pg.url, retry_cap=0.5)
    try:
        store.write_batch(samples(0, 10))
        assert len(stored(store)) == 10
        pg.crash()
        with pytest.raises(StoreUnavailable) as down:
            store.write_batch(samples(10, 10))
        assert down.value.status == 503 and "does not answer" in down.value.message
        assert str(pg.port) not in down.value.message  # the address stays in the log
        t0 = time.monotonic()
        for _ in range(20):  # while down, every call fails at once (no connect per call)
            with pytest.raises(StoreUnavailable):
                store.write_batch(samples(10, 10))
        assert time.monotonic() - t0 < 2.0
        with pytest.raises(StoreUnavailable):
            store.latest("press-1")
        pg.start()
        deadline = time.monotonic() + 10
        while True:  # the next attempt, at most retry_cap after the last failure
            try:
                store.write_batch(samples(10, 10))
                break
            except StoreUnavailable:
                assert time.monotonic() < deadline, "the store did not reconnect in 10 s"
                time.sleep(0.1)
        assert stored(store) == [T0 + i * 1000 for i in range(20)]  # nothing lost, nothing twice
        assert store.latest("press-1")["bearing_temp"].ts == T0 + 19_000
    finally:
        store.close()


def test_a_restart_between_calls_costs_no_failed_write_and_at_most_one_failed_read(
    pg: OwnPostgres,
) -> None:
    store = PostgresStore(pg.url, retry_cap=0.5)
    try:
        store.write_batch(samples(0, 5))
        assert store.latest("press-1")  # a reader connection is pooled now
        pg.crash()
        pg.start()
        store.write_batch(samples(5, 5))  # its dead connection is replaced and the write retried
        failed_reads = 0
        for _ in range(3):
            try:
                assert len(stored(store)) == 10
            except Exception:
                failed_reads += 1
        assert failed_reads <= 1
    finally:
        store.close()


def test_the_engine_pool_recovers_after_a_crash(pg: OwnPostgres, tmp_path: Path) -> None:
    engine = make_engine(Settings(database_url=pg.url, data_dir=tmp_path / "d", db_pool_size=2))
    try:
        with engine.connect() as conn:
            assert conn.execute(sa.text("SELECT 1")).scalar_one() == 1
        pg.crash()
        pg.start()
        failed = 0
        for _ in range(4):
            try:
                with engine.connect() as conn:
                    conn.execute(sa.text("SELECT 1")).scalar_one()
            except sa.exc.OperationalError:
                failed += 1
        assert failed <= 1
    finally:
        engine.dispose()


async def test_a_worker_loses_nothing_across_a_store_crash(
    pg: OwnPostgres, nats_backbone: bus.Backbone, engine: sa.Engine
) -> None:
    store = await asyncio.to_thread(PostgresStore, pg.url, retry_cap=0.5)
    fleet = Fleet()
    fleet.add("press-1", 1)
    fleet.add("press-2", 1)
    pipeline = Pipeline(store, fleet.model_of, DeadLetters(engine), None, max_delay=0.005)
    worker = bus.BusWorker(nats_backbone, pipeline, [0, 1], fetch=16, retry_cap=0.5, lag_every=0.2)
    writer = bus.BusWriter(nats_backbone, lambda _device: 1, source="test")
    writer.bind(asyncio.get_running_loop())
    await pipeline.start()
    await worker.start()

    async def publish(first: int, n: int) -> None:
        for i in range(first, first + n, 20):
            batch = samples(i, 20) + samples(i, 20, device="press-2")
            await asyncio.to_thread(writer.write_batch, batch)

    async def settled(total: int, within: float) -> None:
        deadline = time.monotonic() + within
        while worker.stats.samples < total:
            assert time.monotonic() < deadline, f"stored {worker.stats.samples} of {total}"
            await asyncio.sleep(0.05)

    try:
        await publish(0, 200)
        await settled(400, 20)
        await asyncio.to_thread(pg.crash)
        await publish(200, 200)  # JetStream takes them; the worker cannot store them
        deadline = time.monotonic() + 10
        while worker.stats.retried == 0:
            assert time.monotonic() < deadline, "the worker never tried the down store"
            await asyncio.sleep(0.05)
        assert worker.stats.samples == 400
        await asyncio.to_thread(pg.start)
        await publish(400, 100)
        await settled(1000, 30)
        for device in ("press-1", "press-2"):
            ts = await asyncio.to_thread(stored, store, device)
            assert ts == [T0 + i * 1000 for i in range(500)], device  # all, once, in order
        assert worker.stats.poison == 0 and worker.stats.undecodable == 0
        assert pipeline.counts.store_failures > 0  # it did see the store down
    finally:
        await worker.stop()
        await pipeline.stop()
        await asyncio.to_thread(store.close)
