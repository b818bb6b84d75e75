"""Finding devices in a list the caller holds (the registry's memory, or a read of the table):
filter by enterprise, status and tag, search, count, sort and cut one page.

Every step is a pass over the list or a heap: 100,000 devices take tens of milliseconds. A
page that ends past ``HEAP_ROWS`` rows is cut from one full sort.
"""

from __future__ import annotations

import heapq
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from indunet.devices.device import Device

STATUSES = ("online", "offline", "unknown")
SORTS = ("id", "name", "status", "last_seen")
HEAP_ROWS = 2_000
MAX_TAGS = 200  # distinct tags reported, for a filter's choices
_STATUS_ORDER = {s: i for i, s in enumerate(STATUSES)}


@dataclass(frozen=True, slots=True)
class DeviceQuery:
    """What to find: search text (in id, name, tags and site), status, tag, order, page."""

    q: str = ""
    status: str = ""
    tag: str = ""
    sort: str = "id"
    desc: bool = False
    offset: int = 0
    limit: int | None = None


@dataclass(frozen=True, slots=True)
class Found:
    """One page of devices, how many matched, the statuses and tags of all of the scope."""

    items: list[Device]
    total: int
    counts: dict[str, int]
    tags: list[str]


def sort_key(sort: str) -> Callable[[Device], Any]:
    """The order of ``sort`` (one of ``SORTS``; ties by id)."""
    if sort == "name":
        return lambda d: (d.name.casefold(), d.id)
    if sort == "status":
        return lambda d: (_STATUS_ORDER.get(d.status, 9), d.id)
    if sort == "last_seen":
        return lambda d: (d.last_seen or 0.0, d.id)
    return lambda d: d.id


def _matches(q: str) -> Callable[[Device], bool]:
    def match(d: Device) -> bool:
        return (
            q in d.id
            or q in d.name.casefold()
            or any(q in t.casefold() for t in d.tags)
            or q in str(d.location.get("site", "")).casefold()
        )

    return match


def find(devices: Sequence[Device], enterprise_id: int | None, query: DeviceQuery) -> Found:
    """The page of ``devices`` (of ``enterprise_id``; None: every one) that ``query`` asks for."""
    mine = (
        list(devices)
        if enterprise_id is None
        else [d for d in devices if d.enterprise_id == enterprise_id]
    )
    counted: Counter[str] = Counter(d.status for d in mine)
    counts = {**{s: counted.get(s, 0) for s in STATUSES}, "total": len(mine)}
    tags = sorted(set().union(*(d.tags for d in mine)))[:MAX_TAGS]
    shown = mine
    if query.status:
        shown = [d for d in shown if d.status == query.status]
    if query.tag:
        shown = [d for d in shown if query.tag in d.tags]
    if query.q:
        shown = list(filter(_matches(query.q.casefold()), shown))
    key = sort_key(query.sort)
    end = None if query.limit is None else query.offset + query.limit
    if end is not None and end <= HEAP_ROWS:
        pick = heapq.nlargest if query.desc else heapq.nsmallest
        items = pick(end, shown, key=key)[query.offset :]
    else:
        items = sorted(shown, key=key, reverse=query.desc)[query.offset : end]
    return Found(items, len(shown), counts, tags)


__all__ = ["HEAP_ROWS", "SORTS", "STATUSES", "DeviceQuery", "Found", "find", "sort_key"]
