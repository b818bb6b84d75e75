"""The control-chart constants for subgroups of 2 to 25 (ASTM MNL 7A; Montgomery, Appendix VI).

Every constant comes from three functions of the subgroup size ``n`` of a normal process:

- ``d2(n)``, the mean of the range of ``n`` standard normal values, and ``d3(n)``, its
  standard deviation (Tippett 1925; tabulated by Harter 1960). They have no closed form:
  the table below holds them to six decimals, computed by numerical integration of
  ``d2 = ∫ 1 − Φ(x)ⁿ − (1 − Φ(x))ⁿ dx`` and
  ``E[R²] = ∫∫_{x<y} (y − x)² n(n−1) φ(x) φ(y) (Φ(y) − Φ(x))ⁿ⁻² dx dy``;
  ``tests/apps/test_spc.py`` integrates again and checks every value.
- ``c4(n) = √(2/(n−1)) · Γ(n/2) / Γ((n−1)/2)``, the mean of the sample standard deviation
  of ``n`` values over σ, computed here in closed form.

From them, as in ASTM E2587 and Montgomery, *Introduction to Statistical Quality Control*
(7th ed., Appendix VI):

- ``A2 = 3 / (d2 √n)``, ``D3 = max(0, 1 − 3 d3/d2)``, ``D4 = 1 + 3 d3/d2`` (X̄-R);
- ``A3 = 3 / (c4 √n)``, ``B3 = max(0, 1 − 3 √(1 − c4²)/c4)``, ``B4 = 1 + 3 √(1 − c4²)/c4``
  (X̄-S).

The values are kept at full precision; the published tables print them rounded to three
or four decimals (and a few rows, D4 for n = 3 say, were rounded from rounded inputs, so
they differ from these by one in the last printed digit).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

MIN_SUBGROUP = 2
MAX_SUBGROUP = 25

#: n → (d2, d3), six decimals, by numerical integration (see the module docstring).
D2_D3: dict[int, tuple[float, float]] = {
    2: (1.128379, 0.852502),
    3: (1.692569, 0.888368),
    4: (2.058751, 0.879808),
    5: (2.325929, 0.864082),
    6: (2.534413, 0.848040),
    7: (2.704357, 0.833205),
    8: (2.847201, 0.819831),
    9: (2.970026, 0.807834),
    10: (3.077505, 0.797051),
    11: (3.172873, 0.787315),
    12: (3.258455, 0.778478),
    13: (3.335980, 0.770416),
    14: (3.406763, 0.763023),
    15: (3.471827, 0.756211),
    16: (3.531983, 0.749908),
    17: (3.587884, 0.744052),
    18: (3.640064, 0.738591),
    19: (3.688963, 0.733481),
    20: (3.734950, 0.728686),
    21: (3.778336, 0.724173),
    22: (3.819385, 0.719915),
    23: (3.858323, 0.715887),
    24: (3.895348, 0.712068),
    25: (3.930629, 0.708441),
}


def c4(n: int) -> float:
    """The unbiasing constant of the sample standard deviation of ``n`` normal values."""
    return math.sqrt(2.0 / (n - 1)) * math.exp(math.lgamma(n / 2) - math.lgamma((n - 1) / 2))


@dataclass(frozen=True, slots=True)
class Constants:
    """The control-chart constants of subgroups of size ``n`` (2 ≤ n ≤ 25)."""

    n: int
    d2: float
    d3: float
    c4: float

    @property
    def a2(self) -> float:
        """X̄ limits from R̄: X̄̄ ± A2 R̄."""
        return 3.0 / (self.d2 * math.sqrt(self.n))

    @property
    def d3_factor(self) -> float:
        """D3, the R chart's lower limit factor: LCL = D3 R̄."""
        return max(0.0, 1.0 - 3.0 * self.d3 / self.d2)

    @property
    def d4_factor(self) -> float:
        """D4, the R chart's upper limit factor: UCL = D4 R̄."""
        return 1.0 + 3.0 * self.d3 / self.d2

    @property
    def a3(self) -> float:
        """X̄ limits from S̄: X̄̄ ± A3 S̄."""
        return 3.0 / (self.c4 * math.sqrt(self.n))

    @property
    def b3(self) -> float:
        """B3, the S chart's lower limit factor: LCL = B3 S̄."""
        return max(0.0, 1.0 - 3.0 * math.sqrt(1.0 - self.c4**2) / self.c4)

    @property
    def b4(self) -> float:
        """B4, the S chart's upper limit factor: UCL = B4 S̄."""
        return 1.0 + 3.0 * math.sqrt(1.0 - self.c4**2) / self.c4

    def as_dict(self) -> dict[str, float]:
        """The constants by their published names."""
        return {
            "n": self.n,
            "A2": self.a2,
            "A3": self.a3,
            "B3": self.b3,
            "B4": self.b4,
            "D3": self.d3_factor,
            "D4": self.d4_factor,
            "c4": self.c4,
            "d2": self.d2,
            "d3": self.d3,
        }


def constants(n: int) -> Constants:
    """The constants of subgroups of size ``n``; ``KeyError`` outside 2–25 (callers check)."""
    d2, d3 = D2_D3[n]
    return Constants(n=n, d2=d2, d3=d3, c4=c4(n))
