"""Alarms raised by rules: their lifecycle, queries, and the events every transition publishes.

An alarm is *active* when its rule's condition holds, *acknowledged* once a person has seen
it, *cleared* when the condition no longer holds; it is *closed* when it is both cleared and
acknowledged (whatever the order). Each (rule, device) has at most one alarm that is not
closed (the database enforces it): if the condition returns while the alarm is cleared but
not yet acknowledged, that same alarm becomes active again and ``occurrences`` grows.

Every transition is published on the event bus as ``alarm.raised``, ``alarm.acknowledged``
or ``alarm.cleared`` with ``Alarm.to_json()`` as the event.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

import sqlalchemy as sa

from indunet.core import Conflict, EventBus, InvalidInput, NotFound, User, access, audit
from indunet.telemetry import events
from indunet.telemetry.alarmtables import alarms as table


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
            raise InvalidInput(f"unknown severity {text!r}; use one of {choices}") from None


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

    def to_json(self) -> dict[str, Any]:
        """A JSON-able dict (times in ISO 8601, UTC): the API shape and the event payload."""
        out: dict[str, Any] = {}
        for name in self.__slots__:
            v = getattr(self, name)
            out[name] = v.isoformat() if isinstance(v, datetime) else v
        return out


def _aware(v: datetime | None) -> datetime | None:
    return v.replace(tzinfo=UTC) if v is not None and v.tzinfo is None else v


def _alarm(row: sa.Row[Any]) -> Alarm:
    m = dict(row._mapping)
    for key in ("raised_at", "acked_at", "cleared_at"):
        m[key] = _aware(m[key])
    return Alarm(**{**m, "severity": Severity(m["severity"]), "state": AlarmState(m["state"])})


class Alarms:
    """Raises, clears, acknowledges and lists alarms; database work runs off the event loop."""

    def __init__(self, engine: sa.Engine, bus: EventBus) -> None:
        self.engine = engine
        self.bus = bus

    # -- transitions ---------------------------------------------------------------------

    async def raise_alarm(
        self,
        *,
        rule_id: int,
        rule_name: str,
        enterprise_id: int,
        device_id: str,
        severity: Severity,
        message: str,
        value: dict[str, Any],
        at: datetime,
    ) -> Alarm:
        """Raise the alarm of (rule, device), or make its cleared alarm active again.

        An alarm already active stays as it is and no event is published.
        """
        alarm, changed = await asyncio.to_thread(
            self._raise, rule_id, rule_name, enterprise_id, device_id, severity, message, value, at
        )
        if changed:
            await self.bus.publish(
                events.ALARM_RAISED.make(alarm.to_json(), enterprise_id=alarm.enterprise_id)
            )
        return alarm

    def _raise(
        self,
        rule_id: int,
        rule_name: str,
        enterprise_id: int,
        device_id: str,
        severity: Severity,
        message: str,
        value: dict[str, Any],
        at: datetime,
    ) -> tuple[Alarm, bool]:
        with self.engine.begin() as conn:
            row = self._open(conn, rule_id, device_id)
            if row is not None and row.state in (AlarmState.ACTIVE, AlarmState.ACKNOWLEDGED):
                return _alarm(row), False
            fields = {"severity": severity.value, "message": message, "value": value}
            if row is not None:  # cleared, not yet acknowledged: active again
                conn.execute(
                    table.update()
                    .where(table.c.id == row.id)
                    .values(
                        **fields,
                        state=AlarmState.ACTIVE.value,
                        cleared_at=None,
                        occurrences=row.occurrences + 1,
                    )
                )
                alarm_id = row.id
            else:
                alarm_id = conn.execute(
                    table.insert()
                    .values(
                        **fields,
                        rule_id=rule_id,
                        rule_name=rule_name,
                        enterprise_id=enterprise_id,
                        device_id=device_id,
                        state=AlarmState.ACTIVE.value,
                        occurrences=1,
                        raised_at=at,
                    )
                    .returning(table.c.id)
                ).scalar_one()
            return self._get(conn, alarm_id), True

    async def clear(self, rule_id: int, device_id: str, *, at: datetime) -> Alarm | None:
        """Clear the active alarm of (rule, device), if there is one."""
        alarm = await asyncio.to_thread(self._clear, rule_id, device_id, at)
        if alarm is not None:
            await self.bus.publish(
                events.ALARM_CLEARED.make(alarm.to_json(), enterprise_id=alarm.enterprise_id)
            )
        return alarm

    def _clear(self, rule_id: int, device_id: str, at: datetime) -> Alarm | None:
        with self.engine.begin() as conn:
            row = self._open(conn, rule_id, device_id)
            if row is None or row.state not in (AlarmState.ACTIVE, AlarmState.ACKNOWLEDGED):
                return None
            acked = row.state == AlarmState.ACKNOWLEDGED
            state = AlarmState.CLOSED if acked else AlarmState.CLEARED
            conn.execute(
                table.update().where(table.c.id == row.id).values(state=state.value, cleared_at=at)
            )
            return self._get(conn, row.id)

    async def acknowledge(self, user: User, alarm_id: int, note: str = "") -> Alarm:
        """Record that ``user`` has seen the alarm (audited); a cleared alarm becomes closed.

        Needs a platform admin or a user of the alarm's enterprise. Acknowledging twice is
        a ``Conflict`` naming who did it first.
        """
        if len(note) > 500:
            raise InvalidInput("an acknowledgement note has at most 500 characters")
        alarm = await asyncio.to_thread(self._acknowledge, user, alarm_id, note.strip())
        await self.bus.publish(
            events.ALARM_ACKNOWLEDGED.make(alarm.to_json(), enterprise_id=alarm.enterprise_id)
        )
        return alarm

    def _acknowledge(self, user: User, alarm_id: int, note: str) -> Alarm:
        with self.engine.begin() as conn:
            alarm = self._get(conn, alarm_id)
            access.check_change(user, alarm.enterprise_id, f"alarm {alarm_id}", users_too=True)
            if alarm.acked_at is not None:
                raise Conflict(
                    f"alarm {alarm_id} was already acknowledged by {alarm.acked_by} "
                    f"at {alarm.acked_at.isoformat()}"
                )
            cleared = alarm.state == AlarmState.CLEARED
            state = AlarmState.CLOSED if cleared else AlarmState.ACKNOWLEDGED
            conn.execute(
                table.update()
                .where(table.c.id == alarm_id)
                .values(
                    state=state.value,
                    acked_by=user.username,
                    acked_at=datetime.now(UTC),
                    ack_note=note or None,
                )
            )
            audit.record(
                conn,
                user.actor,
                "alarm.acknowledge",
                f"alarm:{alarm_id}",
                {"rule": alarm.rule_name, "device": alarm.device_id, "note": note},
            )
            return self._get(conn, alarm_id)

    # -- queries -------------------------------------------------------------------------

    def get(self, user: User, alarm_id: int) -> Alarm:
        """One alarm the user may see, or ``NotFound``."""
        with self.engine.connect() as conn:
            alarm = self._get(conn, alarm_id)
        access.check_see(user, alarm.enterprise_id, f"alarm {alarm_id}")
        return alarm

    def find(
        self,
        user: User,
        *,
        state: str | None = None,
        enterprise_id: int | None = None,
        device_id: str | None = None,
        severity: str | None = None,
        rule_id: int | None = None,
        limit: int = 100,
        before: int | None = None,
    ) -> list[Alarm]:
        """Alarms the user may see, newest first; ``before`` (an alarm id) pages back."""
        q = sa.select(table).order_by(table.c.id.desc()).limit(max(1, min(limit, 1000)))
        q = q.where(*self._filters(user, state, enterprise_id, severity))
        if device_id is not None:
            q = q.where(table.c.device_id == device_id)
        if rule_id is not None:
            q = q.where(table.c.rule_id == rule_id)
        if before is not None:
            q = q.where(table.c.id < before)
        with self.engine.connect() as conn:
            return [_alarm(r) for r in conn.execute(q)]

    def counts(
        self, user: User, *, state: str | None = OPEN, enterprise_id: int | None = None
    ) -> dict[str, int]:
        """Number of alarms per severity (open alarms unless another state is asked)."""
        q = sa.select(table.c.severity, sa.func.count()).group_by(table.c.severity)
        q = q.where(*self._filters(user, state, enterprise_id, None))
        with self.engine.connect() as conn:
            found: dict[str, int] = {s: n for s, n in conn.execute(q)}
        return {s.value: int(found.get(s.value, 0)) for s in Severity}

    def active(self) -> dict[tuple[int, str], int]:
        """Alarm id per (rule, device) of every alarm whose condition holds (for the engine)."""
        active = (AlarmState.ACTIVE.value, AlarmState.ACKNOWLEDGED.value)
        q = sa.select(table.c.rule_id, table.c.device_id, table.c.id).where(
            table.c.state.in_(active)
        )
        with self.engine.connect() as conn:
            return {(r, d): i for r, d, i in conn.execute(q)}

    @staticmethod
    def _filters(
        user: User, state: str | None, enterprise_id: int | None, severity: str | None
    ) -> list[sa.ColumnElement[bool]]:
        where: list[sa.ColumnElement[bool]] = []
        scoped = access.scope(user, enterprise_id)
        if scoped is not None:
            where.append(table.c.enterprise_id == scoped)
        if state is not None:
            if state not in STATE_FILTERS:
                raise InvalidInput(
                    f"unknown alarm state {state!r}; use {', '.join(sorted(STATE_FILTERS))}"
                )
            if state == OPEN:
                where.append(table.c.state != AlarmState.CLOSED.value)
            else:
                where.append(table.c.state == state)
        if severity is not None:
            where.append(table.c.severity == Severity.parse(severity).value)
        return where

    @staticmethod
    def _open(conn: sa.Connection, rule_id: int, device_id: str) -> sa.Row[Any] | None:
        return conn.execute(
            sa.select(table).where(
                table.c.rule_id == rule_id,
                table.c.device_id == device_id,
                table.c.state != AlarmState.CLOSED.value,
            )
        ).first()

    @staticmethod
    def _get(conn: sa.Connection, alarm_id: int) -> Alarm:
        row = conn.execute(sa.select(table).where(table.c.id == alarm_id)).first()
        if row is None:
            raise NotFound(f"no alarm {alarm_id}")
        return _alarm(row)
