"""What a case is: its vocabularies (severity, TLP, PAP, status, disposition), its SLA table
and the shapes the store hands out.

SLA: each severity gives a time to acknowledge (the case leaves ``new``) and a time to
resolve, counted from the case's creation. ``sla_state`` is computed at read time from the
clock: ``on_time``, ``due_soon`` (less than a quarter of the period left), ``overdue``, or
``met``/``missed`` once resolved.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

SEVERITIES = ("low", "medium", "high", "critical")
#: Traffic Light Protocol 2.0 labels (FIRST): who may receive what the case holds.
TLPS = ("CLEAR", "GREEN", "AMBER", "AMBER+STRICT", "RED")
#: Permissible Actions Protocol: what may be done with the case's indicators.
PAPS = ("CLEAR", "GREEN", "AMBER", "RED")
STATUSES = ("new", "in_progress", "resolved", "closed")
OPEN_STATUSES = ("new", "in_progress")
DISPOSITIONS = ("true_positive", "false_positive", "authorised_activity", "test")

_H = timedelta(hours=1)
#: Time to acknowledge and time to resolve, by severity.
SLA: dict[str, tuple[timedelta, timedelta]] = {
    "critical": (4 * _H, 24 * _H),
    "high": (24 * _H, 72 * _H),
    "medium": (3 * 24 * _H, 7 * 24 * _H),
    "low": (7 * 24 * _H, 30 * 24 * _H),
}
#: A timer is "due soon" when less than this share of its period is left.
DUE_SOON_SHARE = 0.25


def severity_of_level(level: int) -> str:
    """A case's severity from its alert's level (0–15)."""
    if level >= 13:
        return "critical"
    if level >= 10:
        return "high"
    if level >= 6:
        return "medium"
    return "low"


def dues(severity: str, created: datetime) -> tuple[datetime, datetime]:
    """When a case of ``severity`` created at ``created`` must be acknowledged and resolved."""
    ack, resolve = SLA[severity]
    return created + ack, created + resolve


def sla_state(
    status: str,
    created: datetime,
    ack_due: datetime,
    resolve_due: datetime,
    resolved_at: datetime | None,
    now: datetime,
) -> str:
    """``on_time``, ``due_soon``, ``overdue`` (open cases) or ``met``/``missed`` (resolved)."""
    if status not in OPEN_STATUSES:
        done = resolved_at or now
        return "met" if done <= resolve_due else "missed"
    due = ack_due if status == "new" else resolve_due
    if now >= due:
        return "overdue"
    if (due - now) < (due - created) * DUE_SOON_SHARE:
        return "due_soon"
    return "on_time"


@dataclass(frozen=True, slots=True)
class Case:
    """One case as stored, with its SLA state at read time."""

    id: int
    enterprise_id: int | None
    title: str
    description: str
    severity: str
    tlp: str
    pap: str
    status: str
    disposition: str | None
    assignee: str | None
    created_by: str
    created_at: datetime
    updated_at: datetime
    ack_due: datetime
    resolve_due: datetime
    acknowledged_at: datetime | None
    resolved_at: datetime | None
    alerts: int
    sla: str = "on_time"
    title_rule: str | None = None
    """The rule whose title is the case's (a case made from an alert), or None."""

    @property
    def open(self) -> bool:
        """Whether the case is still being worked on (new or in progress)."""
        return self.status in OPEN_STATUSES


@dataclass(frozen=True, slots=True)
class Task:
    """A task of a case."""

    id: int
    case_id: int
    title: str
    assignee: str | None
    done: bool
    created_by: str
    created_at: datetime


@dataclass(frozen=True, slots=True)
class Note:
    """A note on a case."""

    id: int
    case_id: int
    text: str
    author: str
    at: datetime


@dataclass(frozen=True, slots=True)
class Evidence:
    """An evidence file of a case (its bytes are in the evidence directory)."""

    id: int
    case_id: int
    name: str
    media_type: str
    size: int
    sha256: str
    stored: str
    uploaded_by: str
    at: datetime


@dataclass(frozen=True, slots=True)
class Change:
    """One line of a case's history: who changed what, when, from what to what."""

    id: int
    case_id: int
    at: datetime
    actor: str
    what: str
    old: str | None
    new: str | None
    detail: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class StoredAlert:
    """An alert as the store keeps it."""

    id: str
    enterprise_id: int | None
    ts: datetime
    rule: str
    rule_version: int
    level: int
    title: str
    techniques: tuple[str, ...]
    src_ip: str | None
    dst_ip: str | None
    assets: tuple[int, ...]
    events: tuple[dict[str, Any], ...]
    count: int
    group: str
    detail: dict[str, Any]
    case_id: int | None
