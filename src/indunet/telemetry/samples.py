"""Samples and buckets: the values that flow from connectors into the time-series store."""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

Value = float | int | bool | str
"""A point's value: number, integer, boolean or string (WoT data types)."""

GOOD = 0
"""Quality of a sample read normally."""
UNCERTAIN = 1
"""Quality of a sample the source itself doubts (for example an OPC UA Uncertain status)."""
BAD = 2
"""Quality of a sample the source reports as wrong (sensor failure, comm error)."""


class Sample(NamedTuple):
    """One value of one point of one device at one time.

    ``ts`` is milliseconds since the Unix epoch (UTC). A NamedTuple, not a dataclass: the
    ingest path builds hundreds of thousands per second.
    """

    device: str
    point: str
    ts: int
    value: Value
    quality: int = GOOD


@dataclass(frozen=True, slots=True)
class Bucket:
    """Aggregates of one point over ``[start, start + width)``; ``start`` in ms."""

    start: int
    min: float
    max: float
    avg: float
    count: int
    first: float
    last: float
