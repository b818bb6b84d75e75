"""Sampled series read as time, shared by the time-based methods (OEE, the activity index).

A series is timestamps (seconds since the Unix epoch, UTC; or ``datetime64``) with one value
each, strictly increasing. Sample ``i`` holds its value from ``t[i]`` until the next sample,
but for at most ``hold_s`` seconds: the rest of a longer gap, the time before the first sample
and the time after the last sample's hold are *unknown* (no data), never given to any value.

Time of a category (a mask over the samples) between two instants is read from a cumulative
sum, so any number of windows (orders, shifts, days) cost one ``searchsorted`` each end.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import numpy as np
import numpy.typing as npt

from indunet.core.errors import InvalidInput

Floats = npt.NDArray[np.float64]
Ints = npt.NDArray[np.int64]
Bools = npt.NDArray[np.bool_]

#: integer state codes spanning fewer values than this are mapped through a lookup table
_TABLE_SPAN = 1 << 16
#: text states are compared with each key of a table this small instead of sorted
_FEW_KEYS = 32


def timestamps(values: Any, *, what: str, max_samples: int, strict: bool = True) -> Floats:
    """``values`` as float seconds, checked: one-dimensional, bounded, finite, rising (strictly,
    unless ``strict`` is false: then equal neighbours are allowed)."""
    arr = np.asarray(values)
    if arr.dtype.kind == "M":
        arr = arr.astype("datetime64[ns]").astype(np.int64) / 1e9
    try:
        out = np.asarray(arr, dtype=np.float64).reshape(-1)
    except (TypeError, ValueError):
        raise InvalidInput(
            f"{what}: timestamps must be numbers (seconds since the epoch)",
            reason="apps_series_not_finite",
            params={"what": what, "index": 0},
        ) from None
    if out.size > max_samples:
        raise InvalidInput(
            f"{what}: {out.size} samples; at most {max_samples} are read at once",
            reason="apps_series_too_long",
            params={"what": what, "count": int(out.size), "max": max_samples},
        )
    bad = np.flatnonzero(~np.isfinite(out))
    if bad.size:
        raise InvalidInput(
            f"{what}: timestamp {int(bad[0])} is not a finite number",
            reason="apps_series_not_finite",
            params={"what": what, "index": int(bad[0])},
        )
    step = np.diff(out)
    back = np.flatnonzero(step <= 0 if strict else step < 0)
    if back.size:
        raise InvalidInput(
            f"{what}: timestamp {int(back[0]) + 1} is not after the one before it; "
            "timestamps must be in increasing order",
            reason="apps_series_unsorted",
            params={"what": what, "index": int(back[0]) + 1},
        )
    return out


def same_length(times: Floats, values: Any, *, what: str) -> npt.NDArray[Any]:
    """``values`` as a one-dimensional array as long as ``times``."""
    arr = np.asarray(values).reshape(-1)
    if arr.size != times.size:
        raise InvalidInput(
            f"{what}: {times.size} timestamps but {arr.size} values",
            reason="apps_series_length_mismatch",
            params={"what": what, "times": int(times.size), "values": int(arr.size)},
        )
    return arr


def numbers(times: Floats, values: Any, *, what: str) -> Floats:
    """``values`` as floats, one per timestamp (finiteness is the caller's rule)."""
    arr = same_length(times, values, what=what)
    try:
        return arr.astype(np.float64)
    except (TypeError, ValueError):
        raise InvalidInput(
            f"{what}: the values must be numbers",
            reason="apps_series_not_number",
            params={"what": what},
        ) from None


def hold_seconds(hold_s: float) -> float:
    """``hold_s`` checked: a positive finite number of seconds."""
    if not (isinstance(hold_s, int | float) and np.isfinite(hold_s) and hold_s > 0):
        raise InvalidInput(
            f"hold {hold_s!r} must be a positive number of seconds",
            reason="apps_series_hold",
            params={"hold": str(hold_s)},
        )
    return float(hold_s)


def held(times: Floats, hold_s: float) -> Floats:
    """Seconds each sample holds: ``min(t[i+1] − t[i], hold_s)``, the last one ``hold_s``."""
    out = np.full(times.size, float(hold_s), dtype=np.float64)
    if times.size > 1:
        np.minimum(np.diff(times), hold_s, out=out[:-1])
    return out


def codes(states: npt.NDArray[Any], table: Mapping[Any, int]) -> Ints:
    """Each state's code in ``table``; ``-1`` for a state the table lacks."""
    if states.size == 0:
        return np.zeros(0, dtype=np.int64)
    if states.dtype.kind in "iu":
        low, high = int(states.min()), int(states.max())
        if high - low < _TABLE_SPAN:
            lut = np.full(high - low + 1, -1, dtype=np.int64)
            for key, code in table.items():
                if isinstance(key, int | np.integer) and low <= key <= high:
                    lut[int(key) - low] = code
            return lut[states.astype(np.int64) - low]
    if states.dtype.kind == "U" and len(table) <= _FEW_KEYS:  # a few comparisons beat a sort
        out = np.full(states.size, -1, dtype=np.int64)
        for key, code in table.items():
            if isinstance(key, str):
                out[states == key] = code
        return out
    uniq, inverse = np.unique(states, return_inverse=True)
    mapped = np.array([table.get(u.item(), -1) for u in uniq], dtype=np.int64)
    return mapped[inverse.reshape(-1)]


def time_until(times: Floats, hold: Floats, code: Ints, cats: int, at: Floats) -> Floats:
    """Seconds each category (``code`` of each sample, ``0 ≤ code < cats``) held from the first
    sample until each instant of ``at``: an array ``cats × len(at)``.

    The time of category ``k`` in ``[a, b)`` is ``out[k, j_b] − out[k, j_a]``. One pass over the
    samples whatever the number of instants: samples are summed per stretch between instants.
    """
    if times.size == 0:
        return np.zeros((cats, at.size))
    last = np.searchsorted(times, at, side="right") - 1  # the sample holding at each instant
    k = np.maximum(last, 0)
    cuts = np.unique(k)
    spans = np.diff(np.concatenate([[0], cuts, [times.size]]))
    stretch = np.repeat(np.arange(cuts.size + 1), spans)  # how many cuts are at or before i
    sums = np.bincount(stretch * cats + code, weights=hold, minlength=(cuts.size + 1) * cats)
    before = np.cumsum(sums.reshape(-1, cats), axis=0)  # row j: samples before cuts[j]
    out: Floats = before[np.searchsorted(cuts, k)].T.astype(np.float64)
    part = np.where(last >= 0, np.clip(at - times[k], 0.0, hold[k]), 0.0)
    np.add.at(out, (code[k], np.arange(at.size)), part)
    return out


def zone_of(name: str) -> ZoneInfo:
    """The IANA time zone ``name`` (``Asia/Shanghai``)."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, TypeError):
        raise InvalidInput(
            f"{name!r} is not a known IANA time zone (e.g. Asia/Shanghai)",
            reason="apps_series_zone",
            params={"zone": str(name)[:64]},
        ) from None


def local_date(instant: float, zone: ZoneInfo) -> date:
    """The calendar day of ``instant`` in ``zone``."""
    return datetime.fromtimestamp(instant, zone).date()


def local_instant(day: date, clock: time, zone: ZoneInfo) -> float:
    """The instant of wall-clock ``clock`` on ``day`` in ``zone`` (DST-aware)."""
    return datetime.combine(day, clock, tzinfo=zone).timestamp()


def day_bounds(first: float, last: float, zone: ZoneInfo) -> tuple[list[date], Floats]:
    """The local days from ``first``'s to ``last``'s and their ``len(days) + 1`` midnights."""
    start, end = local_date(first, zone), local_date(last, zone)
    days = [start + timedelta(days=i) for i in range((end - start).days + 1)]
    edges = [local_instant(d, time(0), zone) for d in days]
    edges.append(local_instant(end + timedelta(days=1), time(0), zone))
    return days, np.asarray(edges, dtype=np.float64)
