"""The SQLite writer's fast path for batches made of runs: same rows, same rollups, same errors.

Every test writes through ``SqliteStore.write_batch``; batches shaped as runs take
``telemetry.runs``, the same samples shuffled take the general path, and the two stores
must hold exactly the same samples and one-minute rollups.
"""

from __future__ import annotations

import random
import sqlite3
from pathlib import Path

import pytest

from indunet.core import InvalidInput
from indunet.telemetry import Sample, SqliteStore
from indunet.telemetry.runs import runs_of

T0 = 1_714_550_400_000 + 17_000  # not on a minute: runs straddle minute edges


def block(device: str, points: list[str], t0: int, n: int, step: int = 1000) -> list[Sample]:
    """A columnar block: each point's n samples in time order, one point after another."""
    return [
        Sample(device, p, t0 + i * step, round(100 * k + i * 0.37, 2) if k % 2 else k * 10 + i)
        for k, p in enumerate(points)
        for i in range(n)
    ]


def tables(path: Path) -> tuple[list[tuple[object, ...]], list[tuple[object, ...]]]:
    """Samples and rollups of a store's file, by device and point names (ids may differ)."""
    with sqlite3.connect(path) as raw:
        samples = raw.execute(
            "SELECT s.device, s.point, x.ts, x.v, typeof(x.v), x.q FROM tel_samples x"
            " JOIN tel_series s ON s.id = x.series ORDER BY 1, 2, 3"
        ).fetchall()
        rollups = raw.execute(
            "SELECT s.device, s.point, r.bucket, r.mn, r.mx, r.sm, r.cnt, r.first, r.first_ts,"
            " r.last, r.last_ts FROM tel_rollup_1m r JOIN tel_series s ON s.id = r.series"
            " ORDER BY 1, 2, 3"
        ).fetchall()
    return samples, rollups


@pytest.fixture
def pair(tmp_path: Path) -> tuple[SqliteStore, SqliteStore]:
    fast, general = SqliteStore(tmp_path / "fast.db"), SqliteStore(tmp_path / "general.db")
    yield fast, general
    fast.close()
    general.close()


def write_both(pair: tuple[SqliteStore, SqliteStore], batch: list[Sample], seed: int) -> None:
    fast, general = pair
    assert runs_of(batch) is not None, "the batch should take the fast path"
    shuffled = list(batch)
    random.Random(seed).shuffle(shuffled)
    assert runs_of(shuffled) is None
    fast.write_batch(batch)
    general.write_batch(shuffled)


def test_runs_store_the_same_samples_and_rollups_as_the_general_path(
    pair: tuple[SqliteStore, SqliteStore],
) -> None:
    points = ["voltage", "current", "power"]
    write_both(pair, block("m1", points, T0, 150), seed=1)
    write_both(pair, block("m2", points, T0, 90, step=700), seed=2)
    # the next block continues the same minutes: the upsert merges into stored rollups
    write_both(pair, block("m1", points, T0 + 150_000, 100), seed=3)
    fast, general = pair
    got, want = tables(fast.path), tables(general.path)
    assert got == want
    assert len(got[0]) == 3 * (150 + 90 + 100)
    buckets = fast.downsample("m1", "power", T0 - 17_000, T0 + 300_000, 60_000)
    assert sum(b.count for b in buckets) == 250
    assert buckets == general.downsample("m1", "power", T0 - 17_000, T0 + 300_000, 60_000)


def test_a_replayed_run_keeps_the_first_values_and_counts_them_once(
    pair: tuple[SqliteStore, SqliteStore],
) -> None:
    fast, general = pair
    first = block("m1", ["a", "b"], T0, 120)
    write_both(pair, first, seed=4)
    # half old timestamps with new values, half new: inserted < unique, minutes recounted
    again = [s._replace(value=s.value + 1000) for s in block("m1", ["a", "b"], T0 + 60_000, 120)]
    write_both(pair, again, seed=5)
    assert tables(fast.path) == tables(general.path)
    rows = fast.query("m1", "a", T0, T0 + 60_000 + 120_000)
    assert len(rows) == 180
    assert rows[60].value == first[60].value  # the first value stays
    buckets = fast.downsample("m1", "a", T0 - 17_000, T0 + 300_000, 60_000)
    assert sum(b.count for b in buckets) == 180


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        (lambda s: s._replace(value=float("nan")), "value is nan"),
        (lambda s: s._replace(value=2**63), "does not fit in 64 bits"),
        (lambda s: s._replace(ts=-5), "ts must be integer milliseconds"),
        (lambda s: s._replace(ts=float(s.ts)), "ts must be integer milliseconds"),
        (lambda s: s._replace(quality=3), "quality must be"),
        (lambda s: s._replace(point=""), "point must be a non-empty string"),
        (lambda s: (*s, "extra"), "is not a Sample"),
    ],
)
def test_one_bad_sample_in_a_run_batch_stores_nothing(
    tmp_path: Path, change: object, reason: str
) -> None:
    store = SqliteStore(tmp_path / "t.db")
    try:
        store.write_batch(block("m1", ["a"], T0 - 60_000, 10))
        before = tables(store.path)
        batch: list[object] = list(block("m1", ["a", "b"], T0, 50))
        batch[77] = change(batch[77])  # type: ignore[operator]
        with pytest.raises(InvalidInput, match=reason) as caught:
            store.write_batch(batch)  # type: ignore[arg-type]
        assert caught.value.detail == {"index": 77}
        assert tables(store.path) == before
        store.write_batch(block("m1", ["a", "b"], T0, 50))  # the store goes on
        assert len(tables(store.path)[0]) == 110
    finally:
        store.close()


def test_a_bad_name_for_a_whole_new_run_is_named_by_its_index(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "t.db")
    try:
        long = "m" * 201
        batch = block("m1", ["a"], T0, 30) + block(long, ["a"], T0, 30)
        assert runs_of(batch) is not None  # two clean runs: the names are checked per run
        with pytest.raises(InvalidInput, match="device must be a non-empty string") as caught:
            store.write_batch(batch)
        assert caught.value.detail == {"index": 30}
        assert tables(store.path) == ([], [])
    finally:
        store.close()


def test_which_batches_take_the_fast_path() -> None:
    runs = block("m1", ["a", "b", "c"], T0, 20)
    cols = runs_of(runs)
    assert cols is not None
    assert [(key, a, b) for key, a, b in cols.runs] == [
        (("m1", "a"), 0, 20),
        (("m1", "b"), 20, 40),
        (("m1", "c"), 40, 60),
    ]
    assert runs_of(runs[:7]) is None  # too small to be worth it
    assert runs_of([runs[0]._replace(value=True), *runs[1:]]) is None  # booleans are flagged
    assert runs_of([runs[0]._replace(value="on"), *runs[1:]]) is None  # strings too
    assert runs_of([runs[0]._replace(quality=2), *runs[1:]]) is None  # BAD stays out of rollups
    assert runs_of([*runs[:5], runs[4], *runs[6:]]) is None  # a timestamp twice
    assert runs_of([runs[1], runs[0], *runs[2:]]) is None  # out of time order
    assert runs_of([*runs, *block("m1", ["a"], T0 + 60_000, 20)]) is None  # a point twice
    one_each = [Sample("m1", f"p{i}", T0, float(i)) for i in range(40)]
    assert runs_of(one_each) is None  # runs of one: the general path is cheaper
