"""OEE per ISO 22400-2 (indunet.apps.builtin.oee): worked examples computed by hand below,
the edge cases (empty series, one state, gaps, an order across midnight, zero output) and bad
input refused with its reason."""

from __future__ import annotations

import json
import time as clock
from datetime import datetime, time
from zoneinfo import ZoneInfo

import numpy as np
import pytest

from indunet.apps.builtin.oee import (
    OeeConfig,
    OeeLimits,
    Order,
    Shift,
    TimeElement,
    oee_report,
)
from indunet.core.errors import InvalidInput

SH = ZoneInfo("Asia/Shanghai")
MIN = 60.0
HOUR = 3600.0


def at(day: int, hour: int, minute: int = 0) -> float:
    """An instant of December 2026, Shanghai time."""
    return datetime(2026, 12, day, hour, minute, tzinfo=SH).timestamp()


# -- a worked example: one order within one shift -------------------------------------------------

# Order O1 runs 08:00–10:00 on 7 December (7,200 s), PBT 7,200 s, PRI 30 s per item. The
# machine reports only when its state changes; hold 1 h, so each state lasts until the next:
#   08:00 setup      → 08:20   AUST  1,200 s
#   08:20 running    → 09:10   APT   3,000 s
#   09:10 breakdown  → 09:25   ADOT    900 s
#   09:25 running    → 09:55   APT   1,800 s   (APT = 4,800 s)
#   09:55 idle       → 10:00   ADET    300 s
# Counts (produced, scrap): 08:25 (10, 2), 09:00 (70, 1), 09:30 (10, 2), 09:50 (60, 1):
#   PQ = 150, SQ = 6, GQ = 144. Start-ups (window 600 s): the order start 08:00, running again
#   after setup at 08:20 and after the breakdown at 09:25, so the scrap at 08:25 and 09:30 is
#   start-up rejects (4), the rest process defects (2).
# Availability = APT/PBT = 4,800/7,200 = 2/3; effectiveness = PRI·PQ/APT = 30·150/4,800 =
# 0.9375; quality rate = GQ/PQ = 144/150 = 0.96; OEE = 2/3 · 0.9375 · 0.96 = 0.6.
# Losses: breakdowns 900 s, setup 1,200 s, small stops 300 s, reduced speed APT − PRI·PQ =
# 4,800 − 4,500 = 300 s, process defects 2 (60 s), start-up rejects 4 (120 s).
# Check: PRI·GQ = 30·144 = 4,320 s = OEE·PBT = 0.6·7,200.
STATES = ["setup", "running", "breakdown", "running", "idle"]
TIMES = [at(7, 8), at(7, 8, 20), at(7, 9, 10), at(7, 9, 25), at(7, 9, 55)]
O1 = Order("O1", "bracket", at(7, 8), at(7, 10), pri_s=30, pbt_s=7200)
COUNTS = {
    "count_times": [at(7, 8, 25), at(7, 9), at(7, 9, 30), at(7, 9, 50)],
    "produced": [10, 70, 10, 60],
    "scrap": [2, 1, 2, 1],
}
CHANGES = OeeConfig(hold_s=HOUR)


def test_the_worked_example_of_one_order() -> None:
    report = oee_report(TIMES, STATES, [O1], **COUNTS, config=CHANGES)
    f = report.total
    assert (f.pbt_s, f.apt_s, f.setup_s, f.down_s, f.delay_s) == (7200, 4800, 1200, 900, 300)
    assert (f.unknown_s, f.unaccounted_s, f.planned_down_s) == (0, 0, 0)
    assert (f.pq, f.gq, f.sq) == (150, 144, 6)
    assert f.availability == pytest.approx(2 / 3)
    assert f.effectiveness == pytest.approx(0.9375)
    assert f.quality_rate == pytest.approx(0.96)
    assert f.oee == pytest.approx(0.6)
    assert f.oee * f.pbt_s == pytest.approx(O1.pri_s * f.gq)
    loss = f.losses
    assert (loss.breakdowns_s, loss.setup_adjustments_s, loss.small_stops_s) == (900, 1200, 300)
    assert loss.reduced_speed_s == pytest.approx(300)
    assert (loss.process_defects, loss.process_defects_s) == (2, 60)
    assert (loss.startup_rejects, loss.startup_rejects_s) == (4, 120)
    # one order, inside shift A (08:00–16:00) of the 7th
    assert [(g.kind, g.key, g.item) for g in report.orders] == [("order", "O1", "bracket")]
    assert [g.key for g in report.shifts] == ["2026-12-07/A"]
    assert [g.key for g in report.days] == ["2026-12-07"]
    assert report.shifts[0].figures == report.days[0].figures == f
    assert (report.unassigned_pq, report.unassigned_sq) == (0, 0)


def test_the_report_is_json_ready() -> None:
    data = oee_report(TIMES, STATES, [O1], **COUNTS, config=CHANGES).as_dict()
    assert json.loads(json.dumps(data)) == data
    assert data["orders"][0]["key"] == "O1" and data["orders"][0]["item"] == "bracket"
    assert data["total"]["losses"]["startup_rejects"] == 4
    assert data["zone"] == "Asia/Shanghai"


def test_without_a_startup_window_all_scrap_is_process_defects() -> None:
    config = OeeConfig(hold_s=HOUR, startup_window_s=0)
    loss = oee_report(TIMES, STATES, [O1], **COUNTS, config=config).total.losses
    assert (loss.process_defects, loss.startup_rejects) == (6, 0)


# -- an order across midnight, cut per shift and per day -------------------------------------------

# Order N1 runs 22:00 on the 7th to 02:00 on the 8th (14,400 s), PBT 14,400 s, PRI 60 s.
#   22:00 running → 23:00, 23:00 idle → 00:30, 00:30 running → 02:00 (hold 2 h).
# Shift B of the 7th (16:00–24:00) holds 22:00–24:00: APT 3,600, ADET 3,600, PBT 7,200.
# Shift C of the 8th (00:00–08:00) holds 00:00–02:00: ADET 1,800, APT 5,400, PBT 7,200.
# Counts: 22:50 (50, 0), 01:00 (80, 0), 01:59 (10, 1).
#   7th: A = 3,600/7,200 = 0.5, E = 60·50/3,600 = 5/6, Q = 1, OEE = 5/12.
#   8th: A = 5,400/7,200 = 0.75, E = 60·90/5,400 = 1, Q = 89/90, OEE = 0.75·89/90.
#   Order: A = 9,000/14,400 = 0.625, E = 60·140/9,000, Q = 139/140,
#          OEE = PRI·GQ/PBT = 60·139/14,400.
N1 = Order("N1", "shaft", at(7, 22), at(8, 2), pri_s=60, pbt_s=14_400)
NIGHT_TIMES = [at(7, 22), at(7, 23), at(8, 0, 30), at(8, 2)]
NIGHT_STATES = ["running", "idle", "running", "idle"]
NIGHT_COUNTS = {
    "count_times": [at(7, 22, 50), at(8, 1), at(8, 1, 59)],
    "produced": [50, 80, 10],
    "scrap": [0, 0, 1],
}


def test_an_order_across_midnight_is_cut_per_shift_and_per_day() -> None:
    config = OeeConfig(hold_s=2 * HOUR)
    report = oee_report(NIGHT_TIMES, NIGHT_STATES, [N1], **NIGHT_COUNTS, config=config)
    assert [g.key for g in report.shifts] == ["2026-12-07/B", "2026-12-08/C"]
    assert [g.key for g in report.days] == ["2026-12-07", "2026-12-08"]
    seventh, eighth = (g.figures for g in report.days)
    assert (seventh.apt_s, seventh.delay_s, seventh.pbt_s, seventh.pq) == (3600, 3600, 7200, 50)
    assert (eighth.apt_s, eighth.delay_s, eighth.pbt_s, eighth.pq) == (5400, 1800, 7200, 90)
    assert seventh.oee == pytest.approx(5 / 12)
    assert eighth.oee == pytest.approx(0.75 * 89 / 90)
    assert [g.figures for g in report.shifts] == [seventh, eighth]
    whole = report.orders[0].figures
    assert whole.availability == pytest.approx(0.625)
    assert whole.effectiveness == pytest.approx(60 * 140 / 9000)
    assert whole.oee == pytest.approx(60 * 139 / 14_400)
    assert (seventh.start, seventh.end, eighth.start, eighth.end) == (
        at(7, 22),
        at(8, 0),
        at(8, 0),
        at(8, 2),
    )


def test_pbt_is_shared_in_proportion_to_the_time_in_each_piece() -> None:
    # PBT 12,000 s of a 14,400 s window: each 7,200 s half gets 12,000 · 7,200/14,400 = 6,000 s
    order = Order("N2", "shaft", at(7, 22), at(8, 2), pri_s=60, pbt_s=12_000)
    report = oee_report(NIGHT_TIMES, NIGHT_STATES, [order], config=OeeConfig(hold_s=2 * HOUR))
    assert [g.figures.pbt_s for g in report.days] == [6000, 6000]
    # planned downtime in the plan but not taken: PBT − APT − ADET = 6,000 − 7,200 on the 7th
    assert report.days[0].figures.unaccounted_s == pytest.approx(-1200)


def test_shifts_are_configurable_and_a_night_shift_belongs_to_the_day_it_begins() -> None:
    config = OeeConfig(hold_s=2 * HOUR, shifts=(Shift("day", time(8)), Shift("night", time(20))))
    report = oee_report(NIGHT_TIMES, NIGHT_STATES, [N1], config=config)
    assert [g.key for g in report.shifts] == ["2026-12-07/night"]
    assert report.shifts[0].figures.apt_s == 9000


# -- gaps, empty series, one state, zero output ---------------------------------------------------


# Order G1 08:00–09:00 (3,600 s), PBT 3,000 s (MES planned a 10-minute break); hold 600 s.
#   08:00 running holds to 08:10 (600 s APT), then no data until 08:30: 1,200 s unknown
#   08:30 running holds to 08:40 (600 s APT), no data until 08:45: 300 s unknown
#   08:45 breakdown holds to 08:55 (600 s ADOT), no data until 09:00: 300 s unknown
# APT 1,200, ADOT 600, unknown 1,800; availability = 1,200/3,000 = 0.4. No counts: PQ = 0,
# effectiveness = 0/1,200 = 0, quality rate undefined, OEE 0 (a factor is 0).
# Unaccounted = PBT − APT − ADOT − unknown = 3,000 − 1,200 − 600 − 1,800 = −600.
def test_gaps_are_unknown_time_never_a_state() -> None:
    order = Order("G1", "pin", at(7, 8), at(7, 9), pri_s=10, pbt_s=3000)
    times = [at(7, 8), at(7, 8, 30), at(7, 8, 45)]
    report = oee_report(
        times, ["running", "running", "breakdown"], [order], config=OeeConfig(hold_s=600)
    )
    f = report.total
    assert (f.apt_s, f.down_s, f.unknown_s, f.unaccounted_s) == (1200, 600, 1800, -600)
    assert f.availability == pytest.approx(0.4)
    assert (f.effectiveness, f.quality_rate, f.oee) == (0.0, None, 0.0)


def test_an_empty_series_is_all_unknown() -> None:
    f = oee_report([], [], [O1]).total
    assert (f.apt_s, f.unknown_s, f.availability, f.oee) == (0, 7200, 0.0, 0.0)
    assert f.effectiveness is None and f.quality_rate is None


def test_all_one_state_and_counts_outside_every_order() -> None:
    # running at 1 Hz through the whole order: APT = 7,200 s; 100 pieces at 30 s = 3,000 s
    # of planned runtime: effectiveness 3,000/7,200; 5 pieces after the order are unassigned
    times = np.arange(at(7, 8), at(7, 10))
    counts = {"count_times": [at(7, 9), at(7, 11)], "produced": [100, 5], "scrap": [0, 1]}
    report = oee_report(times, np.full(times.size, "running"), [O1], **counts)
    f = report.total
    assert (f.apt_s, f.unknown_s, f.availability, f.quality_rate) == (7200, 0, 1.0, 1.0)
    assert f.effectiveness == pytest.approx(3000 / 7200)
    assert (report.unassigned_pq, report.unassigned_sq) == (5, 1)


def test_zero_output_leaves_the_quality_rate_undefined() -> None:
    report = oee_report(TIMES, STATES, [O1], count_times=[at(7, 9)], produced=[0], config=CHANGES)
    f = report.total
    assert (f.pq, f.quality_rate, f.effectiveness, f.oee) == (0, None, 0.0, 0.0)


def test_no_orders_no_figures() -> None:
    report = oee_report(TIMES, STATES, [], count_times=[at(7, 9)], produced=[3], config=CHANGES)
    assert (report.orders, report.shifts, report.days) == ((), (), ())
    assert report.total.availability is None and report.unassigned_pq == 3


def test_integer_codes_with_a_mapping_table_and_offline_as_unknown() -> None:
    # PLC codes: 1 run, 2 stop for maintenance, 9 offline; 08:00–08:30 run, 08:30–09:00
    # maintenance, 09:00–10:00 offline (1 h hold)
    mapping = {1: TimeElement.APT, 2: TimeElement.PDOT, 9: TimeElement.UNKNOWN}
    times = [at(7, 8), at(7, 8, 30), at(7, 9)]
    config = OeeConfig(mapping=mapping, hold_s=HOUR)
    f = oee_report(times, np.array([1, 2, 9]), [O1], config=config).total
    assert (f.apt_s, f.planned_down_s, f.unknown_s) == (1800, 1800, 3600)


def test_a_day_at_one_hertz_is_quick() -> None:
    times = np.arange(at(7, 0), at(8, 0))
    codes = np.random.default_rng(7).integers(0, 4, times.size)
    mapping = {0: "apt", 1: "adet", 2: "aust", 3: "adot"}
    config = OeeConfig(mapping=mapping)  # type: ignore[arg-type]
    orders = [
        Order("D1", "x", at(7, 0), at(7, 12), 30, 40_000),
        Order("D2", "x", at(7, 12), at(8, 0), 30, 40_000),
    ]
    started = clock.perf_counter()
    report = oee_report(times, codes, orders, config=config)
    assert clock.perf_counter() - started < 1.0  # a few milliseconds when the machine is idle
    f = report.total
    assert f.apt_s + f.delay_s + f.setup_s + f.down_s == 86_400


# -- bad input, refused with its reason -----------------------------------------------------------


def reason_of(**kwargs: object) -> tuple[str | None, dict[str, object]]:
    args = {"times": TIMES, "states": STATES, "schedule": [O1], **COUNTS, "config": CHANGES}
    args.update(kwargs)
    with pytest.raises(InvalidInput) as caught:
        oee_report(**args)  # type: ignore[arg-type]
    return caught.value.reason, caught.value.params


def test_unsorted_timestamps_are_refused() -> None:
    times = [TIMES[0], TIMES[2], TIMES[1], *TIMES[3:]]
    assert reason_of(times=times) == ("apps_series_unsorted", {"what": "states", "index": 2})
    assert reason_of(times=[TIMES[0], TIMES[0], *TIMES[2:]])[0] == "apps_series_unsorted"


def test_a_state_without_a_time_element_is_refused() -> None:
    states = [*STATES[:-1], "cleaning"]
    assert reason_of(states=states) == ("apps_oee_unknown_state", {"state": "cleaning"})


def test_negative_quantities_and_scrap_above_output_are_refused() -> None:
    assert reason_of(produced=[10, -1, 10, 60]) == (
        "apps_oee_negative_quantity",
        {"what": "produced", "index": 1},
    )
    assert reason_of(scrap=[2, 1, 2, -1])[0] == "apps_oee_negative_quantity"
    assert reason_of(scrap=[11, 1, 2, 1])[0] == "apps_oee_scrap_above_produced"


def test_mismatched_lengths_are_refused() -> None:
    assert reason_of(states=STATES[:-1]) == (
        "apps_series_length_mismatch",
        {"what": "states", "times": 5, "values": 4},
    )
    assert reason_of(produced=[1, 2])[0] == "apps_series_length_mismatch"


def test_more_rows_than_the_bounds_are_refused() -> None:
    few = OeeLimits(max_samples=4, max_orders=1)
    with pytest.raises(InvalidInput) as caught:
        oee_report(TIMES, STATES, [O1], limits=few)
    assert caught.value.reason == "apps_series_too_long"
    assert caught.value.params == {"what": "states", "count": 5, "max": 4}
    with pytest.raises(InvalidInput) as caught:
        oee_report([], [], [O1, N1], limits=few)
    assert caught.value.reason == "apps_oee_too_many_orders"


@pytest.mark.parametrize(
    ("schedule", "reason"),
    [
        ([O1, O1], "apps_oee_order_duplicate"),
        ([Order("X", "i", at(7, 9), at(7, 8), 30, 60)], "apps_oee_order_window"),
        ([Order("X", "i", at(7, 8), at(7, 9), 0, 60)], "apps_oee_order_pri"),
        ([Order("X", "i", at(7, 8), at(7, 9), 30, 3601)], "apps_oee_order_pbt"),
        ([O1, Order("X", "i", at(7, 9), at(7, 11), 30, 60)], "apps_oee_orders_overlap"),
        ([Order("X", "i", at(1, 0), at(1, 0) + 401 * 86_400, 30, 60)], "apps_oee_span"),
    ],
)
def test_bad_schedules_are_refused(schedule: list[Order], reason: str) -> None:
    assert reason_of(schedule=schedule)[0] == reason


@pytest.mark.parametrize(
    ("config", "reason"),
    [
        (OeeConfig(zone="Mars/Olympus"), "apps_series_zone"),
        (OeeConfig(hold_s=0), "apps_series_hold"),
        (OeeConfig(startup_window_s=-1), "apps_oee_startup_window"),
        (OeeConfig(shifts=()), "apps_oee_shifts"),
        (OeeConfig(shifts=(Shift("A", time(8)), Shift("A", time(20)))), "apps_oee_shifts"),
    ],
)
def test_bad_settings_are_refused(config: OeeConfig, reason: str) -> None:
    assert reason_of(config=config)[0] == reason


def test_non_finite_timestamps_are_refused() -> None:
    assert reason_of(times=[*TIMES[:-1], float("nan")]) == (
        "apps_series_not_finite",
        {"what": "states", "index": 4},
    )


def test_a_mapping_to_no_time_element_and_text_quantities_are_refused() -> None:
    config = OeeConfig(mapping={"running": "fast"}, hold_s=HOUR)  # type: ignore[dict-item]
    assert reason_of(config=config) == ("apps_oee_mapping", {"state": "running", "element": "fast"})
    assert reason_of(produced=["ten", 70, 10, 60]) == (
        "apps_series_not_number",
        {"what": "produced"},
    )
