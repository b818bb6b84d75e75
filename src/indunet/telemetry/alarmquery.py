"""Which alarms a listing asks for: ``AlarmFilter`` and the SQL conditions it stands for.

One filter serves the page of rows, its total and the counts per severity, so the three
always agree. Times are aware datetimes (``since`` inclusive, ``until`` exclusive) compared
with ``raised_at``; ``text`` is searched, case-insensitively, in the message, the device id
and the rule's name (one lower-cased column, ``search_text``).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, datetime

import sqlalchemy as sa

from indunet.core import InvalidInput, User, access
from indunet.telemetry.alarmstate import OPEN, STATE_FILTERS, AlarmState, Severity
from indunet.telemetry.alarmtables import alarms as table

MAX_TEXT = 100
"""Longest search text, in characters."""


@dataclass(frozen=True, slots=True)
class AlarmFilter:
    """What a list of alarms is narrowed to; every field left ``None`` (or empty) is not."""

    state: str | None = None
    enterprise_id: int | None = None
    device_id: str | None = None
    model_id: str | None = None
    severity: str | None = None
    rule_id: int | None = None
    since: datetime | None = None
    until: datetime | None = None
    text: str = ""

    def without_severity(self) -> AlarmFilter:
        """The same filter over every severity (what the tiles count)."""
        return replace(self, severity=None)


def like_pattern(text: str) -> str:
    """``text`` as a ``LIKE`` pattern matching it anywhere (``%``, ``_``, ``\\`` escaped)."""
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def conditions(user: User, f: AlarmFilter) -> list[sa.ColumnElement[bool]]:
    """The ``WHERE`` conditions of ``f`` for ``user`` (their enterprise only, unless an
    overseer); ``InvalidInput`` names an unknown state or severity or a reversed range."""
    where: list[sa.ColumnElement[bool]] = []
    scoped = access.scope(user, f.enterprise_id)
    if scoped is not None:
        where.append(table.c.enterprise_id == scoped)
    if f.state is not None:
        if f.state not in STATE_FILTERS:
            choices = ", ".join(sorted(STATE_FILTERS))
            raise InvalidInput(
                f"unknown alarm state {f.state!r}; use {choices}",
                reason="alarm_state_unknown",
                params={"state": f.state, "choices": choices},
            )
        if f.state == OPEN:
            where.append(table.c.state != AlarmState.CLOSED.value)
        else:
            where.append(table.c.state == f.state)
    if f.severity is not None:
        where.append(table.c.severity == Severity.parse(f.severity).value)
    if f.device_id is not None:
        where.append(table.c.device_id == f.device_id)
    if f.model_id is not None:
        where.append(table.c.model_id == f.model_id)
    if f.rule_id is not None:
        where.append(table.c.rule_id == f.rule_id)
    if f.since is not None and f.until is not None and f.since >= f.until:
        raise InvalidInput(
            f"the time range ends ({f.until.isoformat()}) before it starts ({f.since.isoformat()})",
            reason="alarm_range_reversed",
            params={"since": f.since.isoformat(), "until": f.until.isoformat()},
        )
    if f.since is not None:  # in UTC: SQLite keeps times as text without their offset
        where.append(table.c.raised_at >= _utc(f.since))
    if f.until is not None:
        where.append(table.c.raised_at < _utc(f.until))
    text = f.text.strip()[:MAX_TEXT].lower()
    if text:
        where.append(table.c.search.like(like_pattern(text), escape="\\"))
    return where


def search_text(message: str, device_id: str, rule_name: str) -> str:
    """What a search looks in (the ``search`` column): the message, device id and rule name,
    lower-cased, so one plain ``LIKE`` finds a text in any of them whatever its case."""
    return f"{message} {device_id} {rule_name}".lower()


def _utc(when: datetime) -> datetime:
    return when.astimezone(UTC) if when.tzinfo is not None else when.replace(tzinfo=UTC)


#: Sort keys a listing may ask for, each with its columns (newest first by default).
SEVERITY_RANK = sa.case(
    {s.value: i for i, s in enumerate(Severity)}, value=table.c.severity, else_=len(Severity)
)
SORTS: dict[str, tuple[sa.ColumnElement[object], ...]] = {
    "raised": (table.c.id,),
    "severity": (SEVERITY_RANK, table.c.id),
    "device": (table.c.device_id, table.c.id),
}


def order(sort: str, desc: bool) -> list[sa.ColumnElement[object]]:
    """``ORDER BY`` columns of a sort key (unknown keys sort by id); ``desc`` reverses the
    first column, later ones stay newest first."""
    columns = SORTS.get(sort, SORTS["raised"])
    first, *rest = columns
    out: list[sa.ColumnElement[object]] = [first.desc() if desc else first.asc()]
    out += [c.desc() for c in rest]
    return out
