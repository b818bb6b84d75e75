"""OEE's results: the ISO 22400-2 time elements, quantities, indicators and six big losses of a
window (an order, a shift, a day, the whole schedule), read from additive sums.

Sums are added over pieces of order windows first and turned into ratios last, so a day's OEE
is ``ΣAPT/ΣPBT × Σ(PRI·PQ)/ΣAPT × ΣGQ/ΣPQ``, never an average of ratios (docs/apps/oee.md).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

#: the additive columns of a window's sums, in order
COLUMNS = (
    "pbt",
    "apt",
    "aust",
    "adet",
    "adot",
    "pdot",
    "mapped_unknown",
    "span",
    "pq",
    "sq",
    "startup_sq",
    "planned_output",  # Σ PRI·PQ
    "defects_time",  # Σ PRI·(SQ − startup SQ)
    "startup_time",  # Σ PRI·startup SQ
)
COL = {name: i for i, name in enumerate(COLUMNS)}


@dataclass(frozen=True, slots=True)
class SixLosses:
    """Nakajima's six big losses (六大损失): four as seconds, the two quality losses as counts
    and as the seconds of planned runtime they cost (``PRI × count``)."""

    breakdowns_s: float  # ADOT (设备故障)
    setup_adjustments_s: float  # AUST (换型调整)
    small_stops_s: float  # ADET (空转与短暂停机)
    reduced_speed_s: float  # APT − PRI·PQ (速度降低); negative when faster than planned
    process_defects: float  # SQ outside the start-up windows (过程缺陷)
    process_defects_s: float
    startup_rejects: float  # SQ inside the start-up windows (启动损失/减产)
    startup_rejects_s: float


@dataclass(frozen=True, slots=True)
class OeeFigures:
    """One window's time elements (seconds), quantities and indicators (``None`` = 0/0)."""

    start: float
    end: float
    pbt_s: float  # planned busy time (计划占用时间), from the schedule
    apt_s: float  # actual production time (实际生产时间)
    setup_s: float  # AUST, actual unit setup time (实际准备时间)
    delay_s: float  # ADET, actual unit delay time (实际延迟时间)
    down_s: float  # ADOT, actual unit down time (实际故障停机时间)
    planned_down_s: float  # PDOT observed (计划停机时间)
    unknown_s: float  # no data, or a state mapped to unknown (未知时间)
    unaccounted_s: float  # PBT − APT − AUST − ADET − ADOT − unknown
    pq: float  # produced quantity (产出数量)
    gq: float  # good quantity (合格数量)
    sq: float  # scrap quantity (废品数量)
    availability: float | None  # APT / PBT (可用率)
    effectiveness: float | None  # PRI·PQ / APT (性能效率)
    quality_rate: float | None  # GQ / PQ (质量合格率)
    oee: float | None  # availability × effectiveness × quality rate (设备综合效率)
    losses: SixLosses

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready data."""
        return asdict(self)


@dataclass(frozen=True, slots=True)
class OeeGroup:
    """A window's figures with what it is: ``kind`` order, shift or day, and its ``key``
    (the order id, ``2026-12-07/A``, ``2026-12-07``)."""

    kind: str
    key: str
    figures: OeeFigures
    item: str | None = None  # an order's item

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready data."""
        out: dict[str, Any] = {"kind": self.kind, "key": self.key}
        if self.item is not None:
            out["item"] = self.item
        out.update(self.figures.as_dict())
        return out


@dataclass(frozen=True, slots=True)
class OeeReport:
    """OEE per order, per shift, per day and over the whole schedule, with the produced and
    scrapped quantities counted outside every order (not in any figure)."""

    orders: tuple[OeeGroup, ...]
    shifts: tuple[OeeGroup, ...]
    days: tuple[OeeGroup, ...]
    total: OeeFigures
    unassigned_pq: float
    unassigned_sq: float
    zone: str

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready data."""
        return {
            "zone": self.zone,
            "total": self.total.as_dict(),
            "orders": [g.as_dict() for g in self.orders],
            "shifts": [g.as_dict() for g in self.shifts],
            "days": [g.as_dict() for g in self.days],
            "unassigned_pq": self.unassigned_pq,
            "unassigned_sq": self.unassigned_sq,
        }


def _ratio(top: float, bottom: float) -> float | None:
    return top / bottom if bottom > 0 else None


def _product(factors: tuple[float | None, ...]) -> float | None:
    """``0`` when any factor is 0 (whatever the others), ``None`` when one is undefined."""
    if any(f == 0 for f in factors):
        return 0.0
    if any(f is None for f in factors):
        return None
    out = 1.0
    for f in factors:
        out *= f  # type: ignore[operator]  # None ruled out above
    return out


def figures(row: npt.NDArray[np.float64], start: float, end: float) -> OeeFigures:
    """The figures of one window from its sums (``COLUMNS``)."""
    v = {name: float(row[i]) for name, i in COL.items()}
    known = v["apt"] + v["aust"] + v["adet"] + v["adot"] + v["pdot"]
    unknown = max(v["span"] - known, 0.0)
    availability = _ratio(v["apt"], v["pbt"])
    effectiveness = _ratio(v["planned_output"], v["apt"])
    quality = _ratio(v["pq"] - v["sq"], v["pq"])
    return OeeFigures(
        start=start,
        end=end,
        pbt_s=v["pbt"],
        apt_s=v["apt"],
        setup_s=v["aust"],
        delay_s=v["adet"],
        down_s=v["adot"],
        planned_down_s=v["pdot"],
        unknown_s=unknown,
        unaccounted_s=v["pbt"] - v["apt"] - v["aust"] - v["adet"] - v["adot"] - unknown,
        pq=v["pq"],
        gq=v["pq"] - v["sq"],
        sq=v["sq"],
        availability=availability,
        effectiveness=effectiveness,
        quality_rate=quality,
        oee=_product((availability, effectiveness, quality)),
        losses=SixLosses(
            breakdowns_s=v["adot"],
            setup_adjustments_s=v["aust"],
            small_stops_s=v["adet"],
            reduced_speed_s=v["apt"] - v["planned_output"],
            process_defects=v["sq"] - v["startup_sq"],
            process_defects_s=v["defects_time"],
            startup_rejects=v["startup_sq"],
            startup_rejects_s=v["startup_time"],
        ),
    )
