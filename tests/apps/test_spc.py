"""SPC against worked examples computed by hand (the arithmetic in the comments): control
limits of every chart in phase I and II, each run rule made to fire and kept quiet, process
capability, and bad input refused with its reason."""

from __future__ import annotations

import math
import time

import numpy as np
import pytest

from indunet.apps.builtin import spc
from indunet.apps.builtin.spc_constants import D2_D3, constants
from indunet.core.errors import InvalidInput

# Five subgroups of four (a published-style worked example):
#   subgroup        x̄      R   Σ(x − x̄)²   s = √(Σ/3)
#   10 12 11 13    11.5    3      5.0       1.290994
#   11 11 12 14    12.0    3      6.0       1.414214
#    9 12 10 13    11.0    4     10.0       1.825742
#   12 13 11 12    12.0    2      2.0       0.816497
#   10 11 12 11    11.0    2      2.0       0.816497
#   X̄̄ = 57.5/5 = 11.5   R̄ = 14/5 = 2.8   S̄ = 6.163944/5 = 1.232789
SUBGROUPS = [
    [10, 12, 11, 13],
    [11, 11, 12, 14],
    [9, 12, 10, 13],
    [12, 13, 11, 12],
    [10, 11, 12, 11],
]
#: the published constants are printed to three decimals: limits agree to about 0.002
TABLE = 2e-3


def test_xbar_r_limits_match_the_worked_example() -> None:
    chart = spc.xbar_r(SUBGROUPS)
    xbar, r = chart.location, chart.dispersion
    assert xbar.points.tolist() == [11.5, 12.0, 11.0, 12.0, 11.0]
    assert r.points.tolist() == [3, 3, 4, 2, 2]
    assert chart.location.phase == "I"
    # A2(4) = 0.729: 11.5 ± 0.729 × 2.8 = 11.5 ± 2.0412
    assert xbar.centre == pytest.approx(11.5)
    assert xbar.ucl[0] == pytest.approx(13.5412, abs=TABLE)
    assert xbar.lcl[0] == pytest.approx(9.4588, abs=TABLE)
    # R chart: centre R̄ = 2.8; D4(4) = 2.282 → 6.3896; D3(4) = 0 → 0
    assert r.centre == pytest.approx(2.8)
    assert r.ucl[0] == pytest.approx(6.3896, abs=TABLE)
    assert r.lcl[0] == 0
    # σ̂ = R̄/d2 = 2.8/2.059 = 1.35988 (1.36005 with d2 unrounded, 2.058751)
    assert chart.sigma == pytest.approx(1.35988, abs=TABLE)
    assert xbar.beyond().size == 0 and r.beyond().size == 0


def test_xbar_s_limits_match_the_worked_example() -> None:
    chart = spc.xbar_s(SUBGROUPS)
    s = chart.dispersion
    assert s.points == pytest.approx([1.290994, 1.414214, 1.825742, 0.816497, 0.816497])
    # A3(4) = 1.628: 11.5 ± 1.628 × 1.232789 = 11.5 ± 2.006980
    assert chart.location.ucl[0] == pytest.approx(13.50698, abs=TABLE)
    assert chart.location.lcl[0] == pytest.approx(9.49302, abs=TABLE)
    # S chart: centre S̄ = 1.232789; B4(4) = 2.266 → 2.79350; B3(4) = 0
    assert s.centre == pytest.approx(1.232789, abs=1e-6)
    assert s.ucl[0] == pytest.approx(2.79350, abs=TABLE)
    assert s.lcl[0] == 0
    # σ̂ = S̄/c4 = 1.232789/0.9213 = 1.33810
    assert chart.sigma == pytest.approx(1.33810, abs=1e-4)


def test_phase_two_with_the_phase_one_parameters_gives_the_same_limits() -> None:
    first = spc.xbar_r(SUBGROUPS)
    later = spc.xbar_r([[11, 12, 13, 20]], mean=first.mean, sigma=first.sigma)
    assert later.location.phase == "II"
    assert later.location.ucl[0] == pytest.approx(first.location.ucl[0])
    assert later.dispersion.ucl[0] == pytest.approx(first.dispersion.ucl[0])
    # 20 lifts the mean to 14 > 13.54 and the range to 9 > 6.39: both charts see it
    assert later.location.beyond().tolist() == [0] and later.dispersion.beyond().tolist() == [0]
    # a baseline other than the charted data: limits from SUBGROUPS, points from the new one
    other = spc.xbar_r([[11, 12, 13, 20]], baseline=SUBGROUPS)
    assert other.location.ucl[0] == pytest.approx(first.location.ucl[0])
    assert other.location.phase == "I"
    # a known σ = 1 for subgroups of 4: X̄ limits 10 ± 3/√4 = 10 ± 1.5; R: d2 = 2.059 centre,
    # D2 = d2 + 3 d3 = 2.059 + 3 × 0.880 = 4.698, D1 = max(0, 2.059 − 2.640) = 0
    known = spc.xbar_r(SUBGROUPS, mean=10, sigma=1)
    assert (known.location.lcl[0], known.location.ucl[0]) == pytest.approx((8.5, 11.5))
    assert known.dispersion.centre == pytest.approx(2.059, abs=1e-3)
    assert known.dispersion.ucl[0] == pytest.approx(4.698, abs=TABLE)


def test_individuals_and_moving_range() -> None:
    # x = 10 12 11 14 13: x̄ = 60/5 = 12; MR = 2 1 3 1, MR̄ = 7/4 = 1.75
    # σ̂ = 1.75/1.128 = 1.551418; I limits 12 ± 3 × 1.551418 = 12 ± 4.654255 (2.66 MR̄)
    # MR chart: centre 1.75, UCL = D4(2) × 1.75 = 3.267 × 1.75 = 5.71725, LCL 0
    chart = spc.imr([10, 12, 11, 14, 13])
    assert chart.dispersion.points.tolist() == [2, 1, 3, 1]
    assert chart.location.centre == 12
    assert chart.location.ucl[0] == pytest.approx(16.654255, abs=TABLE)
    assert chart.location.lcl[0] == pytest.approx(7.345745, abs=TABLE)
    assert chart.dispersion.centre == pytest.approx(1.75)
    assert chart.dispersion.ucl[0] == pytest.approx(5.71725, abs=TABLE)
    assert chart.dispersion.lcl[0] == 0
    assert chart.as_dict()["location"]["lcl"] == pytest.approx(7.345745, abs=TABLE)


def test_p_chart_with_variable_sample_sizes_has_limits_per_point() -> None:
    # d = 4 6 3 10 2 of n = 100 200 100 250 50: p̄ = 25/700 = 0.0357143
    # p̄(1 − p̄) = 0.0357143 × 0.9642857 = 0.0344388
    # n = 100: σ = √(0.0344388/100) = 0.0185577, UCL = 0.0357143 + 0.0556731 = 0.0913874
    # n = 200: σ = 0.0131223, UCL = 0.0750812;  n = 50: σ = 0.0262445, UCL = 0.1144478
    # LCL: below 0 for n = 100, 200, 50 (0.0357143 − 0.0556731 …), so 0; but for n = 250
    # σ = √(0.0344388/250) = 0.0117367 and LCL = 0.0357143 − 0.0352102 = 0.0005041
    chart = spc.p_chart([4, 6, 3, 10, 2], [100, 200, 100, 250, 50])
    assert chart.centre == pytest.approx(0.0357143, abs=1e-7)
    assert chart.points == pytest.approx([0.04, 0.03, 0.03, 0.04, 0.04])
    assert chart.ucl[0] == pytest.approx(0.0913874, abs=1e-6)
    assert chart.ucl[1] == pytest.approx(0.0750812, abs=1e-6)
    assert chart.ucl[4] == pytest.approx(0.1144478, abs=1e-6)
    assert chart.lcl == pytest.approx([0, 0, 0, 0.0005041, 0], abs=1e-6)
    assert not chart.constant and isinstance(chart.as_dict()["ucl"], list)
    # a given p = 0.1 and a sample of 100 with 20 defectives: UCL = 0.1 + 3 × 0.03 = 0.19
    # and 40 of 400 = 0.1 inside 0.1 ± 3 × √(0.09/400) = 0.1 ± 0.045
    later = spc.p_chart([20, 40], [100, 400], p=0.1)
    assert later.ucl.tolist() == pytest.approx([0.19, 0.145])
    assert later.lcl.tolist() == pytest.approx([0.01, 0.055])
    assert later.beyond().tolist() == [0] and later.phase == "II"


def test_np_and_c_charts() -> None:
    # d = 2 3 1 4 0 in samples of 50: p̄ = 10/250 = 0.04; centre n p̄ = 2
    # σ = √(50 × 0.04 × 0.96) = √1.92 = 1.385641; UCL = 2 + 4.156922 = 6.156922; LCL 0
    np_ = spc.np_chart([2, 3, 1, 4, 0], 50)
    assert np_.centre == pytest.approx(2)
    assert np_.ucl[0] == pytest.approx(6.156922, abs=1e-6)
    assert np_.lcl[0] == 0
    # c = 4 6 3 7 5: c̄ = 25/5 = 5, σ = √5 = 2.236068, UCL = 11.708204, LCL max(0, −1.708) = 0
    c = spc.c_chart([4, 6, 3, 7, 5])
    assert c.centre == 5 and c.ucl[0] == pytest.approx(11.708204, abs=1e-6) and c.lcl[0] == 0
    # c = 25 given: 25 ± 15 → LCL 10 above zero
    assert spc.c_chart([12, 41], c=25).beyond().tolist() == [1]
    assert spc.c_chart([12, 41], c=25).lcl[0] == pytest.approx(10)


def test_u_chart_with_variable_units() -> None:
    # c = 3 8 5 2 7 on n = 1 2 1.5 0.5 2 units: ū = 25/7 = 3.571429
    # n = 1: σ = √3.571429 = 1.889822, UCL = 3.571429 + 5.669467 = 9.240896
    # n = 2: σ = √1.785714 = 1.336306, UCL = 3.571429 + 4.008919 = 7.580348
    # n = 0.5: σ = √7.142857 = 2.672612, UCL = 11.589265; the point 2/0.5 = 4
    chart = spc.u_chart([3, 8, 5, 2, 7], [1, 2, 1.5, 0.5, 2])
    assert chart.centre == pytest.approx(3.571429, abs=1e-6)
    assert chart.points == pytest.approx([3, 4, 10 / 3, 4, 3.5])
    assert chart.ucl[0] == pytest.approx(9.240896, abs=1e-5)
    assert chart.ucl[1] == pytest.approx(7.580348, abs=1e-5)
    assert chart.ucl[3] == pytest.approx(11.589265, abs=1e-5)
    assert chart.lcl.tolist() == [0, 0, 0, 0, 0]
    assert chart.sigma[1] == pytest.approx(1.336306, abs=1e-6)


# -- run rules ---------------------------------------------------------------------------------

#: fifty points around 0 with σ 1 that break no rule: at most three on one side, at most four
#: in one direction, a point beyond 1σ every few points, never two beyond 2σ
CLEAN = [0.3, -0.4, 1.4, 0.6, -0.2, -1.3, -0.5, 0.4, 0.1, -0.8] * 5


def _fired(hits: tuple[spc.RuleHit, ...]) -> dict[str, list[int]]:
    return {h.rule: h.indices.tolist() for h in hits if h.fired}


def test_a_clean_series_fires_no_rule() -> None:
    assert _fired(spc.nelson(CLEAN, 0.0, 1.0)) == {}
    assert _fired(spc.western_electric(CLEAN, 0.0, 1.0)) == {}
    hits = spc.nelson(CLEAN, 0.0, 1.0)
    assert [h.rule for h in hits] == [f"nelson_{i}" for i in range(1, 9)]


ALTERNATING = [0.5, -0.5] * 7  # 14 points, each step reversing the last
RULES = [
    # rule, points, indices that fire it, a near miss that must not
    ("nelson_1", [0.0, 3.5, 0.0, -3.2], [1, 3], [0.0, 2.9, 0.0, -3.0]),
    ("nelson_2", [-0.5] + [0.5] * 10, [9, 10], [-0.5] + [0.5] * 8 + [-0.5]),
    ("nelson_3", [0, 0.1, 0.2, 0.3, 0.4, 0.5, -0.3], [5], [0, 0.1, 0.2, 0.3, 0.4, 0.4]),
    ("nelson_3", [0.5, 0.4, 0.3, 0.2, 0.1, 0], [5], [0.5, 0.4, 0.3, 0.2, 0.1]),
    ("nelson_4", ALTERNATING, [13], ALTERNATING[:13]),
    ("nelson_5", [0, 2.5, 0, 2.5], [3], [0, 2.5, 0, -2.5]),
    ("nelson_6", [0, 1.5, 1.5, 0, 1.5, 1.5], [5], [0, 1.5, 1.5, 0, 0, 1.5, 1.5]),
    (
        "nelson_7",
        [0.2, 0.4, -0.3, -0.1, 0.3] * 3,
        [14],
        [*([0.2, 0.4, -0.3, -0.1, 0.3] * 3)[:14], 1.1],
    ),
    ("nelson_8", [1.5, -1.5, 1.2, -1.2] * 2, [7], [1.5, -1.5, 1.2, -1.2, 0.5, 1.5, -1.5, 1.2]),
    ("we_1", [0.0, 3.5, 0.0, -3.2], [1, 3], [0.0, 3.0]),
    ("we_2", [2.1, 0, 2.1, 0, 0, 2.1], [2], [2.1, 0, 0, 2.1, 0, 0, 2.1]),
    ("we_3", [1.1, 1.2, 0, 1.3, 1.4, 0], [4], [1.1, 1.2, 0, 0, 1.3, 1.4]),
    ("we_4", [0.1] * 8, [7], [0.1] * 7 + [0.0] + [0.1] * 7),
]


@pytest.mark.parametrize(("rule", "points", "indices", "near_miss"), RULES)
def test_each_rule_fires_on_its_pattern_and_not_on_a_near_miss(
    rule: str, points: list[float], indices: list[int], near_miss: list[float]
) -> None:
    check = spc.nelson if rule.startswith("nelson") else spc.western_electric
    assert _fired(check(points, 0.0, 1.0)).get(rule) == indices
    assert rule not in _fired(check(near_miss, 0.0, 1.0))
    # embedded in the clean series it still fires at those points (shifted; a neighbour may
    # complete the pattern earlier too)
    embedded = CLEAN[:10] + points + CLEAN[:10]
    fired = {i - 10 for i in _fired(check(embedded, 0.0, 1.0)).get(rule, [])}
    assert set(indices) <= fired


def test_a_charts_own_zones_are_used_per_point() -> None:
    # p = 0.1 given; n = 100: σ = √(0.09/100) = 0.03; n = 900: σ = 0.01. 13/100 = 0.13 is 1σ
    # above p (not beyond), 113/900 = 0.12556 is 2.56σ: two such points of three fire
    # "2 of 3 beyond 2σ" only with the large samples (112/900 = 0.12444 is 2.44σ)
    small = spc.p_chart([13, 10, 13], 100, p=0.1)
    large = spc.p_chart([112, 90, 113], 900, p=0.1)
    assert _fired(small.western_electric()) == {}
    assert _fired(large.western_electric()) == {"we_2": [2]}
    assert _fired(large.nelson()) == {"nelson_5": [2]}


def test_rules_on_a_chart() -> None:
    chart = spc.imr([10, 12, 11, 14, 13, 12, 11, 25], baseline=[10, 12, 11, 14, 13])
    assert _fired(chart.location.nelson()) == {"nelson_1": [7]}
    assert chart.location.nelson()[0].as_dict() == {"rule": "nelson_1", "indices": [7]}


# -- capability --------------------------------------------------------------------------------


def test_capability_with_a_known_sigma() -> None:
    # values 9 10 11 12 13: μ = 11; σ_within given 1.5; LSL 4, USL 16
    # Cp = 12/9 = 1.333333; CPU = 5/4.5 = 1.111111; CPL = 7/4.5 = 1.555556; Cpk = 1.111111
    # σ_overall = √(10/4) = 1.581139: Pp = 12/9.486833 = 1.264911
    # PPU = 5/4.743416 = 1.054093 = Ppk; PPL = 7/4.743416 = 1.475730
    cap = spc.capability([9, 10, 11, 12, 13], lsl=4, usl=16, sigma=1.5)
    assert cap.within == "given" and cap.mean == 11
    assert cap.cp == pytest.approx(1.333333, abs=1e-6)
    assert cap.cpu == pytest.approx(1.111111, abs=1e-6)
    assert cap.cpl == pytest.approx(1.555556, abs=1e-6)
    assert cap.cpk == pytest.approx(1.111111, abs=1e-6)
    assert cap.sigma_overall == pytest.approx(1.581139, abs=1e-6)
    assert cap.pp == pytest.approx(1.264911, abs=1e-6)
    assert cap.ppk == pytest.approx(1.054093, abs=1e-6)
    assert cap.ppl == pytest.approx(1.475730, abs=1e-6)
    assert cap.as_dict()["cpk"] == pytest.approx(1.111111, abs=1e-6)


def test_capability_one_sided() -> None:
    cap = spc.capability([9, 10, 11, 12, 13], usl=16, sigma=1.5)
    assert cap.cp is None and cap.pp is None and cap.cpl is None
    assert cap.cpk == pytest.approx(1.111111, abs=1e-6)
    low = spc.capability([9, 10, 11, 12, 13], lsl=4, sigma=1.5)
    assert low.cpk == pytest.approx(1.555556, abs=1e-6) and low.cpu is None


def test_capability_from_subgroups_and_individuals() -> None:
    # SUBGROUPS: μ = 11.5, σ_within = R̄/d2 = 2.8/2.059 = 1.35989; LSL 8, USL 15 (centred):
    # Cp = 7/(6 × 1.35989) = 0.85792 = Cpk
    cap = spc.capability(SUBGROUPS, lsl=8, usl=15)
    assert cap.within == "range"
    assert cap.cp == pytest.approx(0.85792, abs=1e-3) and cap.cpk == pytest.approx(cap.cp)
    # by S̄/c4 = 1.232789/0.9213 = 1.33810: Cp = 7/8.0286 = 0.87188
    assert spc.capability(SUBGROUPS, lsl=8, usl=15, within="stddev").cp == pytest.approx(
        0.87188, abs=1e-3
    )
    # individuals 10 12 11 14 13: σ = MR̄/d2 = 1.75/1.128 = 1.551418, μ = 12, USL 18:
    # Cpk = 6/(3 × 1.551418) = 1.289145
    ind = spc.capability([10, 12, 11, 14, 13], usl=18)
    assert ind.within == "moving_range" and ind.cpk == pytest.approx(1.289145, abs=1e-3)


# -- constants ---------------------------------------------------------------------------------

#: rows of the published table (ASTM MNL 7A; Montgomery, Appendix VI)
#: n: A2, A3, B3, B4, D3, D4, d2, c4
PUBLISHED = {
    2: (1.880, 2.659, 0, 3.267, 0, 3.267, 1.128, 0.7979),
    4: (0.729, 1.628, 0, 2.266, 0, 2.282, 2.059, 0.9213),
    5: (0.577, 1.427, 0, 2.089, 0, 2.114, 2.326, 0.9400),
    7: (0.419, 1.182, 0.118, 1.882, 0.076, 1.924, 2.704, 0.9594),
    10: (0.308, 0.975, 0.284, 1.716, 0.223, 1.777, 3.078, 0.9727),
    25: (0.153, 0.606, 0.565, 1.435, 0.459, 1.541, 3.931, 0.9896),
}


@pytest.mark.parametrize("n", sorted(PUBLISHED))
def test_constants_round_to_the_published_table(n: int) -> None:
    k = constants(n)
    got = (k.a2, k.a3, k.b3, k.b4, k.d3_factor, k.d4_factor, k.d2, k.c4)
    for mine, printed in zip(got, PUBLISHED[n], strict=True):
        assert mine == pytest.approx(printed, abs=6e-4)


def test_d2_and_d3_are_the_integrals_they_claim() -> None:
    x = np.linspace(-7, 7, 1401)
    h = x[1] - x[0]
    cdf = np.array([0.5 * (1 + math.erf(v / math.sqrt(2))) for v in x])
    pdf = np.exp(-x * x / 2) / math.sqrt(2 * math.pi)
    span = np.clip(x[None, :] - x[:, None], 0, None)
    between = np.clip(cdf[None, :] - cdf[:, None], 0, None)
    both = pdf[:, None] * pdf[None, :]
    for n, (d2, d3) in D2_D3.items():
        mean = np.trapezoid(1 - cdf**n - (1 - cdf) ** n, dx=h)
        square = np.trapezoid(span**2 * n * (n - 1) * both * between ** (n - 2), dx=h).sum() * h
        assert mean == pytest.approx(d2, abs=2e-6)
        assert math.sqrt(square - mean**2) == pytest.approx(d3, abs=2e-5)


# -- refusals ----------------------------------------------------------------------------------


def _reason(call: object) -> str:
    assert callable(call)
    with pytest.raises(InvalidInput) as err:
        call()
    return str(err.value.reason)


@pytest.mark.parametrize(
    ("call", "reason"),
    [
        (lambda: spc.xbar_r([[1]] * 5), "apps_spc_subgroup_size"),
        (lambda: spc.xbar_r([list(range(26))] * 5), "apps_spc_subgroup_size"),
        (lambda: spc.xbar_r([[1, 2], [1, 2, 3]]), "apps_spc_not_numeric"),
        (lambda: spc.xbar_r([1, 2, 3]), "apps_spc_not_subgroups"),
        (lambda: spc.xbar_s([[1, 2], [3, float("nan")]] * 3), "apps_spc_not_finite"),
        (lambda: spc.imr([1, 2, float("inf"), 4, 5]), "apps_spc_not_finite"),
        (lambda: spc.imr(["a", "b"]), "apps_spc_not_numeric"),
        (lambda: spc.imr([[1, 2]]), "apps_spc_not_series"),
        (lambda: spc.xbar_r(SUBGROUPS[:4]), "apps_spc_baseline_short"),
        (lambda: spc.imr([1, 2, 3]), "apps_spc_baseline_short"),
        (lambda: spc.c_chart([1, 2]), "apps_spc_baseline_short"),
        (lambda: spc.xbar_r([[1, 1]] * 5), "apps_spc_no_variation"),
        (lambda: spc.p_chart([0] * 5, 10), "apps_spc_no_variation"),
        (lambda: spc.p_chart([1, -1, 2, 3, 4], 10), "apps_spc_count_negative"),
        (lambda: spc.c_chart([1, 2.5, 2, 3, 4]), "apps_spc_not_whole"),
        (lambda: spc.p_chart([1, 11, 2, 3, 4], 10), "apps_spc_defectives_above_size"),
        (lambda: spc.p_chart([1, 2, 2, 3, 4], [10, 0, 10, 10, 10]), "apps_spc_size_not_positive"),
        (lambda: spc.p_chart([1, 2, 2], [10, 10]), "apps_spc_size_count"),
        (lambda: spc.np_chart([1, 2, 2, 3, 4], [10, 10, 20, 10, 10]), "apps_spc_np_size_varies"),
        (lambda: spc.p_chart([1, 2], 10, p=1.0), "apps_spc_proportion"),
        (lambda: spc.u_chart([1, 2], 1, u=0), "apps_spc_not_positive"),
        (lambda: spc.imr([1, 2], mean=float("nan"), sigma=1), "apps_spc_parameter"),
        (lambda: spc.capability([1, 2, 3, 4, 5], lsl=5, usl=5), "apps_spc_spec_reversed"),
        (lambda: spc.capability([1, 2, 3, 4, 5], lsl=6, usl=2), "apps_spc_spec_reversed"),
        (lambda: spc.capability([1, 2, 3, 4, 5]), "apps_spc_spec_missing"),
        (lambda: spc.capability([1, 2, 3, 4, 5], usl=9, within="range"), "apps_spc_within_method"),
        (lambda: spc.nelson([1, 2, 3], 0.0, [1, 1]), "apps_spc_size_count"),
        (lambda: spc.nelson([1, 2, 3], 0.0, 0.0), "apps_spc_not_positive"),
        (lambda: spc.imr(np.zeros(1_000_001)), "apps_spc_too_many_points"),
        (lambda: spc.xbar_r(np.zeros((400_000, 25))), "apps_spc_too_many_values"),
    ],
)
def test_bad_input_is_refused_with_its_reason(call: object, reason: str) -> None:
    assert _reason(call) == reason


def test_a_refusal_names_the_point() -> None:
    with pytest.raises(InvalidInput) as err:
        spc.p_chart([1, 2, 12, 3, 4], [10, 10, 10, 10, 10])
    assert err.value.params == {"index": 2, "defectives": 12.0, "size": 10.0}
    with pytest.raises(InvalidInput) as err:
        spc.xbar_r([[1] * 30] * 5)
    assert err.value.params == {"n": 30, "min": 2, "max": 25}


# -- scale -------------------------------------------------------------------------------------


def test_a_million_points_chart_and_rules_quickly() -> None:
    rng = np.random.default_rng(14)
    values = rng.normal(50.0, 2.0, 1_000_000)
    start = time.perf_counter()
    chart = spc.imr(values)
    hits = chart.location.nelson() + chart.location.western_electric()
    elapsed = time.perf_counter() - start
    assert chart.sigma == pytest.approx(2.0, rel=0.01)
    assert len(hits) == 12
    # about 0.3 % of normal points lie beyond 3σ
    assert 1500 < len(hits[0].indices) < 4000
    assert elapsed < 10  # about 0.2 s on a laptop; generous for a loaded CI runner
