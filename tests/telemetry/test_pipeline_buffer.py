"""The pipeline when the store fails or lags: the disk buffer, overload, restart."""

from __future__ import annotations

import asyncio
import logging
import threading
import time
import tracemalloc
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from tests.conftest import until

from indunet.core import InvalidInput
from indunet.devices import Point, ThingModel
from indunet.telemetry import DeadLetters, DiskBuffer, Overloaded, Pipeline, Sample
from indunet.telemetry.buffer import encode

T0 = int(time.time() * 1000) - 3_600_000
METER = ThingModel(
    id="test:meter",
    version="1.0.0",
    title={"en": "Meter"},
    points={"kw": Point("kw", "number", minimum=0), "n": Point("n", "integer")},
)
MODELS = {f"m{i}": METER for i in range(50)}


class FlakyStore:
    """A store double that can be down (raises) or slow; first value per key wins."""

    def __init__(self) -> None:
        self.rows: dict[tuple[str, str, int], Sample] = {}
        self.batches: list[list[Sample]] = []
        self.down = False
        self.delay = 0.0
        self.lock = threading.Lock()

    def write_batch(self, samples: Sequence[Sample]) -> None:
        if self.down:
            raise OSError("store unreachable")
        time.sleep(self.delay)
        with self.lock:
            self.batches.append(list(samples))
            for s in samples:
                self.rows.setdefault((s.device, s.point, s.ts), s)


def batch(k: int, n: int = 10, device: str = "m0") -> list[Sample]:
    return [Sample(device, "kw", T0 + k * n + i, float(i)) for i in range(n)]


def make(
    store: FlakyStore, engine: sa.Engine, path: Path, max_bytes: int = 1 << 20, **kw: object
) -> Pipeline:
    kw = {"retry_base": 0.01, "retry_cap": 0.05, **kw}
    return Pipeline(store, MODELS.get, DeadLetters(engine), DiskBuffer(path, max_bytes), **kw)  # type: ignore[arg-type]


async def test_store_down_buffers_then_delivers_oldest_first(
    engine: sa.Engine, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    store = FlakyStore()
    store.down = True
    p = make(store, engine, tmp_path / "buffer.db")
    await p.start()
    with caplog.at_level(logging.INFO):
        for k in range(5):
            await asyncio.wait_for(p.submit(batch(k), source="mqtt"), 5)  # answered: on disk
        stats = p.stats()
        assert not store.rows
        assert stats["buffering"] and stats["buffered"] == 50 and stats["accepted"] == 50
        assert stats["store_failures"] >= 1
        store.down = False
        await until(lambda: p.stats()["buffered"] == 0 and not p.stats()["buffering"])
    delivered = [s.ts for b in store.batches for s in b]
    assert delivered == sorted(delivered) and len(delivered) == 50
    assert p.stats()["stored"] == 50 and not p.stats()["buffering"]
    assert caplog.text.count("the store failed") == 1  # one line per outage, not per batch
    await p.submit(batch(9), source="mqtt")  # straight to the store again
    assert len(store.rows) == 60 and p.stats()["buffered_total"] == 50
    await p.stop()


@pytest.mark.slow_callbacks_ok("measures memory: asyncio debug mode keeps a traceback per callback")
async def test_a_full_buffer_refuses_with_overloaded_once_logged_and_flat_memory(
    engine: sa.Engine, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    store = FlakyStore()
    store.down = True
    one = len(encode(batch(0, 100)))
    p = make(store, engine, tmp_path / "buffer.db", max_bytes=3 * one + 50)
    await p.start()
    for k in range(3):
        await p.submit(batch(k, 100), source="http")
    tracemalloc.start()
    try:
        with caplog.at_level(logging.WARNING, logger="indunet.telemetry.pipeline"):
            refused = 0
            for k in range(3, 400):
                try:
                    await p.submit(batch(k, 100), source="http")
                except Overloaded:
                    refused += 1
                if k == 20:
                    early, _ = tracemalloc.get_traced_memory()
            late, _ = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert refused == 397
    stats = p.stats()
    assert stats["overloaded"] == 397 and stats["buffered"] == 300
    assert stats["queued"] == 0
    overload_lines = [r for r in caplog.records if "overloaded" in r.getMessage()]
    assert len(overload_lines) == 1 and overload_lines[0].levelno == logging.WARNING
    assert late - early < 256 * 1024, "memory grows with refused submissions"
    # the store comes back: the buffer drains and samples are accepted again
    store.down = False
    await until(lambda: p.stats()["buffered"] == 0 and not p.stats()["buffering"])
    await p.submit(batch(500, 100), source="http")
    assert len(store.rows) == 400
    await p.stop()


async def test_a_restart_delivers_the_buffer_first(engine: sa.Engine, tmp_path: Path) -> None:
    path = tmp_path / "buffer.db"
    down = FlakyStore()
    down.down = True
    first = make(down, engine, path)
    await first.start()
    for k in range(3):
        await first.submit(batch(k), source="mqtt")
    await first.stop()

    store = FlakyStore()
    second = make(store, engine, path)
    await second.start()
    assert second.stats()["buffered"] == 30
    await second.submit(batch(100), source="mqtt")  # after the restart: queued behind
    await until(lambda: second.stats()["buffered"] == 0)
    delivered = [s.ts for b in store.batches for s in b]
    assert delivered == [s.ts for k in (0, 1, 2, 100) for s in batch(k)]
    await second.stop()


async def test_a_slow_store_spills_to_the_buffer_and_catches_up(
    engine: sa.Engine, tmp_path: Path
) -> None:
    store = FlakyStore()
    store.delay = 0.1
    p = make(store, engine, tmp_path / "buffer.db", max_batch=100, max_queued=300)
    await p.start()
    t0 = time.monotonic()
    await asyncio.wait_for(
        asyncio.gather(*(p.submit(batch(k, 100), source="http") for k in range(20))), 10
    )
    assert time.monotonic() - t0 < 1.5  # answered from the buffer, not after 20 slow writes (2 s)
    assert p.stats()["buffered_total"] > 0
    await until(lambda: len(store.rows) == 2000, within=20)
    await p.stop()


async def test_many_submitters_while_the_store_flaps_lose_nothing(
    engine: sa.Engine, tmp_path: Path
) -> None:
    store = FlakyStore()
    p = make(store, engine, tmp_path / "buffer.db", max_batch=200)
    await p.start()

    async def flap() -> None:
        for _ in range(10):
            store.down = not store.down
            await asyncio.sleep(0.03)
        store.down = False

    async def submitter(d: int) -> None:
        for k in range(20):
            await p.submit(batch(k, 5, device=f"m{d}"), source="mqtt")

    await asyncio.wait_for(asyncio.gather(flap(), *(submitter(d) for d in range(50))), 20)
    await until(lambda: len(store.rows) == 50 * 20 * 5 and not p.stats()["buffering"])
    assert p.stats()["accepted"] == 5000
    await p.stop()


class PickyStore(FlakyStore):
    """Refuses (InvalidInput) any batch holding the value 666, as a store does for bad content."""

    def write_batch(self, samples: Sequence[Sample]) -> None:
        if not self.down and any(s.value == 666.0 for s in samples):
            raise InvalidInput(
                "sample 0: this store cannot hold 666; nothing of this batch was stored"
            )
        super().write_batch(samples)


async def test_a_batch_the_store_refuses_is_dead_lettered_not_retried_forever(
    engine: sa.Engine, tmp_path: Path
) -> None:
    store = PickyStore()
    p = make(store, engine, tmp_path / "buffer.db", max_delay=0.2)
    await p.start()
    poisoned = [Sample("m1", "kw", T0, 666.0)]
    # three callers share one batch: only the refused caller's samples become dead letters
    await asyncio.wait_for(
        asyncio.gather(
            p.submit(batch(0), source="mqtt"),
            p.submit(poisoned, source="mqtt"),
            p.submit(batch(1), source="mqtt"),
        ),
        5,
    )
    assert len(store.rows) == 20
    assert p.stats()["dead_lettered"] == {"refused_by_store": 1}
    # the same from the disk buffer: the refused row goes, the rows around it are stored
    store.down = True
    for k, b in enumerate([batch(2), [Sample("m1", "kw", T0 + 1, 666.0)], batch(3)]):
        await p.submit(b, source="mqtt")
        assert p.stats()["buffer_rows"] == k + 1
    store.down = False
    await until(lambda: p.stats()["buffered"] == 0 and not p.stats()["buffering"])
    assert len(store.rows) == 40
    letters = p.dead_letters.list()
    assert [x.reason for x in letters] == ["refused_by_store"] * 2
    assert "cannot hold 666" in letters[0].detail and letters[0].source == "store"
    await p.stop()


class HangingStore(FlakyStore):
    """A store whose writes block until released (a network store without a timeout)."""

    def __init__(self) -> None:
        super().__init__()
        self.release = threading.Event()

    def write_batch(self, samples: Sequence[Sample]) -> None:
        self.release.wait(10)
        super().write_batch(samples)


async def test_stop_does_not_hang_on_a_hung_store(engine: sa.Engine, tmp_path: Path) -> None:
    store = HangingStore()
    p = make(store, engine, tmp_path / "buffer.db", max_batch=10, stop_timeout=0.3)
    await p.start()
    try:
        first = asyncio.ensure_future(p.submit(batch(0), source="mqtt"))  # in the hung write
        await asyncio.sleep(0.1)
        queued = asyncio.ensure_future(p.submit(batch(1), source="mqtt"))  # waits behind it
        await asyncio.sleep(0.05)
        t0 = time.monotonic()
        await asyncio.wait_for(p.stop(), 5)
        assert time.monotonic() - t0 < 2
        with pytest.raises(Overloaded, match="hangs"):
            await asyncio.wait_for(first, 1)
        await asyncio.wait_for(queued, 1)  # answered: it is in the disk buffer
    finally:
        store.release.set()
    again = make(FlakyStore(), engine, tmp_path / "buffer.db")
    await again.start()
    assert again.stats()["buffered"] == 10
    await again.stop()


class HiccupBuffer(DiskBuffer):
    """A disk buffer whose next read and next removal each fail once with an OSError."""

    def __init__(self, path: Path, max_bytes: int) -> None:
        super().__init__(path, max_bytes)
        self.fail_read = self.fail_remove = False

    async def oldest(self, max_samples: int) -> list[tuple[int, list[Sample]]]:
        if self.fail_read:
            self.fail_read = False
            raise OSError("disk I/O error (read)")
        return await super().oldest(max_samples)

    async def remove(self, ids: Sequence[int]) -> None:
        if self.fail_remove:
            self.fail_remove = False
            raise OSError("disk I/O error (remove)")
        await super().remove(ids)


@pytest.mark.parametrize("fails", ["read", "remove"])
async def test_a_transient_buffer_error_does_not_stop_the_drain(
    engine: sa.Engine, tmp_path: Path, fails: str, caplog: pytest.LogCaptureFixture
) -> None:
    store = FlakyStore()
    store.down = True
    buffer = HiccupBuffer(tmp_path / "buffer.db", 1 << 20)
    p = Pipeline(store, MODELS.get, DeadLetters(engine), buffer, retry_base=0.01, retry_cap=0.05)  # type: ignore[arg-type]
    await p.start()
    for k in range(3):
        await p.submit(batch(k), source="mqtt")
    setattr(buffer, f"fail_{fails}", True)
    with caplog.at_level(logging.WARNING):
        store.down = False
        await until(lambda: not p.stats()["buffering"], what="the buffer to drain")
    assert "disk I/O error" in caplog.text
    assert len(store.rows) == 30 and p.stats()["buffered"] == 0
    # later batches reach the store too (the drain task is alive, not dead)
    store.down = True
    await p.submit(batch(7), source="mqtt")
    store.down = False
    await until(lambda: len(store.rows) == 40, what="a later batch to reach the store")
    assert p.stats()["buffer_failures"] == 1
    await p.stop()


async def test_a_dead_batch_task_is_restarted_and_its_callers_answered(
    engine: sa.Engine, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    store = FlakyStore()
    p = make(store, engine, tmp_path / "buffer.db")
    await p.start()
    real = p._write_jobs
    broken = [True]

    async def breaks_once(jobs: list[Any], size: int) -> None:
        if broken.pop() if broken else False:
            raise RuntimeError("a bug in the batcher")
        await real(jobs, size)

    p._write_jobs = breaks_once  # type: ignore[method-assign]
    with caplog.at_level(logging.ERROR):
        with pytest.raises(RuntimeError, match="a bug"):
            await asyncio.wait_for(p.submit(batch(0), source="mqtt"), 5)  # answered, not hung
        await asyncio.wait_for(p.submit(batch(1), source="mqtt"), 5)  # the task runs again
    assert len(store.rows) == 10 and p.stats()["task_restarts"] == 1
    assert "task ingest-batches died" in caplog.text
    await p.stop()
