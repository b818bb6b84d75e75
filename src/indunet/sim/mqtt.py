"""Simulated MQTT devices: each connects out to the broker with its own credentials.

A device logs in with username = its id and password = its secret, publishes its points once
per step (QoS 1) on the topics and JSON paths its model's forms declare — for the library
models ``indunet/v1/<id>/telemetry`` with ``{"ts": <ms>, "values": {...}}`` — and answers
commands from ``indunet/v1/<id>/commands`` on ``indunet/v1/<id>/commands/result``. When the
broker goes away it reconnects with capped exponential backoff; when the device drops off
the network (a fault) it disconnects and comes back when the fault ends.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from typing import Any

import aiomqtt
import orjson

from indunet.core import IndunetError, InvalidInput
from indunet.devices import MqttForm
from indunet.sim.equipment import Equipment

_log = logging.getLogger(__name__)
TOPIC_ROOT = "indunet/v1"


class Ticker:
    """The factory's heartbeat: devices wait for the next step with ``wait``."""

    def __init__(self) -> None:
        self.gen = 0
        self._event = asyncio.Event()

    def fire(self) -> None:
        """A new step's values are ready."""
        self.gen += 1
        event, self._event = self._event, asyncio.Event()
        event.set()

    async def wait(self, seen: int) -> int:
        """Wait for a step after ``seen``; returns the current step number."""
        if self.gen == seen:
            await self._event.wait()
        return self.gen


class _Offline(Exception):
    """The device dropped off the network."""


def _keys(json_path: str) -> list[str]:
    if not json_path.startswith("$.") or any(c in json_path for c in "[]*"):
        raise InvalidInput(
            f"the simulator writes only dotted JSON paths like $.values.x, not {json_path!r}"
        )
    return json_path[2:].split(".")


def _layout(eq: Equipment) -> list[tuple[str, list[tuple[str, list[str]]], bool]]:
    """Per topic: the points with their key paths, and whether to add a ``ts`` at the root."""
    topics: dict[str, list[tuple[str, list[str]]]] = {}
    for name, point in eq.model.points.items():
        form = point.form(MqttForm)
        if form is not None:
            topics.setdefault(eq.model.fill(form.topic, eq.id), []).append(
                (name, _keys(form.json_path))
            )
    return [(t, pts, all(len(k) > 1 for _, k in pts)) for t, pts in topics.items()]


class MqttDevice:
    """One device on MQTT; ``run()`` until cancelled."""

    def __init__(
        self, eq: Equipment, host: str, port: int, ticker: Ticker, *, phase: float = 0.0
    ) -> None:
        self.eq = eq
        self.host = host
        self.port = port
        self.ticker = ticker
        self.phase = phase
        self.layout = _layout(eq)
        self.commands = f"{TOPIC_ROOT}/{eq.id}/commands"
        self.connected = False
        self.connects = 0
        self._rng = random.Random()

    def payloads(self) -> list[tuple[str, bytes, int]]:
        """This step's messages: (topic, JSON body, number of point values in it)."""
        out = []
        for topic, points, with_ts in self.layout:
            doc: dict[str, Any] = {"ts": self.eq.ts_ms} if with_ts else {}
            n = 0
            for name, keys in points:
                if name not in self.eq.values:
                    continue
                node = doc
                for k in keys[:-1]:
                    node = node.setdefault(k, {})
                node[keys[-1]] = self.eq.values[name]
                n += 1
            if n:
                out.append((topic, orjson.dumps(doc), n))
        return out

    def answer(self, payload: bytes) -> dict[str, Any]:
        """The result of one command message (a write or an action)."""
        try:
            doc = orjson.loads(payload)
        except orjson.JSONDecodeError:
            return {"id": None, "ok": False, "error": "the command is not JSON"}
        if not isinstance(doc, dict):
            return {"id": None, "ok": False, "error": "the command is not a JSON object"}
        cid = doc.get("id")
        try:
            if "point" in doc:
                output = self.eq.write(str(doc["point"]), doc.get("value"))
            elif "action" in doc:
                output = self.eq.invoke(str(doc["action"]), doc.get("input"))
            else:
                raise InvalidInput("a command names a point (with a value) or an action")
        except IndunetError as exc:
            return {"id": cid, "ok": False, "error": exc.message}
        return {"id": cid, "ok": True, "output": output}

    async def run(self) -> None:
        """Stay connected while online: publish each step, answer commands, reconnect."""
        delay, cap = 0.5, 15.0
        await asyncio.sleep(self.phase)
        while True:
            seen = self.ticker.gen
            while not self.eq.online:  # off the network: back when a step says so
                seen = await self.ticker.wait(seen)
            lost, before = False, self.connects
            try:
                await self._session()
            except _Offline:
                pass
            except (aiomqtt.MqttError, OSError) as exc:
                _log.debug("%s: broker connection lost: %s", self.eq.id, exc)
                lost = True
            task = asyncio.current_task()
            if task is not None and task.cancelling():
                # aiomqtt may turn a cancellation into MqttError while disconnecting
                raise asyncio.CancelledError
            if self.connects > before:  # it was connected: start the backoff afresh
                delay = 0.5
            if lost:
                await asyncio.sleep(self._rng.uniform(0.5, 1.0) * delay)
                delay = min(cap, delay * 2)

    async def _session(self) -> None:
        client = aiomqtt.Client(
            self.host,
            self.port,
            username=self.eq.id,
            password=self.eq.device.secret,
            identifier=self.eq.id,
            keepalive=30,
            timeout=10,
        )
        try:
            async with client:
                self.connected = True
                self.connects += 1
                await client.subscribe(self.commands, qos=1)
                # Not a TaskGroup: on Python 3.11 a failing child leaves the parent task
                # marked as cancelling, which would hide a real cancellation later.
                tasks = [
                    asyncio.create_task(self._publish(client)),
                    asyncio.create_task(self._serve(client)),
                ]
                try:
                    done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
                finally:
                    for t in tasks:
                        t.cancel()
                    await asyncio.gather(*tasks, return_exceptions=True)
                for t in done:
                    t.result()  # _Offline, or the MqttError that ended the connection
        finally:
            self.connected = False

    async def _publish(self, client: aiomqtt.Client) -> None:
        seen = self.ticker.gen
        last_ts = -1
        while True:
            seen = await self.ticker.wait(seen)
            await asyncio.sleep(self.phase)
            if not self.eq.online:
                raise _Offline
            if self.eq.ts_ms == last_ts:  # woke twice for one step (a late step): nothing new
                continue
            last_ts = self.eq.ts_ms
            for topic, body, n in self.payloads():
                await client.publish(topic, body, qos=1)
                self.eq.counters.published += n

    async def _serve(self, client: aiomqtt.Client) -> None:
        async for message in client.messages:
            if not self.eq.online:
                continue
            body = message.payload if isinstance(message.payload, bytes) else b""
            reply = self.answer(body)
            self.eq.counters.requests += 1
            with contextlib.suppress(aiomqtt.MqttError):
                await client.publish(f"{self.commands}/result", orjson.dumps(reply), qos=1)
