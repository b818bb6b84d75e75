"""Time-of-use tariffs (分时电价, 峰谷平 with an optional 尖峰): periods by time of day with
their prices, and each day's energy and cost split by period (docs/apps/energy.md).

A tariff is a list of periods ``(start, end, kind)`` with ``"HH:MM"`` clock times (``end``
may be ``"24:00"``; a period whose end is before its start runs over midnight) and a price per
kind in currency per kWh. The periods must cover the day exactly once: no overlap, no gap.
An interval's energy is shared between the periods (and days) it spans in proportion to time,
i.e. as if its power were constant.
"""

from __future__ import annotations

import bisect
import datetime as dt
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from indunet.core.errors import InvalidInput

from .energy import increasing, same_length, series

KINDS = ("sharp", "peak", "flat", "valley")  # 尖峰, 峰, 平, 谷
DAY = 86_400
MAX_INTERVALS = 200_000
MAX_INTERVAL_S = 31 * DAY
MAX_PERIODS = 48
CHINA_OFFSET_S = 8 * 3600  # UTC+8, no daylight saving
_CLOCK = re.compile(r"^([01]\d|2[0-4]):([0-5]\d)$")


def _minute(text: str) -> int:
    m = _CLOCK.match(text)
    minute = int(m.group(1)) * 60 + int(m.group(2)) if m else -1
    if not 0 <= minute <= 1440:
        raise InvalidInput(
            f"{text!r} is not a clock time HH:MM (00:00..24:00)",
            reason="apps_energy_tariff_clock",
            params={"value": text},
        )
    return minute


def _clock(minute: int) -> str:
    return f"{minute // 60:02d}:{minute % 60:02d}"


@dataclass(frozen=True, slots=True)
class Tariff:
    """Segments ``(start minute, end minute, kind)`` covering 0..1440 in order, and prices."""

    segments: tuple[tuple[int, int, str], ...]
    prices: Mapping[str, float]

    def kind_at(self, minute: float) -> tuple[str, int]:
        """The kind of the segment holding ``minute`` of the day and the minute it ends."""
        starts = [s for s, _, _ in self.segments]
        _, end, kind = self.segments[bisect.bisect_right(starts, minute) - 1]
        return kind, end


def tariff(periods: Sequence[tuple[str, str, str]], prices: Mapping[str, float]) -> Tariff:
    """Check and build a tariff: known kinds, prices ≥ 0 for every kind used, the day covered
    exactly once."""
    if not 0 < len(periods) <= MAX_PERIODS:
        raise InvalidInput(
            f"a tariff has 1..{MAX_PERIODS} periods, not {len(periods)}",
            reason="apps_energy_tariff_periods",
            params={"count": len(periods), "max": MAX_PERIODS},
        )
    segments: list[tuple[int, int, str]] = []
    for start, end, kind in periods:
        if kind not in KINDS:
            raise InvalidInput(
                f"period kind {kind!r} is not one of {', '.join(KINDS)}",
                reason="apps_energy_tariff_kind",
                params={"kind": kind},
            )
        a, b = _minute(start), _minute(end)
        if a == b or a == 1440:
            raise InvalidInput(
                f"period {start}–{end} is empty",
                reason="apps_energy_tariff_empty",
                params={"start": start, "end": end},
            )
        segments += [(a, b, kind)] if a < b else [(a, 1440, kind), (0, b, kind)]
    segments = sorted(s for s in segments if s[0] < s[1])
    at = 0
    for a, b, _ in segments:
        if a < at:
            raise InvalidInput(
                f"periods overlap at {_clock(a)}",
                reason="apps_energy_tariff_overlap",
                params={"at": _clock(a)},
            )
        if a > at:
            raise InvalidInput(
                f"no period covers {_clock(at)}–{_clock(a)}",
                reason="apps_energy_tariff_gap",
                params={"start": _clock(at), "end": _clock(a)},
            )
        at = b
    if at < 1440:
        raise InvalidInput(
            f"no period covers {_clock(at)}–24:00",
            reason="apps_energy_tariff_gap",
            params={"start": _clock(at), "end": "24:00"},
        )
    for kind in sorted({k for _, _, k in segments}):
        price = prices.get(kind)
        if price is None or not np.isfinite(price):
            raise InvalidInput(
                f"no price for {kind}",
                reason="apps_energy_price_missing",
                params={"kind": kind},
            )
        if price < 0:
            raise InvalidInput(
                f"the {kind} price is {price}; prices are 0 or more",
                reason="apps_energy_price_negative",
                params={"kind": kind, "price": float(price)},
            )
    return Tariff(tuple(segments), {k: float(v) for k, v in prices.items()})


@dataclass(frozen=True, slots=True)
class DayCost:
    """One local day's energy (kWh) and cost by period kind, and their totals."""

    date: str
    energy: Mapping[str, float]
    cost: Mapping[str, float]

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready."""
        return {
            "date": self.date,
            "energy": dict(self.energy),
            "cost": dict(self.cost),
            "total_energy": sum(self.energy.values()),
            "total_cost": sum(self.cost.values()),
        }


def daily_cost(
    rate: Tariff, times: Any, energy: Any, utc_offset_s: int = CHINA_OFFSET_S
) -> tuple[DayCost, ...]:
    """Split interval energy (``energy[i]`` over ``[times[i], times[i+1])``, Unix seconds) by
    local day and period kind, and price it; days in order."""
    t = series("times", times, MAX_INTERVALS + 1)
    e = series("energy", energy, MAX_INTERVALS)
    if t.size != e.size + 1:
        same_length("times", t[:-1], "energy", e)
    increasing("times", t)
    if np.any(np.diff(t) > MAX_INTERVAL_S):
        raise InvalidInput(
            f"an interval is longer than {MAX_INTERVAL_S // DAY} days",
            reason="apps_energy_interval_too_long",
            params={"max_days": MAX_INTERVAL_S // DAY},
        )
    local = t + utc_offset_s
    split: dict[int, dict[str, float]] = {}
    for i in range(e.size):
        a, b, kwh = float(local[i]), float(local[i + 1]), float(e[i])
        cur = a
        while cur < b:
            day = int(cur // DAY)
            kind, end_minute = rate.kind_at((cur - day * DAY) / 60.0)
            nxt = min(b, day * DAY + end_minute * 60.0)
            shares = split.setdefault(day, dict.fromkeys(KINDS, 0.0))
            shares[kind] += kwh * (nxt - cur) / (b - a)
            cur = nxt
    epoch = dt.date(1970, 1, 1)
    out = []
    for day in sorted(split):
        kwh_by = {k: v for k, v in split[day].items() if k in rate.prices}
        cost = {k: v * rate.prices[k] for k, v in kwh_by.items()}
        out.append(DayCost((epoch + dt.timedelta(days=day)).isoformat(), kwh_by, cost))
    return tuple(out)
