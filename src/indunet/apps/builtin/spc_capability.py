"""Process capability (过程能力指数): Cp and Cpk from the within-subgroup σ, Pp and Ppk from
the overall σ (AIAG, *Statistical Process Control*, 2nd ed., 2005; ISO 22514-2).

With μ the mean of all values, and σ either σ_within or σ_overall::

    Cp  = (USL − LSL) / 6σ_within          Pp  = (USL − LSL) / 6σ_overall
    CPU = (USL − μ) / 3σ_within            PPU = (USL − μ) / 3σ_overall
    CPL = (μ − LSL) / 3σ_within            PPL = (μ − LSL) / 3σ_overall
    Cpk = min(CPU, CPL)                    Ppk = min(PPU, PPL)

σ_within is R̄/d2 or S̄/c4 of subgroups, MR̄/d2 (n = 2) of individual values, or a known σ
given; σ_overall is the sample standard deviation of all values (divisor N − 1). With one
specification limit only, Cp and Pp are undefined (``None``) and Cpk, Ppk are the one side.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from indunet.apps.builtin import spc_input as check
from indunet.apps.builtin.spc_constants import constants
from indunet.apps.builtin.spc_input import LIMITS, Floats, SpcLimits

#: how σ_within may be estimated, by the shape of the values
WITHIN_SUBGROUPS: tuple[str, ...] = ("range", "stddev")
WITHIN_INDIVIDUALS: tuple[str, ...] = ("moving_range",)


@dataclass(frozen=True, slots=True)
class Capability:
    """Capability indices against the specification limits (``None``: not defined)."""

    lsl: float | None
    usl: float | None
    mean: float
    sigma_within: float
    sigma_overall: float
    within: str  # range, stddev, moving_range or given
    cp: float | None
    cpu: float | None
    cpl: float | None
    cpk: float
    pp: float | None
    ppu: float | None
    ppl: float | None
    ppk: float

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready."""
        return asdict(self)


def _indices(
    mean: float, sigma: float, lsl: float | None, usl: float | None
) -> tuple[float | None, float | None, float | None, float]:
    upper = None if usl is None else (usl - mean) / (3 * sigma)
    lower = None if lsl is None else (mean - lsl) / (3 * sigma)
    whole = None if lsl is None or usl is None else (usl - lsl) / (6 * sigma)
    k = min(v for v in (upper, lower) if v is not None)
    return whole, upper, lower, k


def _within_sigma(x: Floats, within: str | None) -> tuple[str, float]:
    if x.ndim == 2:
        method = within or "range"
        allowed = WITHIN_SUBGROUPS
    else:
        method = within or "moving_range"
        allowed = WITHIN_INDIVIDUALS
    if method not in allowed:
        raise check.refuse(
            f"σ within cannot be estimated by {method!r} here; use one of {', '.join(allowed)}",
            reason="apps_spc_within_method",
            method=method,
        )
    if method == "range":
        bar, name, unbias = float(np.ptp(x, axis=1).mean()), "R̄", constants(x.shape[1]).d2
    elif method == "stddev":
        bar, name, unbias = float(x.std(axis=1, ddof=1).mean()), "S̄", constants(x.shape[1]).c4
    else:
        bar, name, unbias = float(np.abs(np.diff(x)).mean()), "MR̄", constants(2).d2
    check.varies(name, bar)
    return method, bar / unbias


def capability(
    values: npt.ArrayLike,
    *,
    lsl: float | None = None,
    usl: float | None = None,
    within: str | None = None,
    sigma: float | None = None,
    limits: SpcLimits = LIMITS,
) -> Capability:
    """Cp, Cpk, Pp and Ppk of ``values``: a table of subgroups (σ_within by ``within``,
    ``"range"`` or ``"stddev"``) or a list of individual values (by moving range), unless
    the within σ is given as ``sigma``. One of ``lsl`` and ``usl`` may be left out."""
    low, high = check.spec(lsl, usl)
    if np.ndim(values) == 2:
        x = check.subgroups(values, "values", limits)
    else:
        x = check.series(values, "values", limits, minimum=2)
    check.baseline_length(len(x), limits)
    if sigma is not None:
        method, s_within = "given", check.positive(sigma, "sigma")
    else:
        method, s_within = _within_sigma(x, within)
    flat = x.ravel()
    mean = float(flat.mean())
    s_overall = float(flat.std(ddof=1))
    check.varies("s", s_overall)
    cp, cpu, cpl, cpk = _indices(mean, s_within, low, high)
    pp, ppu, ppl, ppk = _indices(mean, s_overall, low, high)
    return Capability(
        lsl=low,
        usl=high,
        mean=mean,
        sigma_within=s_within,
        sigma_overall=s_overall,
        within=method,
        cp=cp,
        cpu=cpu,
        cpl=cpl,
        cpk=cpk,
        pp=pp,
        ppu=ppu,
        ppl=ppl,
        ppk=ppk,
    )
