"""How what one source says about an asset is merged into what is known, and why.

Scalar attributes (vendor, model, firmware…) take the value of the most trusted source
(``attributes.PRECEDENCE``: manual > csv > platform > identification > observation); among
equals the newer value wins. A value that loses is kept as an alternative for review, never
thrown away. List attributes (IPs, MACs, protocols, ports, accounts, model numbers) are the
union of what every source said, the newest last, bounded.

``merge`` is pure: it returns the changed columns and the decisions that explain them (the
``merges`` history the console shows).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from .attributes import CHOICE_FIELDS, LINK_FIELDS, LIST_FIELDS, ORIGIN, RANK, TEXT_FIELDS

SCALARS = (*TEXT_FIELDS, *CHOICE_FIELDS, *LINK_FIELDS, "zone_id")
MAX_ALTERNATIVES = 5
"""Losing values kept per attribute (the newest)."""
#: Why a value won or lost, as the history stores it (``security.assets.why.<code>``).
WHY = ("new", "outranks", "newer", "kept", "added")


@dataclass
class Outcome:
    """Columns to write and the decisions that explain them."""

    changes: dict[str, Any] = field(default_factory=dict)
    decisions: list[dict[str, Any]] = field(default_factory=list)

    @property
    def conflicting(self) -> bool:
        return any(d["why"] in ("outranks", "kept") for d in self.decisions)


def _empty(value: Any) -> bool:
    return value is None or value == "" or value == []


def merge(current: Mapping[str, Any], values: Mapping[str, Any], source: str, at: str) -> Outcome:
    """Merge ``values`` said by ``source`` (one of ``PRECEDENCE``) at ``at`` (ISO time) into
    ``current`` (an asset's columns; empty for a new asset)."""
    out = Outcome()
    provenance = dict(current.get("provenance") or {})
    alternatives = {k: list(v) for k, v in (current.get("alternatives") or {}).items()}
    rank = RANK[source]
    for name, value in values.items():
        if _empty(value):
            continue
        if name in LIST_FIELDS:
            have = list(current.get(name) or [])
            fresh = [v for v in value if v not in have]
            if fresh:
                merged = (have + fresh)[-LIST_FIELDS[name] :]
                out.changes[name] = sorted(merged) if name == "ports" else merged
                out.decisions.append(_decision(name, fresh, source, "added"))
            continue
        if name not in SCALARS:
            continue
        old = current.get(name)
        old_source = provenance.get(name, "")
        if name == "role" and old == "server" and source == "observation":
            continue  # a server seen asking too (a PLC polling its I/O) stays a server
        if _empty(old):
            out.changes[name] = value
            provenance[name] = source
            out.decisions.append(_decision(name, value, source, "new"))
        elif old == value:
            if RANK.get(old_source, 0) < rank:
                provenance[name] = source
        elif rank >= RANK.get(old_source, 0):
            why = "outranks" if rank > RANK.get(old_source, 0) else "newer"
            out.changes[name] = value
            provenance[name] = source
            _remember(alternatives, name, old, old_source, at)
            out.decisions.append(_decision(name, value, source, why, old, old_source))
        else:
            _remember(alternatives, name, value, source, at)
            out.decisions.append(_decision(name, old, old_source, "kept", value, source))
    if out.decisions:
        out.changes["provenance"] = provenance
        out.changes["alternatives"] = alternatives
    sources = dict(current.get("sources") or {})
    origin = ORIGIN[source]
    if origin not in sources:
        sources[origin] = at
        out.changes["sources"] = sources
    return out


def _decision(
    name: str, value: Any, source: str, why: str, other: Any = None, other_source: str = ""
) -> dict[str, Any]:
    d: dict[str, Any] = {"attribute": name, "value": value, "source": source, "why": why}
    if other is not None:
        d["other"] = other
        d["other_source"] = other_source
    return d


def _remember(alts: dict[str, list[Any]], name: str, value: Any, source: str, at: str) -> None:
    kept = [a for a in alts.get(name, []) if a.get("value") != value]
    kept.append({"value": value, "source": source, "at": at})
    alts[name] = kept[-MAX_ALTERNATIVES:]


def values_of(row: Mapping[str, Any]) -> dict[str, Any]:
    """An asset's attribute values with their best source, for merging one asset into
    another (``(source, values)`` groups by the source that set each)."""
    return {k: row.get(k) for k in (*SCALARS, *LIST_FIELDS)}
