"""Commands to devices: write a point or invoke an action, checked, audited and recorded.

Who may command: platform admins, and enterprise admins for their own enterprise's devices.
Enterprise users and regulators may not (they see the history). A write must name a
writable point of the device model with a value of the point's type inside its range; an
invocation must name an action of the model with input matching the action's schema.

``Commands.request`` records the command as *pending* together with its audit entry in one
transaction, sends it through the ``CommandSender`` with a timeout, and records the outcome:
*succeeded* (with the device's result), *failed* (with the error) or *timeout*.
"""

from __future__ import annotations

import asyncio
import json
import math
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, fields
from datetime import UTC, datetime
from enum import StrEnum
from functools import partial
from typing import Any, Literal, Protocol

import jsonschema
import sqlalchemy as sa

from indunet.core import EventBus, IndunetError, InvalidInput, User, access, audit
from indunet.devices import Action, Point, ThingModel
from indunet.telemetry import events, owners
from indunet.telemetry.alarmtables import commands as table
from indunet.telemetry.samples import Value

MAX_INPUT = 32 * 1024
"""Bytes of an action's input as JSON at most (it must cross the backbone to a connector)."""
DEFAULT_TIMEOUT_S = 10.0
"""How long ``request`` waits for the device by default."""
MAX_TEXT = 1000


class CommandSender(Protocol):
    """Delivers commands to devices (the platform implements it with its connectors)."""

    async def write(self, device_id: str, point: str, value: Value) -> Any:
        """Write ``value`` to ``point`` of the device; raise if the device refuses."""

    async def invoke(self, device_id: str, action: str, payload: Any) -> Any:
        """Run ``action`` on the device with ``payload``; return the device's output."""

    # Optional: ``async def check_write(device_id, point, value) -> None`` raising
    # ``InvalidInput`` for a value the sender would refuse; ``request`` calls it before
    # recording, so such a value is a 400 that leaves no command (``ConnectorManager`` has it).


class CommandState(StrEnum):
    """Where a command is."""

    PENDING = "pending"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    TIMEOUT = "timeout"


class CommandFailed(IndunetError):
    """The device, or the way to it, refused or failed a command; ``message`` says why.

    Connectors raise it; ``Commands`` records it before raising it to the caller.
    """

    code = "command_failed"
    status = 502


class CommandTimedOut(IndunetError):
    """The device did not answer in time; the command was recorded as timed out."""

    code = "command_timeout"
    status = 504


@dataclass(frozen=True, slots=True)
class Command:
    """One recorded command."""

    id: int
    enterprise_id: int | None
    device_id: str
    kind: Literal["write", "invoke"]
    name: str  # the point written or the action invoked
    argument: Any  # the value written or the action's input
    state: CommandState
    result: Any
    error: str | None
    requested_by: str
    requested_at: datetime
    finished_at: datetime | None

    def to_json(self) -> dict[str, Any]:
        """A JSON-able dict (times in ISO 8601)."""
        out: dict[str, Any] = {}
        for f in fields(self):
            v = getattr(self, f.name)
            out[f.name] = v.isoformat() if isinstance(v, datetime) else v
        return out


def _aware(v: datetime | None) -> datetime | None:
    return v.replace(tzinfo=UTC) if v is not None and v.tzinfo is None else v


def _command(row: sa.Row[Any]) -> Command:
    m = dict(row._mapping)
    m["state"] = CommandState(m["state"])
    m["requested_at"] = _aware(m["requested_at"])
    m["finished_at"] = _aware(m["finished_at"])
    return Command(**m)


def check_value(point: Point, value: Any) -> Value:
    """``value`` as the point's type, or ``InvalidInput`` saying why it does not fit."""
    if not point.writable:
        raise InvalidInput(f"point {point.name!r} is read-only")
    kind = point.type
    if kind == "boolean":
        if not isinstance(value, bool):
            raise InvalidInput(f"point {point.name!r} takes true or false, not {value!r}")
        return value
    if kind == "string":
        if not isinstance(value, str) or len(value) > MAX_TEXT:
            raise InvalidInput(
                f"point {point.name!r} takes a text of at most {MAX_TEXT} characters"
            )
        return value
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InvalidInput(f"point {point.name!r} takes a {kind}, not {value!r}")
    number: int | float = value
    if kind == "integer":
        if isinstance(number, float) and not number.is_integer():
            raise InvalidInput(f"point {point.name!r} takes an integer, not {value!r}")
        number = int(number)
    elif not math.isfinite(number):
        raise InvalidInput(f"point {point.name!r} takes a finite number, not {value!r}")
    low, high = point.minimum, point.maximum
    if (low is not None and number < low) or (high is not None and number > high):
        unit = f" {point.unit}" if point.unit else ""
        bounds = f"{'' if low is None else low} … {'' if high is None else high}{unit}"
        raise InvalidInput(f"{value!r} is outside the range of point {point.name!r} ({bounds})")
    return number


def check_input(action: Action, payload: Any) -> None:
    """Raise ``InvalidInput`` unless ``payload`` fits the action's input schema and size."""
    try:
        size = len(json.dumps(payload, allow_nan=False))
    except (TypeError, ValueError):
        raise InvalidInput(f"input of action {action.name!r} is not plain JSON") from None
    if size > MAX_INPUT:
        raise InvalidInput(
            f"input of action {action.name!r} is {size:,} bytes as JSON; at most {MAX_INPUT:,}"
        )
    if action.input is None:
        if payload is not None:
            raise InvalidInput(f"action {action.name!r} takes no input")
        return
    try:
        jsonschema.validate(payload, action.input)
    except jsonschema.ValidationError as exc:
        where = "/".join(str(p) for p in exc.absolute_path) or "input"
        raise InvalidInput(f"input of action {action.name!r} at {where}: {exc.message}") from None


def _jsonable(v: Any) -> Any:
    try:
        json.dumps(v, allow_nan=False)
    except (TypeError, ValueError):
        return repr(v)[:MAX_TEXT]
    return v


class Commands:
    """Checks, records and sends commands to devices."""

    def __init__(
        self,
        engine: sa.Engine,
        sender: CommandSender,
        devices: owners.DeviceDirectory,
        *,
        timeout: float = DEFAULT_TIMEOUT_S,
        bus: EventBus | None = None,
    ) -> None:
        self.engine = engine
        self.sender = sender
        self.devices = devices
        self.timeout = timeout
        self.bus = bus  # a failed or timed-out command is published as command.failed

    async def request(
        self,
        user: User,
        device_id: str,
        *,
        point: str | None = None,
        value: Any = None,
        action: str | None = None,
        payload: Any = None,
    ) -> Command:
        """Check, record and send a command; return it succeeded, or raise naming what failed.

        Raises ``InvalidInput``/``PermissionDenied``/``NotFound`` before anything is recorded,
        ``CommandFailed`` (502) or ``CommandTimedOut`` (504) after the attempt was recorded.
        """
        if (point is None) == (action is None):
            raise InvalidInput("a command names either a point (with a value) or an action")
        model, enterprise = owners.device_of(self.devices, device_id)
        access.check_change(user, enterprise, f"device {device_id}")
        send: Callable[[], Awaitable[Any]]
        if point is not None:
            checked = check_value(self._point(model, point), value)
            check_write = getattr(self.sender, "check_write", None)
            if check_write is not None:  # refused by the connector: 400, nothing recorded
                await check_write(device_id, point, checked)
            kind, name, argument = "write", point, checked
            send = partial(self.sender.write, device_id, point, checked)
        else:
            assert action is not None
            check_input(self._action(model, action), payload)
            kind, name, argument = "invoke", action, payload
            send = partial(self.sender.invoke, device_id, action, payload)

        command_id = await asyncio.to_thread(
            self._record, user, enterprise, device_id, kind, name, argument
        )
        wait = self.timeout
        try:
            async with asyncio.timeout(wait):
                result = await send()
        except TimeoutError:
            error = f"device {device_id} did not answer within {wait:g} s"
            await self._finish(command_id, CommandState.TIMEOUT, None, error)
            raise CommandTimedOut(error, detail={"command": command_id}) from None
        except asyncio.CancelledError:
            await self._finish(command_id, CommandState.FAILED, None, "cancelled")
            raise
        except Exception as exc:
            reason = (
                exc.message if isinstance(exc, IndunetError) else f"{type(exc).__name__}: {exc}"
            )
            error = f"device {device_id} did not {kind} {name!r}: {reason}"[:MAX_TEXT]
            await self._finish(command_id, CommandState.FAILED, None, error)
            raise CommandFailed(error, detail={"command": command_id}) from None
        return await self._finish(command_id, CommandState.SUCCEEDED, _jsonable(result), None)

    def history(self, user: User, device_id: str, *, limit: int = 50) -> list[Command]:
        """The device's commands, newest first (anyone who may see the device).

        Only commands of the device's current enterprise: a device id registered again by
        another enterprise never shows the earlier owner's commands.
        """
        _, enterprise = owners.device_of(self.devices, device_id)
        access.check_see(user, enterprise, f"device {device_id}")
        q = (
            sa.select(table)
            .where(table.c.device_id == device_id, table.c.enterprise_id == enterprise)
            .order_by(table.c.id.desc())
            .limit(max(1, min(limit, 500)))
        )
        with self.engine.connect() as conn:
            return [_command(r) for r in conn.execute(q)]

    @staticmethod
    def _point(model: ThingModel, name: str) -> Point:
        point = model.points.get(name)
        if point is None:
            writable = sorted(p.name for p in model.points.values() if p.writable)
            raise InvalidInput(
                f"model {model.id} has no point {name!r}; writable points: "
                + (", ".join(writable) or "none")
            )
        return point

    @staticmethod
    def _action(model: ThingModel, name: str) -> Action:
        action = model.actions.get(name)
        if action is None:
            raise InvalidInput(
                f"model {model.id} has no action {name!r}; actions: "
                + (", ".join(sorted(model.actions)) or "none")
            )
        return action

    def _record(
        self,
        user: User,
        enterprise: int | None,
        device_id: str,
        kind: str,
        name: str,
        argument: Any,
    ) -> int:
        with self.engine.begin() as conn:
            command_id = conn.execute(
                table.insert()
                .values(
                    enterprise_id=enterprise,
                    device_id=device_id,
                    kind=kind,
                    name=name,
                    argument=argument,
                    state=CommandState.PENDING.value,
                    requested_by=user.username,
                    requested_at=datetime.now(UTC),
                )
                .returning(table.c.id)
            ).scalar_one()
            audit.record(
                conn,
                user.actor,
                f"device.{kind}",
                f"device:{device_id}",
                {"command": command_id, "name": name, "argument": argument},
                enterprise_id=enterprise,
            )
        return int(command_id)

    async def _finish(
        self, command_id: int, state: CommandState, result: Any, error: str | None
    ) -> Command:
        def store() -> Command:
            with self.engine.begin() as conn:
                conn.execute(
                    table.update()
                    .where(table.c.id == command_id)
                    .values(
                        state=state.value, result=result, error=error, finished_at=datetime.now(UTC)
                    )
                )
                return _command(
                    conn.execute(sa.select(table).where(table.c.id == command_id)).one()
                )

        command = await asyncio.to_thread(store)
        if self.bus is not None and state in (CommandState.FAILED, CommandState.TIMEOUT):
            await self.bus.publish(
                events.COMMAND_FAILED.make(command.to_json(), enterprise_id=command.enterprise_id)
            )
        return command


class MemorySender:
    """A ``CommandSender`` in memory, for tests and demos: writes land in ``values``.

    ``actions`` maps an action name to ``async handler(device_id, payload) -> output``;
    ``delay`` seconds pass before each command is carried out.
    """

    def __init__(self, delay: float = 0.0) -> None:
        self.values: dict[tuple[str, str], Value] = {}
        self.actions: dict[str, Callable[[str, Any], Awaitable[Any]]] = {}
        self.delay = delay

    async def write(self, device_id: str, point: str, value: Value) -> None:
        """Remember ``value`` as the point's value."""
        await asyncio.sleep(self.delay)
        self.values[(device_id, point)] = value

    async def invoke(self, device_id: str, action: str, payload: Any) -> Any:
        """Run the action's handler."""
        await asyncio.sleep(self.delay)
        handler = self.actions.get(action)
        if handler is None:
            raise LookupError(f"the device does not implement {action!r}")
        return await handler(device_id, payload)
