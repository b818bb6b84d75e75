"""Energy management (能耗管理): a meter hierarchy and its unmetered remainder, energy from
cumulative kWh registers or from power, kWh per unit of output, and a baseline with savings.
Time-of-use (峰谷平) costs are in ``tariff``. Formulas and rules: docs/apps/energy.md.

* unmetered remainder of a parent ``= E_parent − Σ E_children`` (negative: the sub-meters read
  more than their parent, a sign of a wrong meter or wiring);
* a register's energy is the sum of its increases. A decrease is a rollover when a ``rollover``
  (the register's modulus, 1 000 000 for a six-digit kWh register) is given, the previous
  reading was in its top 10 % and the new one in its bottom 10 %: energy
  ``rollover − r[i−1] + r[i]``. Any other decrease is a reset (meter replaced or cleared):
  energy ``r[i]`` (counted from zero; what ran between the last reading and the reset is lost);
* power integration is the trapezoid rule, kW × h;
* baseline: ordinary least squares ``E = β₀ + β₁·output (+ β₂·degree-days)`` over the baseline
  periods; savings ``= Σ (baseline prediction − actual)`` over the reporting periods.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from indunet.core.errors import InvalidInput

Array = npt.NDArray[np.float64]

MAX_POINTS = 1_000_000  # per series
MAX_METERS = 10_000
ROLLOVER_BAND = 0.10  # top and bottom share of a register's range that mark a rollover


def series(name: str, values: Any, limit: int = MAX_POINTS) -> Array:
    """A 1-D finite float array of at most ``limit`` points, or ``InvalidInput``."""
    arr = np.asarray(values, dtype=np.float64)
    if arr.ndim != 1 or arr.size == 0:
        raise InvalidInput(
            f"{name} must be a non-empty list of numbers",
            reason="apps_energy_empty",
            params={"name": name},
        )
    if arr.size > limit:
        raise InvalidInput(
            f"{name} has {arr.size} points; at most {limit}",
            reason="apps_energy_too_many_points",
            params={"name": name, "count": int(arr.size), "max": limit},
        )
    if not np.all(np.isfinite(arr)):
        bad = int(np.flatnonzero(~np.isfinite(arr))[0])
        raise InvalidInput(
            f"{name}[{bad}] is not a finite number",
            reason="apps_energy_not_finite",
            params={"name": name, "index": bad},
        )
    return arr


def same_length(a: str, x: Array, b: str, y: Array) -> None:
    """Refuse two series of different lengths."""
    if x.size != y.size:
        raise InvalidInput(
            f"{a} has {x.size} points and {b} {y.size}; they must match",
            reason="apps_energy_length_mismatch",
            params={"first": a, "second": b, "count": int(x.size), "other": int(y.size)},
        )


def increasing(name: str, t: Array) -> None:
    """Refuse times that do not increase strictly."""
    if t.size > 1 and not np.all(np.diff(t) > 0):
        bad = int(np.flatnonzero(np.diff(t) <= 0)[0]) + 1
        raise InvalidInput(
            f"{name} must increase strictly; {name}[{bad}] does not",
            reason="apps_energy_times_unsorted",
            params={"name": name, "index": bad},
        )


# -- meter hierarchy -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Remainder:
    """A parent meter's energy, its sub-meters' sum and what they leave unmetered."""

    meter: str
    energy: float
    children: float
    unmetered: float

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready."""
        return {
            "meter": self.meter,
            "energy": self.energy,
            "children": self.children,
            "unmetered": self.unmetered,
        }


@dataclass(frozen=True, slots=True)
class MeterTree:
    """Meters and their parents (``None`` for a top meter); built by ``meter_tree``."""

    parents: Mapping[str, str | None]

    def children(self, meter: str) -> list[str]:
        """The direct sub-meters of ``meter``, sorted."""
        return sorted(m for m, p in self.parents.items() if p == meter)

    def balance(self, energy: Mapping[str, float]) -> list[Remainder]:
        """For every meter with sub-meters: ``unmetered = E − Σ E_children`` (kWh)."""
        missing = sorted(set(self.parents) - set(energy))
        if missing:
            raise InvalidInput(
                f"no energy for meter {missing[0]}",
                reason="apps_energy_meter_missing",
                params={"meter": missing[0]},
            )
        for meter in sorted(self.parents):
            if not np.isfinite(energy[meter]):
                raise InvalidInput(
                    f"the energy of meter {meter} is not a finite number",
                    reason="apps_energy_not_finite",
                    params={"name": meter, "index": 0},
                )
        out = []
        for meter in sorted(self.parents):
            kids = self.children(meter)
            if kids:
                total = float(sum(energy[k] for k in kids))
                own = float(energy[meter])
                out.append(Remainder(meter, own, total, own - total))
        return out


def meter_tree(parents: Mapping[str, str | None]) -> MeterTree:
    """Check a hierarchy (each parent a known meter, no cycle) and return it."""
    if len(parents) > MAX_METERS:
        raise InvalidInput(
            f"{len(parents)} meters; at most {MAX_METERS}",
            reason="apps_energy_too_many_points",
            params={"name": "meters", "count": len(parents), "max": MAX_METERS},
        )
    for meter, parent in parents.items():
        if parent is not None and parent not in parents:
            raise InvalidInput(
                f"meter {meter}'s parent {parent} is not a meter",
                reason="apps_energy_meter_unknown",
                params={"meter": meter, "parent": parent},
            )
    for start in parents:
        seen = [start]
        up = parents[start]
        while up is not None:
            if up in seen:
                cycle = " → ".join([*seen[seen.index(up) :], up])
                raise InvalidInput(
                    f"the meters form a cycle: {cycle}",
                    reason="apps_energy_meter_cycle",
                    params={"cycle": cycle},
                )
            seen.append(up)
            up = parents[up]
    return MeterTree(dict(parents))


# -- energy from registers and from power --------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Intervals:
    """Energy (kWh) of each interval ``[times[i], times[i+1])`` and what was adjusted."""

    times: Array  # the readings' times, one more than ``energy``
    energy: Array
    events: tuple[tuple[int, str], ...]  # (interval index, "rollover" | "reset" | "gap")

    @property
    def total(self) -> float:
        """The energy of all intervals, kWh."""
        return float(self.energy.sum())

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready."""
        return {
            "total": self.total,
            "energy": self.energy.tolist(),
            "events": [{"index": i, "kind": k} for i, k in self.events],
        }


def register_energy(times: Any, readings: Any, rollover: float | None = None) -> Intervals:
    """Interval energy from a cumulative kWh register read at ``times`` (seconds)."""
    t = series("times", times)
    r = series("readings", readings)
    same_length("times", t, "readings", r)
    increasing("times", t)
    if np.any(r < 0) or (rollover is not None and (not rollover > 0 or np.any(r >= rollover))):
        raise InvalidInput(
            "register readings must be 0 or more and below the rollover",
            reason="apps_energy_register_range",
            params={"rollover": rollover},
        )
    d = np.diff(r)
    events: list[tuple[int, str]] = []
    for i in np.flatnonzero(d < 0):
        prev, now = float(r[i]), float(r[i + 1])
        if (
            rollover is not None
            and prev >= (1 - ROLLOVER_BAND) * rollover
            and now < ROLLOVER_BAND * rollover
        ):
            d[i] = rollover - prev + now
            events.append((int(i), "rollover"))
        else:
            d[i] = now
            events.append((int(i), "reset"))
    return Intervals(t, d, tuple(events))


def power_energy(times: Any, power_kw: Any, max_gap_s: float | None = None) -> Intervals:
    """Interval energy from power samples (kW at ``times`` in seconds) by the trapezoid rule;
    intervals longer than ``max_gap_s`` count 0 and are reported as gaps."""
    t = series("times", times)
    p = series("power", power_kw)
    same_length("times", t, "power", p)
    increasing("times", t)
    dt = np.diff(t)
    e = (p[:-1] + p[1:]) / 2.0 * dt / 3600.0
    events: tuple[tuple[int, str], ...] = ()
    if max_gap_s is not None:
        gaps = np.flatnonzero(dt > max_gap_s)
        e[gaps] = 0.0
        events = tuple((int(i), "gap") for i in gaps)
    return Intervals(t, e, events)


# -- intensity, baseline, savings ----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Intensity:
    """kWh per unit of output per period (``None`` where nothing was made) and overall."""

    per_period: tuple[float | None, ...]
    overall: float | None

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready."""
        return {"per_period": list(self.per_period), "overall": self.overall}


def intensity(energy: Any, output: Any) -> Intensity:
    """kWh per unit of output for each period (``None`` where nothing was made) and overall."""
    e = series("energy", energy)
    o = series("output", output)
    same_length("energy", e, "output", o)
    if np.any(o < 0):
        raise InvalidInput(
            "output must be 0 or more",
            reason="apps_energy_negative_output",
            params={"index": int(np.flatnonzero(o < 0)[0])},
        )
    per = tuple(float(a / b) if b > 0 else None for a, b in zip(e, o, strict=True))
    made = float(o.sum())
    return Intensity(per, float(e.sum()) / made if made > 0 else None)


@dataclass(frozen=True, slots=True)
class Baseline:
    """``E = β₀ + β₁·output (+ β₂·degree-days)`` fitted over the baseline periods."""

    coefficients: tuple[float, ...]
    r2: float
    cv_rmse: float  # RMSE / mean E over the baseline

    def predict(self, output: Array, degree_days: Array | None) -> Array:
        """The baseline's energy for these periods."""
        x = _design(output, degree_days)
        predicted: Array = x @ np.asarray(self.coefficients, dtype=np.float64)
        return predicted

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready."""
        return {"coefficients": list(self.coefficients), "r2": self.r2, "cv_rmse": self.cv_rmse}


def _design(output: Array, degree_days: Array | None) -> Array:
    cols = [np.ones_like(output), output]
    if degree_days is not None:
        cols.append(degree_days)
    return np.column_stack(cols)


def fit_baseline(energy: Any, output: Any, degree_days: Any = None) -> Baseline:
    """Ordinary least squares over the baseline periods (at least 2 more than coefficients)."""
    e = series("energy", energy)
    o = series("output", output)
    same_length("energy", e, "output", o)
    dd = None if degree_days is None else series("degree_days", degree_days)
    if dd is not None:
        same_length("energy", e, "degree_days", dd)
    x = _design(o, dd)
    if e.size < x.shape[1] + 2 or np.linalg.matrix_rank(x) < x.shape[1]:
        raise InvalidInput(
            f"the baseline needs {x.shape[1] + 2} or more periods whose output"
            " (and degree-days) vary",
            reason="apps_energy_baseline_degenerate",
            params={"count": int(e.size), "min": x.shape[1] + 2},
        )
    beta, *_ = np.linalg.lstsq(x, e, rcond=None)
    resid = e - x @ beta
    ss_tot = float(np.sum((e - e.mean()) ** 2))
    r2 = 1.0 - float(resid @ resid) / ss_tot if ss_tot > 0 else 1.0
    rmse = float(np.sqrt(resid @ resid / (e.size - x.shape[1])))
    cv = rmse / float(e.mean()) if e.mean() != 0 else float("inf")
    return Baseline(tuple(float(b) for b in beta), r2, cv)


@dataclass(frozen=True, slots=True)
class Savings:
    """Baseline prediction, avoided energy per period and in total (kWh), and its share."""

    predicted: tuple[float, ...]
    per_period: tuple[float, ...]
    total: float
    share: float | None

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready."""
        return {
            "predicted": list(self.predicted),
            "per_period": list(self.per_period),
            "total": self.total,
            "share": self.share,
        }


def savings(baseline: Baseline, energy: Any, output: Any, degree_days: Any = None) -> Savings:
    """Avoided energy over the reporting periods: baseline prediction − actual, per period and
    in total (positive: less energy used than the baseline predicts)."""
    e = series("energy", energy)
    o = series("output", output)
    same_length("energy", e, "output", o)
    want = len(baseline.coefficients) == 3
    if (degree_days is not None) != want:
        raise InvalidInput(
            "degree-days must be given exactly when the baseline was fitted with them",
            reason="apps_energy_degree_days",
            params={},
        )
    dd = None if degree_days is None else series("degree_days", degree_days)
    if dd is not None:
        same_length("energy", e, "degree_days", dd)
    predicted = baseline.predict(o, dd)
    per = predicted - e
    total = float(per.sum())
    expected = float(predicted.sum())
    return Savings(
        tuple(float(v) for v in predicted),
        tuple(float(v) for v in per),
        total,
        total / expected if expected else None,
    )
