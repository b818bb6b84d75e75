"""The equipment activity index (indunet.apps.builtin.activity): daily working hours from
states and from a threshold rule, then 开工率, mean hours, workload, 环比 and 同比 per class
and region; worked examples computed by hand below, edge cases and bad input refused."""

from __future__ import annotations

import json
import time as clock
from datetime import datetime
from zoneinfo import ZoneInfo

import numpy as np
import pytest

from indunet.apps.builtin.activity import (
    ActivityConfig,
    ActivityLimits,
    DailyHours,
    DeviceDays,
    activity_index,
    hours_from_states,
    hours_from_values,
)
from indunet.core.errors import InvalidInput

SH = ZoneInfo("Asia/Shanghai")


def at(day: int, hour: int, minute: int = 0, month: int = 12) -> float:
    """An instant of 2026, Shanghai time."""
    return datetime(2026, month, day, hour, minute, tzinfo=SH).timestamp()


def days(*pairs: tuple[str, float]) -> DailyHours:
    return DailyHours(
        np.array([d for d, _ in pairs], dtype="datetime64[D]"),
        np.array([h for _, h in pairs], dtype=np.float64),
    )


def as_pairs(hours: DailyHours) -> list[tuple[str, float]]:
    return [(str(d), round(float(h), 6)) for d, h in zip(hours.days, hours.hours, strict=True)]


# -- daily working hours ----------------------------------------------------------------------------


def test_hours_from_states_split_at_local_midnight() -> None:
    # hold 2 h, so each state lasts until the next:
    #   7th 22:00 work → 23:30: 1.5 h on the 7th
    #   7th 23:30 idle → 8th 00:30: not working
    #   8th 00:30 work → 02:00: 1.5 h on the 8th; 02:00 off holds 2 h, not working
    times = [at(7, 22), at(7, 23, 30), at(8, 0, 30), at(8, 2)]
    hours = hours_from_states(times, ["work", "idle", "work", "off"], {"work"}, hold_s=7200)
    assert as_pairs(hours) == [("2026-12-07", 1.5), ("2026-12-08", 1.5)]


def test_the_day_is_the_configured_zones() -> None:
    # 8th 07:00 in Shanghai is the 7th 23:00 in UTC; work for 30 minutes
    times = [at(8, 7), at(8, 7, 30)]
    shanghai = hours_from_states(times, [1, 0], {1}, hold_s=3600)
    utc = hours_from_states(times, [1, 0], {1}, hold_s=3600, zone="UTC")
    assert as_pairs(shanghai) == [("2026-12-08", 0.5)]
    assert as_pairs(utc) == [("2026-12-07", 0.5)]


def test_a_day_when_the_clocks_go_back_has_25_hours() -> None:
    berlin = ZoneInfo("Europe/Berlin")
    start = datetime(2026, 10, 25, tzinfo=berlin).timestamp()
    end = datetime(2026, 10, 26, tzinfo=berlin).timestamp()
    times = np.arange(start, end, 600.0)  # every 10 minutes, all working
    hours = hours_from_states(
        times, np.ones(times.size, dtype=int), {1}, zone="Europe/Berlin", hold_s=600
    )
    assert as_pairs(hours) == [("2026-10-25", 25.0)]


def test_gaps_are_not_working_time() -> None:
    # hold 10 min: 08:00 work holds to 08:10, 09:00 work holds to 09:10: 20 min = 1/3 h
    hours = hours_from_states([at(7, 8), at(7, 9)], ["work", "work"], {"work"}, hold_s=600)
    assert as_pairs(hours) == [("2026-12-07", round(1 / 3, 6))]


def test_a_day_without_a_sample_is_not_reported() -> None:
    # 23:55 work holds 10 min: 5 min on the 7th; the 5 min after midnight fall on a day the
    # device sent nothing, which is therefore not a reported day
    hours = hours_from_states([at(7, 23, 55)], ["work"], {"work"}, hold_s=600)
    assert as_pairs(hours) == [("2026-12-07", round(5 / 60, 6))]


def test_an_empty_series_reports_no_day() -> None:
    hours = hours_from_states([], [], {"work"})
    assert hours.days.size == 0 and hours.hours.size == 0
    assert hours.as_dict() == {"days": [], "hours": []}


def test_hours_from_a_threshold_rule() -> None:
    # one sample a minute from 08:00, hold 60 s, working when value > 10 for at least 300 s:
    #   minutes 1–3 at 12: a run of 3 × 60 = 180 s < 300, not working
    #   minute 4 at 10: not above the threshold (it must be strictly above)
    #   minutes 5–10 at 15: a run of 6 × 60 = 360 s ≥ 300: 0.1 h
    values = [0, 12, 12, 12, 10, 15, 15, 15, 15, 15, 15, 0]
    times = at(7, 8) + 60.0 * np.arange(len(values))
    hours = hours_from_values(times, values, threshold=10, min_duration_s=300)
    assert as_pairs(hours) == [("2026-12-07", 0.1)]


def test_a_gap_breaks_a_run() -> None:
    # minutes 0–2 and 12–14 above: two runs of 180 s, neither reaches 240 s; joined they would
    values = [20, 20, 20, 20, 20, 20]
    times = at(7, 8) + 60.0 * np.array([0, 1, 2, 12, 13, 14])
    hours = hours_from_values(times, values, threshold=10, min_duration_s=240)
    assert as_pairs(hours) == [("2026-12-07", 0.0)]
    joined = hours_from_values(
        at(7, 8) + 60.0 * np.arange(6), values, threshold=10, min_duration_s=240
    )
    assert as_pairs(joined) == [("2026-12-07", 0.1)]


def test_a_day_at_one_hertz_is_quick() -> None:
    times = np.arange(at(7, 0), at(8, 0))
    rng = np.random.default_rng(3)
    states = rng.integers(0, 3, times.size)
    values = rng.random(times.size)
    started = clock.perf_counter()
    by_state = hours_from_states(times, states, {1})
    by_value = hours_from_values(times, values, threshold=0.5, min_duration_s=3)
    assert clock.perf_counter() - started < 1.0  # a few milliseconds when the machine is idle
    assert by_state.hours.size == by_value.hours.size == 1
    assert 0 < by_state.hours[0] < 24 and 0 < by_value.hours[0] < 24


# -- the index ------------------------------------------------------------------------------------

# December 2026, with November 2026 (环比) and December 2025 (同比); a device worked when it has
# at least 1 h in the month.
#   E1 excavator/east: Dec 8 + 6 = 14 h; Nov 10 h; Dec 2025 5 h
#   E2 excavator/east: Dec 0.5 h (reported, not working); Nov none; Dec 2025 4 h
#   E3 excavator/west: Dec 10 h; Nov 0 h (reported, not working); Dec 2025 none
#   E4 excavator/west: Dec none (not reported: not in the denominator); Nov 8 h
#   C1 crane/east:     Dec 3 h; Nov 2 h
#   X1 (excluded device) and M1 (a mixer, excluded class): Dec 20 h and 5 h, counted nowhere
FLEET = [
    DeviceDays(
        "E1",
        "excavator",
        "east",
        days(("2025-12-05", 5), ("2026-11-10", 10), ("2026-12-01", 8), ("2026-12-02", 6)),
    ),
    DeviceDays("E2", "excavator", "east", days(("2025-12-09", 4), ("2026-12-03", 0.5))),
    DeviceDays("E3", "excavator", "west", days(("2026-11-01", 0), ("2026-12-01", 10))),
    DeviceDays("E4", "excavator", "west", days(("2026-11-15", 8))),
    DeviceDays("C1", "crane", "east", days(("2026-11-20", 2), ("2026-12-20", 3))),
    DeviceDays("X1", "excavator", "east", days(("2026-12-01", 20))),
    DeviceDays("M1", "mixer", "east", days(("2026-12-01", 5))),
]
EXCLUDE = ActivityConfig(
    min_devices=2, exclude_devices=frozenset({"X1"}), exclude_classes=frozenset({"mixer"})
)


def cells() -> dict[tuple[str, str], object]:
    report = activity_index(FLEET, 2026, 12, config=EXCLUDE)
    assert report.month == "2026-12" and report.excluded == 2
    return {(c.equipment_class, c.region): c for c in report.cells}


def test_the_cells_overall_per_class_per_region_and_per_pair() -> None:
    report = activity_index(FLEET, 2026, 12, config=EXCLUDE)
    assert [(c.equipment_class, c.region) for c in report.cells] == [
        ("*", "*"),
        ("crane", "*"),
        ("excavator", "*"),
        ("*", "east"),
        ("*", "west"),
        ("crane", "east"),
        ("excavator", "east"),
        ("excavator", "west"),
    ]


def test_the_worked_example_excavators_in_the_east() -> None:
    # Dec: E1, E2 reported (2); E1 worked (14 ≥ 1), E2 did not (0.5): 开工率 1/2;
    #      workload 14.5 device-hours, mean 14.5/2 = 7.25 h
    # Nov: E1 only: 1/1, 10 h, mean 10. Dec 2025: E1, E2: 2/2, 9 h, mean 4.5.
    # 环比: rate 0.5 − 1 = −0.5; mean 7.25/10 − 1 = −0.275; workload 14.5/10 − 1 = 0.45
    # 同比: rate −0.5; mean 7.25/4.5 − 1; workload 14.5/9 − 1 (the same, two devices each)
    cell = cells()[("excavator", "east")]
    now = cell.current  # type: ignore[attr-defined]
    assert (now.reporting, now.working, now.rate, now.workload_h, now.mean_hours, now.thin) == (
        2,
        1,
        0.5,
        14.5,
        7.25,
        False,
    )
    assert (cell.previous_month.reporting, cell.previous_month.rate) == (1, 1.0)  # type: ignore[attr-defined]
    assert cell.previous_year.workload_h == 9  # type: ignore[attr-defined]
    assert cell.rate_change_mom == pytest.approx(-0.5)  # type: ignore[attr-defined]
    assert cell.rate_change_yoy == pytest.approx(-0.5)  # type: ignore[attr-defined]
    assert cell.mean_hours_change_mom == pytest.approx(-0.275)  # type: ignore[attr-defined]
    assert cell.mean_hours_change_yoy == pytest.approx(7.25 / 4.5 - 1)  # type: ignore[attr-defined]
    assert cell.workload_change_mom == pytest.approx(0.45)  # type: ignore[attr-defined]
    assert cell.workload_change_yoy == pytest.approx(14.5 / 9 - 1)  # type: ignore[attr-defined]


def test_the_denominator_is_the_devices_that_reported() -> None:
    # excavators in the west, Dec: E3 reported, E4 did not: 1/1 working, 10 h, mean 10 (thin)
    # Nov: E3 (0 h) and E4 (8 h): 1 of 2 working, 8 h, mean 4; Dec 2025: nobody reported
    cell = cells()[("excavator", "west")]
    now, nov, last_year = cell.current, cell.previous_month, cell.previous_year  # type: ignore[attr-defined]
    assert (now.reporting, now.working, now.rate, now.mean_hours, now.thin) == (
        1,
        1,
        1.0,
        10.0,
        True,
    )
    assert (nov.reporting, nov.working, nov.rate, nov.mean_hours) == (2, 1, 0.5, 4.0)
    assert (last_year.reporting, last_year.rate, last_year.mean_hours) == (0, None, None)
    assert cell.rate_change_mom == pytest.approx(0.5)  # type: ignore[attr-defined]
    assert cell.mean_hours_change_mom == pytest.approx(1.5)  # type: ignore[attr-defined]
    assert cell.rate_change_yoy is None and cell.workload_change_yoy is None  # type: ignore[attr-defined]


def test_the_roll_ups() -> None:
    # everything, Dec: E1, E2, E3, C1 report (4); E1, E3, C1 worked (3): 0.75;
    #   workload 14 + 0.5 + 10 + 3 = 27.5, mean 6.875
    # Nov: E1, E3, E4, C1 report (4); E1, E4, C1 worked (3): 0.75; 10 + 0 + 8 + 2 = 20 h
    # 环比: rate 0; workload 27.5/20 − 1 = 0.375
    every = cells()[("*", "*")]
    now = every.current  # type: ignore[attr-defined]
    assert (now.reporting, now.working, now.rate, now.workload_h, now.mean_hours) == (
        4,
        3,
        0.75,
        27.5,
        6.875,
    )
    assert every.rate_change_mom == pytest.approx(0)  # type: ignore[attr-defined]
    assert every.workload_change_mom == pytest.approx(0.375)  # type: ignore[attr-defined]
    excavators = cells()[("excavator", "*")].current  # type: ignore[attr-defined]
    assert (excavators.reporting, excavators.working, excavators.workload_h) == (3, 2, 24.5)
    east = cells()[("*", "east")].current  # type: ignore[attr-defined]
    assert (east.reporting, east.working, east.workload_h) == (3, 2, 17.5)


def test_cells_below_five_reporting_devices_are_thin_by_default() -> None:
    config = ActivityConfig(exclude_devices=frozenset({"X1"}), exclude_classes=frozenset({"mixer"}))
    report = activity_index(FLEET, 2026, 12, config=config)
    assert all(c.current.thin for c in report.cells)
    assert activity_index(FLEET, 2026, 12).cells[0].current.reporting == 6  # nothing excluded
    assert not activity_index(FLEET, 2026, 12).cells[0].current.thin


def test_the_minimum_working_hours_is_configurable() -> None:
    strict = ActivityConfig(min_working_hours=12, exclude_devices=frozenset({"X1", "M1"}))
    now = activity_index(FLEET, 2026, 12, config=strict).cells[0].current
    assert (now.reporting, now.working) == (4, 1)  # only E1's 14 h reach 12 h


def test_no_devices_and_json() -> None:
    report = activity_index([], 2026, 1)
    assert [(c.equipment_class, c.region) for c in report.cells] == [("*", "*")]
    assert report.cells[0].current.rate is None and report.cells[0].previous_year.month == "2025-01"
    assert report.cells[0].previous_month.month == "2025-12"
    data = activity_index(FLEET, 2026, 12, config=EXCLUDE).as_dict()
    assert json.loads(json.dumps(data)) == data


# -- bad input, refused with its reason -----------------------------------------------------------


def refused(call: object, *args: object, **kwargs: object) -> tuple[str | None, dict[str, object]]:
    with pytest.raises(InvalidInput) as caught:
        call(*args, **kwargs)  # type: ignore[operator]
    return caught.value.reason, caught.value.params


def test_bad_series_are_refused() -> None:
    assert refused(hours_from_states, [at(7, 9), at(7, 8)], [1, 1], {1}) == (
        "apps_series_unsorted",
        {"what": "states", "index": 1},
    )
    assert refused(hours_from_states, [at(7, 8)], [1, 1], {1})[0] == "apps_series_length_mismatch"
    few = ActivityLimits(max_samples=2)
    assert refused(hours_from_states, [1.0, 2.0, 3.0], [1, 1, 1], {1}, limits=few) == (
        "apps_series_too_long",
        {"what": "states", "count": 3, "max": 2},
    )
    assert refused(hours_from_states, [1.0], [1], {1}, zone="Nowhere/Land")[0] == "apps_series_zone"
    assert refused(hours_from_values, [1.0, 2.0], [1.0, float("nan")], threshold=0) == (
        "apps_activity_value",
        {"index": 1},
    )
    assert (
        refused(hours_from_values, [1.0], [1.0], threshold=float("inf"))[0]
        == "apps_activity_threshold"
    )
    assert (
        refused(hours_from_values, [1.0], [1.0], threshold=0, min_duration_s=-1)[0]
        == "apps_activity_min_duration"
    )


def test_bad_fleets_are_refused() -> None:
    twice = [FLEET[0], FLEET[0]]
    assert refused(activity_index, twice, 2026, 12) == (
        "apps_activity_device_duplicate",
        {"device": "E1"},
    )
    assert refused(activity_index, FLEET, 2026, 13)[0] == "apps_activity_month"
    over = [DeviceDays("Z", "c", "r", days(("2026-12-01", 26)))]
    assert refused(activity_index, over, 2026, 12)[0] == "apps_activity_hours"
    negative = [DeviceDays("Z", "c", "r", days(("2026-12-01", -1)))]
    assert refused(activity_index, negative, 2026, 12)[0] == "apps_activity_hours"
    backwards = [DeviceDays("Z", "c", "r", days(("2026-12-02", 1), ("2026-12-01", 1)))]
    assert refused(activity_index, backwards, 2026, 12)[0] == "apps_activity_days"
    limits = ActivityLimits(max_devices=3)
    assert refused(activity_index, FLEET, 2026, 12, limits=limits) == (
        "apps_activity_too_many_devices",
        {"count": 7, "max": 3},
    )
    assert (
        refused(activity_index, FLEET, 2026, 12, config=ActivityConfig(min_devices=0))[0]
        == "apps_activity_min_devices"
    )
    assert (
        refused(activity_index, FLEET, 2026, 12, config=ActivityConfig(min_working_hours=-1))[0]
        == "apps_activity_min_hours"
    )
