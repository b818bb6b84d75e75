"""Commands to devices: checks before sending, the audit entry, and every outcome recorded."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
import sqlalchemy as sa
from tests.telemetry.fleet import Fleet, audit_actions, make_user, other_enterprise

from indunet import core
from indunet.core import InvalidInput, NotFound, PermissionDenied, Role
from indunet.telemetry import (
    CommandFailed,
    Commands,
    CommandState,
    CommandTimedOut,
    MemorySender,
)


class Bench:
    """A command service over a press of enterprise A and one of enterprise B."""

    def __init__(self, engine: sa.Engine, enterprise: core.Enterprise) -> None:
        self.engine = engine
        self.ent = enterprise.id
        self.other = other_enterprise(engine).id
        self.fleet = Fleet()
        self.fleet.add("press-1", self.ent)
        self.fleet.add("press-x", self.other)
        self.sender = MemorySender()
        self.commands = Commands(engine, self.sender, self.fleet, timeout=0.2)
        self.admin = make_user(engine, "ent-admin", Role.ENTERPRISE_ADMIN, self.ent)


@pytest.fixture
def bench(engine: sa.Engine, enterprise: core.Enterprise) -> Bench:
    return Bench(engine, enterprise)


async def test_write_succeeds_and_is_recorded_and_audited(bench: Bench) -> None:
    command = await bench.commands.request(
        bench.admin, "press-1", point="speed_setpoint", value=1500.0
    )
    assert bench.sender.values == {("press-1", "speed_setpoint"): 1500}  # an integer point
    assert (command.state, command.kind, command.name, command.argument) == (
        CommandState.SUCCEEDED,
        "write",
        "speed_setpoint",
        1500,
    )
    assert command.requested_by == "ent-admin" and command.finished_at is not None
    assert command.to_json()["state"] == "succeeded"
    [stored] = bench.commands.history(bench.admin, "press-1")
    assert stored == command
    with bench.engine.connect() as conn:
        [entry] = core.audit.entries(conn, target="device:press-1")
    assert (entry.actor, entry.action) == ("user:ent-admin", "device.write")
    assert entry.detail == {"command": command.id, "name": "speed_setpoint", "argument": 1500}


async def test_pending_command_and_audit_entry_exist_before_sending(bench: Bench) -> None:
    seen: dict[str, Any] = {}

    async def reset(device_id: str, payload: Any) -> Any:
        [pending] = bench.commands.history(bench.admin, device_id)
        seen["state"] = pending.state
        seen["audit"] = audit_actions(bench.engine)[0]
        return {"done": True, "at": 12}

    bench.sender.actions["reset"] = reset
    command = await bench.commands.request(bench.admin, "press-1", action="reset")
    assert seen == {"state": "pending", "audit": "device.invoke"}
    assert (command.state, command.result) == ("succeeded", {"done": True, "at": 12})


async def test_action_input_is_checked_against_its_schema(bench: Bench) -> None:
    async def move(_device: str, payload: Any) -> Any:
        return payload["x"] * 2

    bench.sender.actions["move_to"] = move
    done = await bench.commands.request(bench.admin, "press-1", action="move_to", payload={"x": 4})
    assert done.result == 8
    for payload, says in (
        ({"x": -1}, "input of action 'move_to' at x: -1 is less than the minimum of 0"),
        ({}, "'x' is a required property"),
        ({"x": 1, "y": 2}, "Additional properties"),
        (None, "None is not of type 'object'"),
    ):
        with pytest.raises(InvalidInput, match=None) as caught:
            await bench.commands.request(bench.admin, "press-1", action="move_to", payload=payload)
        assert says in caught.value.message
    with pytest.raises(InvalidInput, match="action 'reset' takes no input"):
        await bench.commands.request(bench.admin, "press-1", action="reset", payload={"now": 1})
    with pytest.raises(InvalidInput, match=r"is 40,0\d\d bytes as JSON; at most 32,768"):
        await bench.commands.request(
            bench.admin, "press-1", action="move_to", payload={"x": 1, "note": "n" * 40_000}
        )
    assert len(bench.commands.history(bench.admin, "press-1")) == 1  # none of them recorded


async def test_device_failure_is_recorded_and_reported(bench: Bench) -> None:
    async def jammed(_device: str, _payload: Any) -> Any:
        raise core.IndunetError("the press answered: hydraulic fault")

    bench.sender.actions["reset"] = jammed
    with pytest.raises(CommandFailed) as caught:
        await bench.commands.request(bench.admin, "press-1", action="reset")
    err = caught.value
    assert err.status == 502 and err.code == "command_failed"
    assert "did not invoke 'reset': the press answered: hydraulic fault" in err.message
    [command] = bench.commands.history(bench.admin, "press-1")
    assert err.detail == {"command": command.id}
    assert (command.state, command.error) == ("failed", err.message)

    del bench.sender.actions["reset"]  # an unexpected error from the sender
    with pytest.raises(CommandFailed, match="LookupError: the device does not implement"):
        await bench.commands.request(bench.admin, "press-1", action="reset")


async def test_timeout_is_recorded(bench: Bench) -> None:
    bench.sender.delay = 5
    started = asyncio.get_running_loop().time()
    with pytest.raises(CommandTimedOut, match=r"press-1 did not answer within 0\.2 s") as caught:
        await bench.commands.request(bench.admin, "press-1", point="enabled", value=True)
    assert asyncio.get_running_loop().time() - started < 2
    assert caught.value.status == 504
    [command] = bench.commands.history(bench.admin, "press-1")
    assert command.state == "timeout" and command.finished_at is not None
    assert bench.sender.values == {}


@pytest.mark.parametrize(
    ("request_", "says"),
    [
        ({"point": "bearing_temp", "value": 20.0}, "point 'bearing_temp' is read-only"),
        ({"point": "speed_setpoint", "value": 3001}, "3001 is outside the range"),
        ({"point": "speed_setpoint", "value": -1}, "(0 … 3000 rpm)"),
        ({"point": "speed_setpoint", "value": 12.5}, "takes an integer, not 12.5"),
        ({"point": "speed_setpoint", "value": "fast"}, "takes a integer, not 'fast'"),
        ({"point": "speed_setpoint", "value": True}, "not True"),
        ({"point": "pressure_limit", "value": 0.1}, "outside the range"),
        ({"point": "pressure_limit", "value": float("nan")}, "finite number"),
        ({"point": "enabled", "value": 1}, "takes true or false, not 1"),
        ({"point": "recipe", "value": 5}, "takes a text"),
        ({"point": "recipe", "value": "r" * 1001}, "at most 1000 characters"),
        ({"point": "spindle", "value": 1}, "has no point 'spindle'; writable points: enabled"),
        ({"action": "explode"}, "has no action 'explode'; actions: move_to, reset"),
        ({"point": "enabled", "value": True, "action": "reset"}, "either a point"),
        ({}, "either a point"),
    ],
)
async def test_bad_commands_are_refused_before_anything_is_recorded(
    bench: Bench, request_: dict[str, Any], says: str
) -> None:
    before = audit_actions(bench.engine)
    with pytest.raises(InvalidInput) as caught:
        await bench.commands.request(bench.admin, "press-1", **request_)
    assert says in caught.value.message
    assert bench.commands.history(bench.admin, "press-1") == []
    assert audit_actions(bench.engine) == before
    assert bench.sender.values == {}


async def test_who_may_command(bench: Bench) -> None:
    operator = make_user(bench.engine, "operator", Role.ENTERPRISE_USER, bench.ent)
    regulator = make_user(bench.engine, "watcher", Role.REGULATOR)
    outsider = make_user(bench.engine, "outsider", Role.ENTERPRISE_ADMIN, bench.other)
    root = make_user(bench.engine, "root", Role.PLATFORM_ADMIN)
    write = {"point": "enabled", "value": False}
    for who, error in ((operator, PermissionDenied), (regulator, PermissionDenied)):
        with pytest.raises(error, match="may not change device press-1"):
            await bench.commands.request(who, "press-1", **write)
    with pytest.raises(NotFound, match="no device press-1"):
        await bench.commands.request(outsider, "press-1", **write)
    with pytest.raises(NotFound, match="no device 'ghost'"):
        await bench.commands.request(root, "ghost", **write)
    assert bench.sender.values == {}
    assert bench.commands.history(root, "press-1") == []

    await bench.commands.request(root, "press-1", **write)
    await bench.commands.request(outsider, "press-x", **write)
    assert [c.requested_by for c in bench.commands.history(operator, "press-1")] == ["root"]
    assert len(bench.commands.history(regulator, "press-x")) == 1
    with pytest.raises(NotFound):
        bench.commands.history(outsider, "press-1")


async def test_history_is_newest_first_and_results_are_stored_as_json(bench: Bench) -> None:
    async def odd(_device: str, _payload: Any) -> Any:
        return {1, 2}  # not JSON: kept as text

    bench.sender.actions["reset"] = odd
    first = await bench.commands.request(bench.admin, "press-1", action="reset")
    second = await bench.commands.request(bench.admin, "press-1", point="recipe", value="A-7")
    assert first.result == "{1, 2}"
    assert [c.id for c in bench.commands.history(bench.admin, "press-1")] == [second.id, first.id]
    assert [c.id for c in bench.commands.history(bench.admin, "press-1", limit=1)] == [second.id]
