"""Run rules on a control chart's points: the Western Electric rules (Western Electric,
*Statistical Quality Control Handbook*, 1956) and Nelson's eight (L. S. Nelson, "The Shewhart
Control Chart — Tests for Special Causes", *Journal of Quality Technology* 16(4), 1984).

Zones come from the chart's own σ (the standard deviation of the plotted statistic at each
point, so per point on p and u charts): zone C within 1σ of the centre line, B from 1σ to
2σ, A from 2σ to 3σ. "Beyond kσ" is strict (``|x − centre| > kσ``); a point on the centre
line is on neither side and breaks a same-side run; equal neighbours break a trend or an
alternation.

A rule fires at the point that completes its pattern: the last point of each run or window
that meets it (Minitab's convention), so a run of 11 points on one side fires "9 in a row"
at its 9th, 10th and 11th points. A "k of w" rule fires only at a point that is itself
beyond the zone, and a window still filling at the start of the chart counts (two of the
first two beyond 2σ are two of any three). Indices are 0-based positions in the points.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from typing import Any

import numpy as np
import numpy.typing as npt
from numpy.typing import NDArray

from indunet.apps.builtin.spc_input import LIMITS, Floats, SpcLimits, refuse, series

Mask = NDArray[np.bool_]
Test = Callable[[Floats, Floats], Mask]


def _run_length(mask: Mask) -> NDArray[np.int64]:
    """At each i, how many points in a row up to and including i have ``mask`` true."""
    idx = np.arange(len(mask), dtype=np.int64)
    last_false = np.maximum.accumulate(np.where(mask, -1, idx))
    return idx - last_false


def _window_count(mask: Mask, width: int) -> NDArray[np.int64]:
    """At each i, how many of the ``width`` points ending at i have ``mask`` true."""
    cs = np.concatenate(([0], np.cumsum(mask, dtype=np.int64)))
    ends = np.arange(1, len(mask) + 1)
    return cs[ends] - cs[np.maximum(ends - width, 0)]


def _beyond(k: float, z: Floats, _x: Floats) -> Mask:
    return np.abs(z) > k


def _k_of_w(k: int, w: int, level: float, z: Floats, _x: Floats) -> Mask:
    out = np.zeros(len(z), dtype=bool)
    for side in (z > level, z < -level):
        out |= side & (_window_count(side, w) >= k)
    return out


def _same_side(length: int, z: Floats, _x: Floats) -> Mask:
    return (_run_length(z > 0) >= length) | (_run_length(z < 0) >= length)


def _trend(length: int, _z: Floats, x: Floats) -> Mask:
    d = np.diff(x)
    steps = length - 1
    fired = (_run_length(d > 0) >= steps) | (_run_length(d < 0) >= steps)
    return np.concatenate(([False], fired))


def _alternating(length: int, _z: Floats, x: Floats) -> Mask:
    s = np.sign(np.diff(x))
    flips = s[1:] * s[:-1] < 0  # flips[j]: the step into point j+2 reverses the one before
    fired = _run_length(flips) >= length - 2
    return np.concatenate(([False, False], fired))[: len(x)]


def _within(k: float, length: int, z: Floats, _x: Floats) -> Mask:
    return _run_length(np.abs(z) < k) >= length


def _outside(k: float, length: int, z: Floats, _x: Floats) -> Mask:
    return _run_length(np.abs(z) > k) >= length


@dataclass(frozen=True, slots=True)
class Rule:
    """One run rule: its stable id, its statement and its test over (z-scores, points)."""

    id: str
    statement: str
    test: Test = field(repr=False)


WESTERN_ELECTRIC: tuple[Rule, ...] = (
    Rule("we_1", "One point beyond 3σ (outside the control limits)", partial(_beyond, 3.0)),
    Rule(
        "we_2", "Two of three points in a row beyond 2σ, on one side", partial(_k_of_w, 2, 3, 2.0)
    ),
    Rule(
        "we_3", "Four of five points in a row beyond 1σ, on one side", partial(_k_of_w, 4, 5, 1.0)
    ),
    Rule("we_4", "Eight points in a row on one side of the centre line", partial(_same_side, 8)),
)

NELSON: tuple[Rule, ...] = (
    Rule("nelson_1", "One point beyond 3σ from the centre line", partial(_beyond, 3.0)),
    Rule("nelson_2", "Nine points in a row on one side of the centre line", partial(_same_side, 9)),
    Rule("nelson_3", "Six points in a row steadily increasing or decreasing", partial(_trend, 6)),
    Rule("nelson_4", "Fourteen points in a row alternating up and down", partial(_alternating, 14)),
    Rule(
        "nelson_5",
        "Two of three points in a row beyond 2σ, on one side",
        partial(_k_of_w, 2, 3, 2.0),
    ),
    Rule(
        "nelson_6",
        "Four of five points in a row beyond 1σ, on one side",
        partial(_k_of_w, 4, 5, 1.0),
    ),
    Rule(
        "nelson_7",
        "Fifteen points in a row within 1σ of the centre line",
        partial(_within, 1.0, 15),
    ),
    Rule("nelson_8", "Eight points in a row beyond 1σ, on either side", partial(_outside, 1.0, 8)),
)


@dataclass(frozen=True, slots=True, eq=False)
class RuleHit:
    """A rule and the indices of the points at which it fires (empty: it does not)."""

    rule: str
    indices: NDArray[np.int64]

    @property
    def fired(self) -> bool:
        """True if any point fires the rule."""
        return bool(len(self.indices))

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready: the rule id and the point indices."""
        return {"rule": self.rule, "indices": self.indices.tolist()}


def evaluate_zscores(rules: tuple[Rule, ...], z: Floats, points: Floats) -> tuple[RuleHit, ...]:
    """Every rule of ``rules`` on already checked z-scores and points (charts call this)."""
    return tuple(RuleHit(r.id, np.flatnonzero(r.test(z, points))) for r in rules)


def _evaluate(
    rules: tuple[Rule, ...],
    points: npt.ArrayLike,
    centre: float,
    sigma: npt.ArrayLike,
    limits: SpcLimits,
) -> tuple[RuleHit, ...]:
    x = series(points, "points", limits)
    c = series([centre], "centre", limits)[0]
    given = series(np.ravel(np.asarray(sigma)), "sigma", limits)
    if len(given) not in (1, len(x)):
        raise refuse(
            f"sigma has {len(given)} items for {len(x)} points",
            reason="apps_spc_size_count",
            what="sigma",
            count=len(given),
            expected=len(x),
        )
    s = np.broadcast_to(given, x.shape)
    if not (s > 0).all():
        raise refuse(
            "sigma must be above 0 at every point",
            reason="apps_spc_not_positive",
            name="sigma",
            value=float(s.min()),
        )
    return evaluate_zscores(rules, (x - c) / s, x)


def western_electric(
    points: npt.ArrayLike, centre: float, sigma: npt.ArrayLike, *, limits: SpcLimits = LIMITS
) -> tuple[RuleHit, ...]:
    """The four Western Electric rules on ``points`` around ``centre`` with ``sigma`` (one
    value, or one per point) the σ of the plotted statistic."""
    return _evaluate(WESTERN_ELECTRIC, points, centre, sigma, limits)


def nelson(
    points: npt.ArrayLike, centre: float, sigma: npt.ArrayLike, *, limits: SpcLimits = LIMITS
) -> tuple[RuleHit, ...]:
    """Nelson's eight rules on ``points`` around ``centre`` with ``sigma`` (one value, or
    one per point) the σ of the plotted statistic."""
    return _evaluate(NELSON, points, centre, sigma, limits)
