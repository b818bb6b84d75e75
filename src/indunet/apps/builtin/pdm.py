"""Predictive maintenance (预测性维护): window features, a health score, a CUSUM change point
and the remaining useful life (剩余寿命) with its interval, as pure functions over arrays.

Formulas, thresholds and the simulated data set are in docs/apps/pdm.md. In short:

* features per window of ``n`` samples: vibration RMS, peak ``max|x|``, crest factor
  ``peak/RMS``, kurtosis ``m4/m2²`` (3 for Gaussian noise); temperature mean and least-squares
  slope (units per sample);
* ``z = (x − μ)/σ`` against the baseline windows, deviation ``D = sqrt(mean z²)``, health
  ``H = 100 / (1 + max(0, D − 1)/3)``;
* one-sided CUSUM on ``u = (D − μ_D)/σ_D``: ``S = max(0, S + u − k)``, alarm when ``S > h``,
  change point the window after the last ``S = 0`` before the alarm;
* remaining life: ``ln RMS = a + b·t`` fitted from the change point on, extrapolated to the RMS
  limit; its interval is a residual bootstrap of that fit.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from indunet.core.errors import InvalidInput

Array = npt.NDArray[np.float64]

FEATURES = ("vib_rms", "vib_peak", "vib_crest", "vib_kurtosis", "temp_mean", "temp_slope")


@dataclass(frozen=True, slots=True)
class PdmLimits:
    """Bounds on the input and the method's constants (named once, stated in docs/apps/pdm.md)."""

    max_samples: int = 2_000_000  # per channel
    max_windows: int = 20_000
    min_window: int = 8
    max_window: int = 65_536
    min_baseline: int = 10
    sigma_floor: float = 1e-9  # σ of a feature is at least this × max(1, |μ|)
    health_scale: float = 3.0  # H = 50 when D = 1 + health_scale
    cusum_k: float = 1.0
    cusum_h: float = 15.0
    min_fit: int = 5
    bootstrap: int = 400
    max_bootstrap: int = 5_000
    interval: float = 0.90


LIMITS = PdmLimits()


def _series(name: str, values: Any, limit: int) -> Array:
    arr = np.asarray(values, dtype=np.float64)
    if arr.ndim != 1 or arr.size == 0:
        raise InvalidInput(
            f"{name} must be a non-empty list of numbers",
            reason="apps_pdm_empty",
            params={"name": name},
        )
    if arr.size > limit:
        raise InvalidInput(
            f"{name} has {arr.size} points; at most {limit}",
            reason="apps_pdm_too_many_points",
            params={"name": name, "count": int(arr.size), "max": limit},
        )
    if not np.all(np.isfinite(arr)):
        bad = int(np.flatnonzero(~np.isfinite(arr))[0])
        raise InvalidInput(
            f"{name}[{bad}] is not a finite number",
            reason="apps_pdm_not_finite",
            params={"name": name, "index": bad},
        )
    return arr


def _same_length(a: str, x: Array, b: str, y: Array) -> None:
    if x.size != y.size:
        raise InvalidInput(
            f"{a} has {x.size} points and {b} {y.size}; they must match",
            reason="apps_pdm_length_mismatch",
            params={"first": a, "second": b, "count": int(x.size), "other": int(y.size)},
        )


def _times(times: Any, count: int, limits: PdmLimits) -> Array:
    if times is None:
        return np.arange(count, dtype=np.float64)
    t = _series("times", times, limits.max_windows)
    if t.size != count:
        raise InvalidInput(
            f"times has {t.size} points and the series {count}; they must match",
            reason="apps_pdm_length_mismatch",
            params={"first": "times", "second": "series", "count": int(t.size), "other": count},
        )
    if t.size > 1 and not np.all(np.diff(t) > 0):
        bad = int(np.flatnonzero(np.diff(t) <= 0)[0]) + 1
        raise InvalidInput(
            f"times must increase strictly; times[{bad}] does not",
            reason="apps_pdm_times_unsorted",
            params={"index": bad},
        )
    return t


# -- features ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Features:
    """One row per window, one column per name in ``names`` (``FEATURES``)."""

    names: tuple[str, ...]
    values: Array  # shape (windows, features)

    def column(self, name: str) -> Array:
        """The series of one feature."""
        return self.values[:, self.names.index(name)]

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready: feature name → list of per-window values."""
        return {n: [float(v) for v in self.values[:, j]] for j, n in enumerate(self.names)}


def window_features(
    vibration: Any, temperature: Any, window: int, limits: PdmLimits = LIMITS
) -> Features:
    """Features of consecutive, non-overlapping windows of ``window`` samples (a last partial
    window is dropped). Both channels are sampled together, so they have the same length."""
    vib = _series("vibration", vibration, limits.max_samples)
    temp = _series("temperature", temperature, limits.max_samples)
    _same_length("vibration", vib, "temperature", temp)
    if not limits.min_window <= window <= limits.max_window:
        raise InvalidInput(
            f"window must be {limits.min_window}..{limits.max_window} samples, not {window}",
            reason="apps_pdm_window",
            params={"window": window, "min": limits.min_window, "max": limits.max_window},
        )
    count = vib.size // window
    if count == 0:
        raise InvalidInput(
            f"{vib.size} samples make no window of {window}",
            reason="apps_pdm_too_few_samples",
            params={"count": int(vib.size), "window": window},
        )
    x = vib[: count * window].reshape(count, window)
    m2 = np.mean(x * x, axis=1)
    rms = np.sqrt(m2)
    peak = np.max(np.abs(x), axis=1)
    centred = x - x.mean(axis=1, keepdims=True)
    c2 = np.mean(centred**2, axis=1)
    c4 = np.mean(centred**4, axis=1)
    safe = np.where(c2 > 0, c2, 1.0)
    kurtosis = np.where(c2 > 0, c4 / (safe * safe), 0.0)  # a constant window: 0
    crest = np.where(rms > 0, peak / np.where(rms > 0, rms, 1.0), 0.0)
    y = temp[: count * window].reshape(count, window)
    i = np.arange(window, dtype=np.float64) - (window - 1) / 2.0
    slope = (y @ i) / float(i @ i)  # least squares: Σ(i − ī)(y − ȳ)/Σ(i − ī)², units per sample
    values = np.column_stack([rms, peak, crest, kurtosis, y.mean(axis=1), slope])
    return Features(FEATURES, values)


# -- health --------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Health:
    """Per-window standardised deviations ``z``, their RMS ``deviation`` and the ``score``."""

    names: tuple[str, ...]
    mean: Array
    std: Array
    z: Array  # (windows, features)
    deviation: Array  # D = sqrt(mean_j z²)
    score: Array  # 0–100

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready: the baseline and the series."""
        return {
            "baseline": {
                n: {"mean": float(m), "std": float(s)}
                for n, m, s in zip(self.names, self.mean, self.std, strict=True)
            },
            "deviation": [float(v) for v in self.deviation],
            "score": [float(v) for v in self.score],
        }


def health(features: Features, baseline: int, limits: PdmLimits = LIMITS) -> Health:
    """The health score of every window against the first ``baseline`` windows (healthy)."""
    total = features.values.shape[0]
    if not limits.min_baseline <= baseline <= total:
        raise InvalidInput(
            f"the baseline must be {limits.min_baseline}..{total} windows, not {baseline}",
            reason="apps_pdm_baseline",
            params={"baseline": baseline, "min": limits.min_baseline, "windows": total},
        )
    base = features.values[:baseline]
    mean = base.mean(axis=0)
    std = np.maximum(base.std(axis=0, ddof=1), limits.sigma_floor * np.maximum(1.0, np.abs(mean)))
    z = (features.values - mean) / std
    deviation = np.sqrt(np.mean(z * z, axis=1))
    score = 100.0 / (1.0 + np.maximum(0.0, deviation - 1.0) / limits.health_scale)
    return Health(features.names, mean, std, z, deviation, score)


@dataclass(frozen=True, slots=True)
class Contribution:
    """One feature's part in a window's deviation: ``share`` of ``D²`` and its signed ``z``."""

    feature: str
    z: float
    share: float

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready."""
        return {"feature": self.feature, "z": self.z, "share": self.share}


def explain(state: Health, index: int = -1) -> tuple[Contribution, ...]:
    """Which features drove window ``index``'s score, largest share of ``Σ z²`` first."""
    z = state.z[index]
    total = float(np.sum(z * z))
    order = np.argsort(-(z * z), kind="stable")
    return tuple(
        Contribution(state.names[j], float(z[j]), float(z[j] ** 2 / total) if total else 0.0)
        for j in order
    )


# -- change point ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ChangePoint:
    """A CUSUM alarm (``None`` when the series stayed in control) and its onset estimate."""

    alarm: int | None
    change: int | None
    statistic: Array

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready."""
        return {"alarm": self.alarm, "change": self.change, "statistic": self.statistic.tolist()}


def change_point(state: Health, baseline: int, limits: PdmLimits = LIMITS) -> ChangePoint:
    """One-sided CUSUM on the deviation, standardised by its baseline mean and std; the
    statistic starts after the baseline."""
    d = state.deviation
    base = d[:baseline]
    scale = max(float(base.std(ddof=1)), limits.sigma_floor)
    u = (d - float(base.mean())) / scale
    stat = np.zeros(d.size)
    s, last_zero = 0.0, baseline - 1
    for i in range(baseline, d.size):
        s = max(0.0, s + float(u[i]) - limits.cusum_k)
        stat[i] = s
        if s == 0.0:
            last_zero = i
        elif s > limits.cusum_h:
            return ChangePoint(i, last_zero + 1, stat[: i + 1])
    return ChangePoint(None, None, stat)


# -- remaining useful life ---------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RemainingLife:
    """Remaining life in the units of ``times``; ``None`` when no rising trend reaches the
    limit, an upper bound of ``None`` when some bootstrap fits never reach it."""

    rul: float | None
    low: float | None
    high: float | None
    failure_time: float | None
    rate: float  # fitted b of ln y = a + b·t
    points: int

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready."""
        return {
            "rul": self.rul,
            "low": self.low,
            "high": self.high,
            "failure_time": self.failure_time,
            "rate": self.rate,
            "points": self.points,
        }


def _fit(t: Array, y: Array) -> tuple[Array, Array]:
    """Least-squares ``y = a + b·t`` over the last axis of ``y``; returns ``(a, b)``."""
    tc = t - t.mean()
    b = (y - y.mean(axis=-1, keepdims=True)) @ tc / float(tc @ tc)
    return y.mean(axis=-1) - b * t.mean(), b


def remaining_life(
    times: Any,
    indicator: Any,
    limit: float,
    seed: int = 0,
    limits: PdmLimits = LIMITS,
) -> RemainingLife:
    """Fit ``ln y = a + b·t`` to a positive, rising indicator (the windows from the change point
    on) and extrapolate to ``limit``: failure at ``t* = (ln limit − a)/b``, life ``t* − t_last``.
    The interval: refit ``limits.bootstrap`` times with resampled residuals (seeded, so the
    answer is repeatable) and take the central ``limits.interval`` of the lives."""
    y = _series("indicator", indicator, limits.max_windows)
    t = _times(times, y.size, limits)
    if y.size < limits.min_fit:
        raise InvalidInput(
            f"the fit needs at least {limits.min_fit} points, not {y.size}",
            reason="apps_pdm_too_few_points",
            params={"count": int(y.size), "min": limits.min_fit},
        )
    if not limit > 0 or not np.all(y > 0):
        raise InvalidInput(
            "the indicator and its limit must be positive",
            reason="apps_pdm_not_positive",
            params={"limit": float(limit)},
        )
    if not 1 <= limits.bootstrap <= limits.max_bootstrap:
        raise InvalidInput(
            f"bootstrap must be 1..{limits.max_bootstrap}",
            reason="apps_pdm_bootstrap",
            params={"count": limits.bootstrap, "max": limits.max_bootstrap},
        )
    logy, target, now = np.log(y), float(np.log(limit)), float(t[-1])
    a, b = _fit(t, logy)
    if y[-1] >= limit:
        return RemainingLife(0.0, 0.0, 0.0, now, float(b), int(y.size))
    if b <= 0:
        return RemainingLife(None, None, None, None, float(b), int(y.size))
    fitted = a + b * t
    resid = logy - fitted
    rng = np.random.default_rng(seed)
    draws = fitted + resid[rng.integers(0, y.size, size=(limits.bootstrap, y.size))]
    ab, bb = _fit(t, draws)
    with np.errstate(divide="ignore", invalid="ignore"):
        lives = np.where(bb > 0, np.maximum(0.0, (target - ab) / bb - now), np.inf)
    tail = (1.0 - limits.interval) / 2.0
    low = float(np.quantile(lives, tail, method="lower"))
    high = float(np.quantile(lives, 1.0 - tail, method="higher"))
    failure = (target - float(a)) / float(b)
    return RemainingLife(
        max(0.0, failure - now),
        low if np.isfinite(low) else None,
        high if np.isfinite(high) else None,
        failure,
        float(b),
        int(y.size),
    )


# -- the whole assessment ----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Assessment:
    """Health now, its drivers, the change point and (after one) the remaining life."""

    features: Features
    health: Health
    change: ChangePoint
    life: RemainingLife | None
    drivers: tuple[Contribution, ...]

    @property
    def score(self) -> float:
        """The latest window's health score."""
        return float(self.health.score[-1])

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready."""
        return {
            "score": self.score,
            "features": self.features.as_dict(),
            "health": self.health.as_dict(),
            "change": self.change.as_dict(),
            "life": None if self.life is None else self.life.as_dict(),
            "drivers": [c.as_dict() for c in self.drivers],
        }


def assess(
    vibration: Any,
    temperature: Any,
    window: int,
    baseline: int,
    rms_limit: float,
    times: Any = None,
    seed: int = 0,
    limits: PdmLimits = LIMITS,
) -> Assessment:
    """Features, health against the first ``baseline`` windows, the CUSUM change point and,
    once there is one, the life left until the vibration RMS reaches ``rms_limit`` (fitted on
    the windows from the change point on). ``times`` are the windows' times (default 0, 1, …)."""
    if not rms_limit > 0:
        raise InvalidInput(
            "the RMS limit must be positive",
            reason="apps_pdm_not_positive",
            params={"limit": float(rms_limit)},
        )
    feats = window_features(vibration, temperature, window, limits)
    t = _times(times, feats.values.shape[0], limits)
    state = health(feats, baseline, limits)
    change = change_point(state, baseline, limits)
    life = None
    if change.change is not None and feats.values.shape[0] - change.change >= limits.min_fit:
        rms = feats.column("vib_rms")[change.change :]
        life = remaining_life(t[change.change :], rms, rms_limit, seed, limits)
    return Assessment(feats, state, change, life, explain(state))
