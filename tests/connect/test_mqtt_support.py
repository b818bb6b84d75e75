"""Shared pieces of the MQTT tests: a device model, a running pipeline, device clients.

No tests here; the MQTT test modules import these helpers.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiomqtt
import sqlalchemy as sa

from indunet.connect.mqtt import MqttConfig, MqttConnector
from indunet.connect.mqtt.endpoint import EndpointLimits
from indunet.core.signals import Signal
from indunet.devices import Action, MqttForm, Point, ThingModel
from indunet.telemetry import DeadLetters, DiskBuffer, MemoryStore, Overloaded, Pipeline, Sample

METER = ThingModel(
    id="test:meter",
    version="1.0.0",
    title={"en": "Meter"},
    points={
        "temp": Point("temp", "number", minimum=-50, maximum=200),
        "count": Point("count", "integer"),
        "seq": Point("seq", "integer"),
        "on": Point("on", "boolean", writable=True),
        "mode": Point("mode", "string", writable=True),
        "lat": Point(
            "lat", "number", forms=(MqttForm("indunet/v1/{{DEVICE_ID}}/gps", "$.pos[0]"),)
        ),
        "lon": Point(
            "lon", "number", forms=(MqttForm("indunet/v1/{{DEVICE_ID}}/gps", "$.pos[1]"),)
        ),
    },
    actions={"reset": Action("reset")},
)
SECRETS = {"dev-a": "secret-a", "dev-b": "secret-b", "dev-c": "secret-c"}


def now_ms() -> int:
    return int(time.time() * 1000)


def authenticate(device_id: str, secret: str) -> bool:
    return SECRETS.get(device_id) == secret


@dataclass
class Statuses:
    """A StatusSink that records every call."""

    events: list[tuple[str, bool]] = field(default_factory=list)

    def device_status(self, device_id: str, online: bool) -> None:
        self.events.append((device_id, online))

    def last(self, device_id: str) -> bool | None:
        mine = [online for d, online in self.events if d == device_id]
        return mine[-1] if mine else None


@dataclass
class Platform:
    """The real ingest path: Pipeline + MemoryStore + dead letters in SQLite."""

    pipeline: Pipeline
    store: MemoryStore
    letters: DeadLetters

    def values(self, device: str, point: str) -> list[Any]:
        return [s.value for s in self.store.query(device, point, 0, now_ms() + 86_400_000)]

    def details(self, device: str | None = None) -> list[str]:
        return [x.detail for x in self.letters.list(device=device)]


@contextlib.asynccontextmanager
async def platform(engine: sa.Engine, tmp_path: Path, *devices: str) -> AsyncIterator[Platform]:
    models = {d: METER for d in devices}
    store = MemoryStore()
    letters = DeadLetters(engine)
    pipeline = Pipeline(
        store, models.get, letters, DiskBuffer(tmp_path / "buffer.db", 1 << 22), max_delay=0.005
    )
    await pipeline.start()
    try:
        yield Platform(pipeline, store, letters)
    finally:
        await pipeline.stop()


class RecordingSink:
    """A SampleSink double: records submits, can refuse with Overloaded until opened."""

    def __init__(self) -> None:
        self.calls: list[list[Sample]] = []
        self.rejects: list[tuple[str | None, str]] = []
        self.overloaded = 0  # refuse this many submits
        self.refused = 0
        self.delays: list[float] = []  # seconds each next submit takes
        self.started: list[float] = []  # loop time each submit began

    @property
    def samples(self) -> list[Sample]:
        return [s for call in self.calls for s in call]

    async def submit(self, samples: Sequence[Sample], *, source: str) -> None:
        self.started.append(asyncio.get_running_loop().time())
        if self.delays:
            await asyncio.sleep(self.delays.pop(0))
        if self.overloaded:
            self.overloaded -= 1
            self.refused += 1
            raise Overloaded("test: buffer full")
        self.calls.append(list(samples))

    async def reject(
        self,
        device: str | None,
        *,
        source: str,
        reason: str,
        payload: bytes | str,
        kind: str = "undecodable",
        why: str | None = None,
        params: object = None,
    ) -> None:
        self.rejects.append((device, reason))


@contextlib.asynccontextmanager
async def embedded(
    sink: Any,
    status: Statuses | None = None,
    *,
    answer_within: float = 10.0,
    refused: Signal | None = None,
    **limits: Any,
) -> AsyncIterator[MqttConnector]:
    """A started MqttConnector in embedded mode on a free loopback port, devices added."""
    from indunet.connect import DeviceLink

    config = MqttConfig(port=0, command_timeout=answer_within, limits=EndpointLimits(**limits))
    connector = MqttConnector(config, sink, status, authenticate, refused=refused)
    for device in SECRETS:
        connector.add(DeviceLink(device, METER))
    await connector.start()
    try:
        yield connector
    finally:
        await asyncio.wait_for(connector.stop(), 10)


def port_of(connector: MqttConnector) -> int:
    assert connector.endpoint is not None
    return connector.endpoint.port


def device(port: int, device_id: str, secret: str | None = None, **kw: Any) -> aiomqtt.Client:
    """An aiomqtt client logged in as ``device_id``."""
    return aiomqtt.Client(
        "127.0.0.1",
        port,
        username=device_id,
        password=SECRETS.get(device_id, "") if secret is None else secret,
        identifier=kw.pop("identifier", device_id),
        timeout=5,
        **kw,
    )
