"""Alarm rules: checking them against the model, and the engine raising and clearing alarms."""

from __future__ import annotations

import time
from typing import Any

import pytest
import sqlalchemy as sa
from tests.telemetry.fleet import OLD_PRESS, PRESS, Fleet, Recorder, audit_actions, make_user

from indunet import core
from indunet.core import Conflict, InMemoryEventBus, InvalidInput, NotFound, PermissionDenied, Role
from indunet.telemetry import (
    BAD,
    Alarms,
    AlarmState,
    InvalidExpression,
    RuleEngine,
    Sample,
)

T0 = 1_767_225_600_000  # 2026-01-01T00:00:00Z in ms
HOT = {"name": "bearing hot", "device_id": "press-1", "condition": "bearing_temp > 80"}


class World:
    """A rule engine over a small fleet, with its users and an event recorder."""

    def __init__(self, engine: sa.Engine, enterprise: core.Enterprise) -> None:
        self.engine = engine
        self.ent = enterprise.id
        self.other = core.make_uscc("91110108MA01ABCD")
        with engine.begin() as conn:
            self.other_id = core.create_enterprise(
                conn, uscc=self.other, name="其他公司", actor="test"
            ).id
        self.fleet = Fleet()
        self.fleet.add("press-1", self.ent)
        self.fleet.add("press-2", self.ent)
        self.fleet.add("press-old", self.ent, OLD_PRESS)
        self.fleet.add("press-x", self.other_id)
        self.bus = InMemoryEventBus()
        self.events = Recorder(self.bus, "alarm.raised", "alarm.cleared", "rule.created")
        self.alarms = Alarms(engine, self.bus)
        self.admin = make_user(engine, "ent-admin", Role.ENTERPRISE_ADMIN, self.ent)
        self.platform = make_user(engine, "root", Role.PLATFORM_ADMIN)
        self.rules = self.restart()

    def restart(self) -> RuleEngine:
        self.rules = RuleEngine(
            self.engine, self.fleet, self.alarms, self.bus, find_model=self.fleet.model
        )
        return self.rules

    async def feed(self, device: str, second: float, **values: Any) -> None:
        ts = T0 + int(second * 1000)
        await self.rules.on_stored([Sample(device, p, ts, v) for p, v in values.items()])

    def alarm_states(self, device: str = "press-1") -> list[AlarmState]:
        return [a.state for a in self.alarms.find(self.platform, device_id=device)]


@pytest.fixture
def world(engine: sa.Engine, enterprise: core.Enterprise) -> World:
    return World(engine, enterprise)


# -- thresholds, durations, hysteresis -----------------------------------------------------


async def test_threshold_raises_once_with_value_and_message(world: World) -> None:
    await world.rules.create(
        world.admin,
        {**HOT, "severity": "critical", "message": "{device}: bearing at {bearing_temp} °C"},
    )
    await world.feed("press-1", 0, bearing_temp=79.5)
    assert world.alarm_states() == []
    await world.feed("press-1", 1, bearing_temp=85.25)
    await world.feed("press-1", 2, bearing_temp=86.0)
    [alarm] = world.alarms.find(world.platform)
    assert (alarm.state, alarm.severity, alarm.device_id) == ("active", "critical", "press-1")
    assert alarm.value == {"bearing_temp": 85.25}
    assert alarm.message == "press-1: bearing at 85.25 °C"
    assert alarm.raised_at.timestamp() * 1000 == T0 + 1000
    assert world.events.topics() == ["rule.created", "alarm.raised"]
    assert world.rules.stats.raised == 1


async def test_duration_counts_sample_time_and_resets_when_the_condition_breaks(
    world: World,
) -> None:
    await world.rules.create(world.admin, {**HOT, "duration_s": 30})
    for s in range(30):  # 0 .. 29 s above 80: not yet
        await world.feed("press-1", s, bearing_temp=85)
    assert world.alarm_states() == []
    await world.feed("press-1", 30, bearing_temp=85)
    assert world.alarm_states() == ["active"]

    await world.rules.create(world.admin, {**HOT, "name": "p2", "device_id": "press-2"})
    await world.rules.update(world.admin, 2, {"duration_s": 30})
    for s in range(20):
        await world.feed("press-2", s, bearing_temp=90)
    await world.feed("press-2", 20, bearing_temp=75)  # broken: starts again
    for s in range(21, 50):
        await world.feed("press-2", s, bearing_temp=90)
    assert world.alarm_states("press-2") == []
    await world.feed("press-2", 51, bearing_temp=90)
    assert world.alarm_states("press-2") == ["active"]


async def test_duration_looks_inside_a_batch_at_every_timestamp(world: World) -> None:
    await world.rules.create(world.admin, {**HOT, "duration_s": 30})
    dip = [
        Sample("press-1", "bearing_temp", T0 + s * 1000, 75 if s == 15 else 90) for s in range(40)
    ]
    dip.reverse()  # out of order within the batch: still walked by time
    await world.rules.on_stored(dip)
    assert world.alarm_states() == []  # held from 16 s to 39 s only
    await world.rules.on_stored(
        [Sample("press-1", "bearing_temp", T0 + s * 1000, 90) for s in range(40, 47)]
    )
    assert world.alarm_states() == ["active"]
    [alarm] = world.alarms.find(world.platform)
    assert alarm.raised_at.timestamp() * 1000 == T0 + 46_000  # 30 s after the first at 16 s


async def test_hysteresis_clear_condition(world: World) -> None:
    await world.rules.create(world.admin, {**HOT, "clear_condition": "bearing_temp < 70"})
    await world.feed("press-1", 0, bearing_temp=85)
    await world.feed("press-1", 1, bearing_temp=75)  # below 80 but not below 70
    assert world.alarm_states() == ["active"]
    await world.feed("press-1", 2, bearing_temp=69)
    assert world.alarm_states() == ["cleared"]
    [alarm] = world.alarms.find(world.platform)
    assert alarm.cleared_at is not None and alarm.cleared_at.timestamp() * 1000 == T0 + 2000
    assert world.events.topics()[-2:] == ["alarm.raised", "alarm.cleared"]


async def test_default_clear_is_the_condition_no_longer_holding(world: World) -> None:
    await world.rules.create(world.admin, HOT)
    await world.feed("press-1", 0, bearing_temp=85)
    await world.feed("press-1", 1, bearing_temp=80)
    assert world.alarm_states() == ["cleared"]
    await world.feed("press-1", 2, bearing_temp=81)  # returns before anyone acknowledged
    [alarm] = world.alarms.find(world.platform)
    assert (alarm.state, alarm.occurrences) == ("active", 2)


async def test_combined_condition_uses_latest_values_of_several_points(world: World) -> None:
    await world.rules.create(
        world.admin,
        {**HOT, "name": "overload", "condition": "motor_current > 1.2 * 40 and running"},
    )
    await world.feed("press-1", 0, motor_current=50.0)  # running never reported
    assert world.rules.stats.not_evaluable == 1
    await world.feed("press-1", 1, running=False)
    await world.feed("press-1", 2, running=True)  # motor_current still 50 from before
    assert world.alarm_states() == ["active"]


async def test_model_rule_covers_that_enterprises_devices_of_the_model(world: World) -> None:
    await world.rules.create(
        world.admin, {"name": "vib", "model_id": "test:press", "condition": "vibration > 7"}
    )
    for device in ("press-1", "press-2", "press-x"):
        await world.feed(device, 0, vibration=9.0)
    devices = sorted(a.device_id for a in world.alarms.find(world.platform))
    assert devices == ["press-1", "press-2"]  # press-x is another enterprise's press


async def test_points_a_device_lacks_make_the_rule_not_evaluable(world: World) -> None:
    await world.rules.create(
        world.admin,
        {
            "name": "vib",
            "model_id": "test:press",
            "condition": "vibration > 7 or bearing_temp > 100",
        },
    )
    await world.feed("press-old", 0, bearing_temp=120.0)  # its model has no vibration point
    await world.feed("press-1", 0, bearing_temp=120.0)  # has one, not reported yet
    assert world.rules.stats.not_evaluable == 2
    assert world.alarms.find(world.platform) == []
    await world.feed("press-1", 1, vibration=1.0)
    assert world.alarm_states("press-1") == ["active"]
    assert world.alarm_states("press-old") == []


async def test_only_rules_reading_an_updated_point_are_evaluated(world: World) -> None:
    await world.rules.create(world.admin, HOT)
    await world.feed("press-1", 0, motor_current=10, vibration=2)
    assert world.rules.stats.evaluations == 0
    await world.feed("press-1", 1, bearing_temp=60, motor_current=11)
    assert world.rules.stats.evaluations == 1


async def test_bad_quality_and_late_samples_do_not_feed_rules(world: World) -> None:
    await world.rules.create(world.admin, HOT)
    await world.rules.on_stored([Sample("press-1", "bearing_temp", T0, 120.0, BAD)])
    await world.feed("press-1", 10, bearing_temp=70)
    await world.feed("press-1", 5, bearing_temp=95)  # older than the latest value
    assert world.alarm_states() == []
    assert world.rules.latest("press-1") == {"bearing_temp": 70}


async def test_disabled_rules_raise_nothing_and_disabling_clears(world: World) -> None:
    rule = await world.rules.create(world.admin, HOT)
    await world.feed("press-1", 0, bearing_temp=90)
    updated = await world.rules.update(world.admin, rule.id, {"enabled": False})
    assert updated.enabled is False
    assert world.alarm_states() == ["cleared"]
    await world.feed("press-1", 1, bearing_temp=95)
    assert world.alarm_states() == ["cleared"]


async def test_deleting_a_rule_clears_its_alarms_and_keeps_them_as_history(world: World) -> None:
    rule = await world.rules.create(world.admin, HOT)
    await world.feed("press-1", 0, bearing_temp=90)
    await world.rules.delete(world.admin, rule.id)
    assert world.alarm_states() == ["cleared"]
    assert world.rules.find(world.admin) == []
    await world.feed("press-1", 1, bearing_temp=95)
    assert len(world.alarms.find(world.platform)) == 1
    with pytest.raises(NotFound):
        world.rules.get(world.admin, rule.id)


async def test_restart_keeps_rules_and_active_alarms(world: World) -> None:
    await world.rules.create(world.admin, HOT)
    await world.feed("press-1", 0, bearing_temp=90)
    world.restart()
    await world.feed("press-1", 1, bearing_temp=91)  # still active: no second alarm
    [alarm] = world.alarms.find(world.platform)
    assert (alarm.state, alarm.occurrences) == ("active", 1)
    await world.feed("press-1", 2, bearing_temp=50)
    assert world.alarm_states() == ["cleared"]


async def test_never_raises_into_the_pipeline_and_retries(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    await world.rules.create(world.admin, HOT)

    async def broken(**_kw: Any) -> Any:
        raise RuntimeError("database is gone")

    with monkeypatch.context() as m:
        m.setattr(world.alarms, "raise_alarm", broken)
        await world.feed("press-1", 0, bearing_temp=90)  # must not raise
    assert world.rules.stats.errors == 1
    assert world.alarm_states() == []
    await world.feed("press-1", 1, bearing_temp=91)
    assert world.alarm_states() == ["active"]


async def test_a_failed_raise_followed_by_a_break_starts_the_duration_over(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    await world.rules.create(world.admin, {**HOT, "duration_s": 10})

    async def broken(**_kw: Any) -> Any:
        raise RuntimeError("database is gone")

    batch = [
        Sample("press-1", "bearing_temp", T0 + s * 1000, t)
        for s, t in ((0, 90), (10, 90), (11, 50))
    ]
    with monkeypatch.context() as m:
        m.setattr(world.alarms, "raise_alarm", broken)
        await world.rules.on_stored(batch)  # raise at 10 s fails, then it breaks at 11 s
    await world.feed("press-1", 12, bearing_temp=90)
    assert world.alarm_states() == []  # held since 12 s only
    await world.feed("press-1", 22, bearing_temp=90)
    assert world.alarm_states() == ["active"]


# -- checking and managing rules -----------------------------------------------------------


@pytest.mark.parametrize(
    ("change", "error", "says"),
    [
        ({"condition": "bearing_tmp > 80"}, InvalidInput, "point 'bearing_tmp', which model"),
        ({"clear_condition": "temp < 70"}, InvalidInput, "clear condition uses point 'temp'"),
        ({"condition": "bearing_temp.real > 80"}, InvalidExpression, "attribute access"),
        ({"condition": ""}, InvalidExpression, "an expression is needed"),
        ({"message": "{device} {__class__}"}, InvalidInput, "names {__class__}"),
        ({"message": "{bearing_temp:>10}"}, InvalidInput, "names {bearing_temp:>10}"),
        ({"duration_s": -1}, InvalidInput, "duration_s must be 0 to"),
        ({"duration_s": float("nan")}, InvalidInput, "duration_s"),
        ({"duration_s": "30"}, InvalidInput, "duration_s"),
        ({"severity": "urgent"}, InvalidInput, "unknown severity 'urgent'"),
        ({"enabled": None}, InvalidInput, "enabled must be true or false, not None"),
        ({"name": " "}, InvalidInput, "a rule needs a name"),
        ({"model_id": "test:press"}, InvalidInput, "exactly one of device_id or model_id"),
        ({"device_id": None}, InvalidInput, "exactly one of device_id or model_id"),
        ({"device_id": "nope"}, NotFound, "no device 'nope'"),
        ({"device_id": "press-x"}, NotFound, "no device press-x"),
        ({"device_id": None, "model_id": "test:lathe"}, NotFound, "no model"),
        ({"colour": "red"}, InvalidInput, "unknown or fixed rule field(s) colour"),
    ],
)
async def test_bad_rules_are_refused_and_change_nothing(
    world: World, change: dict[str, Any], error: type[Exception], says: str
) -> None:
    before = audit_actions(world.engine)
    with pytest.raises(error, match=None) as caught:
        await world.rules.create(world.admin, {**HOT, **change})
    assert says in str(caught.value)
    assert world.rules.find(world.platform) == []
    assert audit_actions(world.engine) == before


async def test_who_may_manage_rules(world: World) -> None:
    user = make_user(world.engine, "operator", Role.ENTERPRISE_USER, world.ent)
    regulator = make_user(world.engine, "watcher", Role.REGULATOR)
    outsider = make_user(world.engine, "outsider", Role.ENTERPRISE_ADMIN, world.other_id)
    for who, error in (
        (user, PermissionDenied),
        (regulator, PermissionDenied),
        (outsider, NotFound),
    ):
        with pytest.raises(error):
            await world.rules.create(who, HOT)
    rule = await world.rules.create(world.platform, HOT)
    assert rule.enterprise_id == world.ent and rule.created_by == "user:root"
    assert [r.id for r in world.rules.find(user)] == [rule.id]
    assert [r.id for r in world.rules.find(regulator)] == [rule.id]
    assert world.rules.find(outsider) == []
    with pytest.raises(NotFound):
        world.rules.get(outsider, rule.id)
    with pytest.raises(NotFound):
        world.rules.find(user, enterprise_id=world.other_id)
    with pytest.raises(PermissionDenied):
        await world.rules.update(user, rule.id, {"severity": "minor"})
    with pytest.raises(NotFound):
        await world.rules.delete(outsider, rule.id)
    with pytest.raises(InvalidInput, match="enterprise"):
        await world.rules.create(
            world.platform, {"name": "m", "model_id": "test:press", "condition": "running"}
        )


async def test_names_are_unique_per_enterprise_and_changes_are_audited(world: World) -> None:
    rule = await world.rules.create(world.admin, HOT)
    with pytest.raises(Conflict, match="already has a rule named 'bearing hot'"):
        await world.rules.create(world.admin, {**HOT, "device_id": "press-2"})
    changed = await world.rules.update(
        world.admin, rule.id, {"condition": "bearing_temp > 90", "severity": "warning"}
    )
    assert (changed.condition, changed.severity, changed.created_at) == (
        "bearing_temp > 90",
        "warning",
        rule.created_at,
    )
    assert world.rules.get(world.admin, rule.id) == changed
    with pytest.raises(InvalidInput, match="fixed rule field"):
        await world.rules.update(world.admin, rule.id, {"enterprise_id": world.other_id})
    with pytest.raises(InvalidInput):
        await world.rules.update(world.admin, rule.id, {"condition": "nope > 1"})
    assert world.rules.get(world.admin, rule.id).condition == "bearing_temp > 90"
    await world.rules.delete(world.admin, rule.id)
    assert [a for a in audit_actions(world.engine) if a.startswith("rule.")] == [
        "rule.delete",
        "rule.update",
        "rule.create",
    ]


async def test_evaluating_a_big_batch_is_fast(world: World) -> None:
    for n in range(1000):
        world.fleet.add(f"m-{n:04d}", world.ent)
    await world.rules.create(
        world.admin, {"name": "hot", "model_id": PRESS.id, "condition": "bearing_temp > 180"}
    )
    await world.rules.create(
        world.admin,
        {
            "name": "overload",
            "model_id": PRESS.id,
            "condition": "motor_current > 1.2 * 40 and running",
            "duration_s": 30,
        },
    )
    points = ("bearing_temp", "motor_current", "vibration", "speed_setpoint", "pressure_limit")
    best = float("inf")
    for batch in range(5):
        samples = [
            Sample(f"m-{n:04d}", p, T0 + batch * 1000 + 2 * k, 20.0 + k)
            for n in range(1000)
            for k, p in enumerate(points * 2)
        ]
        started = time.perf_counter()
        await world.rules.on_stored(samples)
        best = min(best, time.perf_counter() - started)
    assert len(samples) == 10_000
    assert world.rules.stats.errors == 0
    print(f"rule engine: {best * 1000:.1f} ms per 10,000-sample batch")
    assert best < 0.1


# -- rules changed by another process (the scaled mode: api processes edit, workers evaluate) --


def _worker(world: World) -> RuleEngine:
    """A second engine on the same database and bus, like a worker process's."""
    return RuleEngine(
        world.engine, world.fleet, world.alarms, world.bus, find_model=world.fleet.model
    )


async def test_a_rule_made_elsewhere_is_evaluated_here(world: World) -> None:
    worker = _worker(world)
    made = await world.rules.create(world.admin, {**HOT, "severity": "critical"})
    await worker.on_stored([Sample("press-1", "bearing_temp", T0, 90.0)])
    assert world.alarm_states() == [AlarmState.ACTIVE]
    assert [a.rule_id for a in world.alarms.find(world.platform, device_id="press-1")] == [made.id]


async def test_a_rule_changed_or_removed_elsewhere_changes_here(world: World) -> None:
    worker = _worker(world)
    made = await world.rules.create(world.admin, HOT)
    await world.rules.update(world.admin, made.id, {"condition": "bearing_temp > 100"})
    await worker.on_stored([Sample("press-1", "bearing_temp", T0, 90.0)])
    assert world.alarm_states() == []  # the new threshold, not the first one
    await world.rules.delete(world.admin, made.id)
    await worker.on_stored([Sample("press-1", "bearing_temp", T0 + 1000, 150.0)])
    assert world.alarm_states() == []


async def test_an_alarm_closed_elsewhere_by_disabling_its_rule_can_raise_again(
    world: World,
) -> None:
    worker = _worker(world)
    made = await world.rules.create(world.admin, HOT)
    await worker.on_stored([Sample("press-1", "bearing_temp", T0, 90.0)])
    assert world.alarm_states() == [AlarmState.ACTIVE]
    await world.rules.update(world.admin, made.id, {"enabled": False})  # closes it
    assert world.alarm_states() == [AlarmState.CLEARED]
    await world.rules.update(world.admin, made.id, {"enabled": True})
    await worker.on_stored([Sample("press-1", "bearing_temp", T0 + 1000, 95.0)])
    assert world.alarm_states() == [AlarmState.ACTIVE]  # raised anew, not stuck as "active"
    assert worker.stats.raised == 2
