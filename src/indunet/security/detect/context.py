"""What conditions consult beyond the event: named lists (the enterprise's own, else the
installation's), the baseline, and the device models' point ranges."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from .conditions import NamedList

if TYPE_CHECKING:
    from indunet.security.events import SecurityEvent

    from .baseline import Baseline

PointCheck = Callable[["SecurityEvent"], bool]
"""Given a write event, whether it writes a value outside its device-model point's range
(``security.setpoints.ModelRanges.outside``: decodes the registers as the model says)."""
PointRange = Callable[["SecurityEvent"], "tuple[float | None, float | None] | None"]
"""Given a write event, the (minimum, maximum) of the device-model point it writes, or None
when the device or point is not known. The service injects one (docs/security/rules.md)."""


class Context:
    """Lists, baseline and resolver for one engine (replaced whole, never edited in place)."""

    def __init__(
        self,
        lists: Mapping[str, NamedList] | None = None,
        enterprise_lists: Mapping[int, Mapping[str, NamedList]] | None = None,
        baseline: Baseline | None = None,
        point_range: PointRange | None = None,
        point_check: PointCheck | None = None,
    ) -> None:
        self.lists = dict(lists or {})
        self.point_check = point_check
        self.enterprise_lists = {k: dict(v) for k, v in (enterprise_lists or {}).items()}
        self.baseline = baseline
        self.point_range = point_range

    def in_list(self, name: str, value: Any, enterprise: int | None = None) -> bool | None:
        """Whether ``value`` is in the list (None: no such list declared)."""
        own = self.enterprise_lists.get(enterprise) if enterprise is not None else None
        found = own.get(name) if own else None
        if found is None:
            found = self.lists.get(name)
        if found is None:
            return None
        return value in found

    def is_new(self, what: str, event: SecurityEvent) -> bool:
        return self.baseline is not None and self.baseline.is_new(what, event)

    def outside_model_range(self, event: SecurityEvent) -> bool:
        if self.point_check is not None:
            return self.point_check(event)
        if self.point_range is None:
            return False
        bounds = self.point_range(event)
        if bounds is None:
            return False
        lo, hi = bounds
        values = event.fields.get("values")
        if not isinstance(values, list):
            values = [event.fields.get("value")]
        for v in values[:1000]:
            if not isinstance(v, int | float) or isinstance(v, bool):
                continue
            if (lo is not None and v < lo) or (hi is not None and v > hi):
                return True
        return False
