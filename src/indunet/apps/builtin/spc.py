"""Statistical process control (统计过程控制): control charts (控制图), their run rules and
process capability (过程能力指数), as pure functions over arrays (docs/apps/spc.md).

Variables charts come in pairs — X̄-R and X̄-S over subgroups of 2 to 25, I-MR over
individual values — and attribute charts alone: p and np (defectives), c and u (defects),
p and u with a sample size per point and so limits per point. Every chart rests on the
process parameters it is given (phase II: ``mean`` and ``sigma``, or ``p``, ``c``, ``u``)
or estimates from a baseline (phase I: the charted data themselves unless ``baseline`` is
another set), then places each point's limits at the centre ± 3σ of the plotted statistic,
never below 0 for a statistic that cannot be. A chart evaluates the Western Electric and
Nelson rules on its points (``spc_rules``); ``capability`` gives Cp, Cpk, Pp and Ppk
(``spc_capability``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from indunet.apps.builtin import spc_input as check
from indunet.apps.builtin.spc_capability import Capability, capability
from indunet.apps.builtin.spc_constants import Constants, constants
from indunet.apps.builtin.spc_input import LIMITS, Floats, SpcLimits
from indunet.apps.builtin.spc_rules import (
    NELSON,
    WESTERN_ELECTRIC,
    Rule,
    RuleHit,
    evaluate_zscores,
    nelson,
    western_electric,
)

__all__ = [
    "LIMITS",
    "NELSON",
    "WESTERN_ELECTRIC",
    "Capability",
    "Chart",
    "Constants",
    "PairedChart",
    "Rule",
    "RuleHit",
    "SpcLimits",
    "c_chart",
    "capability",
    "constants",
    "imr",
    "nelson",
    "np_chart",
    "p_chart",
    "u_chart",
    "western_electric",
    "xbar_r",
    "xbar_s",
]

Baseline = tuple[npt.ArrayLike, npt.ArrayLike]


@dataclass(frozen=True, slots=True, eq=False)
class Chart:
    """One control chart: its points, centre line, the σ of the plotted statistic at each
    point (the rules' zones) and the control limits at each point."""

    kind: str  # xbar, r, s, i, mr, p, np, c, u
    phase: str  # "I": parameters estimated from a baseline; "II": given
    points: Floats
    centre: float
    sigma: Floats
    lcl: Floats
    ucl: Floats
    #: the same limits at every point (all but p and u charts of varying sample size)
    constant: bool

    def zscores(self) -> Floats:
        """Each point's distance from the centre line in σ of its statistic."""
        return (self.points - self.centre) / self.sigma

    def beyond(self) -> npt.NDArray[np.int64]:
        """Indices of the points outside the control limits."""
        return np.flatnonzero((self.points > self.ucl) | (self.points < self.lcl))

    def western_electric(self) -> tuple[RuleHit, ...]:
        """The four Western Electric rules on this chart's points."""
        return evaluate_zscores(WESTERN_ELECTRIC, self.zscores(), self.points)

    def nelson(self) -> tuple[RuleHit, ...]:
        """Nelson's eight rules on this chart's points."""
        return evaluate_zscores(NELSON, self.zscores(), self.points)

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready; ``lcl``, ``ucl`` and ``sigma`` are one number when ``constant``."""

        def per_point(a: Floats) -> float | list[float]:
            return float(a[0]) if self.constant and len(a) else a.tolist()

        return {
            "kind": self.kind,
            "phase": self.phase,
            "centre": self.centre,
            "points": self.points.tolist(),
            "sigma": per_point(self.sigma),
            "lcl": per_point(self.lcl),
            "ucl": per_point(self.ucl),
            "constant": self.constant,
        }


@dataclass(frozen=True, slots=True, eq=False)
class PairedChart:
    """A variables chart pair (X̄-R, X̄-S, I-MR) and the process parameters behind it:
    ``mean`` and the within-subgroup ``sigma``, to give a later phase II chart."""

    kind: str  # xbar_r, xbar_s, imr
    location: Chart
    dispersion: Chart
    mean: float
    sigma: float
    constants: Constants

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready, with the constants used."""
        return {
            "kind": self.kind,
            "phase": self.location.phase,
            "mean": self.mean,
            "sigma": self.sigma,
            "constants": self.constants.as_dict(),
            "location": self.location.as_dict(),
            "dispersion": self.dispersion.as_dict(),
        }


def _chart(kind: str, phase: str, points: Floats, centre: float, sigma: Floats | float) -> Chart:
    s = np.broadcast_to(np.asarray(sigma, dtype=np.float64), points.shape)
    lcl = centre - 3.0 * s
    if kind not in ("xbar", "i"):  # ranges, deviations, proportions and counts are ≥ 0
        lcl = np.maximum(lcl, 0.0)
    return Chart(
        kind=kind,
        phase=phase,
        points=points,
        centre=centre,
        sigma=s,
        lcl=lcl,
        ucl=centre + 3.0 * s,
        constant=np.ndim(sigma) == 0 or bool(np.all(s == s[:1])),
    )


def _phase(*given: object) -> str:
    return "II" if all(g is not None for g in given) else "I"


def _subgroup_pair(
    kind: str,
    data: npt.ArrayLike,
    baseline: npt.ArrayLike | None,
    mean: float | None,
    sigma: float | None,
    limits: SpcLimits,
) -> PairedChart:
    x = check.subgroups(data, "subgroups", limits)
    base = x if baseline is None else check.subgroups(baseline, "baseline", limits)
    if mean is None or sigma is None:
        check.baseline_length(len(base), limits)
    k, kb = constants(x.shape[1]), constants(base.shape[1])
    if kind == "xbar_r":
        spread, points = np.ptp(base, axis=1), np.ptp(x, axis=1)
        unbias, name = kb.d2, "R̄"
    else:
        spread, points = base.std(axis=1, ddof=1), x.std(axis=1, ddof=1)
        unbias, name = kb.c4, "S̄"
    mu = check.number(mean, "mean") if mean is not None else float(base.mean())
    if sigma is not None:
        sig = check.positive(sigma, "sigma")
    else:
        bar = float(spread.mean())
        check.varies(name, bar)
        sig = bar / unbias
    phase = _phase(mean, sigma)
    location = _chart("xbar", phase, x.mean(axis=1), mu, sig / math.sqrt(k.n))
    if kind == "xbar_r":
        dispersion = _chart("r", phase, points, k.d2 * sig, k.d3 * sig)
    else:
        dispersion = _chart("s", phase, points, k.c4 * sig, sig * math.sqrt(1 - k.c4**2))
    return PairedChart(kind, location, dispersion, mu, sig, k)


def xbar_r(
    subgroups: npt.ArrayLike,
    *,
    baseline: npt.ArrayLike | None = None,
    mean: float | None = None,
    sigma: float | None = None,
    limits: SpcLimits = LIMITS,
) -> PairedChart:
    """X̄ and R charts of subgroups (rows of one size n, 2–25): σ̂ = R̄/d2 unless ``sigma``
    is given, so the limits are X̄̄ ± A2 R̄ and D3 R̄, D4 R̄ in phase I."""
    return _subgroup_pair("xbar_r", subgroups, baseline, mean, sigma, limits)


def xbar_s(
    subgroups: npt.ArrayLike,
    *,
    baseline: npt.ArrayLike | None = None,
    mean: float | None = None,
    sigma: float | None = None,
    limits: SpcLimits = LIMITS,
) -> PairedChart:
    """X̄ and S charts of subgroups (rows of one size n, 2–25): σ̂ = S̄/c4 unless ``sigma``
    is given, so the limits are X̄̄ ± A3 S̄ and B3 S̄, B4 S̄ in phase I."""
    return _subgroup_pair("xbar_s", subgroups, baseline, mean, sigma, limits)


def imr(
    values: npt.ArrayLike,
    *,
    baseline: npt.ArrayLike | None = None,
    mean: float | None = None,
    sigma: float | None = None,
    limits: SpcLimits = LIMITS,
) -> PairedChart:
    """Individuals and moving-range charts: σ̂ = MR̄/d2 (n = 2, moving ranges of two
    neighbours) unless ``sigma`` is given. Moving range j is ``|x[j+1] − x[j]|``."""
    x = check.series(values, "values", limits, minimum=2)
    base = x if baseline is None else check.series(baseline, "baseline", limits, minimum=2)
    if mean is None or sigma is None:
        check.baseline_length(len(base), limits)
    k = constants(2)
    mu = check.number(mean, "mean") if mean is not None else float(base.mean())
    if sigma is not None:
        sig = check.positive(sigma, "sigma")
    else:
        mr_bar = float(np.abs(np.diff(base)).mean())
        check.varies("MR̄", mr_bar)
        sig = mr_bar / k.d2
    phase = _phase(mean, sigma)
    location = _chart("i", phase, x, mu, sig)
    dispersion = _chart("mr", phase, np.abs(np.diff(x)), k.d2 * sig, k.d3 * sig)
    return PairedChart("imr", location, dispersion, mu, sig, k)


def _counted(
    counts: npt.ArrayLike, sizes: npt.ArrayLike, limits: SpcLimits, *, defectives: bool
) -> tuple[Floats, Floats]:
    what = "defectives" if defectives else "defects"
    c = check.counts(counts, what, limits)
    n = check.sizes(sizes, "sizes" if defectives else "units", len(c), limits, whole=defectives)
    if defectives:
        check.within_sizes(c, n)
    return c, n


def _rate(
    counts: Floats, sizes: Floats, baseline: Baseline | None, limits: SpcLimits, defectives: bool
) -> float:
    if baseline is not None:
        counts, sizes = _counted(*baseline, limits, defectives=defectives)
    check.baseline_length(len(counts), limits)
    rate = float(counts.sum() / sizes.sum())
    check.varies("p̄" if defectives else "ū", rate)
    if defectives and rate >= 1:
        check.varies("1 − p̄", 1 - rate)
    return rate


def p_chart(
    defectives: npt.ArrayLike,
    sizes: npt.ArrayLike,
    *,
    baseline: Baseline | None = None,
    p: float | None = None,
    limits: SpcLimits = LIMITS,
) -> Chart:
    """Fraction defective per sample, sizes one for all or one each: p̄ = Σd/Σn unless ``p``
    is given; limits p̄ ± 3 √(p̄(1 − p̄)/nᵢ) at each point."""
    d, n = _counted(defectives, sizes, limits, defectives=True)
    rate = check.proportion(p, "p") if p is not None else _rate(d, n, baseline, limits, True)
    return _chart("p", _phase(p), d / n, rate, np.sqrt(rate * (1 - rate) / n))


def np_chart(
    defectives: npt.ArrayLike,
    size: npt.ArrayLike,
    *,
    baseline: Baseline | None = None,
    p: float | None = None,
    limits: SpcLimits = LIMITS,
) -> Chart:
    """Number defective in samples of one size n: centre n p̄, limits n p̄ ± 3 √(n p̄(1 − p̄));
    p̄ = Σd/Σn of the baseline unless ``p`` is given."""
    d, n = _counted(defectives, size, limits, defectives=True)
    if not bool(np.all(n == n[0])):
        raise check.refuse(
            "an np chart needs one sample size for every point; use a p chart",
            reason="apps_spc_np_size_varies",
        )
    rate = check.proportion(p, "p") if p is not None else _rate(d, n, baseline, limits, True)
    size0 = float(n[0])
    return _chart("np", _phase(p), d, size0 * rate, math.sqrt(size0 * rate * (1 - rate)))


def c_chart(
    defects: npt.ArrayLike,
    *,
    baseline: npt.ArrayLike | None = None,
    c: float | None = None,
    limits: SpcLimits = LIMITS,
) -> Chart:
    """Defects per inspection unit of one size: c̄ ± 3 √c̄; c̄ the baseline mean unless
    ``c`` is given."""
    x = check.counts(defects, "defects", limits)
    if c is not None:
        rate = check.positive(c, "c")
    else:
        base = x if baseline is None else check.counts(baseline, "baseline", limits)
        check.baseline_length(len(base), limits)
        rate = float(base.mean())
        check.varies("c̄", rate)
    return _chart("c", _phase(c), x, rate, math.sqrt(rate))


def u_chart(
    defects: npt.ArrayLike,
    units: npt.ArrayLike,
    *,
    baseline: Baseline | None = None,
    u: float | None = None,
    limits: SpcLimits = LIMITS,
) -> Chart:
    """Defects per unit with a number of units per sample (one for all or one each, not
    necessarily whole): ū = Σc/Σn unless ``u`` is given; limits ū ± 3 √(ū/nᵢ)."""
    x, n = _counted(defects, units, limits, defectives=False)
    rate = check.positive(u, "u") if u is not None else _rate(x, n, baseline, limits, False)
    return _chart("u", _phase(u), x / n, rate, np.sqrt(rate / n))
