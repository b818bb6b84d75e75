"""The ingest pipeline: validation against the model, dead letters, batching, durability."""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import AsyncIterator, Sequence
from pathlib import Path

import pytest
import sqlalchemy as sa

from indunet.devices import Point, ThingModel
from indunet.telemetry import BAD, UNCERTAIN, DeadLetters, DiskBuffer, Pipeline, Sample

NOW = int(time.time() * 1000)
OVEN = ThingModel(
    id="test:oven",
    version="1.0.0",
    title={"en": "Oven"},
    points={
        "temperature": Point("temperature", "number", minimum=-40, maximum=400),
        "count": Point("count", "integer", minimum=0),
        "running": Point("running", "boolean"),
        "mode": Point("mode", "string"),
        "free": Point("free", "number"),
    },
)
MODELS = {"oven-1": OVEN, "oven-2": OVEN}


class ListStore:
    """A store double: keeps the first sample per (device, point, ts), records each batch."""

    def __init__(self) -> None:
        self.rows: dict[tuple[str, str, int], Sample] = {}
        self.batches: list[list[Sample]] = []
        self.lock = threading.Lock()

    def write_batch(self, samples: Sequence[Sample]) -> None:
        with self.lock:
            self.batches.append(list(samples))
            for s in samples:
                self.rows.setdefault((s.device, s.point, s.ts), s)

    def close(self) -> None:
        pass


@pytest.fixture
def store() -> ListStore:
    return ListStore()


@pytest.fixture
def letters(engine: sa.Engine) -> DeadLetters:
    return DeadLetters(engine)


@pytest.fixture
async def pipeline(
    store: ListStore, letters: DeadLetters, tmp_path: Path
) -> AsyncIterator[Pipeline]:
    p = Pipeline(store, MODELS.get, letters, DiskBuffer(tmp_path / "buffer.db", 1 << 20))  # type: ignore[arg-type]
    await p.start()
    yield p
    await p.stop()


def ok(
    point: str, value: object, ts: int = NOW, device: str = "oven-1", quality: int = 0
) -> Sample:
    return Sample(device, point, ts, value, quality)  # type: ignore[arg-type]


async def test_valid_samples_are_stored_before_submit_returns(
    pipeline: Pipeline, store: ListStore
) -> None:
    samples = [ok("temperature", 21.5), ok("count", 3), ok("running", True), ok("mode", "auto")]
    await asyncio.wait_for(pipeline.submit(samples, source="test"), 5)
    assert set(store.rows.values()) == set(samples)
    stats = pipeline.stats()
    assert (stats["accepted"], stats["stored"], stats["dead_lettered_total"]) == (4, 4, 0)
    assert stats["batches"] == 1 and stats["write_seconds"] >= 0


@pytest.mark.parametrize(
    ("sample", "reason", "detail"),
    [
        (ok("temperature", 20.0, device="ghost"), "unknown_device", "'ghost' is not registered"),
        (ok("humidity", 40.0), "unknown_point", "no point 'humidity'"),
        (ok("temperature", "hot"), "wrong_type", "expects a number, got str"),
        (ok("temperature", True), "wrong_type", "expects a number, got bool"),
        (ok("count", 2.5), "wrong_type", "expects an integer, got float"),
        (ok("running", 1), "wrong_type", "expects a boolean, got int"),
        (ok("mode", 7), "wrong_type", "expects a string, got int"),
        (ok("temperature", None), "wrong_type", "got NoneType"),
        (ok("temperature", 400.5), "out_of_range", "above the maximum 400"),
        (ok("temperature", -41), "out_of_range", "below the minimum -40"),
        (ok("count", -1), "out_of_range", "below the minimum 0"),
        (ok("temperature", float("nan")), "out_of_range", "NaN"),
        (ok("free", float("inf")), "out_of_range", "infinite"),
        (ok("count", 2**70), "out_of_range", "64 bits"),
        (ok("free", -(2**64)), "out_of_range", "64 bits"),
        (ok("mode", "x" * 70_000), "out_of_range", "longer than"),
        (ok("temperature", 20.0, ts=NOW / 1), "bad_timestamp", "got float"),
        (ok("temperature", 20.0, ts="2024-01-01"), "bad_timestamp", "got str"),  # type: ignore[arg-type]
        (ok("temperature", 20.0, ts=1_700_000_000), "bad_timestamp", "before 2000"),
        (ok("temperature", 20.0, ts=NOW + 2 * 86_400_000), "bad_timestamp", "ahead"),
        (ok("temperature", 20.0, quality=7), "bad_quality", "0, 1 or 2"),
    ],
)
async def test_bad_samples_become_dead_letters_and_the_rest_is_stored(
    pipeline: Pipeline,
    store: ListStore,
    letters: DeadLetters,
    sample: Sample,
    reason: str,
    detail: str,
) -> None:
    good = ok("temperature", 22.0, ts=NOW - 1)
    receipt = await asyncio.wait_for(pipeline.ingest([good, sample], source="mqtt"), 5)
    assert (receipt.accepted, receipt.dead_lettered) == (1, 1)
    assert receipt.errors[0].startswith(reason) and detail in receipt.errors[0]
    [letter] = letters.list()  # recorded before ingest returned
    assert (letter.reason, letter.source) == (reason, "mqtt")
    assert detail in letter.detail
    assert letter.device == sample.device and letter.point == sample.point
    assert '"value"' in letter.payload and '"ts"' in letter.payload
    assert list(store.rows.values()) == [good]
    assert pipeline.stats()["dead_lettered"] == {reason: 1}
    # the receipt names the devices nobody registered (the security platform hears of them)
    assert receipt.unknown == ({"ghost"} if reason == "unknown_device" else set())
    # the pipeline goes on
    await pipeline.submit([ok("temperature", 23.0, ts=NOW - 2)], source="mqtt")
    assert len(store.rows) == 2


async def test_numbers_accept_integers_and_integers_accept_whole_floats(
    pipeline: Pipeline, store: ListStore
) -> None:
    await pipeline.submit([ok("temperature", 21), ok("count", 4.0)], source="test")
    assert store.rows[("oven-1", "temperature", NOW)].value == 21
    stored = store.rows[("oven-1", "count", NOW)].value
    assert stored == 4 and type(stored) is int


async def test_bad_quality_samples_keep_out_of_range_values(
    pipeline: Pipeline, store: ListStore
) -> None:
    """A failing sensor's reading is kept (flagged BAD), not discarded as out of range."""
    receipt = await pipeline.ingest(
        [
            ok("temperature", -9999.0, quality=BAD),
            ok("temperature", 20.0, NOW + 1, quality=UNCERTAIN),
        ],
        source="opcua",
    )
    assert receipt.accepted == 2 and len(store.rows) == 2


async def test_undecodable_payloads_are_dead_letters(
    pipeline: Pipeline, letters: DeadLetters
) -> None:
    await pipeline.reject(
        "oven-1", source="mqtt", reason="invalid JSON: line 1", payload=b"{nope\xff"
    )
    [letter] = letters.list()
    assert (letter.device, letter.point, letter.reason) == ("oven-1", None, "undecodable")
    assert letter.detail == "invalid JSON: line 1" and letter.payload.startswith("{nope")
    assert pipeline.stats()["dead_lettered"] == {"undecodable": 1}


async def test_a_flood_of_bad_samples_is_recorded_in_few_transactions(
    pipeline: Pipeline, letters: DeadLetters
) -> None:
    bad = [[ok("nope", float(i), ts=NOW - i)] for i in range(200)]
    await asyncio.wait_for(asyncio.gather(*(pipeline.submit(b, source="mqtt") for b in bad)), 10)
    assert letters.count() == 200
    assert letters.transactions < 50
    assert letters.counts_by_reason() == {"unknown_point": 200}


async def test_many_submitters_share_batches_and_each_returns_after_storage(
    store: ListStore, letters: DeadLetters, tmp_path: Path
) -> None:
    p = Pipeline(
        store,
        MODELS.get,
        letters,
        DiskBuffer(tmp_path / "b.db", 1 << 20),
        max_batch=500,  # type: ignore[arg-type]
    )
    await p.start()
    seen_stored: list[bool] = []

    async def one(i: int) -> None:
        sample = ok("count", i, ts=NOW - i, device=f"oven-{1 + i % 2}")
        await p.submit([sample], source="mqtt")
        seen_stored.append(store.rows.get((sample.device, "count", sample.ts)) == sample)

    await asyncio.wait_for(asyncio.gather(*(one(i) for i in range(2000))), 20)
    await p.stop()
    assert all(seen_stored) and len(seen_stored) == 2000
    assert len(store.rows) == 2000
    assert max(len(b) for b in store.batches) <= 500
    assert len(store.batches) < 40  # batched across callers, not one write each
    assert p.stats()["batches"] == len(store.batches)


async def test_a_lone_sample_waits_at_most_max_delay(pipeline: Pipeline, store: ListStore) -> None:
    t0 = time.perf_counter()
    await pipeline.submit([ok("temperature", 1.0)], source="mqtt")
    assert time.perf_counter() - t0 < 0.5
    assert len(store.rows) == 1


async def test_a_lone_caller_does_not_wait_for_the_batching_delay(
    store: ListStore, letters: DeadLetters, tmp_path: Path
) -> None:
    """One sequential gateway (or one QoS 1 message on an idle server) is written at once."""
    p = Pipeline(store, MODELS.get, letters, DiskBuffer(tmp_path / "b.db", 1 << 20), max_delay=2)  # type: ignore[arg-type]
    await p.start()
    t0 = time.perf_counter()
    for i in range(5):
        await p.submit([ok("count", i, ts=NOW - i)], source="mqtt")
    assert time.perf_counter() - t0 < 1.0  # 5 x 2 s if each waited for companions
    assert len(store.rows) == 5 and p.stats()["batches"] == 5
    # many callers at once still share batches
    await asyncio.gather(
        *(p.submit([ok("count", i, ts=NOW - i)], source="mqtt") for i in range(5, 205))
    )
    assert len(store.rows) == 205 and p.stats()["batches"] < 5 + 20
    await p.stop()


async def test_stop_writes_what_is_queued(
    store: ListStore, letters: DeadLetters, tmp_path: Path
) -> None:
    p = Pipeline(store, MODELS.get, letters, DiskBuffer(tmp_path / "b.db", 1 << 20), max_delay=5)  # type: ignore[arg-type]
    await p.start()
    # two callers at once: the batcher expects more and waits for a batch to fill
    await asyncio.gather(*(p.submit([ok("count", i, ts=NOW - i)], source="mqtt") for i in (1, 2)))
    pending = asyncio.ensure_future(p.submit([ok("temperature", 1.0)], source="mqtt"))
    await asyncio.sleep(0.05)
    assert ("oven-1", "temperature", NOW) not in store.rows  # waiting for the batch to fill
    await asyncio.wait_for(p.stop(), 5)
    await asyncio.wait_for(pending, 1)
    assert ("oven-1", "temperature", NOW) in store.rows


async def test_subscribers_get_stored_samples_and_cannot_break_ingest(
    store: ListStore, letters: DeadLetters, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    got: list[Sample] = []

    async def on_stored(samples: list[Sample]) -> None:
        got.extend(samples)
        if len(got) == 1:
            raise RuntimeError("subscriber bug")

    p = Pipeline(
        store,
        MODELS.get,
        letters,
        DiskBuffer(tmp_path / "b.db", 1 << 20),
        on_stored=on_stored,  # type: ignore[arg-type]
    )
    await p.start()
    with caplog.at_level(logging.ERROR):
        await p.submit([ok("temperature", 1.0)], source="mqtt")
        await p.submit([ok("temperature", 2.0, NOW + 1)], source="mqtt")
        await p.stop()
    assert [s.value for s in got] == [1.0, 2.0]
    assert p.stats()["on_stored_errors"] == 1
    assert "subscriber bug" in caplog.text
    assert len(store.rows) == 2


async def test_a_hung_subscriber_does_not_block_ingest(
    store: ListStore, letters: DeadLetters, tmp_path: Path
) -> None:
    async def hang(_samples: list[Sample]) -> None:
        await asyncio.sleep(3600)

    p = Pipeline(
        store,
        MODELS.get,
        letters,
        DiskBuffer(tmp_path / "b.db", 1 << 20),
        on_stored=hang,
        max_batch=10,  # type: ignore[arg-type]
    )
    await p.start()
    for i in range(30):
        await asyncio.wait_for(
            p.submit([ok("count", j, NOW - j) for j in range(i * 10, i * 10 + 10)], source="x"), 2
        )
    await asyncio.wait_for(p.stop(), 5)
    assert len(store.rows) == 300
    assert p.stats()["on_stored_dropped"] > 0


async def test_model_changes_are_seen_after_invalidate(
    pipeline: Pipeline, store: ListStore
) -> None:
    await pipeline.submit([ok("temperature", 1.0, device="oven-3")], source="x")
    assert not store.rows
    MODELS["oven-3"] = OVEN
    try:
        pipeline.invalidate("oven-3")
        await pipeline.submit([ok("temperature", 1.0, device="oven-3")], source="x")
    finally:
        del MODELS["oven-3"]
    assert len(store.rows) == 1


async def test_submit_before_start_is_refused(
    store: ListStore, letters: DeadLetters, tmp_path: Path
) -> None:
    from indunet.telemetry import Overloaded

    p = Pipeline(store, MODELS.get, letters, DiskBuffer(tmp_path / "b.db", 1 << 20))  # type: ignore[arg-type]
    with pytest.raises(Overloaded, match="not running"):
        await p.submit([ok("temperature", 1.0)], source="x")


async def test_models_are_looked_up_once_per_device_not_per_sample(
    store: ListStore, letters: DeadLetters, tmp_path: Path
) -> None:
    asked: list[str] = []

    def lookup(device: str) -> ThingModel | None:
        asked.append(device)
        return MODELS.get(device)

    p = Pipeline(store, lookup, letters, DiskBuffer(tmp_path / "b.db", 1 << 20))  # type: ignore[arg-type]
    await p.start()
    for k in range(5):
        await p.submit(
            [ok("count", i, NOW - i - 1000 * k, device=f"oven-{1 + i % 2}") for i in range(1000)],
            source="x",
        )
    await p.stop()
    assert sorted(asked) == ["oven-1", "oven-2"]
    assert len(store.rows) == 5000
