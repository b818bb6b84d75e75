"""Simulated MQTT devices against a real Mosquitto: telemetry, commands, drop-outs, restarts."""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import signal
import subprocess
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path

import aiomqtt
import orjson
import pytest
from tests.conftest import need_service
from tests.integration.servers import free_port

from indunet import devices
from indunet.devices import ThingModel
from indunet.sim import Factory, FactoryPlan, make_plan

MOSQUITTO = Path("/usr/sbin/mosquitto")


@pytest.fixture(scope="module")
def models() -> dict[str, ThingModel]:
    return {m.id: m for m in devices.library_models()}


def _plan(models: dict[str, ThingModel]) -> FactoryPlan:
    """The demo's MQTT devices under ids no other test uses (the broker is shared)."""
    tag = secrets.token_hex(3)
    mqtt = make_plan(models.values()).by_protocol("mqtt")
    return FactoryPlan(tuple(replace(d, id=f"{d.id}-{tag}") for d in mqtt))


async def _collect(
    client: aiomqtt.Client, seconds: float, until: int | None = None
) -> list[tuple[str, dict]]:
    out: list[tuple[str, dict]] = []
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(seconds):
            async for m in client.messages:
                out.append((str(m.topic), orjson.loads(m.payload)))  # type: ignore[arg-type]
                if until is not None and len(out) >= until:
                    break
    return out


async def test_devices_publish_model_telemetry_and_answer_commands(
    models: dict[str, ThingModel],
) -> None:
    need_service("Mosquitto", "127.0.0.1", 1883)
    plan = _plan(models)
    ids = {d.id: d for d in plan.devices}
    factory = Factory(plan, models=models.values(), mqtt_port=1883, interval=0.5)
    async with asyncio.timeout(40), aiomqtt.Client("127.0.0.1", 1883) as watcher:
        for dev in ids:
            await watcher.subscribe(f"indunet/v1/{dev}/telemetry", qos=1)
            await watcher.subscribe(f"indunet/v1/{dev}/commands/result", qos=1)
        async with factory:
            got = await _collect(watcher, 10, until=3 * len(ids))
            assert {t.split("/")[2] for t, _ in got} == set(ids)
            for topic, doc in got:
                dev = ids[topic.split("/")[2]]
                model = models[dev.model_id]
                assert topic == f"indunet/v1/{dev.id}/telemetry"
                assert set(doc) == {"ts", "values"} and isinstance(doc["ts"], int)
                assert doc["ts"] % 500 == 0  # the step's time, in ms
                assert set(doc["values"]) == set(model.points)
                for name, value in doc["values"].items():
                    point = model.points[name]
                    if point.type == "boolean":
                        assert isinstance(value, bool)
                    else:
                        assert point.minimum <= value <= point.maximum  # type: ignore[operator]

            exc = next(d for d in ids if d.startswith("excavator-0001"))
            cmd = f"indunet/v1/{exc}/commands"
            await watcher.publish(
                cmd, orjson.dumps({"id": "c1", "action": "engine_lock", "input": True}), qos=1
            )
            await watcher.publish(cmd, orjson.dumps({"id": "c2", "action": "self_destruct"}), qos=1)
            await watcher.publish(
                cmd, orjson.dumps({"id": "c3", "point": "engine_rpm", "value": 9}), qos=1
            )
            await watcher.publish(cmd, b"not json", qos=1)
            results: dict[object, dict] = {}
            async with asyncio.timeout(10):
                while len(results) < 4:
                    for topic, doc in await _collect(watcher, 1):
                        if topic.endswith("/commands/result"):
                            results[doc["id"]] = doc
            assert results["c1"] == {"id": "c1", "ok": True, "output": {"locked": True}}
            assert results["c2"]["ok"] is False and "self_destruct" in results["c2"]["error"]
            assert results["c3"]["ok"] is False and "read-only" in results["c3"]["error"]
            assert results[None]["ok"] is False
            await asyncio.sleep(1.5)
            assert factory.get(exc).values["engine_rpm"] < 1000  # the engine winds down
        assert not [t for t in asyncio.all_tasks() if t.get_name().startswith("sim-")]
        counts = factory.counters()
        assert all(counts[d]["published"] > 0 for d in ids)
        assert counts[exc]["actions"] == 1 and counts[exc]["refused"] == 2


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[tuple[int, Path, list[subprocess.Popen[bytes]]]]:
    """A private Mosquitto config on a free port; the test starts (and restarts) it."""
    if not MOSQUITTO.exists():
        pytest.skip("mosquitto is not installed")
    port = free_port()
    conf = tmp_path / "mosquitto.conf"
    conf.write_text(f"listener {port} 127.0.0.1\nallow_anonymous true\npersistence false\n")
    procs: list[subprocess.Popen[bytes]] = []
    try:
        yield port, conf, procs
    finally:
        for p in procs:
            _stop(p)


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)


async def _start(
    conf: Path, port: int, procs: list[subprocess.Popen[bytes]]
) -> subprocess.Popen[bytes]:
    proc = subprocess.Popen(  # noqa: ASYNC220 - starting is instant; the fixture reaps it
        [str(MOSQUITTO), "-c", str(conf)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    procs.append(proc)
    async with asyncio.timeout(10):
        while True:
            with contextlib.suppress(OSError):
                _, writer = await asyncio.open_connection("127.0.0.1", port)
                writer.close()
                return proc
            await asyncio.sleep(0.05)


async def _until(check: Callable[[], bool], seconds: float) -> None:
    async with asyncio.timeout(seconds):
        while not check():  # noqa: ASYNC110 - polling plain counters
            await asyncio.sleep(0.05)


async def test_devices_drop_off_and_survive_a_broker_restart(
    models: dict[str, ThingModel], broker: tuple[int, Path, list[subprocess.Popen[bytes]]]
) -> None:
    port, conf, procs = broker
    first = await _start(conf, port, procs)
    plan = _plan(models)
    factory = Factory(plan, models=models.values(), mqtt_port=port, interval=0.5)
    published = lambda dev: factory.get(dev).counters.published  # noqa: E731
    async with asyncio.timeout(60), factory:
        ids = [d.id for d in plan.devices]
        await _until(lambda: all(published(d) > 0 for d in ids), 10)

        # one device drops off the network for 2 s: it disconnects, then comes back
        env = next(d for d in ids if d.startswith("env-"))
        dev = next(m for m in factory.mqtt if m.eq.id == env)
        factory.inject(f"{env}:offline,for=2s")
        await _until(lambda: not dev.connected, 3)
        during = published(env)
        await asyncio.sleep(1.0)
        assert published(env) == during  # silent while off the network
        await _until(lambda: dev.connected and published(env) > during, 8)
        assert dev.connects == 2

        # the broker goes away and comes back on the same port: every device reconnects
        _stop(first)
        await _until(lambda: not any(m.connected for m in factory.mqtt), 5)
        await asyncio.sleep(1.0)
        before = {d: published(d) for d in ids}
        await _start(conf, port, procs)
        await _until(lambda: all(published(d) > before[d] for d in ids), 20)
        assert all(m.connected for m in factory.mqtt)
    assert not [t for t in asyncio.all_tasks() if t.get_name().startswith("sim-")]  # all stopped
