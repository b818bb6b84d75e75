"""Energy management (能耗): meter balance, register and power energy, intensity, baseline and
savings, and 峰谷平 time-of-use costs, each worked by hand; bad input refused with a reason."""

from __future__ import annotations

import datetime as dt
import math

import pytest

from indunet.apps.builtin import energy, tariff
from indunet.core.errors import InvalidInput

CST = dt.timezone(dt.timedelta(hours=8))


def at(day: int, hour: int, minute: int = 0) -> float:
    return dt.datetime(2024, 7, day, hour, minute, tzinfo=CST).timestamp()


def test_unmetered_remainder_by_hand() -> None:
    # main 100 = A 60 + B 30 + 10 unmetered; A 60 = A1 45 + 15 unmetered
    tree = energy.meter_tree({"main": None, "A": "main", "B": "main", "A1": "A"})
    got = tree.balance({"main": 100, "A": 60, "B": 30, "A1": 45})
    assert [r.as_dict() for r in got] == [
        {"meter": "A", "energy": 60.0, "children": 45.0, "unmetered": 15.0},
        {"meter": "main", "energy": 100.0, "children": 90.0, "unmetered": 10.0},
    ]


def test_register_rollover_and_reset_by_hand() -> None:
    # six-digit register: 999990 → 999998: 8; → 4: rolled over, 1000000 − 999998 + 4 = 6;
    # → 10: 6. Total 20
    rolled = energy.register_energy([0, 900, 1800, 2700], [999990, 999998, 4, 10], 1_000_000)
    assert rolled.energy.tolist() == [8, 6, 6] and rolled.total == 20
    assert rolled.events == ((1, "rollover"),)
    # no rollover given: 100 → 150: 50; → 20: reset, 20 counted from zero; → 30: 10. Total 80
    reset = energy.register_energy([0, 900, 1800, 2700], [100, 150, 20, 30])
    assert reset.energy.tolist() == [50, 20, 10] and reset.events == ((1, "reset"),)
    # a fall in the middle of the range is a reset even with a rollover: 500000 → 20
    mid = energy.register_energy([0, 900], [500_000, 20], 1_000_000)
    assert mid.energy.tolist() == [20] and mid.events == ((0, "reset"),)


def test_power_integration_by_hand() -> None:
    # 10, 20, 30 kW half an hour apart: (10 + 20)/2·0.5 + (20 + 30)/2·0.5 = 7.5 + 12.5 = 20 kWh
    assert energy.power_energy([0, 1800, 3600], [10, 20, 30]).energy.tolist() == [7.5, 12.5]
    # a 2-hour hole with max_gap 1 h counts nothing: 7.5 kWh and a gap
    holed = energy.power_energy([0, 1800, 9000], [10, 20, 30], max_gap_s=3600)
    assert holed.total == 7.5 and holed.events == ((1, "gap"),)


def test_intensity_by_hand() -> None:
    # 100 kWh / 20 units = 5; nothing made: None; 0 kWh / 5 = 0; overall 150/25 = 6
    got = energy.intensity([100, 50, 0], [20, 0, 5])
    assert got.as_dict() == {"per_period": [5.0, None, 0.0], "overall": 6.0}


def test_baseline_and_savings_by_hand() -> None:
    # baseline E = 10 + 2·P at P = 0..3 exactly → β = (10, 2), R² = 1.
    # reporting P = 5, 5: predicted 20 each; actual 18, 19: savings 2 + 1 = 3 kWh, 3/40 = 7.5 %
    base = energy.fit_baseline([10, 12, 14, 16], [0, 1, 2, 3])
    assert base.coefficients == pytest.approx((10, 2)) and base.r2 == pytest.approx(1)
    saved = energy.savings(base, [18, 19], [5, 5])
    assert saved.total == pytest.approx(3) and saved.share == pytest.approx(0.075)
    assert saved.per_period == pytest.approx((2, 1))
    # with degree-days: E = 5 + P + 0.5·DD; P = 1..5, DD = 0, 2, 1, 4, 3 → E = 6, 8, 8.5, 11, 11.5
    dd = energy.fit_baseline([6, 8, 8.5, 11, 11.5], [1, 2, 3, 4, 5], [0, 2, 1, 4, 3])
    assert dd.coefficients == pytest.approx((5, 1, 0.5))
    # reporting P = 4, DD = 2: predicted 5 + 4 + 1 = 10; actual 9 → 1 kWh saved
    assert energy.savings(dd, [9], [4], [2]).total == pytest.approx(1)


# 谷 23:00–07:00 0.30; 平 07:00–10:00, 15:00–18:00, 21:00–23:00 0.60;
# 峰 10:00–15:00, 18:00–19:00, 20:00–21:00 1.00; 尖峰 19:00–20:00 1.20 (yuan/kWh)
PERIODS = [
    ("23:00", "07:00", "valley"),
    ("07:00", "10:00", "flat"),
    ("10:00", "15:00", "peak"),
    ("15:00", "18:00", "flat"),
    ("18:00", "19:00", "peak"),
    ("19:00", "20:00", "sharp"),
    ("20:00", "21:00", "peak"),
    ("21:00", "23:00", "flat"),
]
PRICES = {"sharp": 1.2, "peak": 1.0, "flat": 0.6, "valley": 0.3}


def test_time_of_use_cost_split_by_hand() -> None:
    rate = tariff.tariff(PERIODS, PRICES)
    # 06:00–08:00, 10 kWh: 5 kWh 谷 (1.50) + 5 kWh 平 (3.00) = 4.50 yuan
    # 19:30–20:30, 6 kWh: 3 kWh 尖峰 (3.60) + 3 kWh 峰 (3.00)
    # 23:00–01:00 over midnight, 4 kWh: 2 kWh 谷 on the 1st (0.60), 2 kWh 谷 on the 2nd (0.60)
    times = [at(1, 6), at(1, 8), at(1, 19, 30), at(1, 20, 30), at(1, 23), at(2, 1)]
    days = tariff.daily_cost(rate, times, [10, 0, 6, 0, 4])
    first, second = (d.as_dict() for d in days)
    assert first["date"] == "2024-07-01" and second["date"] == "2024-07-02"
    assert first["energy"] == pytest.approx({"sharp": 3, "peak": 3, "flat": 5, "valley": 7})
    assert first["cost"] == pytest.approx({"sharp": 3.6, "peak": 3, "flat": 3, "valley": 2.1})
    assert first["total_cost"] == pytest.approx(11.7)
    assert second["energy"]["valley"] == pytest.approx(2) and second["total_energy"] == 2


def test_a_tariff_without_sharp_needs_no_sharp_price() -> None:
    plain = [("22:00", "08:00", "valley"), ("08:00", "22:00", "peak")]
    rate = tariff.tariff(plain, {"peak": 1.0, "valley": 0.4})
    # 21:00–23:00 local, 2 kWh: 1 kWh 峰 (1.0) + 1 kWh 谷 (0.4)
    (day,) = tariff.daily_cost(rate, [at(3, 21), at(3, 23)], [2])
    assert day.cost == pytest.approx({"peak": 1.0, "valley": 0.4})


def _refused(call: object) -> str:
    with pytest.raises(InvalidInput) as err:
        call()  # type: ignore[operator]
    assert err.value.reason is not None
    return err.value.reason


@pytest.mark.parametrize(
    ("call", "reason"),
    [
        (lambda: energy.meter_tree({"a": "b", "b": "c", "c": "a"}), "apps_energy_meter_cycle"),
        (lambda: energy.meter_tree({"a": "a"}), "apps_energy_meter_cycle"),
        (lambda: energy.meter_tree({"a": "nowhere"}), "apps_energy_meter_unknown"),
        (
            lambda: energy.meter_tree({"a": None, "b": "a"}).balance({"a": 1}),
            "apps_energy_meter_missing",
        ),
        (lambda: energy.register_energy([0, 1], [1, math.nan]), "apps_energy_not_finite"),
        (lambda: energy.register_energy([0, 1, 2], [1, 2]), "apps_energy_length_mismatch"),
        (lambda: energy.register_energy([0, 2, 1], [1, 2, 3]), "apps_energy_times_unsorted"),
        (lambda: energy.register_energy([0, 1], [5, 1], 4), "apps_energy_register_range"),
        (lambda: energy.power_energy([0, 0], [1, 1]), "apps_energy_times_unsorted"),
        (
            lambda: energy.power_energy(range(1_000_001), [0.0] * 1_000_001),
            "apps_energy_too_many_points",
        ),
        (lambda: energy.intensity([1], [-1]), "apps_energy_negative_output"),
        (
            lambda: energy.fit_baseline([1, 2, 3, 4], [5, 5, 5, 5]),
            "apps_energy_baseline_degenerate",
        ),
        (lambda: energy.fit_baseline([1, 2, 3], [1, 2, 3]), "apps_energy_baseline_degenerate"),
        (
            lambda: energy.savings(energy.fit_baseline([1, 2, 3, 4], [1, 2, 3, 4]), [1], [1], [1]),
            "apps_energy_degree_days",
        ),
        (
            lambda: tariff.tariff(
                [("00:00", "12:00", "peak"), ("11:00", "24:00", "valley")], PRICES
            ),
            "apps_energy_tariff_overlap",
        ),
        (
            lambda: tariff.tariff(
                [("00:00", "12:00", "peak"), ("13:00", "24:00", "valley")], PRICES
            ),
            "apps_energy_tariff_gap",
        ),
        (
            lambda: tariff.tariff(
                [("08:00", "20:00", "peak"), ("20:00", "06:00", "valley")], PRICES
            ),
            "apps_energy_tariff_gap",
        ),
        (
            lambda: tariff.tariff(PERIODS, {**PRICES, "valley": -0.1}),
            "apps_energy_price_negative",
        ),
        (lambda: tariff.tariff(PERIODS, {"peak": 1, "flat": 1}), "apps_energy_price_missing"),
        (lambda: tariff.tariff([("00:00", "25:00", "peak")], PRICES), "apps_energy_tariff_clock"),
        (lambda: tariff.tariff([("00:00", "24:00", "noon")], PRICES), "apps_energy_tariff_kind"),
        (lambda: tariff.tariff([("08:00", "08:00", "peak")], PRICES), "apps_energy_tariff_empty"),
        (lambda: tariff.tariff([], PRICES), "apps_energy_tariff_periods"),
        (
            lambda: tariff.daily_cost(tariff.tariff(PERIODS, PRICES), [0, 40 * 86_400], [1]),
            "apps_energy_interval_too_long",
        ),
    ],
)
def test_bad_input_is_refused_with_its_reason(call: object, reason: str) -> None:
    assert _refused(call) == reason
