"""The TTL cache: expiry, LRU bound, counters."""

from __future__ import annotations

import sys
import threading
import time

from indunet.ids.cache import TTLCache


def test_values_live_for_their_ttl() -> None:
    cache: TTLCache[str] = TTLCache(10)
    cache.put("a", "A", 5)
    now = time.monotonic()
    assert cache.get("a", now) == "A"
    assert cache.get("a", now + 4.9) == "A"
    assert cache.get("a", now + 5.1) is None
    assert len(cache) == 0  # the expired entry was dropped


def test_ttl_zero_keeps_nothing_and_removes_an_old_entry() -> None:
    cache: TTLCache[str] = TTLCache(10)
    cache.put("a", "A", 60)
    cache.put("a", "B", 0)
    assert cache.get("a") is None
    cache.put("b", "B", -1)
    assert len(cache) == 0


def test_least_recently_used_entry_is_evicted() -> None:
    cache: TTLCache[int] = TTLCache(3)
    for i, key in enumerate("abc"):
        cache.put(key, i, 60)
    assert cache.get("a") == 0  # a is now the most recently used
    cache.put("d", 3, 60)
    assert cache.get("b") is None
    assert [cache.get(k) for k in "acd"] == [0, 2, 3]
    assert len(cache) == 3


def test_hits_misses_drop_and_clear() -> None:
    cache: TTLCache[str] = TTLCache(10)
    assert cache.hit_rate == 0.0
    cache.put("a", "A", 60)
    cache.get("a")
    cache.get("a")
    cache.get("zz")
    assert (cache.hits, cache.misses) == (2, 1)
    assert cache.hit_rate == 2 / 3
    cache.drop("a")
    cache.drop("never-there")
    assert cache.get("a") is None
    cache.put("b", "B", 60)
    cache.clear()
    assert len(cache) == 0


def test_writer_threads_and_a_reader_share_the_cache_safely() -> None:
    """Node writes drop entries from worker threads while the loop reads and fills them."""
    cache: TTLCache[int] = TTLCache(64)
    keys = [f"K{i}" for i in range(32)]
    stop = threading.Event()
    errors: list[BaseException] = []

    def writer(seed: int) -> None:
        try:
            n = seed
            while not stop.is_set():
                key = keys[n % len(keys)]
                cache.drop(key)
                cache.put(key, n, 60)
                n += 7
        except BaseException as exc:  # any error in the thread fails the test
            errors.append(exc)

    old = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # switch threads as often as possible
    threads = [threading.Thread(target=writer, args=(s,)) for s in range(4)]
    try:
        for t in threads:
            t.start()
        deadline = time.monotonic() + 1.0
        reads = 0
        while time.monotonic() < deadline:
            for key in keys:
                cache.get(key)
                reads += 1
    finally:
        stop.set()
        for t in threads:
            t.join()
        sys.setswitchinterval(old)
    assert errors == []
    assert cache.hits + cache.misses == reads
    assert len(cache) <= 64
