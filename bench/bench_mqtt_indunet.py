"""The Indunet side of bench/mqtt_ingest.py: broker-mode MQTT connector, pipeline, SQLite store.

Run by mqtt_ingest.py in a child process. ``prepare`` connects once so the broker keeps a
persistent session with the subscription; the drain then takes the preloaded messages and
returns when every sample is stored.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

from indunet import connect, telemetry
from indunet.core import Settings
from indunet.devices import Point, ThingModel
from indunet.web import open_database


def _model(points: list[str]) -> ThingModel:
    return ThingModel(
        id="bench:ten-points",
        version="1.0.0",
        title={"en": "bench"},
        points={p: Point(p, "number") for p in points},
    )


async def _run(
    port: int, count: int, prepare: bool, data: Path, points: list[str], client_id: str
) -> dict[str, Any]:
    settings = Settings(data_dir=data)
    engine = open_database(settings)
    store = telemetry.open_store(f"sqlite:///{data / 'telemetry.db'}")
    model = _model(points)
    pipeline = telemetry.Pipeline(
        store,
        lambda _device: model,
        telemetry.DeadLetters(engine),
        telemetry.DiskBuffer(data / "buffer.db", 256 * 1024 * 1024),
    )
    config = connect.MqttConfig(
        broker=connect.mqtt.BrokerUrl(host="127.0.0.1", port=port), client_id=client_id
    )
    connector = connect.MqttConnector(config, pipeline)
    await pipeline.start()
    t0 = time.perf_counter()
    await connector.start()
    want = count * len(points)
    try:
        if prepare:
            deadline = time.monotonic() + 10
            while not connector.health().connected and time.monotonic() < deadline:  # noqa: ASYNC110
                await asyncio.sleep(0.02)
            await asyncio.sleep(0.3)  # the SUBACK is in
            return {}
        deadline = time.monotonic() + 300
        while pipeline.stats()["stored"] < want and time.monotonic() < deadline:  # noqa: ASYNC110
            await asyncio.sleep(0.005)
        took = time.perf_counter() - t0
        stored = pipeline.stats()["stored"]
        return {"messages": stored // len(points), "seconds": took}
    finally:
        await connector.stop()
        await pipeline.stop()
        store.close()
        engine.dispose()


def run(
    port: int, count: int, prepare: bool, data: Path, points: list[str], client_id: str
) -> dict[str, Any]:
    """Prepare the session, or drain ``count`` messages; return messages and seconds."""
    data.mkdir(parents=True, exist_ok=True)
    return asyncio.run(_run(port, count, prepare, data, points, client_id + "-indunet"))
