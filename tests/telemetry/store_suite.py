"""The behaviour every TimeSeriesStore shares, written once.

Subclass ``StoreSuite`` as ``Test<Backend>`` next to a ``store`` fixture that yields a fresh,
empty store; the memory and SQLite stores run it in tests/telemetry, PostgreSQL in
tests/integration.
"""

from __future__ import annotations

import random
import threading
from typing import Any

import pytest

from indunet.core import InvalidInput
from indunet.telemetry import BAD, GOOD, UNCERTAIN, Bucket, Sample, TimeSeriesStore

T0 = 1_714_550_400_000  # 2024-05-01T08:00:00Z, a whole hour
MIN = 60_000
HOUR = 3_600_000


def reference(samples: list[Sample], start: int, end: int, width: int) -> list[Bucket]:
    """Buckets computed the slow, obvious way (first value of each (point, ts) wins)."""
    kept: dict[int, Sample] = {}
    for s in samples:
        kept.setdefault(s.ts, s)
    groups: dict[int, list[Sample]] = {}
    for ts in sorted(kept):
        s = kept[ts]
        if start <= ts < end and s.quality != BAD:
            groups.setdefault((ts - start) // width, []).append(s)
    out = []
    for k in sorted(groups):
        vals = [float(s.value) for s in groups[k]]
        out.append(
            Bucket(
                start=start + k * width,
                min=min(vals),
                max=max(vals),
                avg=sum(vals) / len(vals),
                count=len(vals),
                first=vals[0],
                last=vals[-1],
            )
        )
    return out


def same_buckets(got: list[Bucket], want: list[Bucket]) -> None:
    assert [(b.start, b.count) for b in got] == [(b.start, b.count) for b in want]
    for g, w in zip(got, want, strict=True):
        assert (g.min, g.max, g.first, g.last) == (w.min, w.max, w.first, w.last)
        assert g.avg == pytest.approx(w.avg, rel=1e-9)


class StoreSuite:
    """Tests of the TimeSeriesStore contract; needs a ``store`` fixture."""

    # -- writes and raw queries --------------------------------------------------------------
    def test_values_come_back_with_their_types_and_quality(self, store: TimeSeriesStore) -> None:
        batch = [
            Sample("press-1", "temperature", T0, 21.5),
            Sample("press-1", "temperature", T0 + 1000, 22.0, UNCERTAIN),
            Sample("press-1", "count", T0, 7),
            Sample("press-1", "running", T0, True),
            Sample("press-1", "running", T0 + 1000, False, BAD),
            Sample("press-1", "mode", T0, "自动"),
        ]
        store.write_batch(batch)
        temps = store.query("press-1", "temperature", T0, T0 + HOUR)
        assert temps == batch[:2]
        assert type(temps[1].value) is float and temps[1].quality == UNCERTAIN
        count = store.query("press-1", "count", T0, T0 + 1)[0]
        assert count.value == 7 and type(count.value) is int
        running = store.query("press-1", "running", T0, T0 + HOUR)
        assert [(s.value, s.quality) for s in running] == [(True, GOOD), (False, BAD)]
        assert all(type(s.value) is bool for s in running)
        assert store.query("press-1", "mode", 0, T0 + 1) == [batch[5]]

    def test_awkward_strings_and_numbers_round_trip(self, store: TimeSeriesStore) -> None:
        batch = [
            Sample("d1", "note", T0, 'tab\there\nnew line \\N "q" 汉字'),
            Sample("d1", "note", T0 + 1, ""),
            Sample("d1", "x", T0, 1e300),
            Sample("d1", "x", T0 + 1, -5e-324),
            Sample("d1", "x", T0 + 2, 0.1 + 0.2),
            Sample("d1", "x", T0 + 3, -(2**40)),
        ]
        store.write_batch(batch)
        assert store.query("d1", "note", T0, T0 + 2) == batch[:2]
        assert store.query("d1", "x", T0, T0 + 4) == batch[2:]

    def test_query_is_half_open_oldest_first_and_limited(self, store: TimeSeriesStore) -> None:
        store.write_batch([Sample("d1", "p", T0 + i * 1000, float(i)) for i in reversed(range(10))])
        got = store.query("d1", "p", T0 + 2000, T0 + 7000)
        assert [s.value for s in got] == [2.0, 3.0, 4.0, 5.0, 6.0]
        assert [s.value for s in store.query("d1", "p", T0, T0 + HOUR, limit=3)] == [0, 1, 2]
        assert store.query("d1", "p", T0 + 5000, T0 + 5000) == []
        assert store.query("d1", "other", T0, T0 + HOUR) == []
        assert store.query("nobody", "p", T0, T0 + HOUR) == []

    def test_bad_query_arguments_are_refused(self, store: TimeSeriesStore) -> None:
        with pytest.raises(InvalidInput, match="before start"):
            store.query("d1", "p", T0, T0 - 1)
        with pytest.raises(InvalidInput, match="limit"):
            store.query("d1", "p", T0, T0 + 1, limit=0)

    def test_an_empty_batch_does_nothing(self, store: TimeSeriesStore) -> None:
        store.write_batch([])
        assert store.latest("d1") == {}

    def test_replayed_samples_keep_the_first_value_and_count_once(
        self, store: TimeSeriesStore
    ) -> None:
        first = [Sample("d1", "p", T0 + i * 1000, float(i)) for i in range(120)]
        store.write_batch(first)
        store.write_batch(first)  # a full replay
        overlap = [Sample("d1", "p", T0 + i * 1000, 1000.0 + i) for i in range(100, 150)]
        store.write_batch(overlap)  # half old, half new
        dup = [Sample("d1", "p", T0 + 200_000, 5.0), Sample("d1", "p", T0 + 200_000, 9.0)]
        store.write_batch(dup)  # twice in one batch: the first wins
        everything = first + overlap + dup
        got = store.query("d1", "p", T0, T0 + HOUR)
        assert len(got) == 151
        assert got[100].value == 100.0 and got[149].value == 1149.0 and got[150].value == 5.0
        for width in (MIN, HOUR, 7000):
            same_buckets(
                store.downsample("d1", "p", T0, T0 + HOUR, width),
                reference(everything, T0, T0 + HOUR, width),
            )

    @pytest.mark.parametrize(
        ("bad", "why"),
        [
            (Sample("d1", "p", T0, float("nan")), "nan"),
            (Sample("d1", "p", T0, float("-inf")), "finite"),
            (Sample("d1", "p", T0, None), "value must be"),  # type: ignore[arg-type]
            (Sample("d1", "p", T0, [1]), "value must be"),  # type: ignore[arg-type]
            (Sample("d1", "p", T0, 2**70), "64 bits"),
            (Sample("d1", "p", -5, 1.0), "ts must be"),
            (Sample("d1", "p", 1.5e12, 1.0), "ts must be"),  # type: ignore[arg-type]
            (Sample("d1", "p", T0, 1.0, 7), "quality"),
            (Sample("d1", "p", T0, "a\x00b"), "NUL"),
            (Sample("d1", "p\x00", T0, 1.0), "point"),
            (Sample("", "p", T0, 1.0), "device"),
            (Sample("d1", 3, T0, 1.0), "point"),  # type: ignore[arg-type]
        ],
    )
    def test_a_bad_sample_rejects_the_whole_batch(
        self, store: TimeSeriesStore, bad: Any, why: str
    ) -> None:
        store.write_batch([Sample("d1", "p", T0 - 1000, 1.0)])
        good = [Sample("d1", "p", T0 + i, 2.0) for i in range(1, 4)]
        newcomer = Sample("d2", "fresh", T0, 3.0)
        with pytest.raises(InvalidInput, match=why) as err:
            store.write_batch([*good, newcomer, bad])
        assert "sample 4" in err.value.message
        assert [s.value for s in store.query("d1", "p", 0, T0 + HOUR)] == [1.0]
        assert store.latest("d2") == {}
        assert store.downsample("d1", "p", T0 - MIN, T0 + HOUR, MIN)[0].count == 1
        store.write_batch([*good, newcomer])  # the same batch without the bad one goes in
        assert len(store.query("d1", "p", 0, T0 + HOUR)) == 4

    # -- latest ------------------------------------------------------------------------------
    def test_latest_is_the_newest_sample_of_each_point(self, store: TimeSeriesStore) -> None:
        store.write_batch(
            [
                Sample("d1", "a", T0 + 5000, 5.0),
                Sample("d1", "b", T0, "idle"),
                Sample("d2", "a", T0 + 9000, 9.0),
            ]
        )
        store.write_batch([Sample("d1", "a", T0 + 1000, 1.0), Sample("d1", "b", T0 + 1, "run")])
        latest = store.latest("d1")
        assert latest == {
            "a": Sample("d1", "a", T0 + 5000, 5.0),
            "b": Sample("d1", "b", T0 + 1, "run"),
        }
        assert store.latest("d1", ["b", "zz"]) == {"b": latest["b"]}
        assert store.latest("d1", []) == {}
        assert store.latest("d3") == {}

    # -- downsampling ------------------------------------------------------------------------
    def test_minute_and_hour_buckets(self, store: TimeSeriesStore) -> None:
        # 10:00:00 .. 11:59:50 every 10 s; values rise by one per sample
        samples = [Sample("m1", "power", T0 + i * 10_000, float(i)) for i in range(720)]
        store.write_batch(samples)
        minutes = store.downsample("m1", "power", T0, T0 + 2 * HOUR, MIN)
        assert len(minutes) == 120
        assert minutes[0] == Bucket(T0, 0.0, 5.0, 2.5, 6, 0.0, 5.0)
        assert minutes[-1] == Bucket(T0 + 119 * MIN, 714.0, 719.0, 716.5, 6, 714.0, 719.0)
        hours = store.downsample("m1", "power", T0, T0 + 2 * HOUR, HOUR)
        assert hours == [
            Bucket(T0, 0.0, 359.0, 179.5, 360, 0.0, 359.0),
            Bucket(T0 + HOUR, 360.0, 719.0, 539.5, 360, 360.0, 719.0),
        ]

    def test_buckets_start_at_start_and_stop_at_end(self, store: TimeSeriesStore) -> None:
        rng = random.Random(7)
        samples = [
            Sample("m1", "v", T0 + i * 1700 + rng.randrange(1000), rng.uniform(-50, 50))
            for i in range(3000)
        ]
        rng.shuffle(samples)
        for i in range(0, len(samples), 700):
            store.write_batch(samples[i : i + 700])
        windows = [
            (T0, T0 + HOUR, MIN),  # whole minutes
            (T0 + 5 * MIN, T0 + HOUR + 12_345, 5 * MIN),  # aligned start, ragged end
            (T0 + 777, T0 + HOUR, MIN),  # unaligned start: raw samples
            (T0 + 3 * MIN, T0 + 2 * HOUR, HOUR),
            (T0, T0 + 2 * HOUR, 10_000),
            (T0 + 1, T0 + 2, MIN),
            (T0 + 5, T0 + 40_000, 1),  # many narrow buckets, mostly empty
        ]
        for start, end, width in windows:
            same_buckets(
                store.downsample("m1", "v", start, end, width),
                reference(samples, start, end, width),
            )

    def test_booleans_count_as_0_and_1_and_bad_samples_are_left_out(
        self, store: TimeSeriesStore
    ) -> None:
        store.write_batch(
            [
                Sample("m1", "on", T0, True),
                Sample("m1", "on", T0 + 1000, False),
                Sample("m1", "on", T0 + 2000, True),
                Sample("m1", "on", T0 + 3000, True, BAD),
                Sample("m1", "temp", T0, 20.0),
                Sample("m1", "temp", T0 + 1000, -999.0, BAD),
                Sample("m1", "temp", T0 + 2000, 22.0, UNCERTAIN),
            ]
        )
        assert store.downsample("m1", "on", T0, T0 + MIN, MIN) == [
            Bucket(T0, 0.0, 1.0, 2 / 3, 3, 1.0, 1.0)
        ]
        assert store.downsample("m1", "temp", T0, T0 + MIN, 1500) == [
            Bucket(T0, 20.0, 20.0, 20.0, 1, 20.0, 20.0),
            Bucket(T0 + 1500, 22.0, 22.0, 22.0, 1, 22.0, 22.0),
        ]
        assert len(store.query("m1", "temp", T0, T0 + MIN)) == 3  # BAD is still stored

    def test_strings_cannot_be_downsampled(self, store: TimeSeriesStore) -> None:
        store.write_batch([Sample("m1", "mode", T0, "auto"), Sample("m1", "mode", T0 + 1, "hand")])
        with pytest.raises(InvalidInput, match=r"'mode'.*strings"):
            store.downsample("m1", "mode", T0, T0 + HOUR, MIN)

    def test_bad_bucket_arguments_are_refused(self, store: TimeSeriesStore) -> None:
        with pytest.raises(InvalidInput, match="bucket") as err:
            store.downsample("m1", "v", T0, T0 + HOUR, 0)
        assert err.value.detail == {"parameter": "bucket"}
        with pytest.raises(InvalidInput, match="more than"):
            store.downsample("m1", "v", 0, T0, 1)
        with pytest.raises(InvalidInput, match="before start"):
            store.downsample("m1", "v", T0, T0 - MIN, MIN)
        assert store.downsample("m1", "unknown", T0, T0 + HOUR, MIN) == []

    # -- retention ---------------------------------------------------------------------------
    def test_delete_before_removes_old_samples_of_the_given_devices(
        self, store: TimeSeriesStore
    ) -> None:
        samples = [
            Sample(dev, p, T0 + i * 15_000, float(i))
            for dev in ("old-1", "old-2", "keep")
            for p in ("a", "b")
            for i in range(40)  # ten minutes
        ]
        store.write_batch(samples)
        cut = T0 + 4 * MIN + 20_000  # inside a minute
        removed = store.delete_before(["old-1", "old-2", "never-seen"], cut)
        assert removed == 2 * 2 * 18
        left = store.query("old-1", "a", 0, T0 + HOUR)
        assert left[0].ts == T0 + 4 * MIN + 30_000 and len(left) == 22
        assert len(store.query("keep", "a", 0, T0 + HOUR)) == 40
        kept = [s for s in samples if s.device == "old-2" and s.point == "b" and s.ts >= cut]
        for width in (MIN, 5 * MIN):
            same_buckets(
                store.downsample("old-2", "b", T0, T0 + HOUR, width),
                reference(kept, T0, T0 + HOUR, width),
            )
        assert store.latest("old-1")["a"].ts == T0 + 39 * 15_000
        assert store.delete_before(["old-1"], cut) == 0
        with pytest.raises(InvalidInput, match="list of device ids"):
            store.delete_before("old-1", cut)

    def test_delete_device_forgets_every_sample_rollup_and_point_of_it(
        self, store: TimeSeriesStore
    ) -> None:
        store.write_batch(
            [
                Sample(dev, "a", T0 + i * 15_000, float(i))
                for dev in ("gone", "kept")
                for i in range(8)
            ]
            + [Sample("gone", "mode", T0, "auto")]
        )
        assert store.delete_device("gone") == 9
        assert store.latest("gone") == {}
        assert store.query("gone", "a", 0, T0 + HOUR) == []
        assert store.downsample("gone", "a", T0, T0 + HOUR, MIN) == []  # rollups too
        assert len(store.query("kept", "a", 0, T0 + HOUR)) == 8
        assert store.delete_device("gone") == 0
        # a new device of the same id starts empty: its "mode" may hold numbers
        store.write_batch([Sample("gone", "mode", T0 + MIN, 3.0), Sample("gone", "a", T0, 9.0)])
        assert store.latest("gone")["a"].value == 9.0
        assert [b.count for b in store.downsample("gone", "mode", T0, T0 + HOUR, MIN)] == [1]
        assert [b.avg for b in store.downsample("gone", "a", T0, T0 + HOUR, MIN)] == [9.0]

    # -- threads -----------------------------------------------------------------------------
    def test_concurrent_writers_and_readers(self, store: TimeSeriesStore) -> None:
        errors: list[BaseException] = []

        def write(dev: str) -> None:
            try:
                for b in range(20):
                    store.write_batch(
                        [Sample(dev, "p", T0 + (b * 50 + i) * 1000, float(i)) for i in range(50)]
                    )
            except BaseException as exc:  # pragma: no cover - reported below
                errors.append(exc)

        def read() -> None:
            try:
                for _ in range(40):
                    store.latest("w0")
                    store.downsample("w1", "p", T0, T0 + HOUR, MIN)
            except BaseException as exc:  # pragma: no cover - reported below
                errors.append(exc)

        threads = [threading.Thread(target=write, args=(f"w{i}",)) for i in range(3)]
        threads += [threading.Thread(target=read) for _ in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=60)
        assert not errors
        for i in range(3):
            assert len(store.query(f"w{i}", "p", T0, T0 + 2 * HOUR)) == 1000
            buckets = store.downsample(f"w{i}", "p", T0, T0 + HOUR, HOUR)
            assert buckets[0].count == 1000
