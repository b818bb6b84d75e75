"""Reading the backbone's status from a real NATS JetStream (``bus.status.read_status``): a
partition's lag grows while no worker consumes it and falls to 0 once one does, consumers no
worker has started are "not started", the reading is bounded in time, and the console page
shows it in both languages.

Each test uses its own prefix, small stream limits, and deletes its streams afterwards.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass

import httpx
import pytest
from tests.conftest import need_service
from tests.web.test_console_platform import PASSWORD, add_user

from indunet import core, ids, telemetry
from indunet.bus import Backbone, BusWorker, BusWriter, Names, StreamLimits, partition_of
from indunet.bus.status import BackboneStatus, ConsumerState, Problem, read_status
from indunet.core import Role
from indunet.telemetry import Sample
from indunet.web import AppState, create_app
from indunet.web.backbone import BackboneService
from indunet.web.platform import Platform

pytestmark = pytest.mark.integration
NATS_URL = "nats://127.0.0.1:4222"
PARTITIONS = 4
MAX_BYTES = 64 * 1024**2
DEVICES = [f"env-{i:04d}" for i in range(1, 9)]


@dataclass
class Bus:
    """A connected backbone of its own prefix, the platform it feeds, and a producer."""

    backbone: Backbone
    platform: Platform
    writer: BusWriter
    enterprise: core.Enterprise


@pytest.fixture
async def bus(
    state: AppState, enterprise: core.Enterprise, allocation: ids.Allocation
) -> AsyncIterator[Bus]:
    need_service("NATS", "127.0.0.1", 4222)
    platform = state.platform
    assert platform is not None
    for device in DEVICES:
        spec = {"id": device, "name": device, "model": "indunet:env-sensor"}
        platform.devices.create(enterprise.id, spec, actor="test")
    names = Names("t" + uuid.uuid4().hex[:10], PARTITIONS)
    backbone = Backbone([NATS_URL], names, StreamLimits(max_bytes=MAX_BYTES))
    await backbone.start()
    assert await backbone.wait_ready(10), "NATS at 4222 did not get ready"
    writer = BusWriter(backbone, lambda _device: enterprise.id, source="test")
    writer.bind(asyncio.get_running_loop())
    try:
        yield Bus(backbone, platform, writer, enterprise)
    finally:
        js = backbone.jetstream()
        for stream in (names.telemetry_stream, names.events_stream):
            with contextlib.suppress(Exception):
                await js.delete_stream(stream)
        await backbone.close()


async def publish(bus: Bus, rounds: int, at: int) -> None:
    """``rounds`` batches, each with one sample of every device (one envelope per partition
    the devices fall in), through the real producer (from a thread, as the pipeline does)."""
    for r in range(rounds):
        samples = [Sample(d, "temperature", at + r, 20.0 + r) for d in DEVICES]
        await asyncio.to_thread(bus.writer.write_batch, samples)


def worker(bus: Bus) -> BusWorker:
    """A worker of every partition, storing through a pipeline without a disk buffer."""
    p = bus.platform
    stored = telemetry.Pipeline(p.store, p.devices.model_of, p.pipeline.dead_letters, None)
    return BusWorker(bus.backbone, stored, list(range(PARTITIONS)), lag_every=0.5)


async def run(w: BusWorker) -> None:
    await w.pipeline.start()
    await w.start()


async def halt(w: BusWorker) -> None:
    await w.stop()
    await w.pipeline.stop()


async def status_until(bus: Bus, check: object, what: str, within: float = 15.0) -> BackboneStatus:
    """Read the status every 100 ms until ``check(status)`` holds."""
    assert callable(check)
    deadline = time.monotonic() + within
    while True:
        status = await read_status(bus.backbone)
        if check(status):
            return status
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}: {status}")
        await asyncio.sleep(0.1)


async def test_lag_grows_while_no_worker_consumes_and_falls_to_zero_when_one_does(
    bus: Bus,
) -> None:
    fresh = await read_status(bus.backbone)
    assert fresh.connected and fresh.problem is None
    assert fresh.stream is not None and fresh.stream.messages == 0
    assert fresh.stream.max_bytes == MAX_BYTES and fresh.stream.bytes_used == 0.0
    assert [c.state for c in fresh.consumers] == [ConsumerState.NOT_STARTED] * PARTITIONS
    assert [c.durable for c in fresh.consumers] == [f"tel-p{p}" for p in range(PARTITIONS)]

    first = worker(bus)  # a worker makes the durable consumers, then stops (falls away)
    await run(first)
    await status_until(
        bus,
        lambda s: all(c.state is ConsumerState.ACTIVE for c in s.consumers),
        "every consumer made",
    )
    await halt(first)

    at = int(time.time() * 1000)
    used = {partition_of(d, PARTITIONS) for d in DEVICES}
    await publish(bus, 2, at)
    before = await read_status(bus.backbone)
    await publish(bus, 3, at + 10)
    after = await read_status(bus.backbone)
    published = bus.writer.stats.batches
    assert published == 5 * len(used)
    assert before.lag == 2 * len(used) and after.lag == published  # it grows, nothing consumes
    assert after.stream is not None and after.stream.messages == published
    assert 0 < after.stream.bytes < MAX_BYTES and after.stream.bytes_used is not None
    for c in after.consumers:
        assert c.state is ConsumerState.ACTIVE
        assert c.pending == (5 if c.partition in used else 0), c
        assert c.ack_pending == 0 and c.last_acked is None and c.waiting == 0
    assert after.lagging == len(used)

    second = worker(bus)
    await run(second)
    try:
        done = await status_until(bus, lambda s: s.lag == 0, "the lag to fall to 0")
    finally:
        await halt(second)
    assert done.stream is not None
    kept = 0 if done.stream.retention == "workqueue" else published  # acked: gone, or kept
    assert done.stream.messages == kept
    for c in done.consumers:
        assert c.pending == 0 and c.ack_pending == 0
        if c.partition in used:
            assert c.last_acked is not None and c.last_delivered is not None
            assert c.acked_seq > 0
    latest = await asyncio.to_thread(bus.platform.store.latest, DEVICES[0])
    assert latest["temperature"].value == 22.0  # the newest sample published is stored


async def test_a_reading_is_bounded_in_time_and_says_what_it_missed(bus: Bus) -> None:
    started = time.monotonic()
    rushed = await read_status(bus.backbone, within=0.0)
    assert time.monotonic() - started < 1.0
    assert rushed.problem is Problem.TIMEOUT
    assert len(rushed.consumers) == PARTITIONS
    assert all(c.state is ConsumerState.UNKNOWN for c in rushed.consumers)

    nowhere = Backbone(["nats://127.0.0.1:1"], Names("t" + uuid.uuid4().hex[:10], 2))
    unread = await read_status(nowhere)  # never started: not connected, nothing read
    assert not unread.connected and unread.problem is Problem.NOT_CONNECTED
    assert unread.stream is None and unread.consumers == ()


@pytest.mark.parametrize("lang", ["zh-CN", "en"])
async def test_the_console_page_shows_each_partitions_lag_in_both_languages(
    bus: Bus, state: AppState, lang: str
) -> None:
    first = worker(bus)
    await run(first)
    await status_until(
        bus, lambda s: all(c.state is ConsumerState.ACTIVE for c in s.consumers), "consumers"
    )
    await halt(first)
    await publish(bus, 3, int(time.time() * 1000))
    state.services["bus"] = BackboneService(bus.backbone)
    add_user(state, "root2", Role.PLATFORM_ADMIN)
    transport = httpx.ASGITransport(app=create_app(state))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
        resp = await c.post("/login", data={"username": "root2", "password": PASSWORD})
        assert resp.status_code == 303
        c.cookies.set("lang", lang)
        page = await c.get("/platform/backbone")
        hostile = await c.get(
            "/platform/backbone",
            params={"state": "<i>zz", "sort": "lag';--", "desc": "x", "page": "99999", "size": "0"},
            follow_redirects=True,  # a page past the last is the last page
        )
        behind = await c.get("/platform/backbone", params={"state": "behind", "sort": "lag"})
    assert hostile.status_code == 200 and "<i>zz" not in hostile.text
    assert 'id="total-lag"' in hostile.text
    assert hostile.url.params["page"] == "1"  # the last page of what the filters match
    assert behind.status_code == 200
    assert set(re.findall(r'data-state="([a-z_]+)"', behind.text)) == {"behind"}
    assert page.status_code == 200, page.text[:300]
    html = page.text
    assert f'<html lang="{lang}">' in html
    assert not re.search(r"\bbackbone\.[a-z_.]+\b", re.sub(r"<[^>]+>", " ", html))
    rows = dict(re.findall(r'data-partition="(\d+)" data-state="[a-z_]+" data-lag="(\d+)"', html))
    used = {str(partition_of(d, PARTITIONS)) for d in DEVICES}
    assert rows == {str(p): ("3" if str(p) in used else "0") for p in range(PARTITIONS)}
    assert bus.backbone.names.telemetry_stream in html
    behind, connected = ("有积压", "已连接") if lang == "zh-CN" else ("Behind", "Connected")
    assert behind in html and connected in html
    assert f'id="total-lag">{3 * len(used)}<' in html
