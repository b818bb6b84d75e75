"""What the detection engine raises: ``Alert``, and where alerts go: an ``AlertSink``.

An alert names the rule (id and version) that fired, its level (0–15), the ATT&CK for ICS
techniques it evidences, the conversation and assets it concerns (its observables, by which
alerts merge into an open case) and the events that made it (ids and a few copies).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from .events import SecurityEvent

MAX_EVIDENCE = 20
"""Events copied into an alert at most (the others are counted and named by id)."""


@dataclass(frozen=True, slots=True)
class Alert:
    """One rule firing.

    - ``rule``/``rule_version``/``level``: which rule, which version of it, 0–15.
    - ``title``: the rule's title (catalogue key ``rule.<rule>`` shows it translated).
    - ``techniques``: ATT&CK for ICS technique ids (``T0855``…).
    - ``src_ip``/``dst_ip``/``assets``: observables (asset ids where known).
    - ``events``: copies of up to ``MAX_EVIDENCE`` events; ``count``: how many matched.
    - ``group``: the correlation key the rule grouped by (same source, same target…).
    """

    ts: float
    rule: str
    rule_version: int
    level: int
    title: str
    enterprise_id: int | None
    techniques: tuple[str, ...] = ()
    src_ip: str | None = None
    dst_ip: str | None = None
    assets: tuple[int, ...] = ()
    events: tuple[SecurityEvent, ...] = ()
    count: int = 1
    group: str = ""
    detail: dict[str, Any] = field(default_factory=dict)
    id: str = field(default_factory=lambda: uuid.uuid4().hex)


class AlertSink(Protocol):
    """Where alerts go (the alert store, which promotes them to cases)."""

    async def raise_alerts(self, alerts: Sequence[Alert]) -> None:
        """Keep ``alerts`` (durably, before returning)."""
