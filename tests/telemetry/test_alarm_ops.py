"""What operators do with alarms besides acknowledging: filters with paging and totals, counts
for a filter, clearing by hand, comments; and trying a rule on stored samples (``ruletrial``)
against what the engine itself raises on the same samples."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from tests.telemetry.fleet import PRESS, Fleet, audit_actions, make_user, other_enterprise

from indunet import core
from indunet.core import Conflict, InMemoryEventBus, InvalidInput, NotFound, PermissionDenied, Role
from indunet.telemetry import BAD, Alarms, AlarmState, MemoryStore, RuleEngine, Sample
from indunet.telemetry import rules as rulespec
from indunet.telemetry.alarms import MAX_COMMENT, AlarmFilter
from indunet.telemetry.ruletrial import replay

AT = datetime(2026, 1, 1, 8, 0, tzinfo=UTC)
T0 = 1_767_225_600_000


class Desk:
    def __init__(self, engine: sa.Engine, enterprise: core.Enterprise) -> None:
        self.ent = enterprise.id
        self.other = other_enterprise(engine).id
        self.bus = InMemoryEventBus()
        self.alarms = Alarms(engine, self.bus)
        self.engine = engine
        self.admin = make_user(engine, "root", Role.PLATFORM_ADMIN)
        self.boss = make_user(engine, "boss", Role.ENTERPRISE_ADMIN, self.ent)
        self.operator = make_user(engine, "operator", Role.ENTERPRISE_USER, self.ent)
        self.regulator = make_user(engine, "watcher", Role.REGULATOR)
        self.outsider = make_user(engine, "outsider", Role.ENTERPRISE_ADMIN, self.other)

    async def raise_(self, rule_id: int, device: str, severity: str = "major", **kw: Any) -> Any:
        from indunet.telemetry import Severity

        fields: dict[str, Any] = {
            "rule_name": f"rule-{rule_id}",
            "enterprise_id": self.ent,
            "message": f"{device} too hot",
            "value": {"bearing_temp": 90},
            "at": AT,
            "model_id": "test:press",
        }
        fields.update(kw)
        return await self.alarms.raise_alarm(
            rule_id=rule_id, device_id=device, severity=Severity(severity), **fields
        )


@pytest.fixture
def desk(engine: sa.Engine, enterprise: core.Enterprise) -> Desk:
    return Desk(engine, enterprise)


# -- filters, paging, counts ----------------------------------------------------------------


async def test_filters_page_and_count_with_the_same_conditions(desk: Desk) -> None:
    for i in range(30):
        severity = ("critical", "major", "minor", "warning")[i % 4]
        await desk.raise_(i + 1, f"press-{i % 3}", severity, at=AT + timedelta(minutes=i))
    await desk.raise_(99, "lathe-1", "critical", model_id="test:lathe", message="主轴 温度 100%")
    await desk.raise_(
        100, "press-x", "critical", enterprise_id=desk.other, message="other press too hot"
    )
    a = desk.alarms
    everything = AlarmFilter()
    assert a.total(desk.operator, everything) == 31  # not the other enterprise's
    assert a.total(desk.admin, everything) == 32
    page = a.page(desk.operator, everything, offset=10, limit=10)
    assert len(page) == 10 and page[0].id > page[-1].id  # newest first
    window = AlarmFilter(since=AT + timedelta(minutes=10), until=AT + timedelta(minutes=20))
    assert a.total(desk.operator, window) == 10
    by_device = AlarmFilter(device_id="press-1")
    assert {x.device_id for x in a.page(desk.operator, by_device)} == {"press-1"}
    by_model = AlarmFilter(model_id="test:lathe")
    assert [x.device_id for x in a.page(desk.operator, by_model)] == ["lathe-1"]
    # search: message, device, rule name; LIKE wildcards are literal
    assert a.total(desk.operator, AlarmFilter(text="100%")) == 1
    assert a.total(desk.operator, AlarmFilter(text="%")) == 1
    assert a.total(desk.operator, AlarmFilter(text="rule-7")) == 1
    assert a.total(desk.operator, AlarmFilter(text="LATHE")) == 1  # case-insensitive
    # counts per severity for the filter, whatever its own severity
    counts = a.counts(desk.operator, where=AlarmFilter(device_id="press-0", severity="minor"))
    assert counts == {"critical": 3, "major": 2, "minor": 2, "warning": 3}
    by_severity = a.page(desk.operator, everything, sort="severity", desc=False, limit=1000)
    ranks = [x.severity.value for x in by_severity]
    assert ranks == sorted(ranks, key=["critical", "major", "minor", "warning"].index)
    with pytest.raises(InvalidInput) as bad:
        a.total(desk.operator, AlarmFilter(state="gone"))
    assert bad.value.reason == "alarm_state_unknown"
    with pytest.raises(InvalidInput) as reversed_:
        a.total(desk.operator, AlarmFilter(since=AT, until=AT - timedelta(hours=1)))
    assert reversed_.value.reason == "alarm_range_reversed"
    with pytest.raises(NotFound):  # another enterprise named outright
        a.total(desk.operator, AlarmFilter(enterprise_id=desk.other))
    exported = list(a.export(desk.operator, everything, limit=25, chunk=7))
    assert len(exported) == 25 and len({x.id for x in exported}) == 25


# -- clearing by hand, comments --------------------------------------------------------------


async def test_clearing_by_hand_closes_and_acknowledges_once(desk: Desk) -> None:
    events: list[dict[str, Any]] = []

    async def seen(event: Any) -> None:
        events.append(event.data)

    desk.bus.subscribe("alarm.cleared", seen)
    alarm = await desk.raise_(1, "press-1")
    cleared = await desk.alarms.clear_by_hand(desk.operator, alarm.id, "sensor loose, fixed")
    assert cleared.state == AlarmState.CLOSED
    assert (cleared.cleared_by, cleared.acked_by) == ("operator", "operator")
    assert cleared.cleared_at is not None
    assert [c.text for c in desk.alarms.comments(desk.operator, alarm.id)] == [
        "sensor loose, fixed"
    ]
    assert events and events[-1]["cleared_by"] == "operator"
    assert "alarm.clear" in audit_actions(desk.engine)
    with pytest.raises(Conflict) as twice:
        await desk.alarms.clear_by_hand(desk.operator, alarm.id)
    assert twice.value.reason == "alarm_already_closed"
    # an acknowledged alarm keeps its acknowledgement; the slot is free for a new alarm
    again = await desk.raise_(1, "press-1")
    assert again.id != alarm.id
    await desk.alarms.acknowledge(desk.boss, again.id, "on it")
    closed = await desk.alarms.clear_by_hand(desk.operator, again.id)
    assert (closed.acked_by, closed.cleared_by, closed.state) == ("boss", "operator", "closed")


async def test_who_may_clear_and_comment(desk: Desk) -> None:
    alarm = await desk.raise_(1, "press-1")
    with pytest.raises(NotFound):
        await desk.alarms.clear_by_hand(desk.outsider, alarm.id)
    with pytest.raises(PermissionDenied):
        await desk.alarms.clear_by_hand(desk.regulator, alarm.id)
    with pytest.raises(NotFound):
        desk.alarms.comment(desk.outsider, alarm.id, "hello")
    with pytest.raises(NotFound):
        desk.alarms.comments(desk.outsider, alarm.id)
    with pytest.raises(PermissionDenied):
        desk.alarms.comment(desk.regulator, alarm.id, "hello")
    assert desk.alarms.comments(desk.regulator, alarm.id) == []  # regulators read
    assert desk.alarms.get(desk.admin, alarm.id).state == AlarmState.ACTIVE


async def test_comments_are_bounded(desk: Desk, monkeypatch: pytest.MonkeyPatch) -> None:
    alarm = await desk.raise_(1, "press-1")
    for text in ("", "   ", "x" * (MAX_COMMENT + 1)):
        with pytest.raises(InvalidInput) as bad:
            desk.alarms.comment(desk.operator, alarm.id, text)
        assert bad.value.reason == "alarm_comment_length"
    made = desk.alarms.comment(desk.operator, alarm.id, "  已更换轴承  ")
    assert (made.author, made.text) == ("operator", "已更换轴承")
    desk.alarms.comment(desk.boss, alarm.id, "x" * MAX_COMMENT)
    monkeypatch.setattr("indunet.telemetry.alarmcomments.MAX_COMMENTS", 3)
    desk.alarms.comment(desk.operator, alarm.id, "third")
    with pytest.raises(Conflict) as full:
        desk.alarms.comment(desk.operator, alarm.id, "fourth")
    assert full.value.reason == "alarm_comments_full"
    assert [c.author for c in desk.alarms.comments(desk.operator, alarm.id)] == [
        "operator",
        "boss",
        "operator",
    ]
    with pytest.raises(InvalidInput):
        await desk.alarms.clear_by_hand(desk.operator, alarm.id, "n" * 501)
    assert desk.alarms.get(desk.admin, alarm.id).state == AlarmState.ACTIVE  # nothing written


async def test_the_engine_raises_again_after_a_clear_by_hand_if_the_condition_holds(
    engine: sa.Engine, enterprise: core.Enterprise
) -> None:
    fleet = Fleet()
    fleet.add("press-1", enterprise.id)
    bus = InMemoryEventBus()
    alarms = Alarms(engine, bus)
    rules = RuleEngine(engine, fleet, alarms, bus, find_model=fleet.model)
    boss = make_user(engine, "boss", Role.ENTERPRISE_ADMIN, enterprise.id)
    spec = {"name": "hot", "device_id": "press-1", "condition": "bearing_temp > 80"}
    await rules.create(boss, spec | {"duration_s": 10})
    for s in range(0, 12, 2):
        await rules.on_stored([Sample("press-1", "bearing_temp", T0 + s * 1000, 90.0)])
    [first] = alarms.find(boss)
    assert first.model_id == "test:press"  # the engine records the device's model
    await alarms.clear_by_hand(boss, first.id)
    await rules.on_stored([Sample("press-1", "bearing_temp", T0 + 14_000, 90.0)])
    assert len(alarms.find(boss)) == 1  # held again for 0 s: not yet
    await rules.on_stored([Sample("press-1", "bearing_temp", T0 + 24_000, 90.0)])
    newest, old = alarms.find(boss)
    assert newest.state == AlarmState.ACTIVE and old.state == AlarmState.CLOSED


# -- trying a rule on stored samples ----------------------------------------------------------


SERIES = [  # (second, bearing_temp, running)
    (0, 70.0, True),
    (10, 85.0, True),
    (20, 86.0, True),
    (30, 88.0, True),  # held 20 s at 30: raised (duration 20 s)
    (40, 79.0, True),  # below 80 but not below 75: still active (hysteresis)
    (50, 74.0, True),  # cleared here
    (60, 90.0, True),
    (70, 91.0, False),  # running false: condition breaks before 20 s
    (80, 92.0, True),
    (90, 93.0, True),
    (100, 94.0, True),  # raised again
    (110, 95.0, True),
]


async def test_a_trial_fires_where_the_engine_fires(
    engine: sa.Engine, enterprise: core.Enterprise
) -> None:
    store = MemoryStore()
    samples = [Sample("press-1", "bearing_temp", T0 + s * 1000, v) for s, v, _ in SERIES]
    samples += [Sample("press-1", "running", T0 + s * 1000, r) for s, _, r in SERIES]
    samples += [Sample("press-1", "bearing_temp", T0 + 45_000, 10.0, BAD)]  # left out
    store.write_batch(samples)
    spec = {
        "name": "hot while running",
        "enterprise_id": enterprise.id,
        "device_id": "press-1",
        "condition": "bearing_temp > 80 and running",
        "clear_condition": "bearing_temp < 75",
        "duration_s": 20,
    }
    compiled = rulespec.check(spec, PRESS)
    trial = replay(store, compiled, "press-1", T0, T0 + 200_000)
    got = [(f.raised_at - T0, f.cleared_at and f.cleared_at - T0) for f in trial.firings]
    assert got == [(30_000, 50_000), (100_000, None)]
    assert trial.firings[0].values == {"bearing_temp": 88.0, "running": True}
    assert trial.samples == 24 and trial.evaluations == 12 and trial.missing == []

    # The engine, fed the same samples one timestamp at a time, raises at the same times.
    fleet = Fleet()
    fleet.add("press-1", enterprise.id)
    bus = InMemoryEventBus()
    alarms = Alarms(engine, bus)
    rules = RuleEngine(engine, fleet, alarms, bus, find_model=fleet.model)
    boss = make_user(engine, "boss", Role.ENTERPRISE_ADMIN, enterprise.id)
    await rules.create(boss, {k: v for k, v in spec.items() if k != "enterprise_id"})
    changes: list[str] = []

    async def on_change(event: Any) -> None:
        changes.append(event.type)

    bus.subscribe("alarm.raised", on_change)
    bus.subscribe("alarm.cleared", on_change)
    seen: list[tuple[int, str]] = []  # the second at which each raise and clear happened
    for s, v, r in SERIES:
        ts = T0 + s * 1000
        before = len(changes)
        await rules.on_stored(
            [Sample("press-1", "bearing_temp", ts, v), Sample("press-1", "running", ts, r)]
        )
        seen += [(s * 1000, kind) for kind in changes[before:]]
    assert seen == [(30_000, "alarm.raised"), (50_000, "alarm.cleared"), (100_000, "alarm.raised")]


def test_a_trial_names_missing_points_and_cuts_long_series() -> None:
    store = MemoryStore()
    store.write_batch([Sample("press-1", "bearing_temp", T0 + i * 1000, 90.0) for i in range(50)])
    spec = {"name": "t", "enterprise_id": 1, "device_id": "press-1", "duration_s": 0}
    hot = rulespec.check(spec | {"condition": "bearing_temp > 80"}, PRESS)
    cut = replay(store, hot, "press-1", T0, T0 + 100_000, max_samples=10)
    assert cut.truncated == ["bearing_temp"] and cut.samples == 10 and cut.fired == 1
    both = rulespec.check(spec | {"condition": "bearing_temp > 80 and vibration > 3"}, PRESS)
    trial = replay(store, both, "press-1", T0, T0 + 100_000)
    assert trial.missing == ["vibration"] and trial.fired == 0 and trial.not_evaluable == 50
