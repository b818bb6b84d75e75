"""Predictive maintenance (预测性维护): features, health, CUSUM and remaining life (剩余寿命)
worked by hand, then the method scored on simulated machines run to failure."""

from __future__ import annotations

import math

import numpy as np
import pytest

from indunet.apps.builtin import pdm, pdm_sim
from indunet.core.errors import InvalidInput


def test_window_features_by_hand() -> None:
    # window 1: ±2 alternating → RMS 2, peak 2, crest 2/2 = 1, mean 0, m2 = 4, m4 = 16,
    # kurtosis 16/4² = 1; temperature 40..47: mean 43.5, slope 1 per sample
    # window 2: seven 0 and a 4 → RMS sqrt(16/8) = 1.41421, peak 4, crest 4/1.41421 = 2.82843;
    # mean 0.5, centred: seven −0.5 and 3.5: c2 = (7·0.25 + 12.25)/8 = 1.75,
    # c4 = (7·0.0625 + 150.0625)/8 = 18.8125, kurtosis 18.8125/1.75² = 6.142857;
    # temperature 50 throughout: mean 50, slope 0
    vib = [2, -2, 2, -2, 2, -2, 2, -2, 0, 0, 0, 0, 0, 0, 0, 4, 9]  # the 17th sample is dropped
    temp = [*range(40, 48), *[50] * 8, 0]
    f = pdm.window_features(vib, temp, 8)
    assert f.values.shape == (2, 6)
    expected = [[2, 2, 1, 1, 43.5, 1], [math.sqrt(2), 4, 2 * math.sqrt(2), 6.142857, 50, 0]]
    assert f.values == pytest.approx(np.array(expected), abs=1e-6)
    assert f.as_dict()["vib_crest"] == pytest.approx([1.0, 2.828427], abs=1e-6)


def _features(a: list[float], b: list[float]) -> pdm.Features:
    return pdm.Features(("a", "b"), np.column_stack([a, b]).astype(np.float64))


def test_health_score_and_its_drivers_by_hand() -> None:
    # baseline a = 9, 10, 11 (mean 10, std 1), b = 19, 20, 21 (mean 20, std 1);
    # window 4: a = 13 → z 3, b = 24 → z 4; D = sqrt((9 + 16)/2) = 3.53553,
    # H = 100/(1 + (3.53553 − 1)/3) = 100/1.84518 = 54.195;
    # drivers: b 16/25 = 64 %, a 9/25 = 36 %. A baseline window (z = −1, −1): D = 1, H = 100
    limits = pdm.PdmLimits(min_baseline=3)
    state = pdm.health(_features([9, 10, 11, 13], [19, 20, 21, 24]), 3, limits)
    assert state.deviation[3] == pytest.approx(math.sqrt(12.5))
    assert state.score[3] == pytest.approx(54.195, abs=1e-3)
    assert state.score[0] == pytest.approx(100.0)
    drivers = pdm.explain(state)
    assert [(d.feature, d.z, d.share) for d in drivers] == [
        ("b", pytest.approx(4.0), pytest.approx(0.64)),
        ("a", pytest.approx(3.0), pytest.approx(0.36)),
    ]


def test_cusum_alarm_and_onset_by_hand() -> None:
    # deviation baseline 1, 2, 3: mean 2, std 1; then 2, 6, 6, 6 → u = 0, 4, 4, 4.
    # k = 1, h = 5: S3 = max(0, 0 + 0 − 1) = 0 (last zero), S4 = 3, S5 = 6 > 5: alarm at 5,
    # onset the window after the last zero: 4
    d = np.array([1, 2, 3, 2, 6, 6, 6], dtype=np.float64)
    state = pdm.Health(("a",), d[:1], d[:1], d[:, None], d, d)
    found = pdm.change_point(state, 3, pdm.PdmLimits(cusum_k=1.0, cusum_h=5.0))
    assert (found.alarm, found.change) == (5, 4)
    assert found.statistic.tolist() == [0, 0, 0, 0, 3, 6]
    calm = pdm.change_point(pdm.Health(("a",), d[:1], d[:1], d[:4, None], d[:4], d[:4]), 3)
    assert calm.alarm is None and calm.change is None


def test_remaining_life_by_hand() -> None:
    # y = exp(0.1·t) at t = 0..4: ln y = 0 + 0.1·t exactly; limit e: t* = (1 − 0)/0.1 = 10,
    # life 10 − 4 = 6; no residuals, so every bootstrap fit agrees: interval [6, 6]
    t = np.arange(5.0)
    life = pdm.remaining_life(t, np.exp(0.1 * t), math.e)
    assert life.rul == pytest.approx(6.0)
    assert life.low == pytest.approx(6.0) and life.high == pytest.approx(6.0)
    assert life.rate == pytest.approx(0.1) and life.as_dict()["failure_time"] == pytest.approx(10)
    flat = pdm.remaining_life(t, np.exp(-0.1 * t), math.e)
    assert flat.rul is None  # falling: no failure ahead
    assert pdm.remaining_life(t, [1, 1, 1, 1, 3], math.e).rul == 0.0  # at the limit already


@pytest.mark.parametrize(
    ("call", "reason"),
    [
        (lambda: pdm.window_features([1.0, math.nan] * 8, [1.0] * 16, 8), "apps_pdm_not_finite"),
        (lambda: pdm.window_features([1.0] * 16, [1.0] * 15, 8), "apps_pdm_length_mismatch"),
        (lambda: pdm.window_features([1.0] * 16, [1.0] * 16, 4), "apps_pdm_window"),
        (lambda: pdm.window_features([1.0] * 7, [1.0] * 7, 8), "apps_pdm_too_few_samples"),
        (lambda: pdm.window_features([], [], 8), "apps_pdm_empty"),
        (
            lambda: pdm.window_features([1.0] * 64, [1.0] * 64, 8, pdm.PdmLimits(max_samples=32)),
            "apps_pdm_too_many_points",
        ),
        (lambda: pdm.remaining_life([0, 2, 1, 3, 4], [1] * 5, 2), "apps_pdm_times_unsorted"),
        (lambda: pdm.remaining_life([0, 1, 2], [1, 2, 3], 5), "apps_pdm_too_few_points"),
        (lambda: pdm.remaining_life(range(5), [1, 2, 0, 3, 4], 5), "apps_pdm_not_positive"),
        (lambda: pdm.remaining_life(range(5), [1, 2, 3, 4, 5], -1), "apps_pdm_not_positive"),
        (lambda: pdm.health(_features([1] * 5, [1] * 5), 4), "apps_pdm_baseline"),
        (lambda: pdm_sim.simulate(0, machines=3, healthy=4), "apps_pdm_simulation"),
    ],
)
def test_bad_input_is_refused_with_its_reason(call: object, reason: str) -> None:
    with pytest.raises(InvalidInput) as err:
        call()  # type: ignore[operator]
    assert err.value.reason == reason


# -- the simulated data set ----------------------------------------------------------------------

BASELINE = 60


@pytest.fixture(scope="module")
def fleet() -> list[pdm_sim.Machine]:
    return pdm_sim.simulate(1, machines=20, healthy=4, baseline=BASELINE)


def _assess(m: pdm_sim.Machine, until: int | None = None) -> pdm.Assessment:
    end = None if until is None else (until + 1) * m.window
    return pdm.assess(m.vibration[:end], m.temperature[:end], m.window, BASELINE, pdm_sim.LIMIT)


def test_healthy_machines_are_not_flagged(fleet: list[pdm_sim.Machine]) -> None:
    healthy = [m for m in fleet if m.onset is None]
    assert len(healthy) == 4
    for m in healthy:
        a = _assess(m)
        assert a.change.alarm is None and a.life is None
        assert a.health.score.min() > 40


def test_change_points_are_found_near_the_true_onsets(fleet: list[pdm_sim.Machine]) -> None:
    for m in fleet:
        if m.onset is None or m.failure is None:
            continue
        a = _assess(m, m.onset + (m.failure - m.onset) // 2)
        assert a.change.alarm is not None and a.change.change is not None
        assert m.onset <= a.change.alarm <= m.onset + 15  # raised within 15 windows
        assert abs(a.change.change - m.onset) <= 10  # onset placed within ±10 windows
        assert a.score < 50


def test_remaining_life_errors_are_within_the_stated_bounds(fleet: list[pdm_sim.Machine]) -> None:
    # predicted at half and at 70 % of the way from onset to failure: |error| ≤ 25 % of the true
    # remaining life on at least 80 % of the predictions, ≤ 40 % on all; the method errs early
    errors = []
    for m in fleet:
        if m.onset is None or m.failure is None:
            continue
        for share in (0.5, 0.7):
            now = m.onset + int(share * (m.failure - m.onset))
            life = _assess(m, now).life
            assert life is not None and life.rul is not None
            true = m.failure - now
            errors.append((life.rul - true) / true)
    rel = np.abs(errors)
    assert np.mean(rel <= 0.25) >= 0.8
    assert rel.max() <= 0.4
    assert np.median(errors) < 0


def test_the_drivers_name_what_changed(fleet: list[pdm_sim.Machine]) -> None:
    m = next(m for m in fleet if m.onset is not None)
    a = _assess(m)
    top = {d.feature for d in a.drivers[:3]}
    assert top & {"vib_rms", "vib_peak", "temp_mean"}
    assert sum(d.share for d in a.drivers) == pytest.approx(1.0)
    assert a.as_dict()["drivers"][0]["z"] > 0
