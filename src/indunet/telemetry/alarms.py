"""Alarms raised by rules: their lifecycle, queries, comments, and the events every transition
publishes.

The lifecycle is described in ``alarmstate``. Each (rule, device) has at most one alarm that
is not closed (the database enforces it): if the condition returns while the alarm is cleared
but not yet acknowledged, that same alarm becomes active again and ``occurrences`` grows.

Every transition is published on the event bus as ``alarm.raised``, ``alarm.acknowledged``
or ``alarm.cleared`` with ``Alarm.to_json()`` as the event (``cleared_by`` is set when a
person cleared it by hand).
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa

from indunet.core import Conflict, EventBus, InvalidInput, NotFound, User, access, audit
from indunet.telemetry import alarmcomments, events
from indunet.telemetry.alarmcomments import MAX_COMMENT, MAX_COMMENTS
from indunet.telemetry.alarmquery import AlarmFilter, conditions, order, search_text
from indunet.telemetry.alarmstate import (
    OPEN,
    STATE_FILTERS,
    Alarm,
    AlarmState,
    Comment,
    Severity,
    alarm_of,
)
from indunet.telemetry.alarmtables import alarms as table

MAX_NOTE = 500
"""Longest acknowledgement or clearing note, in characters."""
MAX_PAGE = 1000
"""Most alarms one query returns."""

_alarm = alarm_of


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
        model_id: str | None = None,
    ) -> Alarm:
        """Raise the alarm of (rule, device), or make its cleared alarm active again.

        An alarm already active stays as it is and no event is published. ``model_id`` (the
        device's model) lets lists filter by model.
        """
        alarm, changed = await asyncio.to_thread(
            self._raise,
            rule_id,
            rule_name,
            enterprise_id,
            device_id,
            severity,
            message,
            value,
            at,
            model_id,
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
        model_id: str | None = None,
    ) -> tuple[Alarm, bool]:
        with self.engine.begin() as conn:
            row = self._open(conn, rule_id, device_id)
            if row is not None and row.state in (AlarmState.ACTIVE, AlarmState.ACKNOWLEDGED):
                return _alarm(row), False
            fields = {"severity": severity.value, "message": message, "value": value}
            fields["search"] = search_text(message, device_id, rule_name)
            if model_id is not None:
                fields["model_id"] = model_id
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
        if len(note) > MAX_NOTE:
            raise InvalidInput(
                f"an acknowledgement note has at most {MAX_NOTE} characters",
                reason="alarm_note_long",
                params={"max": MAX_NOTE},
            )
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
                    f"at {alarm.acked_at.isoformat()}",
                    reason="alarm_already_acked",
                    params={"alarm": alarm_id, "user": alarm.acked_by},
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
                enterprise_id=alarm.enterprise_id,
            )
            return self._get(conn, alarm_id)

    # -- by hand: clearing and comments --------------------------------------------------

    async def clear_by_hand(self, user: User, alarm_id: int, note: str = "") -> Alarm:
        """End an alarm now, as a person (audited): it closes, acknowledged by ``user`` if
        nobody had, with ``cleared_by`` set; a ``note`` is kept as a comment.

        Who may: as for acknowledging (a user of the alarm's enterprise or a platform admin).
        A closed alarm is a ``Conflict``. The rule engine forgets the alarm's condition, so
        a condition that still holds raises a new alarm after the rule's duration.
        """
        note = note.strip()
        if len(note) > MAX_NOTE:
            raise InvalidInput(
                f"a clearing note has at most {MAX_NOTE} characters",
                reason="alarm_note_long",
                params={"max": MAX_NOTE},
            )
        alarm = await asyncio.to_thread(self._clear_by_hand, user, alarm_id, note)
        await self.bus.publish(
            events.ALARM_CLEARED.make(alarm.to_json(), enterprise_id=alarm.enterprise_id)
        )
        return alarm

    def _clear_by_hand(self, user: User, alarm_id: int, note: str) -> Alarm:
        with self.engine.begin() as conn:
            alarm = self._get(conn, alarm_id)
            access.check_change(user, alarm.enterprise_id, f"alarm {alarm_id}", users_too=True)
            if alarm.state == AlarmState.CLOSED:
                raise Conflict(
                    f"alarm {alarm_id} is already closed",
                    reason="alarm_already_closed",
                    params={"alarm": alarm_id},
                )
            now = datetime.now(UTC)
            values: dict[str, Any] = {"state": AlarmState.CLOSED.value, "cleared_by": user.username}
            if alarm.cleared_at is None:
                values["cleared_at"] = now
            if alarm.acked_at is None:
                values |= {"acked_by": user.username, "acked_at": now}
            conn.execute(table.update().where(table.c.id == alarm_id).values(**values))
            if note:
                alarmcomments.add(conn, alarm, user.username, note, now)
            audit.record(
                conn,
                user.actor,
                "alarm.clear",
                f"alarm:{alarm_id}",
                {"rule": alarm.rule_name, "device": alarm.device_id, "note": note},
                enterprise_id=alarm.enterprise_id,
            )
            return self._get(conn, alarm_id)

    def comment(self, user: User, alarm_id: int, text: str) -> Comment:
        """Add ``user``'s comment to an alarm (audited; blocking): 1 to ``MAX_COMMENT``
        characters, at most ``MAX_COMMENTS`` per alarm; who may: as for acknowledging."""
        text = alarmcomments.checked(text)
        with self.engine.begin() as conn:
            alarm = self._get(conn, alarm_id)
            access.check_change(user, alarm.enterprise_id, f"alarm {alarm_id}", users_too=True)
            made = alarmcomments.add(conn, alarm, user.username, text, datetime.now(UTC))
            audit.record(
                conn,
                user.actor,
                "alarm.comment",
                f"alarm:{alarm_id}",
                {"comment": made.id},
                enterprise_id=alarm.enterprise_id,
            )
            return made

    def comments(self, user: User, alarm_id: int) -> list[Comment]:
        """The comments of an alarm the user may see, oldest first."""
        with self.engine.connect() as conn:
            alarm = self._get(conn, alarm_id)
            access.check_see(user, alarm.enterprise_id, f"alarm {alarm_id}")
            return alarmcomments.of_alarm(conn, alarm_id)

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
        f = AlarmFilter(state, enterprise_id, device_id, None, severity, rule_id)
        return self.page(user, f, limit=limit, before=before)

    def page(
        self,
        user: User,
        f: AlarmFilter,
        *,
        offset: int = 0,
        limit: int = 100,
        sort: str = "raised",
        desc: bool = True,
        before: int | None = None,
    ) -> list[Alarm]:
        """One page of the alarms ``f`` matches that the user may see (newest first by
        default; ``sort`` is ``raised``, ``severity`` or ``device``)."""
        q = sa.select(table).where(*conditions(user, f))
        if before is not None:
            q = q.where(table.c.id < before)
        q = q.order_by(*order(sort, desc)).offset(max(0, offset))
        q = q.limit(max(1, min(limit, MAX_PAGE)))
        with self.engine.connect() as conn:
            return [_alarm(r) for r in conn.execute(q)]

    def total(self, user: User, f: AlarmFilter) -> int:
        """How many alarms ``f`` matches that the user may see."""
        q = sa.select(sa.func.count()).select_from(table).where(*conditions(user, f))
        with self.engine.connect() as conn:
            return int(conn.execute(q).scalar_one())

    def counts(
        self,
        user: User,
        *,
        state: str | None = OPEN,
        enterprise_id: int | None = None,
        where: AlarmFilter | None = None,
    ) -> dict[str, int]:
        """Number of alarms per severity: of ``where`` whatever its severity, else of the
        alarms in ``state`` (open alarms unless another state is asked)."""
        f = where.without_severity() if where else AlarmFilter(state, enterprise_id)
        q = sa.select(table.c.severity, sa.func.count()).group_by(table.c.severity)
        q = q.where(*conditions(user, f))
        with self.engine.connect() as conn:
            found: dict[str, int] = {s: n for s, n in conn.execute(q)}
        return {s.value: int(found.get(s.value, 0)) for s in Severity}

    def export(
        self, user: User, f: AlarmFilter, *, limit: int, chunk: int = 500
    ) -> Iterator[Alarm]:
        """The alarms ``f`` matches, newest first, at most ``limit``, read ``chunk`` at a
        time (blocking; for streaming an export)."""
        where = conditions(user, f)
        last: int | None = None
        left = limit
        while left > 0:
            q = sa.select(table).where(*where).order_by(table.c.id.desc())
            if last is not None:
                q = q.where(table.c.id < last)
            with self.engine.connect() as conn:
                rows = [_alarm(r) for r in conn.execute(q.limit(min(chunk, left)))]
            if not rows:
                return
            yield from rows
            left -= len(rows)
            last = rows[-1].id

    def active(self) -> dict[tuple[int, str], int]:
        """Alarm id per (rule, device) of every alarm whose condition holds (for the engine)."""
        active = (AlarmState.ACTIVE.value, AlarmState.ACKNOWLEDGED.value)
        q = sa.select(table.c.rule_id, table.c.device_id, table.c.id).where(
            table.c.state.in_(active)
        )
        with self.engine.connect() as conn:
            return {(r, d): i for r, d, i in conn.execute(q)}

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
            raise NotFound(
                f"no alarm {alarm_id}", reason="alarm_not_found", params={"alarm": alarm_id}
            )
        return _alarm(row)


__all__ = [
    "MAX_COMMENT",
    "MAX_COMMENTS",
    "MAX_NOTE",
    "OPEN",
    "STATE_FILTERS",
    "Alarm",
    "AlarmFilter",
    "AlarmState",
    "Alarms",
    "Comment",
    "Severity",
]
