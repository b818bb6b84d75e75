"""The SQLite writer's fast path: batches made of runs, summed up with C loops.

Gateways and connectors send a device's points as runs: one point's samples, in time order,
then the next point's (a columnar HTTP block, a back-fill, an OPC UA subscription's queue).
For such a batch the writer needs no Python statement per sample: the columns are checked
with ``map``/``min``/``max``, each run's minutes are found by bisection and summed up with
``min``, ``max`` and ``sum`` over slices, and the insert's parameters are the run's columns
interleaved by ``zip``. ``runs_of`` returns None for any other batch (booleans, strings, BAD
samples, a run out of time order, a point in two runs, short runs), which then goes the
general way (``rollup.minute_partials``) with the same result.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Sequence
from itertools import chain, groupby, islice, repeat
from math import isfinite
from operator import itemgetter, lt
from typing import Any

from indunet.telemetry.rollup import MINUTE
from indunet.telemetry.samples import Sample
from indunet.telemetry.validity import MAX_INT, MAX_TS

MIN_RUN = 4
"""Below this many samples per run on average, the general path is cheaper."""
Run = tuple[tuple[str, str], int, int]
"""A run: its (device, point) and its slice ``[start, end)`` of the batch."""

_KEY = itemgetter(0, 1)
_TS, _V, _Q = itemgetter(2), itemgetter(3), itemgetter(4)
_NUMBERS = frozenset({float, int})
_TUPLES = frozenset({Sample, tuple})
_QUALITIES = frozenset({0, 1})  # GOOD, UNCERTAIN: BAD samples are kept out of rollups


class Columns:
    """A batch's times, values and qualities as lists, and its runs."""

    __slots__ = ("qualities", "runs", "times", "values")

    def __init__(
        self, times: list[int], values: list[Any], qualities: list[int], runs: list[Run]
    ) -> None:
        self.times = times
        self.values = values
        self.qualities = qualities
        self.runs = runs


def runs_of(samples: Sequence[Sample]) -> Columns | None:
    """The batch as columns and runs, or None when it needs the general path."""
    n = len(samples)
    if n < 2 * MIN_RUN or set(map(type, samples)) - _TUPLES or set(map(len, samples)) != {5}:
        return None  # the general path says what is wrong with a sample that is no Sample
    qualities = list(map(_Q, samples))
    if not set(qualities) <= _QUALITIES or set(map(type, qualities)) != {int}:
        return None
    values = list(map(_V, samples))
    if not set(map(type, values)) <= _NUMBERS:
        return None  # booleans and strings need flags: the general path sets them
    if min(values) < -MAX_INT or max(values) >= MAX_INT:
        return None
    if not all(map(isfinite, values)):
        return None
    times = list(map(_TS, samples))
    if set(map(type, times)) != {int} or min(times) < 0 or max(times) >= MAX_TS:
        return None
    runs: list[Run] = []
    seen: set[tuple[str, str]] = set()
    most = n // MIN_RUN
    start = 0
    for key, group in groupby(samples, _KEY):
        end = start + len(list(group))
        if key in seen or len(runs) == most:
            return None
        if end - start > 1 and not all(
            map(lt, islice(times, start, end - 1), islice(times, start + 1, end))
        ):
            return None  # out of time order, or a timestamp twice
        seen.add(key)
        runs.append((key, start, end))
        start = end
    return Columns(times, values, qualities, runs)


def run_rows(cols: Columns, ids: Sequence[int]) -> tuple[list[Any], list[tuple[Any, ...]]]:
    """The insert's flat parameters ``(series, ts, v, q)...`` and the minute rollup rows.

    ``ids`` holds each run's series id. Rollup rows are ``(series, bucket, min, max, sum,
    count, first, first_ts, last, last_ts)``, as ``rollup.minute_partials`` makes them.
    """
    times, values, qualities = cols.times, cols.values, cols.qualities
    flat: list[Any] = []
    partials: list[tuple[Any, ...]] = []
    add = partials.append
    for (_, start, end), sid in zip(cols.runs, ids, strict=True):
        flat.extend(
            chain.from_iterable(
                zip(
                    repeat(sid, end - start),
                    islice(times, start, end),
                    islice(values, start, end),
                    islice(qualities, start, end),
                    strict=True,
                )
            )
        )
        i = start
        while i < end:
            t = times[i]
            bucket = t - t % MINUTE
            j = bisect_left(times, bucket + MINUTE, i, end)
            part = values[i:j]
            last = times[j - 1]
            add(
                (
                    sid,
                    bucket,
                    min(part),
                    max(part),
                    sum(part, 0.0),
                    j - i,
                    part[0],
                    t,
                    part[-1],
                    last,
                )
            )
            i = j
    return flat, partials
