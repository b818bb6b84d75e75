"""The shipper against a real Indunet served by uvicorn on loopback: batches kept on disk
while the server is away, every event delivered exactly once, refused batches kept aside."""

from __future__ import annotations

import asyncio
import contextlib
import os
import stat
from collections.abc import AsyncIterator, Sequence
from pathlib import Path

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
    """The app on 127.0.0.1:<port>, startable again on the same port."""

    def __init__(self, state: AppState) -> None:
        self.app = create_app(state)
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self._server: uvicorn.Server | None = None
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        config = uvicorn.Config(
            self.app, host="127.0.0.1", port=self.port, lifespan="off", log_level="warning"
        )
        self._server = uvicorn.Server(config)
        self._task = asyncio.create_task(self._server.serve())
        await until(lambda: self._server is not None and self._server.started, 10, "uvicorn")

    async def stop(self) -> None:
        if self._server is not None and self._task is not None:
            self._server.should_exit = True
            await self._task
        self._server = self._task = None


@pytest.fixture
async def served(state: AppState) -> AsyncIterator[Served]:
    svc = state.services["security"]
    assert isinstance(svc, Security)
    await svc.start()  # once: the hub's counters live across the server's restarts
    server = Served(state)
    await server.start()
    try:
        yield server
    finally:
        await server.stop()
        await svc.stop()


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
        seen.extend(e.id for e in batch)

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
