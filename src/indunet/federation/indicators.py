"""Indicators: named counts that subsystems contribute to this instance's status report.

The federation imports no subsystem: whoever composes the services (``web.indicators``)
registers, for a group name, a function that reads counts in the reporting transaction::

    fed.indicator("security", security.indicators.counts)   # {"assets": 12, "vulns.high": 3}

and the report carries ``security.assets``, ``security.vulns.high``… Each function must be
cheap (SQL aggregates, never rows read one by one): it runs every status interval. One that
fails is logged and left out of that report (its savepoint rolled back); the others still
report. Names and values are bounded by ``LIMITS`` here and checked again by the parent
(``reports.checked``).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import sqlalchemy as sa

log = logging.getLogger(__name__)

Indicator = Callable[[sa.Connection], Mapping[str, int]]
"""Reads named counts (whole numbers from 0) in the given connection's transaction."""

NAME = re.compile(r"^[a-z][a-z0-9_]{0,31}(\.[a-z0-9][a-z0-9_]{0,31}){1,3}$")
"""An indicator's full name: its group and two to four dotted lower-case words in all
(``security.assets``, ``security.vulns.high``), at most 64 characters."""


@dataclass(frozen=True, slots=True)
class ReportLimits:
    """The bounds of a status report's indicators, on the sending and the receiving side."""

    names: int = 64
    """Names in one map (own indicators, or the subtree's totals), at most."""
    name_chars: int = 64
    value: int = 2**53 - 1
    """The largest count (exact in a JSON number read as a double). With ``names`` and
    ``name_chars`` this bounds a stored report (two maps) to about 11 KB of JSON."""


LIMITS = ReportLimits()


def valid_name(name: object) -> bool:
    """Whether ``name`` is an indicator's full name within the bounds."""
    return isinstance(name, str) and len(name) <= LIMITS.name_chars and bool(NAME.match(name))


def valid_value(value: object) -> bool:
    """Whether ``value`` is a count: a whole number from 0 (not a boolean)."""
    return isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= LIMITS.value


class Indicators:
    """The indicator functions registered for this instance, by group."""

    def __init__(self) -> None:
        self.groups: dict[str, Indicator] = {}

    def register(self, group: str, fn: Indicator) -> None:
        """Report ``fn``'s counts as ``<group>.<name>`` (a group registered again is replaced)."""
        if not re.fullmatch(r"[a-z][a-z0-9_]{0,31}", group):
            raise ValueError(f"an indicator group is a lower-case word, not {group!r}")
        self.groups[group] = fn

    def collect(self, conn: sa.Connection) -> dict[str, int]:
        """Every group's counts now, by full name: invalid names or values and a failing
        group left out (logged), at most ``LIMITS.names`` names (the first in name order)."""
        out: dict[str, int] = {}
        for group, fn in sorted(self.groups.items()):
            try:
                with conn.begin_nested():
                    counts = dict(fn(conn))
            except Exception:
                log.exception("indicator group %r failed: left out of this report", group)
                continue
            for key, value in counts.items():
                name = f"{group}.{key}"
                if valid_name(name) and valid_value(value):
                    out[name] = int(value)
                else:
                    log.warning("indicator %r=%r is not a bounded count: left out", name, value)
        return bounded(out)


def bounded(counts: Mapping[str, int]) -> dict[str, int]:
    """At most ``LIMITS.names`` names, the first in name order (a warning when some go)."""
    names = sorted(counts)
    if len(names) > LIMITS.names:
        log.warning(
            "%d indicator names: the last %d left out", len(names), len(names) - LIMITS.names
        )
        names = names[: LIMITS.names]
    return {n: counts[n] for n in names}


def add(total: dict[str, int], more: Mapping[str, int]) -> None:
    """Add ``more`` into ``total``, name by name (a sum past the bound stays at the bound)."""
    for name, value in more.items():
        total[name] = min(total.get(name, 0) + value, LIMITS.value)
