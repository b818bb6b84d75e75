"""Aggregates in Python: minute rollups of a sorted batch and buckets merged from partials.

A *partial* is the aggregate of some samples of one bucket:
``(key, min, max, sum, count, first, first_ts, last, last_ts)``. The stores compute partials
in SQL or here, and ``to_buckets`` merges the partials of equal keys into ``Bucket``s, so a
downsample may combine minute rollups with raw samples of a window's unaligned tail.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from operator import itemgetter
from typing import Any

from indunet.core import InvalidInput
from indunet.telemetry.samples import BAD, Bucket, Sample
from indunet.telemetry.validity import MAX_TS

MINUTE = 60_000
"""Width of a rollup bucket in ms; rollup buckets are aligned to the epoch."""
MAX_BUCKETS = 1_000_000
"""The most buckets one downsample may return."""
MAX_LIMIT = 1_000_000
"""The largest ``limit`` of one raw query."""

Partial = tuple[int, Any, Any, float, int, Any, int, Any, int]
_ALL_Q = frozenset({0, 1, 2, 4, 5, 6})  # quality, plus 4 for a boolean in SQLite's rows
_KINDS = frozenset({float, int, bool, str})
_TS, _V, _Q = itemgetter(1), itemgetter(2), itemgetter(3)


class BadRow(Exception):
    """A row failed an inline check; ``validity.check_samples`` explains which and why."""


def check_window(start: int, end: int) -> None:
    """Raise ``InvalidInput`` unless ``start <= end`` (both integer ms)."""
    if type(start) is not int or type(end) is not int:
        raise InvalidInput(f"start and end must be integer ms, not {start!r} and {end!r}")
    if end < start:
        raise InvalidInput(f"end ({end}) is before start ({start})", detail={"parameter": "end"})


def check_limit(limit: int) -> None:
    """Raise ``InvalidInput`` unless ``1 <= limit <= MAX_LIMIT``."""
    if type(limit) is not int or not 1 <= limit <= MAX_LIMIT:
        raise InvalidInput(
            f"limit must be between 1 and {MAX_LIMIT}, not {limit!r}",
            detail={"parameter": "limit"},
        )


def check_cut(devices: Sequence[str], before: int) -> None:
    """Raise ``InvalidInput`` unless ``devices`` is a list of names and ``before`` integer ms."""
    if isinstance(devices, str):
        raise InvalidInput("devices must be a list of device ids, not one string")
    if type(before) is not int:
        raise InvalidInput(f"before must be integer ms, not {before!r}")


def check_buckets(start: int, end: int, bucket_ms: int) -> None:
    """Raise ``InvalidInput`` for a bad window or bucket width, or too many buckets."""
    check_window(start, end)
    if type(bucket_ms) is not int or bucket_ms < 1:
        raise InvalidInput(
            f"bucket width must be a positive number of ms, not {bucket_ms!r}",
            detail={"parameter": "bucket"},
        )
    if (end - start) // bucket_ms > MAX_BUCKETS:
        raise InvalidInput(
            f"{end - start} ms in buckets of {bucket_ms} ms makes more than {MAX_BUCKETS} "
            "buckets; use wider buckets or a shorter window",
            detail={"parameter": "bucket"},
        )


def strings_refused(device: str, point: str) -> InvalidInput:
    """The error for downsampling a point that holds strings."""
    return InvalidInput(
        f"point {point!r} of device {device!r} holds strings; only numbers and booleans "
        "can be downsampled (query its raw samples instead)",
        detail={"parameter": "point"},
    )


def uses_rollups(start: int, bucket_ms: int) -> bool:
    """Whether buckets of ``bucket_ms`` from ``start`` are unions of whole rollup minutes."""
    return bucket_ms % MINUTE == 0 and start % MINUTE == 0


def to_buckets(partials: Iterable[Partial], start: int, bucket_ms: int) -> list[Bucket]:
    """Merge partials sorted by key (bucket index from ``start``) into buckets."""
    out: list[Bucket] = []
    acc: list[Any] | None = None
    for p in partials:
        if acc is not None and acc[0] == p[0]:
            _merge(acc, p)
            continue
        if acc is not None:
            out.append(_bucket(acc, start, bucket_ms))
        acc = list(p)
    if acc is not None:
        out.append(_bucket(acc, start, bucket_ms))
    return out


def _merge(acc: list[Any], p: Partial) -> None:
    if p[1] < acc[1]:
        acc[1] = p[1]
    if p[2] > acc[2]:
        acc[2] = p[2]
    acc[3] += p[3]
    acc[4] += p[4]
    if p[6] < acc[6]:
        acc[5], acc[6] = p[5], p[6]
    if p[8] > acc[8]:
        acc[7], acc[8] = p[7], p[8]


def _bucket(acc: Sequence[Any], start: int, bucket_ms: int) -> Bucket:
    count = int(acc[4])
    return Bucket(
        start=start + int(acc[0]) * bucket_ms,
        min=float(acc[1]),
        max=float(acc[2]),
        avg=float(acc[3]) / count,
        count=count,
        first=float(acc[5]),
        last=float(acc[7]),
    )


def sample_partials(samples: Iterable[Sample], start: int, bucket_ms: int) -> list[Partial]:
    """Partials per bucket of samples sorted by time (strings and BAD samples left out)."""
    out: list[Partial] = []
    acc: list[Any] | None = None
    for s in samples:
        v = s.value
        if s.quality == BAD or isinstance(v, str):
            continue
        k = (s.ts - start) // bucket_ms
        if acc is not None and acc[0] == k:
            if v < acc[1]:
                acc[1] = v
            if v > acc[2]:
                acc[2] = v
            acc[3] += v
            acc[4] += 1
            acc[7], acc[8] = v, s.ts
            continue
        if acc is not None:
            out.append(tuple(acc))
        acc = [k, v, v, v + 0.0, 1, v, s.ts, v, s.ts]
    if acc is not None:
        out.append(tuple(acc))
    return out


def _check_columns(rows: list[tuple[Any, ...]]) -> set[type]:
    """Check timestamps, qualities and value types column-wise (C loops); the value types."""
    times = list(map(_TS, rows))
    if set(map(type, times)) != {int} or min(times) < 0 or max(times) >= MAX_TS:
        raise BadRow
    if not set(map(_Q, rows)) <= _ALL_Q:
        raise BadRow
    values = list(map(_V, rows))
    kinds = set(map(type, values))
    if not kinds <= _KINDS:
        raise BadRow
    if float in kinds:
        floats = values if len(kinds) == 1 else [v for v in values if v.__class__ is float]
        if not all(map(math.isfinite, floats)):
            raise BadRow
    return kinds


def minute_partials(rows: list[tuple[Any, ...]]) -> tuple[list[tuple[Any, ...]], int, set[int]]:
    """Check rows sorted by (series, ts) and sum them up per epoch minute.

    Returns the rollup rows (series, bucket, min, max, sum, count, first, first_ts, last,
    last_ts), how many distinct (series, ts) there are, and the series given strings.
    Raises ``BadRow`` when a row cannot be stored.
    """
    kinds = _check_columns(rows)
    strings: set[int] = set()
    texts: list[tuple[Any, ...]] = []
    numbers = rows
    if str in kinds:
        texts = [r for r in rows if r[2].__class__ is str]
        if any("\x00" in r[2] for r in texts):
            raise BadRow  # refused by every backend (PostgreSQL text cannot hold it)
        strings = {r[0] for r in texts}
        numbers = [r for r in rows if r[2].__class__ is not str]
    out: list[tuple[Any, ...]] = []
    app = out.append
    unique = len(rows) - len(numbers)
    minute = MINUTE
    ps = pt = cs = cb = -1
    mn = mx = first = last = sm = 0.0
    n = ft = lt = 0
    for sid, ts, v, q in numbers:
        if ts == pt and sid == ps:
            continue  # a duplicate in the batch: the first one is kept
        ps = sid
        pt = ts
        unique += 1
        if q & 3 == 2:
            continue  # BAD: stored, not aggregated
        bucket = ts - ts % minute
        if bucket == cb and sid == cs:
            if v < mn:
                mn = v
            elif v > mx:
                mx = v
            sm += v
            n += 1
            last = v
            lt = ts
        else:
            if n:
                app((cs, cb, mn, mx, sm, n, first, ft, last, lt))
            cs = sid
            cb = bucket
            mn = mx = first = last = v
            sm = v + 0.0
            n = 1
            ft = lt = ts
    if n:
        app((cs, cb, mn, mx, sm, n, first, ft, last, lt))
    if strings:  # duplicates among the strings
        unique -= len(texts) - len({(r[0], r[1]) for r in texts})
    return out, unique, strings
