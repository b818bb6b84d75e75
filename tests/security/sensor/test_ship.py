"""The shipper against a real Indunet served by uvicorn on loopback: batches kept on disk
while the server is away, every event delivered exactly once, refused batches kept aside."""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import os
import stat
import threading
from collections.abc import AsyncIterator, Coroutine, Sequence
from pathlib import Path
from typing import Any

import orjson
import pytest
import uvicorn
from tests.conftest import api_token, until
from tests.integration.servers import free_port

from indunet.core import Role
from indunet.security import Security, SecurityEvent
from indunet.security.sensor.ship import Shipper
from indunet.security.sensor.spool import Spool
from indunet.web import AppState, create_app


class Served:
    """The app on 127.0.0.1:<port>, served by uvicorn on an event loop of its own in a thread
    (as a separate server process would be: the sensor's loop and the server's are not one),
    stoppable and startable again on the same port. The security service (the hub) runs on
    that loop from the first start to ``close``, so its counters span the server's restarts."""

    def __init__(self, state: AppState) -> None:
        self.state = state
        self.app = create_app(state)
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, name="served")
        self._thread.start()
        self._server: uvicorn.Server | None = None
        self._serving: concurrent.futures.Future[None] | None = None
        svc = state.services["security"]
        assert isinstance(svc, Security)
        self.svc = svc
        self._call(svc.start())

    def _call(self, coro: Coroutine[Any, Any, Any]) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(30)

    async def start(self) -> None:
        config = uvicorn.Config(
            self.app, host="127.0.0.1", port=self.port, lifespan="off", log_level="warning"
        )
        self._server = uvicorn.Server(config)
        self._serving = asyncio.run_coroutine_threadsafe(self._server.serve(), self.loop)
        await until(lambda: self._server is not None and self._server.started, 10, "uvicorn")

    async def stop(self) -> None:
        if self._server is not None and self._serving is not None:
            self._server.should_exit = True
            await asyncio.wrap_future(self._serving)
        self._server = self._serving = None

    async def close(self) -> None:
        await self.stop()
        await asyncio.to_thread(self._call, self.svc.stop())
        self.loop.call_soon_threadsafe(self.loop.stop)
        await asyncio.to_thread(self._thread.join, 10)
        self.loop.close()


@pytest.fixture
async def served(state: AppState) -> AsyncIterator[Served]:
    server = await asyncio.to_thread(Served, state)
    try:
        await server.start()
        yield server
    finally:
        await server.close()


def events(start: int, n: int, **extra: object) -> list[SecurityEvent]:
    return [
        SecurityEvent(
            ts=1_765_000_000 + i,
            source="sensor",
            kind="ot.transaction",
            observer="line-3",
            protocol="modbus",
            action="write_single_coil",
            src_ip="192.168.1.20",
            dst_ip="192.168.1.10",
            dst_port=502,
            fields={"address": i},
            id=f"sensor-{i}",
            **extra,  # type: ignore[arg-type]
        )
        for i in range(start, start + n)
    ]


def collector(state: AppState) -> list[str]:
    svc = state.services["security"]
    assert isinstance(svc, Security)
    seen: list[str] = []

    async def take(batch: Sequence[SecurityEvent]) -> None:
        seen.extend(e.id for e in batch if e.source == "sensor")  # not the platform's own

    svc.hub.subscribe("test", take)
    return seen


async def test_server_away_batches_on_disk_then_every_event_once(
    served: Served, state: AppState, tmp_path: Path
) -> None:
    seen = collector(state)
    hub = state.services["security"].hub
    token = api_token(state.engine, "sensor", Role.PLATFORM_ADMIN)
    spool_dir = tmp_path / "spool"
    shipper = Shipper(served.url, token, spool_dir, batch_events=10, flush_s=0.1, backoff_s=0.05)
    await shipper.start()
    try:
        await shipper.put(events(0, 50))
        async with asyncio.timeout(20):
            await shipper.drained()
        await until(lambda: len(seen) == 50, 10, "the first 50 handled")

        await served.stop()
        await shipper.put(events(50, 45))
        await shipper.seal()
        await until(lambda: shipper.stats.retries >= 2, 10, "retries while away")
        assert shipper.spool.batches == 5 and shipper.spool.events == 45
        assert "ConnectError" in shipper.stats.last_error
        assert len(seen) == 50

        await served.start()
        async with asyncio.timeout(30):
            await shipper.drained()
        await until(lambda: len(seen) == 95, 10, "all 95 handled")
        assert seen == [f"sensor-{i}" for i in range(95)]  # in order, each once
        assert hub.stats.accepted == 95 and hub.stats.duplicates == 0
        assert shipper.stats.accepted == 95 and shipper.stats.batches_sent == 10

        # a batch sent again (its answer lost) is recognised by id, not handled twice
        body = orjson.dumps({"events": [e.to_dict() for e in events(90, 5)]})
        shipper.spool.put(body, 5)
        shipper.wake()
        async with asyncio.timeout(10):
            await shipper.drained()
        assert shipper.stats.duplicates == 5 and hub.stats.duplicates == 5
        assert len(seen) == 95
    finally:
        await shipper.stop()
    mode = stat.S_IMODE(os.stat(spool_dir / "sensor-spool.sqlite").st_mode)
    assert mode == 0o600
    assert stat.S_IMODE(os.stat(spool_dir).st_mode) == 0o700


async def test_a_refused_batch_is_kept_aside_with_the_reason(
    served: Served, state: AppState, tmp_path: Path
) -> None:
    seen = collector(state)
    token = api_token(state.engine, "sensor", Role.PLATFORM_ADMIN)
    shipper = Shipper(served.url, token, tmp_path / "spool", batch_events=5, flush_s=0.1)
    await shipper.start()
    try:
        await shipper.put(events(0, 5))
        bad = events(5, 5)
        bad[3] = SecurityEvent(ts=1.0, source="nonsense", kind="x", id="bad-one")
        await shipper.put(bad)
        await shipper.put(events(10, 5))
        async with asyncio.timeout(20):
            await shipper.drained()
        await until(lambda: len(seen) == 10, 10, "the good batches handled")
        assert seen == [f"sensor-{i}" for i in (*range(5), *range(10, 15))]
        assert shipper.stats.rejected_batches == 1 and shipper.stats.rejected_events == 5
        (kept,) = shipper.spool.rejected()
        assert kept.status == 400 and kept.events == 5
        assert "security_event_value" in kept.reason and "event 3" in kept.reason
        assert "source" in kept.reason
        assert b"bad-one" in kept.body
    finally:
        await shipper.stop()
    # still there for a person after a restart, and not sent again
    again = Spool(tmp_path / "spool")
    assert again.batches == 0 and len(again.rejected()) == 1
    again.close()


async def test_a_full_spool_pushes_back_then_counts_drops(tmp_path: Path) -> None:
    # nothing listens there: batches stay on disk
    shipper = Shipper(
        f"http://127.0.0.1:{free_port()}",
        "secret-token-123",
        tmp_path / "spool",
        max_buffer_bytes=4_000,
        batch_events=5,
        full_wait_s=0.3,
        backoff_s=0.05,
    )
    assert "secret-token-123" not in repr(shipper)
    await shipper.start()
    try:
        for i in range(10):
            await shipper.put(events(i * 5, 5))
        await shipper.seal()
        assert shipper.spool.size <= 4_000
        kept = shipper.spool.events
        assert kept >= 5
        assert shipper.stats.waits_for_room > 0
        assert shipper.stats.dropped == 50 - kept  # nothing lost without a count
    finally:
        with contextlib.suppress(Exception):
            await shipper.stop(drain_s=0.2)


async def test_the_spool_survives_a_restart_in_order(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "s", max_bytes=1_000)
    assert spool.put(b"a" * 400, 1) and spool.put(b"b" * 400, 2)
    assert not spool.put(b"c" * 400, 3)  # over the bound: refused, nothing written
    spool.close()
    again = Spool(tmp_path / "s", max_bytes=1_000)
    assert (again.batches, again.events, again.size) == (2, 3, 800)
    first = again.oldest()
    assert first is not None and first.body == b"a" * 400
    again.done(first)
    second = again.oldest()
    assert second is not None and second.body == b"b" * 400
    again.close()


async def test_the_follow_command_ships_to_a_running_indunet(
    served: Served, state: AppState, tmp_path: Path
) -> None:
    import sys

    from .modbus_pcap import write_coil_frames, write_pcap

    seen = collector(state)
    observers: list[str] = []

    async def take(batch: Sequence[SecurityEvent]) -> None:
        observers.extend(e.observer for e in batch if e.source == "sensor")

    state.services["security"].hub.subscribe("observers", take)
    pcap = write_pcap(tmp_path / "span.pcap", write_coil_frames(3))
    token_file = tmp_path / "token"
    token = api_token(state.engine, "sensor", Role.PLATFORM_ADMIN)
    token_file.write_text(token + "\n")
    token_file.chmod(0o600)
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "indunet", "sensor", "follow", str(pcap), "--ship", served.url,
        "--token-file", str(token_file), "--buffer", str(tmp_path / "buf"), "--seconds", "2",
        "--observer", "span-7",
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)},
    )  # fmt: skip
    async with asyncio.timeout(120):
        out, err = await proc.communicate()
    text = (out + err).decode()
    assert proc.returncode == 0, text
    assert len(seen) == 3
    svc = state.services["security"]
    assert isinstance(svc, Security)
    assert svc.hub.stats.by_source["sensor"] == 3
    assert observers == ["span-7"] * 3
    assert "accepted: 3" in text and "rejected_batches: 0" in text
    assert token not in text  # never printed
    assert Spool(tmp_path / "buf").batches == 0


async def test_events_waiting_for_room_at_stop_are_counted(tmp_path: Path) -> None:
    shipper = Shipper(
        f"http://127.0.0.1:{free_port()}",
        "t0ken",
        tmp_path / "spool",
        max_buffer_bytes=4_000,
        batch_events=5,
        full_wait_s=60,
        backoff_s=0.05,
    )
    await shipper.start()
    put = 0
    while shipper.stats.waits_for_room == 0:  # fill the spool until a put has to wait
        task = asyncio.create_task(shipper.put(events(put, 5)))
        put += 5
        await asyncio.sleep(0.1)
    assert not task.done()
    task.cancel()  # the source gives up waiting: its batch is kept, not lost
    with contextlib.suppress(asyncio.CancelledError):
        await task
    await shipper.stop(drain_s=0.3)
    assert shipper.stats.dropped == 5
    assert Spool(tmp_path / "spool").events + shipper.stats.dropped == put
