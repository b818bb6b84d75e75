"""The equipment activity index (设备开工指数, in the style of the 挖掘机指数): how much a fleet
worked in a month, per equipment class and region, from each device's daily working hours.

* Daily working hours (日工作小时) of one device, per local day of ``zone`` (Asia/Shanghai by
  default): from a state series (time in a *working* state) or from a value series (time with
  ``value > threshold`` in runs lasting at least ``min_duration_s``). A sample holds for at most
  ``hold_s`` (series.py): gaps are not working time. A day counts as *reported* when the device
  sent at least one sample timestamped in it.
* Per cell (class × region, with ``*`` rolling up all): the denominator is the devices that
  reported in the month (上报设备数). 开工率 = devices that worked at least
  ``min_working_hours`` in the month ÷ reporting devices; mean working hours (平均工作小时) =
  device-hours ÷ reporting devices; workload (总工作量) = device-hours.
* 环比 (month on month) and 同比 (year on year): rates change by their difference, hours and
  workload by ``current / earlier − 1``. A cell with fewer than ``min_devices`` reporting
  devices is flagged ``thin`` (样本不足).

Definitions and worked examples: docs/apps/activity.md.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from indunet.apps.builtin import series
from indunet.core.errors import InvalidInput

Floats = series.Floats
Days = npt.NDArray[np.datetime64]
ALL = "*"
#: a local day lasts 25 hours when clocks go back
MAX_DAY_HOURS = 25.0


@dataclass(frozen=True, slots=True)
class ActivityLimits:
    """Bounds on one call's input."""

    max_samples: int = 5_000_000  # per device series
    max_devices: int = 200_000
    max_days: int = 1_000  # per device: a month, the month before and the same month last year


LIMITS = ActivityLimits()


@dataclass(frozen=True, slots=True)
class DailyHours:
    """A device's working hours per local day (``datetime64[D]``), for the days it reported."""

    days: Days
    hours: Floats

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready data."""
        return {"days": [str(d) for d in self.days], "hours": [float(h) for h in self.hours]}


def _daily(t: Floats, working: npt.NDArray[np.bool_], hold_s: float, zone: str) -> DailyHours:
    tz = series.zone_of(zone)
    if t.size == 0:
        return DailyHours(np.zeros(0, dtype="datetime64[D]"), np.zeros(0))
    days, edges = series.day_bounds(float(t[0]), float(t[-1]), tz)
    hold = series.held(t, hold_s)
    worked = series.time_until(t, hold, working.astype(np.int64), 2, edges)[1]
    reported = np.diff(np.searchsorted(t, edges, side="left")) > 0
    return DailyHours(
        np.array(days, dtype="datetime64[D]")[reported], (np.diff(worked) / 3600.0)[reported]
    )


def hours_from_states(
    times: Any,
    states: Any,
    working: Collection[str | int],
    *,
    zone: str = "Asia/Shanghai",
    hold_s: float = 60.0,
    limits: ActivityLimits = LIMITS,
) -> DailyHours:
    """Daily working hours of one device: time in any of the ``working`` states."""
    hold_s = series.hold_seconds(hold_s)
    t = series.timestamps(times, what="states", max_samples=limits.max_samples)
    raw = series.same_length(t, states, what="states")
    code = series.codes(raw, dict.fromkeys(working, 1))
    return _daily(t, code > 0, hold_s, zone)


def hours_from_values(
    times: Any,
    values: Any,
    *,
    threshold: float,
    min_duration_s: float = 0.0,
    zone: str = "Asia/Shanghai",
    hold_s: float = 60.0,
    limits: ActivityLimits = LIMITS,
) -> DailyHours:
    """Daily working hours of one device: time with ``value > threshold`` in unbroken runs of
    at least ``min_duration_s`` (a gap longer than ``hold_s`` breaks a run)."""
    hold_s = series.hold_seconds(hold_s)
    if not np.isfinite(threshold):
        raise InvalidInput(
            "the threshold must be a finite number",
            reason="apps_activity_threshold",
            params={"threshold": str(threshold)},
        )
    if not (np.isfinite(min_duration_s) and min_duration_s >= 0):
        raise InvalidInput(
            "the minimum duration must be 0 or more seconds",
            reason="apps_activity_min_duration",
            params={"value": str(min_duration_s)},
        )
    t = series.timestamps(times, what="values", max_samples=limits.max_samples)
    v = series.numbers(t, values, what="values")
    bad = np.flatnonzero(~np.isfinite(v))
    if bad.size:
        raise InvalidInput(
            f"value {int(bad[0])} is not a finite number",
            reason="apps_activity_value",
            params={"index": int(bad[0])},
        )
    above = v > threshold
    hold = series.held(t, hold_s)
    goes_on = above[1:] & above[:-1] & (np.diff(t) <= hold_s)  # sample i+1 continues i's run
    begins = above & ~np.concatenate([[False], goes_on])
    run = np.cumsum(
        begins, dtype=np.int32
    )  # the run a sample is in or follows; 0 before the first run
    length = np.bincount(run, weights=hold * above)
    working = above & (length[run] >= min_duration_s)
    return _daily(t, working, hold_s, zone)


@dataclass(frozen=True, slots=True)
class DeviceDays:
    """One device of the fleet: its class (设备类别), region (地区) and daily working hours."""

    device: str
    equipment_class: str
    region: str
    days: DailyHours


@dataclass(frozen=True, slots=True)
class ActivityConfig:
    """What counts as having worked, when a cell is thin, and what is left out."""

    min_working_hours: float = 1.0  # in the month, for 开工率
    min_devices: int = 5  # reporting devices below this: the cell is thin
    exclude_devices: frozenset[str] = field(default_factory=frozenset)
    exclude_classes: frozenset[str] = field(default_factory=frozenset)


@dataclass(frozen=True, slots=True)
class MonthFigures:
    """One cell in one month."""

    month: str
    reporting: int  # devices that reported (上报设备数), the denominator
    working: int  # of those, devices that worked at least the minimum (开工设备数)
    rate: float | None  # 开工率 = working / reporting
    mean_hours: float | None  # 平均工作小时 = workload / reporting
    workload_h: float  # 总工作量, device-hours
    thin: bool  # reporting < min_devices (样本不足)


@dataclass(frozen=True, slots=True)
class ActivityCell:
    """A class × region cell (``*`` = all) this month, last month and a year ago, with its
    环比 (``_mom``) and 同比 (``_yoy``) changes (``None`` when the earlier month has no data)."""

    equipment_class: str
    region: str
    current: MonthFigures
    previous_month: MonthFigures
    previous_year: MonthFigures
    rate_change_mom: float | None  # difference of rates (0.05 = 5 percentage points)
    rate_change_yoy: float | None
    mean_hours_change_mom: float | None  # relative: current / earlier − 1
    mean_hours_change_yoy: float | None
    workload_change_mom: float | None
    workload_change_yoy: float | None


@dataclass(frozen=True, slots=True)
class ActivityReport:
    """The activity index of one month, overall first, then per class, per region, per cell."""

    month: str
    cells: tuple[ActivityCell, ...]
    excluded: int  # devices left out by the exclusions

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready data."""
        return {
            "month": self.month,
            "excluded": self.excluded,
            "cells": [asdict(c) for c in self.cells],
        }


def _check(devices: Sequence[DeviceDays], config: ActivityConfig, limits: ActivityLimits) -> None:
    if len(devices) > limits.max_devices:
        raise InvalidInput(
            f"{len(devices)} devices; at most {limits.max_devices} are read at once",
            reason="apps_activity_too_many_devices",
            params={"count": len(devices), "max": limits.max_devices},
        )
    if not (np.isfinite(config.min_working_hours) and config.min_working_hours >= 0):
        raise InvalidInput(
            "the minimum working hours must be 0 or more",
            reason="apps_activity_min_hours",
            params={"value": str(config.min_working_hours)},
        )
    if config.min_devices < 1:
        raise InvalidInput(
            "the thin-cell threshold must be at least 1 device",
            reason="apps_activity_min_devices",
            params={"value": str(config.min_devices)},
        )
    seen: set[str] = set()
    for d in devices:
        if d.device in seen:
            raise InvalidInput(
                f"device {d.device} is listed twice",
                reason="apps_activity_device_duplicate",
                params={"device": d.device},
            )
        seen.add(d.device)
        days, hours = d.days.days, d.days.hours
        if (
            days.dtype.kind != "M"
            or days.shape != hours.shape
            or days.ndim != 1
            or days.size > limits.max_days
            or (days.size > 1 and bool(np.any(np.diff(days) <= np.timedelta64(0, "D"))))
        ):
            raise InvalidInput(
                f"device {d.device}: its days must be at most {limits.max_days} increasing "
                "dates, one per hours figure",
                reason="apps_activity_days",
                params={"device": d.device, "max": limits.max_days},
            )
        if not bool(np.all(np.isfinite(hours) & (hours >= 0) & (hours <= MAX_DAY_HOURS))):
            raise InvalidInput(
                f"device {d.device}: daily hours must be between 0 and {MAX_DAY_HOURS}",
                reason="apps_activity_hours",
                params={"device": d.device, "max": MAX_DAY_HOURS},
            )


def _month(year: int, month: int) -> np.datetime64:
    if not (1 <= month <= 12 and 1 <= year <= 9999):
        raise InvalidInput(
            f"{year}-{month} is not a month",
            reason="apps_activity_month",
            params={"year": year, "month": month},
        )
    return np.datetime64(f"{year:04d}-{month:02d}", "M")


def _figures(
    month: np.datetime64,
    groups: int,
    gid: npt.NDArray[np.int64],
    per_device: Floats,
    reported: Floats,
    worked: Floats,
    min_devices: int,
) -> list[MonthFigures]:
    reporting = np.bincount(gid, weights=reported, minlength=groups)
    working = np.bincount(gid, weights=worked, minlength=groups)
    workload = np.bincount(gid, weights=per_device, minlength=groups)
    out = []
    for g in range(groups):
        n = int(reporting[g])
        out.append(
            MonthFigures(
                month=str(month),
                reporting=n,
                working=int(working[g]),
                rate=float(working[g]) / n if n else None,
                mean_hours=float(workload[g]) / n if n else None,
                workload_h=float(workload[g]),
                thin=n < min_devices,
            )
        )
    return out


def _difference(now: float | None, then: float | None) -> float | None:
    return None if now is None or then is None else now - then


def _relative(now: float | None, then: float | None) -> float | None:
    return None if now is None or then is None or then <= 0 else now / then - 1.0


def activity_index(
    devices: Sequence[DeviceDays],
    year: int,
    month: int,
    *,
    config: ActivityConfig | None = None,
    limits: ActivityLimits = LIMITS,
) -> ActivityReport:
    """The activity index of ``year``-``month`` over ``devices``, with 环比 and 同比."""
    config = config or ActivityConfig()
    current = _month(year, month)
    _check(devices, config, limits)
    kept = [
        d
        for d in devices
        if d.device not in config.exclude_devices
        and d.equipment_class not in config.exclude_classes
    ]
    n = len(kept)
    classes, ci = np.unique(
        np.array([d.equipment_class for d in kept], dtype=str), return_inverse=True
    )
    regions, ri = np.unique(np.array([d.region for d in kept], dtype=str), return_inverse=True)
    owner = np.repeat(np.arange(n), [d.days.days.size for d in kept])
    if n:
        months = np.concatenate([d.days.days for d in kept]).astype("datetime64[M]")
        hours = np.concatenate([d.days.hours for d in kept])
    else:
        months, hours = np.zeros(0, dtype="datetime64[M]"), np.zeros(0)
    # the cells: all, per class, per region, per class × region present
    pairs = sorted({(int(c), int(r)) for c, r in zip(ci.tolist(), ri.tolist(), strict=True)})
    keys = [(ALL, ALL)] + [(str(c), ALL) for c in classes] + [(ALL, str(r)) for r in regions]
    keys += [(str(classes[c]), str(regions[r])) for c, r in pairs]
    levels = [
        (np.zeros(n, dtype=np.int64), 1),
        (ci.astype(np.int64), classes.size),
        (ri.astype(np.int64), regions.size),
        (
            np.searchsorted(
                np.array([c * regions.size + r for c, r in pairs], dtype=np.int64),
                ci * regions.size + ri,
            ),
            len(pairs),
        ),
    ]
    by_month: list[list[MonthFigures]] = []
    for when in (current, current - 1, current - 12):
        sel = months == when
        per_device = np.bincount(owner[sel], weights=hours[sel], minlength=n).astype(np.float64)
        reported = (np.bincount(owner[sel], minlength=n) > 0).astype(np.float64)
        worked = reported * (per_device >= config.min_working_hours)
        figs: list[MonthFigures] = []
        for gid, groups in levels:
            figs += _figures(when, groups, gid, per_device, reported, worked, config.min_devices)
        by_month.append(figs)
    cells = tuple(
        ActivityCell(
            equipment_class=cls,
            region=region,
            current=now,
            previous_month=mom,
            previous_year=yoy,
            rate_change_mom=_difference(now.rate, mom.rate),
            rate_change_yoy=_difference(now.rate, yoy.rate),
            mean_hours_change_mom=_relative(now.mean_hours, mom.mean_hours),
            mean_hours_change_yoy=_relative(now.mean_hours, yoy.mean_hours),
            workload_change_mom=_relative(
                now.workload_h if mom.reporting else None, mom.workload_h if mom.reporting else None
            ),
            workload_change_yoy=_relative(
                now.workload_h if yoy.reporting else None, yoy.workload_h if yoy.reporting else None
            ),
        )
        for (cls, region), now, mom, yoy in zip(keys, *by_month, strict=True)
    )
    return ActivityReport(month=str(current), cells=cells, excluded=len(devices) - n)
