"""BusWorker.stop against a subscription that loses a cancellation, as nats.py's ``next_msg``
can on Python 3.11 (its inner ``wait_for`` answers a timeout when the timeout and the
cancellation arrive together). The worker hung in ``stop`` for ever once in CI this way."""

from __future__ import annotations

import asyncio
import time
from types import SimpleNamespace
from typing import Any

from indunet import bus
from indunet.bus.worker import BusWorker


class SwallowingSub:
    """A pull subscription whose fetch turns the first cancellation into a timeout."""

    def __init__(self) -> None:
        self.fetches = 0
        self.swallowed = 0
        self.fetching = asyncio.Event()

    async def fetch(self, batch: int, timeout: float) -> list[Any]:  # noqa: ASYNC109 (nats.py's)
        self.fetches += 1
        self.fetching.set()
        try:
            await asyncio.sleep(timeout)
        except asyncio.CancelledError:
            if self.swallowed:
                raise
            self.swallowed += 1
        raise TimeoutError

    async def unsubscribe(self) -> None:
        return None


class FakeJetStream:
    def __init__(self, sub: SwallowingSub) -> None:
        self.sub = sub

    async def pull_subscribe(self, *args: Any, **kwargs: Any) -> SwallowingSub:
        return self.sub

    async def consumer_info(self, *args: Any, **kwargs: Any) -> Any:
        return SimpleNamespace(num_pending=0, num_ack_pending=0, num_redelivered=0)


class FakeBackbone:
    def __init__(self, sub: SwallowingSub) -> None:
        self.names = bus.Names("tstop", 2)
        self.ready = asyncio.Event()
        self.ready.set()
        self.js = FakeJetStream(sub)

    def jetstream(self) -> FakeJetStream:
        return self.js


async def test_stop_ends_a_consumer_whose_fetch_swallowed_the_cancellation() -> None:
    sub = SwallowingSub()
    worker = BusWorker(FakeBackbone(sub), None, [0], lag_every=60.0)  # type: ignore[arg-type]
    await worker.start()
    async with asyncio.timeout(5):
        await sub.fetching.wait()
    started = time.monotonic()
    async with asyncio.timeout(10):
        await worker.stop()
    assert sub.swallowed == 1  # the fake really lost one cancellation
    assert time.monotonic() - started < 3
    assert worker._tasks == []


async def test_a_consumer_that_lost_its_cancellation_ends_at_its_next_timeout() -> None:
    """Even without the second cancel, the loop notices the pending request itself."""
    sub = SwallowingSub()
    worker = BusWorker(FakeBackbone(sub), None, [0], lag_every=60.0)  # type: ignore[arg-type]
    await worker.start()
    async with asyncio.timeout(5):
        await sub.fetching.wait()
    [task] = worker._tasks
    task.cancel()
    async with asyncio.timeout(5):
        await asyncio.wait([task])
    assert task.cancelled() and sub.swallowed == 1 and sub.fetches == 1
