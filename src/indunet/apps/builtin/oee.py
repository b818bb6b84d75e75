"""Overall equipment effectiveness (设备综合效率, OEE) per ISO 22400-2, from a machine-state
series, a production schedule from MES and optional piece counts.

* Each machine state maps to an ISO 22400-2 time element (``TimeElement``; the default table
  is ``DEFAULT_MAPPING``): running → APT, setup → AUST, idle → ADET, breakdown → ADOT,
  planned maintenance → PDOT, offline → unknown. A state the table lacks is refused.
* PBT (planned busy time) and PRI (planned runtime per item) come from the schedule, one row
  per order: the machine cannot know them. Only time inside an order's window is counted.
* Availability ``APT/PBT``, effectiveness ``PRI·PQ/APT``, quality rate ``GQ/PQ`` with
  ``GQ = PQ − SQ``, OEE their product; the six big losses in ``oee_figures.SixLosses``.
* Gaps: a sample holds for at most ``hold_s``; the rest is *unknown* time, reported as such and
  never counted as any state (series.py).
* Aggregation per order, per shift and per local day (``zone``): an order crossing a shift or
  midnight is cut there, its PBT shared in proportion to the time in each piece.

Formulas, the mapping and worked examples: docs/apps/oee.md.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import time, timedelta
from enum import StrEnum
from typing import Any

import numpy as np

from indunet.apps.builtin import series
from indunet.apps.builtin.oee_figures import COL, COLUMNS, OeeGroup, OeeReport, figures
from indunet.core.errors import InvalidInput

Floats = series.Floats


class TimeElement(StrEnum):
    """The ISO 22400-2 time element a machine state counts toward."""

    APT = "apt"  # actual production time (实际生产时间)
    AUST = "aust"  # actual unit setup time (实际准备时间)
    ADET = "adet"  # actual unit delay time: idling, small stops (实际延迟时间)
    ADOT = "adot"  # actual unit down time: breakdowns (实际故障停机时间)
    PDOT = "pdot"  # planned down time: planned maintenance (计划停机时间)
    UNKNOWN = "unknown"  # the machine says it does not know (离线)


ELEMENTS = tuple(TimeElement)
CODE = {e: i for i, e in enumerate(ELEMENTS)}
#: a restart after these counts as a start-up (its scrap is start-up rejects)
_STOPS = (TimeElement.AUST, TimeElement.ADOT, TimeElement.PDOT)

DEFAULT_MAPPING: Mapping[str | int, TimeElement] = {
    "running": TimeElement.APT,
    "setup": TimeElement.AUST,
    "idle": TimeElement.ADET,
    "breakdown": TimeElement.ADOT,
    "planned_maintenance": TimeElement.PDOT,
    "offline": TimeElement.UNKNOWN,
}


@dataclass(frozen=True, slots=True)
class Shift:
    """A shift (班次) beginning at ``start`` local time; it lasts until the next shift begins,
    and belongs to the local day it begins on."""

    name: str
    start: time


DEFAULT_SHIFTS = (Shift("A", time(8)), Shift("B", time(16)), Shift("C", time(0)))


@dataclass(frozen=True, slots=True)
class OeeLimits:
    """Bounds on one call's input."""

    max_samples: int = 5_000_000  # states, and count records
    max_orders: int = 10_000
    max_span_days: int = 400  # first order start to last order end
    max_shifts: int = 24


LIMITS = OeeLimits()


@dataclass(frozen=True, slots=True)
class OeeConfig:
    """How states map to time elements, how long a sample holds, what a start-up is, and the
    calendar (zone, shifts) of the per-shift and per-day figures."""

    mapping: Mapping[str | int, TimeElement] = field(default_factory=lambda: DEFAULT_MAPPING)
    hold_s: float = 60.0
    startup_window_s: float = 600.0  # scrap this soon after a start-up is a start-up reject
    zone: str = "Asia/Shanghai"
    shifts: tuple[Shift, ...] = DEFAULT_SHIFTS


@dataclass(frozen=True, slots=True)
class Order:
    """One schedule row from MES: an order's window, its PRI and PBT (seconds)."""

    order_id: str
    item: str
    start: float
    end: float
    pri_s: float  # planned runtime per item (单件计划运行时间)
    pbt_s: float  # planned busy time (计划占用时间) within [start, end)


def _bad(message: str, *, reason: str, **params: Any) -> InvalidInput:
    return InvalidInput(message, reason=reason, params=params)


def _check_orders(schedule: Sequence[Order], limits: OeeLimits) -> list[Order]:
    if len(schedule) > limits.max_orders:
        raise _bad(
            f"{len(schedule)} orders; at most {limits.max_orders} are read at once",
            reason="apps_oee_too_many_orders",
            count=len(schedule),
            max=limits.max_orders,
        )
    seen: set[str] = set()
    for o in schedule:
        if o.order_id in seen:
            raise _bad(
                f"order {o.order_id} is listed twice",
                reason="apps_oee_order_duplicate",
                order=o.order_id,
            )
        seen.add(o.order_id)
        if not (np.isfinite(o.start) and np.isfinite(o.end) and o.end > o.start):
            raise _bad(
                f"order {o.order_id} must end after it starts",
                reason="apps_oee_order_window",
                order=o.order_id,
            )
        if not (np.isfinite(o.pri_s) and o.pri_s > 0):
            raise _bad(
                f"order {o.order_id}: PRI must be a positive number of seconds",
                reason="apps_oee_order_pri",
                order=o.order_id,
            )
        window = o.end - o.start
        if not (np.isfinite(o.pbt_s) and 0 < o.pbt_s <= window):
            raise _bad(
                f"order {o.order_id}: PBT {o.pbt_s} s must be above 0 and at most its window, {window} s",
                reason="apps_oee_order_pbt",
                order=o.order_id,
                pbt=o.pbt_s,
                window=window,
            )
    ordered = sorted(schedule, key=lambda o: o.start)
    for before, after in itertools.pairwise(ordered):
        if after.start < before.end:
            raise _bad(
                f"orders {before.order_id} and {after.order_id} overlap; a machine runs one order at a time",
                reason="apps_oee_orders_overlap",
                order=before.order_id,
                other=after.order_id,
            )
    if ordered and ordered[-1].end - ordered[0].start > limits.max_span_days * 86_400:
        raise _bad(
            f"the schedule spans more than {limits.max_span_days} days",
            reason="apps_oee_span",
            max=limits.max_span_days,
        )
    return ordered


def _quantities(
    count_times: Any, produced: Any, scrap: Any, limits: OeeLimits
) -> tuple[Floats, Floats, Floats]:
    at = series.timestamps(count_times, what="counts", max_samples=limits.max_samples, strict=False)
    pq = series.numbers(at, produced, what="produced")
    sq = np.zeros_like(pq) if scrap is None else series.numbers(at, scrap, what="scrap")
    for what, q in (("produced", pq), ("scrap", sq)):
        bad = np.flatnonzero(~(np.isfinite(q) & (q >= 0)))
        if bad.size:
            raise _bad(
                f"{what} quantity {int(bad[0])} must be a number of at least 0",
                reason="apps_oee_negative_quantity",
                what=what,
                index=int(bad[0]),
            )
    over = np.flatnonzero(sq > pq)
    if over.size:
        i = int(over[0])
        raise _bad(
            f"count record {i}: scrap {sq[i]} is more than the {pq[i]} produced",
            reason="apps_oee_scrap_above_produced",
            index=i,
            produced=float(pq[i]),
            scrap=float(sq[i]),
        )
    return at, pq, sq


def _cut(
    orders: list[Order], edges: Floats
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Each order cut at ``edges``: piece starts, ends, order index, interval index."""
    a, b, oi, ei = [], [], [], []
    for n, o in enumerate(orders):
        first = int(np.searchsorted(edges, o.start, side="right")) - 1
        last = int(np.searchsorted(edges, o.end, side="left"))
        for i in range(first, last):
            lo, hi = max(o.start, edges[i]), min(o.end, edges[i + 1])
            if hi > lo:
                a.append(lo)
                b.append(hi)
                oi.append(n)
                ei.append(i)
    return (
        np.array(a, dtype=np.float64),
        np.array(b, dtype=np.float64),
        np.array(oi, dtype=np.int64),
        np.array(ei, dtype=np.int64),
    )


def _shift_edges(
    orders: list[Order], shifts: tuple[Shift, ...], zone: Any
) -> tuple[list[str], Floats]:
    days, _ = series.day_bounds(orders[0].start, orders[-1].end, zone)
    days = [days[0] - timedelta(days=1), *days, days[-1] + timedelta(days=1)]
    by_clock = sorted(shifts, key=lambda s: s.start)
    keys = [f"{d.isoformat()}/{s.name}" for d in days for s in by_clock]
    edges = [series.local_instant(d, s.start, zone) for d in days for s in by_clock]
    return keys[:-1], np.asarray(edges, dtype=np.float64)


def _table(mapping: Mapping[str | int, TimeElement]) -> dict[str | int, int]:
    known = {e.value for e in ELEMENTS}
    for state, element in mapping.items():
        if element not in known:
            raise _bad(
                f"state {state!r} maps to {element!r}, not one of {', '.join(sorted(known))}",
                reason="apps_oee_mapping",
                state=str(state)[:64],
                element=str(element)[:64],
            )
    return {k: CODE[TimeElement(v)] for k, v in mapping.items()}


def _check_config(config: OeeConfig, limits: OeeLimits) -> None:
    series.hold_seconds(config.hold_s)
    if not (np.isfinite(config.startup_window_s) and config.startup_window_s >= 0):
        raise _bad(
            "the start-up window must be 0 or more seconds",
            reason="apps_oee_startup_window",
            value=str(config.startup_window_s),
        )
    names = [s.name for s in config.shifts]
    clocks = [s.start for s in config.shifts]
    if (
        not names
        or len(names) > limits.max_shifts
        or len(set(names)) < len(names)
        or len(set(clocks)) < len(clocks)
    ):
        raise _bad(
            f"shifts must be 1 to {limits.max_shifts}, each with its own name and start time",
            reason="apps_oee_shifts",
            max=limits.max_shifts,
        )


def oee_report(
    times: Any,
    states: Any,
    schedule: Sequence[Order],
    *,
    count_times: Any = (),
    produced: Any = (),
    scrap: Any = None,
    config: OeeConfig | None = None,
    limits: OeeLimits = LIMITS,
) -> OeeReport:
    """OEE of one machine per order, shift and day of ``schedule``, from its state series
    (``times`` in epoch seconds, ``states`` codes of ``config.mapping``) and piece counts
    (``produced`` and ``scrap`` counted at ``count_times``)."""
    config = config or OeeConfig()
    _check_config(config, limits)
    zone = series.zone_of(config.zone)
    t = series.timestamps(times, what="states", max_samples=limits.max_samples)
    raw = series.same_length(t, states, what="states")
    table = _table(config.mapping)
    code = series.codes(raw, table)
    missing = np.flatnonzero(code < 0)
    if missing.size:
        state = raw[int(missing[0])]
        raise _bad(
            f"state {state!r} has no time element in the mapping table",
            reason="apps_oee_unknown_state",
            state=str(state)[:64],
        )
    ct, pq, sq = _quantities(count_times, produced, scrap, limits)
    orders = _check_orders(schedule, limits)
    if not orders:
        empty = figures(np.zeros(len(COLUMNS)), 0.0, 0.0)
        return OeeReport((), (), (), empty, float(pq.sum()), float(sq.sum()), config.zone)

    hold = series.held(t, config.hold_s)

    # start-ups: each order's start, and running again after setup, a breakdown or maintenance
    stops = np.isin(np.arange(len(ELEMENTS)), [CODE[e] for e in _STOPS])[code]
    resumed = np.flatnonzero((code[1:] == CODE[TimeElement.APT]) & stops[:-1]) + 1
    starts = np.sort(np.concatenate([t[resumed], [o.start for o in orders]]))
    latest = np.searchsorted(starts, ct, side="right") - 1
    in_startup = (latest >= 0) & (ct - starts[np.maximum(latest, 0)] < config.startup_window_s)
    q_cum = np.zeros((3, ct.size + 1))
    np.cumsum(np.stack([pq, sq, np.where(in_startup, sq, 0.0)]), axis=1, out=q_cum[:, 1:])

    day_list, day_edges = series.day_bounds(orders[0].start, orders[-1].end, zone)
    shift_keys, shift_edges = _shift_edges(orders, config.shifts, zone)
    whole = np.array([o.start for o in orders] + [orders[-1].end + 1.0])
    groupings = {
        "order": ([o.order_id for o in orders], whole),
        "shift": (shift_keys, shift_edges),
        "day": ([d.isoformat() for d in day_list], day_edges),
    }
    pri = np.array([o.pri_s for o in orders])
    pbt_rate = np.array([o.pbt_s / (o.end - o.start) for o in orders])
    cuts = {kind: _cut(orders, edges) for kind, (_, edges) in groupings.items()}
    ends = np.concatenate([np.concatenate([c[0], c[1]]) for c in cuts.values()])
    at_ends = series.time_until(t, hold, code, len(ELEMENTS), ends)
    result: dict[str, tuple[OeeGroup, ...]] = {}
    totals = np.zeros(len(COLUMNS))
    done = 0
    for kind, (keys, _) in groupings.items():
        a, b, oi, gi = cuts[kind]
        bounds = at_ends[:, done : done + 2 * a.size]
        done += 2 * a.size
        elems = bounds[:, a.size :] - bounds[:, : a.size]
        lo, hi = np.searchsorted(ct, a, side="left"), np.searchsorted(ct, b, side="left")
        q = q_cum[:, hi] - q_cum[:, lo]
        rows = np.zeros((a.size, len(COLUMNS)))
        rows[:, COL["pbt"]] = pbt_rate[oi] * (b - a)
        rows[:, COL["apt"] : COL["apt"] + len(ELEMENTS)] = elems.T
        rows[:, COL["span"]] = b - a
        rows[:, COL["pq"] : COL["pq"] + 3] = q.T
        rows[:, COL["planned_output"]] = pri[oi] * q[0]
        rows[:, COL["defects_time"]] = pri[oi] * (q[1] - q[2])
        rows[:, COL["startup_time"]] = pri[oi] * q[2]
        used = np.unique(gi)
        sums = np.zeros((len(keys), len(COLUMNS)))
        np.add.at(sums, gi, rows)
        first = np.full(len(keys), np.inf)
        last = np.full(len(keys), -np.inf)
        np.minimum.at(first, gi, a)
        np.maximum.at(last, gi, b)
        result[kind] = tuple(
            OeeGroup(
                kind,
                keys[g],
                figures(sums[g], float(first[g]), float(last[g])),
                orders[g].item if kind == "order" else None,
            )
            for g in used.tolist()
        )
        if kind == "order":
            totals = sums.sum(axis=0)
    total = figures(totals, orders[0].start, orders[-1].end)
    return OeeReport(
        orders=result["order"],
        shifts=result["shift"],
        days=result["day"],
        total=total,
        unassigned_pq=float(pq.sum() - total.pq),
        unassigned_sq=float(sq.sum() - total.sq),
        zone=config.zone,
    )
