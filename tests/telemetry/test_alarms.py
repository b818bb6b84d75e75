"""The alarm lifecycle, its events, acknowledgement rights, and queries for the console."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest
import sqlalchemy as sa
from tests.telemetry.fleet import Recorder, audit_actions, make_user, other_enterprise

from indunet import core
from indunet.core import Conflict, InMemoryEventBus, InvalidInput, NotFound, PermissionDenied, Role
from indunet.telemetry import Alarm, Alarms, Severity

AT = datetime(2026, 1, 1, 8, 30, tzinfo=UTC)
TOPICS = ("alarm.raised", "alarm.acknowledged", "alarm.cleared")


class Desk:
    """Alarms of two enterprises, with users of each role."""

    def __init__(self, engine: sa.Engine, enterprise: core.Enterprise) -> None:
        self.ent = enterprise.id
        self.other = other_enterprise(engine).id
        self.bus = InMemoryEventBus()
        self.events = Recorder(self.bus, *TOPICS)
        self.alarms = Alarms(engine, self.bus)
        self.engine = engine
        self.admin = make_user(engine, "root", Role.PLATFORM_ADMIN)
        self.operator = make_user(engine, "operator", Role.ENTERPRISE_USER, self.ent)
        self.regulator = make_user(engine, "watcher", Role.REGULATOR)
        self.outsider = make_user(engine, "outsider", Role.ENTERPRISE_ADMIN, self.other)

    async def raise_(
        self, rule_id: int = 1, device: str = "press-1", severity: str = "major", **kw: Any
    ) -> Alarm:
        return await self.alarms.raise_alarm(
            rule_id=rule_id,
            rule_name=f"rule {rule_id}",
            enterprise_id=kw.pop("enterprise_id", self.ent),
            device_id=device,
            severity=Severity(severity),
            message=f"rule {rule_id} on {device}",
            value={"bearing_temp": 85.5},
            at=AT,
        )


@pytest.fixture
def desk(engine: sa.Engine, enterprise: core.Enterprise) -> Desk:
    return Desk(engine, enterprise)


async def test_acknowledged_then_cleared_is_closed(desk: Desk) -> None:
    alarm = await desk.raise_()
    assert (alarm.state, alarm.occurrences, alarm.raised_at) == ("active", 1, AT)
    acked = await desk.alarms.acknowledge(desk.operator, alarm.id, "  checking the bearing ")
    assert (acked.state, acked.acked_by, acked.ack_note) == (
        "acknowledged",
        "operator",
        "checking the bearing",
    )
    cleared = await desk.alarms.clear(1, "press-1", at=AT)
    assert cleared is not None and cleared.state == "closed" and cleared.cleared_at == AT
    assert desk.events.topics() == list(TOPICS)
    for _, event in desk.events.events:
        assert json.loads(json.dumps(event))["id"] == alarm.id  # JSON-able as published
    assert desk.events.events[1][1]["acked_by"] == "operator"


async def test_cleared_then_acknowledged_is_closed(desk: Desk) -> None:
    alarm = await desk.raise_()
    cleared = await desk.alarms.clear(1, "press-1", at=AT)
    assert cleared is not None and cleared.state == "cleared"
    closed = await desk.alarms.acknowledge(desk.admin, alarm.id)
    assert (closed.state, closed.ack_note) == ("closed", None)
    assert desk.events.topics() == ["alarm.raised", "alarm.cleared", "alarm.acknowledged"]


async def test_one_open_alarm_per_rule_and_device(desk: Desk) -> None:
    first = await desk.raise_()
    again = await desk.raise_()  # still active: same alarm, no event
    assert again.id == first.id and desk.events.topics() == ["alarm.raised"]
    await desk.alarms.clear(1, "press-1", at=AT)
    back = await desk.raise_()  # cleared but nobody acknowledged: the same alarm returns
    assert (back.id, back.state, back.occurrences) == (first.id, "active", 2)
    assert back.cleared_at is None
    await desk.alarms.acknowledge(desk.operator, first.id)
    await desk.alarms.clear(1, "press-1", at=AT)
    fresh = await desk.raise_()  # the first is closed: a new alarm
    assert fresh.id != first.id and fresh.occurrences == 1
    other_device = await desk.raise_(device="press-2")
    assert other_device.id not in (first.id, fresh.id)
    assert await desk.alarms.clear(9, "press-1", at=AT) is None  # nothing to clear


def test_the_database_refuses_a_second_open_alarm(desk: Desk) -> None:
    row = {
        "rule_id": 1,
        "rule_name": "r",
        "enterprise_id": desk.ent,
        "device_id": "press-1",
        "severity": "major",
        "message": "m",
        "value": {},
        "occurrences": 1,
        "raised_at": AT,
    }
    md = sa.MetaData()
    table = sa.Table("tel_alarms", md, autoload_with=desk.engine)
    with desk.engine.begin() as conn:
        conn.execute(table.insert().values(**row, state="closed"))
        conn.execute(table.insert().values(**row, state="active"))
    with pytest.raises(sa.exc.IntegrityError), desk.engine.begin() as conn:
        conn.execute(table.insert().values(**row, state="cleared"))


async def test_who_may_acknowledge(desk: Desk) -> None:
    alarm = await desk.raise_()
    before = audit_actions(desk.engine)
    with pytest.raises(PermissionDenied, match="watcher \\(regulator\\) may not change"):
        await desk.alarms.acknowledge(desk.regulator, alarm.id)
    with pytest.raises(NotFound, match=f"no alarm {alarm.id}"):
        await desk.alarms.acknowledge(desk.outsider, alarm.id)
    with pytest.raises(NotFound):
        await desk.alarms.acknowledge(desk.admin, 999)
    with pytest.raises(InvalidInput, match="at most 500"):
        await desk.alarms.acknowledge(desk.admin, alarm.id, "x" * 501)
    assert audit_actions(desk.engine) == before
    assert desk.alarms.get(desk.admin, alarm.id).acked_at is None
    assert desk.events.topics() == ["alarm.raised"]

    await desk.alarms.acknowledge(desk.operator, alarm.id, "on it")
    with pytest.raises(Conflict, match="already acknowledged by operator"):
        await desk.alarms.acknowledge(desk.admin, alarm.id)
    with desk.engine.connect() as conn:
        [entry] = core.audit.entries(conn, target=f"alarm:{alarm.id}")
    assert (entry.actor, entry.action) == ("user:operator", "alarm.acknowledge")
    assert entry.detail == {"rule": "rule 1", "device": "press-1", "note": "on it"}


async def test_listing_filters_and_enterprise_scope(desk: Desk) -> None:
    a = await desk.raise_(1, "press-1", "critical")
    b = await desk.raise_(2, "press-2", "minor")
    c = await desk.raise_(3, "press-x", "critical", enterprise_id=desk.other)
    await desk.alarms.clear(2, "press-2", at=AT)
    await desk.alarms.acknowledge(desk.admin, b.id)  # b closed

    def ids(user: core.User, **kw: Any) -> list[int]:
        return [x.id for x in desk.alarms.find(user, **kw)]

    assert ids(desk.admin) == [c.id, b.id, a.id]  # newest first
    assert ids(desk.regulator, state="open") == [c.id, a.id]
    assert ids(desk.admin, state="closed") == [b.id]
    assert ids(desk.admin, state="active", severity="critical") == [c.id, a.id]
    assert ids(desk.admin, enterprise_id=desk.other) == [c.id]
    assert ids(desk.admin, device_id="press-2") == [b.id]
    assert ids(desk.admin, limit=1) == [c.id]
    assert ids(desk.admin, before=c.id) == [b.id, a.id]
    assert ids(desk.operator) == [b.id, a.id]  # their own enterprise only
    assert ids(desk.outsider) == [c.id]
    with pytest.raises(NotFound):
        desk.alarms.find(desk.operator, enterprise_id=desk.other)
    with pytest.raises(NotFound):
        desk.alarms.get(desk.operator, c.id)
    with pytest.raises(InvalidInput, match="unknown alarm state 'burning'"):
        desk.alarms.find(desk.admin, state="burning")
    with pytest.raises(InvalidInput, match="unknown severity 'fatal'"):
        desk.alarms.find(desk.admin, severity="fatal")


async def test_counts_by_severity(desk: Desk) -> None:
    await desk.raise_(1, "press-1", "critical")
    await desk.raise_(2, "press-1", "critical")
    await desk.raise_(3, "press-1", "warning")
    await desk.raise_(4, "press-x", "major", enterprise_id=desk.other)
    assert desk.alarms.counts(desk.admin) == {
        "critical": 2,
        "major": 1,
        "minor": 0,
        "warning": 1,
    }
    assert desk.alarms.counts(desk.operator) == {
        "critical": 2,
        "major": 0,
        "minor": 0,
        "warning": 1,
    }
    assert desk.alarms.counts(desk.admin, state="closed") == dict.fromkeys(
        ("critical", "major", "minor", "warning"), 0
    )
