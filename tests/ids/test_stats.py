"""Node statistics: latency percentiles, per-minute counts, histogram buckets."""

from __future__ import annotations

import time

import pytest

from indunet.ids.stats import NodeStats


def test_no_samples_means_zero() -> None:
    stats = NodeStats()
    assert stats.percentile_ms(0.5) == 0.0
    assert stats.percentile_ms(0.99) == 0.0


def test_percentiles_are_within_one_bucket_of_the_truth() -> None:
    stats = NodeStats()
    for _ in range(90):
        stats.resolved(0.001)  # 1 ms
    for _ in range(10):
        stats.resolved(0.100)  # 100 ms
    assert stats.resolutions == 100
    assert 1.0 <= stats.percentile_ms(0.5) <= 1.0 * 2**0.25
    assert 1.0 <= stats.percentile_ms(0.9) <= 1.0 * 2**0.25
    assert 100.0 <= stats.percentile_ms(0.91) <= 100.0 * 2**0.25
    assert 100.0 <= stats.percentile_ms(0.99) <= 100.0 * 2**0.25
    assert 100.0 <= stats.percentile_ms(1.0) <= 100.0 * 2**0.25


def test_lowest_quantile_is_the_fastest_sample_not_an_empty_bucket() -> None:
    stats = NodeStats()
    stats.resolved(0.002)
    stats.resolved(0.004)
    assert 2.0 <= stats.percentile_ms(0.0) <= 2.0 * 2**0.25


def test_extremes_fall_into_the_first_and_last_buckets() -> None:
    stats = NodeStats()
    stats.resolved(0.0)
    assert stats.percentile_ms(1.0) == pytest.approx(0.01)
    huge = NodeStats()
    huge.resolved(3600.0)
    assert huge.percentile_ms(0.5) == huge.latency_buckets()[-1][0] * 1000


def test_per_minute_counts_the_last_hour() -> None:
    stats = NodeStats()
    for _ in range(3):
        stats.resolved(0.001)
    minutes = stats.per_minute()
    assert len(minutes) == 60
    now = int(time.time() // 60)
    assert minutes[-1][0] in (now, now - 1)
    assert sum(n for _, n in minutes) == 3


def test_latency_buckets_are_cumulative() -> None:
    stats = NodeStats()
    for seconds in (0.00001, 0.001, 0.001, 0.5):
        stats.resolved(seconds)
    buckets = stats.latency_buckets()
    counts = [n for _, n in buckets]
    bounds = [b for b, _ in buckets]
    assert counts == sorted(counts) and counts[-1] == 4
    assert bounds == sorted(bounds)
    assert next(n for b, n in buckets if b >= 0.001) == 3
