"""The checks every SPC input passes, and their bounds: numbers finite, shapes right, counts
whole and non-negative, sizes positive, a baseline long enough and no input beyond the
bounds. Each refusal is an ``InvalidInput`` whose ``reason`` (``apps_spc_*``) names what is
wrong; nothing is computed from bad input."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
from numpy.typing import NDArray

from indunet.apps.builtin.spc_constants import MAX_SUBGROUP, MIN_SUBGROUP
from indunet.core.errors import InvalidInput

Floats = NDArray[np.float64]


@dataclass(frozen=True, slots=True)
class SpcLimits:
    """How much one call may take in, and how little a baseline may hold."""

    #: points on one chart (subgroups, samples or individual values)
    max_points: int = 1_000_000
    #: individual measurements in one call (subgroups × their size)
    max_values: int = 5_000_000
    #: points a phase I baseline needs at least (20–25 are advised; docs/apps/spc.md)
    min_baseline: int = 5


LIMITS = SpcLimits()


def refuse(message: str, *, reason: str, **params: Any) -> InvalidInput:
    """An ``InvalidInput`` with its reason and params (the SPC modules raise only these)."""
    return InvalidInput(message, reason=reason, params=params)


def _numeric(data: npt.ArrayLike, what: str) -> NDArray[Any]:
    try:
        arr = np.asarray(data)
    except (ValueError, TypeError) as exc:  # ragged nesting, odd objects
        raise refuse(
            f"{what} must be numbers, in a list or a table of equal rows",
            reason="apps_spc_not_numeric",
            what=what,
        ) from exc
    if arr.dtype.kind not in "biuf":
        raise refuse(f"{what} must be numbers", reason="apps_spc_not_numeric", what=what)
    return arr


def _finite(arr: Floats, what: str) -> Floats:
    bad = ~np.isfinite(arr)
    if bad.any():
        index = int(np.argmax(bad.reshape(len(arr), -1).any(axis=1)))
        raise refuse(
            f"{what}: item {index} is not a finite number",
            reason="apps_spc_not_finite",
            what=what,
            index=index,
        )
    return arr


def _points(count: int, limits: SpcLimits) -> None:
    if count > limits.max_points:
        raise refuse(
            f"{count} points are more than the {limits.max_points} one chart may take",
            reason="apps_spc_too_many_points",
            count=count,
            max=limits.max_points,
        )


def series(data: npt.ArrayLike, what: str, limits: SpcLimits, *, minimum: int = 1) -> Floats:
    """A one-dimensional series of finite numbers, ``minimum`` to ``limits.max_points`` long."""
    arr = _numeric(data, what)
    if arr.ndim != 1:
        raise refuse(f"{what} must be a list of numbers", reason="apps_spc_not_series", what=what)
    _points(len(arr), limits)
    if len(arr) < minimum:
        raise _short(len(arr), minimum)
    return _finite(arr.astype(np.float64), what)


def subgroups(data: npt.ArrayLike, what: str, limits: SpcLimits) -> Floats:
    """A table of subgroups, one row each, all of one size n with 2 ≤ n ≤ 25."""
    arr = _numeric(data, what)
    if arr.ndim != 2:
        raise refuse(
            f"{what} must be a table of subgroups, one row each, all of one size",
            reason="apps_spc_not_subgroups",
            what=what,
        )
    m, n = arr.shape
    if not MIN_SUBGROUP <= n <= MAX_SUBGROUP:
        raise refuse(
            f"subgroups of {n} values: the size must be {MIN_SUBGROUP} to {MAX_SUBGROUP}",
            reason="apps_spc_subgroup_size",
            n=n,
            min=MIN_SUBGROUP,
            max=MAX_SUBGROUP,
        )
    _points(m, limits)
    if m * n > limits.max_values:
        raise refuse(
            f"{m * n} values are more than the {limits.max_values} one call may take",
            reason="apps_spc_too_many_values",
            count=m * n,
            max=limits.max_values,
        )
    if m == 0:
        raise _short(0, 1)
    return _finite(arr.astype(np.float64), what)


def _short(count: int, minimum: int) -> InvalidInput:
    return refuse(
        f"{count} points are too few: at least {minimum} are needed",
        reason="apps_spc_baseline_short",
        count=count,
        min=minimum,
    )


def baseline_length(count: int, limits: SpcLimits) -> None:
    """Refuse a phase I baseline shorter than ``limits.min_baseline`` points."""
    if count < limits.min_baseline:
        raise _short(count, limits.min_baseline)


def counts(data: npt.ArrayLike, what: str, limits: SpcLimits) -> Floats:
    """Counts (defectives or defects): whole numbers, none negative."""
    arr = series(data, what, limits)
    negative = arr < 0
    if negative.any():
        index = int(np.argmax(negative))
        raise refuse(
            f"{what}: item {index} is {arr[index]:g}; a count cannot be negative",
            reason="apps_spc_count_negative",
            what=what,
            index=index,
            value=float(arr[index]),
        )
    _whole(arr, what)
    return arr


def _whole(arr: Floats, what: str) -> None:
    fraction = arr != np.floor(arr)
    if fraction.any():
        index = int(np.argmax(fraction))
        raise refuse(
            f"{what}: item {index} is {arr[index]:g}; it must be a whole number",
            reason="apps_spc_not_whole",
            what=what,
            index=index,
            value=float(arr[index]),
        )


def sizes(data: npt.ArrayLike, what: str, count: int, limits: SpcLimits, *, whole: bool) -> Floats:
    """Sample sizes (or inspection units), one for all ``count`` points or one each; > 0."""
    if np.ndim(data) == 0:
        value = float(series(np.reshape(np.asarray(data), 1), what, limits)[0])
        arr = np.full(count, value)
    else:
        arr = series(data, what, limits)
        if len(arr) != count:
            raise refuse(
                f"{what} has {len(arr)} items for {count} points",
                reason="apps_spc_size_count",
                what=what,
                count=len(arr),
                expected=count,
            )
    small = arr <= 0
    if small.any():
        index = int(np.argmax(small))
        raise refuse(
            f"{what}: item {index} is {arr[index]:g}; a sample size must be above 0",
            reason="apps_spc_size_not_positive",
            what=what,
            index=index,
            value=float(arr[index]),
        )
    if whole:
        _whole(arr, what)
    return arr


def within_sizes(defectives: Floats, sample_sizes: Floats) -> None:
    """Refuse more defectives than units inspected."""
    over = defectives > sample_sizes
    if over.any():
        index = int(np.argmax(over))
        raise refuse(
            f"sample {index}: {defectives[index]:g} defectives in a sample of "
            f"{sample_sizes[index]:g}",
            reason="apps_spc_defectives_above_size",
            index=index,
            defectives=float(defectives[index]),
            size=float(sample_sizes[index]),
        )


def number(value: object, name: str) -> float:
    """A given parameter (a mean, a limit): a finite number."""
    if isinstance(value, bool) or not isinstance(value, int | float | np.number):
        raise refuse(f"{name} must be a number", reason="apps_spc_parameter", name=name)
    out = float(value)
    if not math.isfinite(out):
        raise refuse(f"{name} must be a finite number", reason="apps_spc_parameter", name=name)
    return out


def positive(value: object, name: str) -> float:
    """A given σ, c or u: a finite number above 0."""
    out = number(value, name)
    if out <= 0:
        raise refuse(
            f"{name} is {out:g}; it must be above 0",
            reason="apps_spc_not_positive",
            name=name,
            value=out,
        )
    return out


def proportion(value: object, name: str) -> float:
    """A given fraction defective: strictly between 0 and 1."""
    out = number(value, name)
    if not 0 < out < 1:
        raise refuse(
            f"{name} is {out:g}; a proportion must lie strictly between 0 and 1",
            reason="apps_spc_proportion",
            name=name,
            value=out,
        )
    return out


def varies(statistic: str, value: float) -> None:
    """Refuse a baseline without variation: its limits would collapse onto the centre."""
    if not value > 0:
        raise refuse(
            f"the baseline shows no variation ({statistic} = {value:g}); "
            "control limits cannot be set from it",
            reason="apps_spc_no_variation",
            statistic=statistic,
        )


def spec(lsl: object, usl: object) -> tuple[float | None, float | None]:
    """Specification limits: at least one; both finite, and LSL below USL."""
    if lsl is None and usl is None:
        raise refuse(
            "capability needs a specification limit (LSL, USL or both)",
            reason="apps_spc_spec_missing",
        )
    low = None if lsl is None else number(lsl, "lsl")
    high = None if usl is None else number(usl, "usl")
    if low is not None and high is not None and low >= high:
        raise refuse(
            f"LSL {low:g} must be below USL {high:g}",
            reason="apps_spc_spec_reversed",
            lsl=low,
            usl=high,
        )
    return low, high
