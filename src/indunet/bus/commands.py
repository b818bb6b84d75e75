"""Commands across processes: an api process asks, the connector that owns the device acts.

A command sent on any process reaches the connector serving its device by NATS
request/reply on ``<prefix>.cmd.<index>``, the index of the connector share that owns the
device (``crc32(id) % connectors``, the rule of ``subjects.owns_device``; MQTT devices
follow it too, although any connector could publish to their broker, so that one command
is sent once). ``RemoteSender`` is the ``telemetry.CommandSender`` of the asking side;
``CommandServer`` serves the subject in a connector process (a queue group per index, so a
second process with the same share takes over) by calling its ``ConnectorManager``.

Requests and replies are JSON objects of at most ``MAX_MESSAGE`` bytes::

    {"v": 1, "op": "write" | "invoke" | "check_write", "device": "...",
     "name": "point or action", "argument": value or input}
    {"ok": true, "result": ...}
    {"ok": false, "code": "invalid_input" | "command_failed", "message": "..."}

Both sides decode defensively: a hostile request gets an error reply naming what is wrong,
a reply that cannot be read is a ``CommandFailed``, never a crash. No connector subscribed
to the subject is ``CommandFailed("no connector serves device X")`` at once; one that does
not answer in time lets ``telemetry.Commands`` record a timeout.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Callable
from typing import Any, Protocol

import nats.errors
import orjson
from nats.aio.msg import Msg

from indunet.core import IndunetError, InvalidInput
from indunet.core.backoff import Backoff
from indunet.telemetry import CommandFailed, Value

from .backbone import Backbone, BusUnavailable
from .subjects import partition_of

log = logging.getLogger(__name__)
VERSION = 1
MAX_MESSAGE = 64 * 1024
"""Largest request or reply (a point's value or an action's input and output)."""
MAX_NAME = 256
REQUEST_TIMEOUT_S = 30.0
"""How long a request waits at most (``telemetry.Commands`` gives up sooner, by default)."""
CHECK_TIMEOUT_S = 5.0
"""How long a write's check waits; a check that gets no answer lets the write go on."""
SERVE_TIMEOUT_S = 30.0
IN_FLIGHT = 64
"""Commands one connector process carries out at once; more are refused as busy."""
QUEUE = "connectors"
OPS = ("write", "invoke", "check_write")


class Manager(Protocol):
    """What the serving side calls: ``connect.ConnectorManager``."""

    async def check_write(self, device_id: str, point: str, value: Value) -> None:
        """Raise ``InvalidInput`` for a value the device's connector would refuse."""

    async def write(self, device_id: str, point: str, value: Value) -> Any:
        """Write a point through the device's connector."""

    async def invoke(self, device_id: str, action: str, payload: Any) -> Any:
        """Invoke an action through the device's connector."""


def owner_index(device_id: str, connectors: int) -> int:
    """The index of the connector share that serves ``device_id``."""
    return partition_of(device_id, connectors)


def _jsonable(value: Any) -> Any:
    try:
        json.dumps(value, allow_nan=False)
    except (TypeError, ValueError):
        return repr(value)[:1000]
    return value


def error_reply(code: str, message: str) -> bytes:
    """An error reply."""
    return orjson.dumps({"ok": False, "code": code, "message": message[:2000]})


def result_reply(result: Any) -> bytes:
    """A result reply; an answer too large to carry is an error reply saying so."""
    body = orjson.dumps({"ok": True, "result": _jsonable(result)})
    if len(body) > MAX_MESSAGE:
        return error_reply(
            "command_failed", f"the device's answer is larger than {MAX_MESSAGE} bytes"
        )
    return body


def parse_request(raw: bytes) -> tuple[str, str, str, Any]:
    """``(op, device, name, argument)`` of a request, or ``InvalidInput`` naming the fault."""
    if len(raw) > MAX_MESSAGE:
        raise InvalidInput(f"a command request is at most {MAX_MESSAGE} bytes")
    try:
        doc = orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise InvalidInput("a command request must be a JSON object") from None
    if not isinstance(doc, dict):
        raise InvalidInput("a command request must be a JSON object")
    if doc.get("v") != VERSION:
        raise InvalidInput(f"command request version must be {VERSION}")
    op, device, name = doc.get("op"), doc.get("device"), doc.get("name")
    if op not in OPS:
        raise InvalidInput(f"command op must be one of {', '.join(OPS)}")
    for field, text in (("device", device), ("name", name)):
        if not isinstance(text, str) or not 0 < len(text) <= MAX_NAME:
            raise InvalidInput(f"command field {field!r} must be a text of 1-{MAX_NAME} characters")
    assert isinstance(op, str) and isinstance(device, str) and isinstance(name, str)
    argument = doc.get("argument")
    if op != "invoke" and not isinstance(argument, bool | int | float | str):
        raise InvalidInput("a written value must be true, false, a number or a text")
    return op, device, name, argument


def parse_reply(raw: bytes, device_id: str) -> Any:
    """The result of a reply, or the error it carries raised (``InvalidInput`` or
    ``CommandFailed``); a reply that cannot be read is a ``CommandFailed``."""
    unreadable = CommandFailed(f"the answer of the connector of device {device_id} is unreadable")
    if len(raw) > MAX_MESSAGE:
        raise unreadable
    try:
        doc = orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise unreadable from None
    if not isinstance(doc, dict) or not isinstance(doc.get("ok"), bool):
        raise unreadable
    if doc["ok"]:
        return doc.get("result")
    message = doc.get("message")
    text = message[:2000] if isinstance(message, str) else "refused (no reason given)"
    if doc.get("code") == "invalid_input":
        raise InvalidInput(text)
    raise CommandFailed(text)


class RemoteSender:
    """``telemetry.CommandSender`` that asks the owning connector process over NATS."""

    def __init__(
        self,
        backbone: Backbone,
        connectors: int,
        *,
        timeout: float = REQUEST_TIMEOUT_S,
        check_timeout: float = CHECK_TIMEOUT_S,
    ) -> None:
        if connectors < 1:
            raise ValueError("there is at least one connector share")
        self.backbone = backbone
        self.connectors = connectors
        self.timeout = timeout
        self.check_timeout = check_timeout

    async def check_write(self, device_id: str, point: str, value: Value) -> None:
        """``InvalidInput`` when the owning connector would refuse ``value``; passes when no
        connector answers (the write then records why)."""
        try:
            await self._ask("check_write", device_id, point, value, self.check_timeout)
        except CommandFailed:
            return

    async def write(self, device_id: str, point: str, value: Value) -> Any:
        """Write through the owning connector; return what the device said."""
        return await self._ask("write", device_id, point, value, self.timeout)

    async def invoke(self, device_id: str, action: str, payload: Any) -> Any:
        """Invoke an action through the owning connector; return its output."""
        return await self._ask("invoke", device_id, action, payload, self.timeout)

    async def _ask(self, op: str, device_id: str, name: str, argument: Any, wait: float) -> Any:
        request = orjson.dumps(
            {"v": VERSION, "op": op, "device": device_id, "name": name, "argument": argument}
        )
        if len(request) > MAX_MESSAGE:
            raise InvalidInput(f"a command is at most {MAX_MESSAGE} bytes encoded")
        subject = self.backbone.names.command_subject(owner_index(device_id, self.connectors))
        try:
            nc = self.backbone.client()
        except BusUnavailable:
            raise CommandFailed(
                f"no connector serves device {device_id}: the backbone is not connected"
            ) from None
        try:
            reply = await nc.request(subject, request, timeout=wait)
        except nats.errors.NoRespondersError:
            raise CommandFailed(f"no connector serves device {device_id}") from None
        except nats.errors.TimeoutError:
            raise CommandFailed(
                f"the connector of device {device_id} did not answer within {wait:g} s"
            ) from None
        return parse_reply(reply.data, device_id)


class RoutedSender:
    """The sender of a process that runs connectors of its own: its devices through its
    ``ConnectorManager``, the others' through ``remote``."""

    def __init__(self, local: Manager, remote: RemoteSender, owns: Callable[[str], bool]):
        self.local, self.remote, self.owns = local, remote, owns

    async def check_write(self, device_id: str, point: str, value: Value) -> None:
        """Check here or at the owner."""
        target = self.local if self.owns(device_id) else self.remote
        await target.check_write(device_id, point, value)

    async def write(self, device_id: str, point: str, value: Value) -> Any:
        """Write here or through the owner."""
        target = self.local if self.owns(device_id) else self.remote
        return await target.write(device_id, point, value)

    async def invoke(self, device_id: str, action: str, payload: Any) -> Any:
        """Invoke here or through the owner."""
        target = self.local if self.owns(device_id) else self.remote
        return await target.invoke(device_id, action, payload)


class CommandServer:
    """Serves ``<prefix>.cmd.<index>`` for a connector process (see the module docstring)."""

    def __init__(
        self,
        backbone: Backbone,
        manager: Manager,
        index: int,
        *,
        timeout: float = SERVE_TIMEOUT_S,
        in_flight: int = IN_FLIGHT,
    ) -> None:
        self.backbone = backbone
        self.manager = manager
        self.index = index
        self.timeout = timeout
        self.in_flight = in_flight
        self.served = 0  # carried out
        self.failed = 0  # the device or its connector refused or failed
        self.refused = 0  # unreadable requests, and those past ``in_flight``
        self._sub: Any = None
        self._task: asyncio.Task[None] | None = None
        self._running: set[asyncio.Task[None]] = set()

    async def start(self) -> None:
        """Subscribe once the backbone is connected (in a task: start does not wait)."""
        if self._task is None:
            self._task = asyncio.create_task(self._subscribe(), name="commands-serve")

    async def stop(self) -> None:
        """Unsubscribe; commands being carried out are cancelled (their askers time out)."""
        tasks = [t for t in (self._task, *self._running) if t is not None]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self._task = None
        if self._sub is not None:
            with contextlib.suppress(Exception):
                await self._sub.unsubscribe()
            self._sub = None

    async def _subscribe(self) -> None:
        """Subscribe once connected, retrying (nats-py keeps the subscription across
        reconnections from then on)."""
        subject = self.backbone.names.command_subject(self.index)
        backoff = Backoff(base=0.5, cap=10.0)
        while True:
            await self.backbone.ready.wait()
            try:
                self._sub = await self.backbone.client().subscribe(
                    subject, queue=f"{QUEUE}-{self.index}", cb=self._on_request
                )
            except Exception as exc:
                log.warning("cannot serve commands on %s yet (%s); retrying", subject, exc)
                await asyncio.sleep(backoff.next())
                continue
            log.info("serving commands on %s", subject)
            return

    async def _on_request(self, msg: Msg) -> None:
        if not msg.reply:
            self.refused += 1
            return  # nobody to answer
        if len(self._running) >= self.in_flight:
            self.refused += 1
            await self._answer(msg, error_reply("command_failed", "the connector is busy"))
            return
        task = asyncio.create_task(self._serve(msg))
        self._running.add(task)
        task.add_done_callback(self._running.discard)

    async def _serve(self, msg: Msg) -> None:
        await self._answer(msg, await self.handle(msg.data))

    async def handle(self, raw: bytes) -> bytes:
        """The reply to one request; never raises."""
        try:
            op, device, name, argument = parse_request(raw)
        except InvalidInput as exc:
            self.refused += 1
            return error_reply("invalid_input", exc.message)
        try:
            async with asyncio.timeout(self.timeout):
                if op == "check_write":
                    await self.manager.check_write(device, name, argument)
                    result = None
                elif op == "write":
                    result = await self.manager.write(device, name, argument)
                else:
                    result = await self.manager.invoke(device, name, argument)
        except InvalidInput as exc:
            self.failed += 1
            return error_reply("invalid_input", exc.message)
        except TimeoutError:
            self.failed += 1
            return error_reply(
                "command_failed", f"device {device} did not answer within {self.timeout:g} s"
            )
        except IndunetError as exc:
            self.failed += 1
            return error_reply("command_failed", exc.message)
        except Exception as exc:
            self.failed += 1
            log.warning("command %s %s on %s failed: %r", op, name, device, exc)
            return error_reply("command_failed", f"{type(exc).__name__}: {exc}")
        self.served += 1
        return result_reply(result)

    async def _answer(self, msg: Msg, body: bytes) -> None:
        with contextlib.suppress(Exception):
            await msg.respond(body)
