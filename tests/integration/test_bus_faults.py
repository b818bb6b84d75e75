"""The backbone when NATS fails: down at start, killed mid-run, full, or away too long.

Each test runs its own ``nats-server -js`` (``natsserver.NatsServer``: a free port, a store
directory of its own) so it can kill it. What a user must see: a ``submit`` that returned
means the samples end up stored exactly once, whatever the server does; a producer that can
hold no more says so (``Overloaded``) instead of losing what it accepted.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest
import sqlalchemy as sa
from tests.conftest import until
from tests.integration.natsserver import NatsServer, nats_server, need_binary
from tests.integration.test_bus_nats import DEVICES, Rig, rig, samples

from indunet.bus.backbone import StreamLimits
from indunet.bus.envelope import Batch
from indunet.telemetry import Overloaded, Sample

pytestmark = pytest.mark.integration


@pytest.fixture(autouse=True)
def _nats_binary() -> None:
    need_binary()


async def start(server: NatsServer) -> None:
    await asyncio.to_thread(server.start)


def stored_values(r: Rig) -> dict[str, list[object]]:
    return {d: [s.value for s in r.store.stored(d)] for d in DEVICES}


def expected_values(accepted: list[Sample]) -> dict[str, list[object]]:
    out: dict[str, list[object]] = {d: [] for d in DEVICES}
    for s in sorted(accepted, key=lambda s: s.ts):
        out[s.device].append(s.value)
    return out


async def test_a_producer_started_while_nats_is_down_buffers_then_delivers(
    engine: sa.Engine, tmp_path: Path
) -> None:
    with nats_server(tmp_path / "nats", started=False) as server:
        async with rig(server.url, engine, tmp_path, wait_ready=False) as r:
            sent = samples(50)
            async with asyncio.timeout(5):  # answered at once: the disk buffer has them
                await r.producer.submit(sent, source="http")
            stats = r.producer.stats()
            assert stats["buffering"] and stats["buffered"] == len(sent)
            assert not r.backbone.connected and r.store.count() == 0
            await start(server)
            await until(lambda: r.store.count() == len(sent), 20, "the buffer delivered")
            assert stored_values(r) == expected_values(sent)
            await until(r.producer.settled, 5, "the disk buffer empty")
            more = samples(5, start=50)  # and straight through from now on
            await r.producer.submit(more, source="http")
            await until(lambda: r.store.count() == len(sent) + len(more), 10, "the rest")


async def test_every_sample_whose_submit_returned_survives_a_killed_server(
    engine: sa.Engine, tmp_path: Path
) -> None:
    """kill -9 the server mid-run and start it again on its port and store directory."""
    with nats_server(tmp_path / "nats") as server:
        async with rig(server.url, engine, tmp_path) as r:
            accepted: list[Sample] = []
            refused = 0
            stop = asyncio.Event()

            async def submitter() -> None:
                nonlocal refused
                i = 0
                while not stop.is_set():
                    batch = samples(2, start=i)
                    i += 2
                    try:
                        await r.producer.submit(batch, source="http")
                    except Overloaded:
                        refused += 1
                    else:
                        accepted.extend(batch)
                    await asyncio.sleep(0.005)

            task = asyncio.create_task(submitter())
            await until(lambda: r.store.count() > 100, 10, "samples flowing")
            await asyncio.to_thread(server.kill)
            outage_from = len(accepted)
            await asyncio.sleep(1.5)  # shorter than a publish waits for its acknowledgement
            assert len(accepted) > outage_from + 50  # the producer went on answering at once
            await start(server)
            await until(lambda: r.backbone.connected, 15, "the backbone reconnected")
            await asyncio.sleep(1.0)
            stop.set()
            async with asyncio.timeout(10):
                await task
            assert refused == 0
            await until(
                lambda: r.store.count() == len(accepted), 25, "every accepted sample stored"
            )
            assert stored_values(r) == expected_values(accepted)  # each once, none missing
            assert r.backbone.reconnects >= 1
            assert r.letters.count() == 0


async def test_a_full_disk_buffer_while_nats_is_down_says_overloaded_and_loses_nothing(
    engine: sa.Engine, tmp_path: Path
) -> None:
    with nats_server(tmp_path / "nats", started=False) as server:
        async with rig(server.url, engine, tmp_path, wait_ready=False, buffer_bytes=20_000) as r:
            accepted: list[Sample] = []
            overloaded: Overloaded | None = None
            for i in range(0, 10_000, 10):
                batch = samples(10, start=i)
                try:
                    await r.producer.submit(batch, source="http")
                except Overloaded as exc:
                    overloaded = exc
                    break
                accepted.extend(batch)
            assert overloaded is not None, "the buffer never filled"
            assert "buffer is full" in overloaded.message and overloaded.status == 503
            assert accepted and r.producer.stats()["overloaded"] >= 1
            await start(server)
            await until(lambda: r.store.count() == len(accepted), 20, "the buffer delivered")
            assert stored_values(r) == expected_values(accepted)
            await until(r.producer.settled, 5, "the disk buffer empty")
            await r.producer.submit(samples(1, start=20_000), source="http")  # accepted again


async def test_a_full_stream_makes_producers_buffer_and_the_workers_make_room(
    engine: sa.Engine, tmp_path: Path
) -> None:
    """The stream refuses envelopes when full (discard new): the producer buffers on disk
    instead of losing them, and once workers store the backlog the stream takes more; far
    more than its bound passes through it in all (what is stored leaves the stream)."""
    limits = StreamLimits(max_bytes=256 * 1024, max_age_s=3600, events_max_bytes=1024**2)
    with nats_server(tmp_path / "nats") as server:
        async with rig(
            server.url, engine, tmp_path, limits=limits, start_worker=False, max_batch=600
        ) as r:
            accepted: list[Sample] = []
            i = 0
            deadline = time.monotonic() + 10
            while not r.producer.stats()["buffering"]:
                assert time.monotonic() < deadline, "the stream never filled"
                batch = samples(50, start=i)
                i += 50
                await r.producer.submit(batch, source="http")  # returns: stream or disk
                accepted.extend(batch)
            assert r.writer.stats.failures >= 1  # JetStream said "maximum bytes exceeded"
            await r.worker.start()
            await until(lambda: r.store.count() == len(accepted), 20, "the backlog stored")
            await until(r.producer.settled, 10, "the disk buffer empty")
            probe = samples(100, start=i, devices=DEVICES[:1])
            per_sample = len(Batch(r.writer.producer, 1, "http", probe).encode()) / len(probe)
            deadline = time.monotonic() + 15
            while r.writer.stats.samples * per_sample < 3 * limits.max_bytes:
                assert time.monotonic() < deadline, "the stream takes no more"
                batch = samples(100, start=i)
                i += 100
                await r.producer.submit(batch, source="http")
                accepted.extend(batch)
            await until(lambda: r.store.count() == len(accepted), 20, "everything stored")
            assert stored_values(r) == expected_values(accepted)


async def test_a_server_that_comes_back_empty_gets_its_streams_and_consumers_again(
    engine: sa.Engine, tmp_path: Path
) -> None:
    """A node replaced by an empty one (its store lost): the backbone makes the streams
    again on reconnecting and each worker its consumers, so telemetry flows again instead
    of every publish failing for ever."""
    with nats_server(tmp_path / "nats") as server:
        async with rig(server.url, engine, tmp_path) as r:
            first = samples(10)
            await r.producer.submit(first, source="http")
            await until(lambda: r.store.count() == len(first), 10, "the first samples stored")
            await asyncio.to_thread(server.kill)
            server.wipe()
            await start(server)
            await until(lambda: r.backbone.connected, 15, "the backbone reconnected")
            later = samples(10, start=10)
            async with asyncio.timeout(10):
                await r.producer.submit(later, source="http")
            await until(lambda: r.store.count() == len(first) + len(later), 20, "flowing again")
            assert r.worker.stats.restarts >= 1  # the consumers were made anew
            assert stored_values(r) == expected_values(first + later)


async def test_a_consumer_deleted_under_a_running_worker_is_made_again(
    engine: sa.Engine, tmp_path: Path
) -> None:
    with nats_server(tmp_path / "nats") as server:
        async with rig(server.url, engine, tmp_path) as r:
            await until(lambda: len(r.worker.stats.lag) == 4, 10, "every consumer made")
            js = r.backbone.jetstream()
            for p in range(4):
                assert await js.delete_consumer(r.names.telemetry_stream, r.names.durable(p))
            sent = samples(20)
            await r.producer.submit(sent, source="http")
            await until(lambda: r.store.count() == len(sent), 15, "stored all the same")
            assert stored_values(r) == expected_values(sent)


async def test_closing_the_backbone_while_the_server_hangs_takes_bounded_time(
    engine: sa.Engine, tmp_path: Path
) -> None:
    """A hung server (SIGSTOP) must not hold up a process's shutdown (nats-py's drain alone
    waits out its own flush timeout, whatever its caller's deadline)."""
    with nats_server(tmp_path / "nats") as server:
        async with rig(server.url, engine, tmp_path) as r:
            await until(lambda: len(r.worker.stats.lag) == 4, 10, "every consumer made")
            await r.worker.stop()
            server.pause()
            try:
                t0 = time.monotonic()
                await r.backbone.close()  # close_timeout=2 in the rig: drain, then close
                took = time.monotonic() - t0
            finally:
                server.resume()
            assert took < 5.0, f"closing took {took:.1f} s"
            assert not r.backbone.connected
