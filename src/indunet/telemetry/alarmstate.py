"""What an alarm is: its severity, its lifecycle state and the stored record (``Alarm``).

Lifecycle: *active* while its rule's condition holds; *acknowledged* once a person has seen
it (still active); *cleared* when the condition no longer holds and nobody has acknowledged
it yet; *closed* when it is both cleared and acknowledged. A person may also clear an alarm
by hand (``Alarms.clear_by_hand``): that ends it at once, closed, acknowledged by them if
nobody had, with ``cleared_by`` naming them; if the condition still holds, the rule raises a
new alarm once it has held for the rule's duration again.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

import sqlalchemy as sa

from indunet.core import InvalidInput


class Severity(StrEnum):
    """How urgent an alarm is, most urgent first."""

    CRITICAL = "critical"
    MAJOR = "major"
    MINOR = "minor"
    WARNING = "warning"

    @classmethod
    def parse(cls, text: str) -> Severity:
        """The severity named by ``text``, or ``InvalidInput`` listing the choices."""
        try:
            return cls(str(text).strip().lower())
        except ValueError:
            choices = ", ".join(s.value for s in cls)
            raise InvalidInput(
                f"unknown severity {text!r}; use one of {choices}",
                reason="severity_unknown",
                params={"severity": str(text)[:50], "choices": choices},
            ) from None


class AlarmState(StrEnum):
    """Where an alarm is in its lifecycle."""

    ACTIVE = "active"
    ACKNOWLEDGED = "acknowledged"  # still active, seen by a person
    CLEARED = "cleared"  # condition gone, not yet seen
    CLOSED = "closed"  # cleared and acknowledged


OPEN = "open"
"""State filter for every alarm that is not closed."""
STATE_FILTERS = frozenset({OPEN, *AlarmState})


@dataclass(frozen=True, slots=True)
class Alarm:
    """One alarm of one rule on one device."""

    id: int
    rule_id: int
    rule_name: str
    enterprise_id: int
    device_id: str
    severity: Severity
    state: AlarmState
    message: str
    value: dict[str, Any]
    occurrences: int
    raised_at: datetime
    acked_by: str | None
    acked_at: datetime | None
    ack_note: str | None
    cleared_at: datetime | None
    model_id: str | None = None
    cleared_by: str | None = None  # set when a person cleared it by hand

    def to_json(self) -> dict[str, Any]:
        """A JSON-able dict (times in ISO 8601, UTC): the API shape and the event payload."""
        out: dict[str, Any] = {}
        for name in self.__slots__:
            v = getattr(self, name)
            out[name] = v.isoformat() if isinstance(v, datetime) else v
        return out


@dataclass(frozen=True, slots=True)
class Comment:
    """A person's note on an alarm."""

    id: int
    alarm_id: int
    author: str
    created_at: datetime
    text: str

    def to_json(self) -> dict[str, Any]:
        """A JSON-able dict (time in ISO 8601, UTC)."""
        return {
            "id": self.id,
            "alarm_id": self.alarm_id,
            "author": self.author,
            "created_at": self.created_at.isoformat(),
            "text": self.text,
        }


def aware(v: datetime | None) -> datetime | None:
    """``v`` with UTC attached when the database gave it back naive (SQLite)."""
    return v.replace(tzinfo=UTC) if v is not None and v.tzinfo is None else v


def alarm_of(row: sa.Row[Any]) -> Alarm:
    """The ``Alarm`` of a ``tel_alarms`` row."""
    m = dict(row._mapping)
    m.pop("search", None)
    for key in ("raised_at", "acked_at", "cleared_at"):
        m[key] = aware(m[key])
    return Alarm(**{**m, "severity": Severity(m["severity"]), "state": AlarmState(m["state"])})
