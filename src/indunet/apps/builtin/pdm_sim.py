"""Machines run to failure, simulated with known onsets and failure times, to evaluate the
predictive-maintenance method (``pdm``) against the truth (docs/apps/pdm.md, "The data set").

A machine gives ``window`` samples of vibration velocity (mm/s) and temperature (°C) per window
(one window an hour). Healthy: vibration ``σ₀·ε``, ``ε ~ N(0, 1)``, temperature
``T₀ + 0.3·ε``. From the onset window ``t₀`` the vibration amplitude grows as
``a(t) = exp(b·(t − t₀))·(1 + 0.03·ε_t)`` (one load draw per window), with defect impulses of
height ``4·σ₀·a`` (Poisson count, mean ``2·(1 − 1/a)`` per window) and temperature rising by
``8·(a − 1)/(L/σ₀ − 1)`` °C. The machine fails, and its record ends, at the window where the
noise-free RMS ``σ₀·exp(b·(t − t₀))`` reaches the limit ``L``: ``t_f = t₀ + ln(L/σ₀)/b``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from indunet.core.errors import InvalidInput

Array = npt.NDArray[np.float64]

SIGMA0 = 1.5  # healthy vibration RMS, mm/s
LIMIT = 7.1  # vibration RMS at failure, mm/s
TEMP0 = 45.0  # healthy temperature, °C
MAX_MACHINES = 200


@dataclass(frozen=True, slots=True)
class Machine:
    """One simulated machine; ``onset`` and ``failure`` are window indexes (``None`` when
    healthy: the machine never degrades and its record simply ends)."""

    vibration: Array
    temperature: Array
    window: int
    onset: int | None
    failure: int | None

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready truth (the samples are left out)."""
        return {"window": self.window, "onset": self.onset, "failure": self.failure}


def simulate(
    seed: int,
    machines: int = 20,
    healthy: int = 4,
    window: int = 128,
    baseline: int = 60,
) -> list[Machine]:
    """``machines`` machines, the last ``healthy`` of which never degrade (300 windows each).
    Each degrading one is healthy for ``U(baseline + 40, baseline + 160)`` windows, then
    degrades for ``U(80, 200)`` windows until it fails (the growth rate ``b`` follows)."""
    if not 0 <= healthy <= machines <= MAX_MACHINES:
        raise InvalidInput(
            f"machines must be 0..{MAX_MACHINES}, healthy 0..machines",
            reason="apps_pdm_simulation",
            params={"machines": machines, "healthy": healthy, "max": MAX_MACHINES},
        )
    rng = np.random.default_rng(seed)
    out: list[Machine] = []
    for m in range(machines):
        if m >= machines - healthy:
            count, onset, failure = 300, None, None
            amp = np.ones(count)
            impulses = np.zeros(count)
        else:
            onset = int(rng.integers(baseline + 40, baseline + 161))
            span = int(rng.integers(80, 201))
            b = math.log(LIMIT / SIGMA0) / span
            failure = onset + span
            count = failure + 1
            tau = np.maximum(0, np.arange(count) - onset).astype(np.float64)
            grow = np.exp(b * tau)
            amp = grow * np.where(tau > 0, 1.0 + 0.03 * rng.standard_normal(count), 1.0)
            impulses = 2.0 * (1.0 - 1.0 / grow)
        vib = SIGMA0 * amp[:, None] * rng.standard_normal((count, window))
        hits = rng.poisson(impulses)
        for i in np.flatnonzero(hits):
            at = rng.integers(0, window, size=int(hits[i]))
            vib[i, at] += 4.0 * SIGMA0 * amp[i] * rng.choice([-1.0, 1.0], size=at.size)
        rise = 8.0 * (amp - 1.0) / (LIMIT / SIGMA0 - 1.0)
        temp = TEMP0 + rise[:, None] + 0.3 * rng.standard_normal((count, window))
        out.append(Machine(vib.ravel(), temp.ravel(), window, onset, failure))
    return out
