"""Two connector processes on one real Mosquitto, sharing device traffic ($share).

Each test runs its own ``/usr/sbin/mosquitto`` on a free loopback port with the files
``write_mosquitto_files`` writes (passwords, ACL, mosquitto.conf), as a deployment would.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import getpass
import json
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import aiomqtt
import pytest
from tests.conftest import until
from tests.connect.test_mqtt_support import METER, RecordingSink, Statuses, now_ms
from tests.integration.servers import free_port
from tests.integration.test_mqtt_mosquitto import Mosquitto, mosquitto, needs_binary

from indunet.connect import DeviceLink, MqttConfig, MqttConnector
from indunet.connect.mqtt import BrokerSettings, write_mosquitto_files
from indunet.connect.mqtt.acl import OPEN_SHARE_GROUP
from indunet.core import Settings

pytestmark = [pytest.mark.integration, needs_binary]

SECRETS = {"dev-a": "secret-a", "dev-t": "secret-t"}


@contextlib.contextmanager
def broker(tmp_path: Path) -> Iterator[Mosquitto]:
    """A private Mosquitto with Indunet's generated configuration, ACL and passwords."""
    port = free_port()
    files = write_mosquitto_files(
        tmp_path / "auth",
        service_user="indunet",
        service_password="svc-pw",
        devices=SECRETS,
        broker=BrokerSettings(port=port, bind="127.0.0.1", run_as=getpass.getuser()),
    )
    with mosquitto(tmp_path / "broker", conf=files.config_file, port=port) as b:
        yield b


def connector_config(tmp_path: Path, port: int, shard: str) -> MqttConfig:
    """What ``INDUNET_ROLE=connector INDUNET_SHARD=<shard>`` makes of the broker URL."""
    url = f"mqtt://indunet:svc-pw@127.0.0.1:{port}"
    settings = Settings(data_dir=tmp_path, mqtt_url=url, role="connector", shard=shard)
    return dataclasses.replace(
        MqttConfig.from_settings(settings), backoff_base=0.05, backoff_cap=0.5
    )


class Connector:
    """One connector process's MQTT side: its connector, sink and statuses."""

    def __init__(self, config: MqttConfig) -> None:
        self.sink = RecordingSink()
        self.statuses = Statuses()
        self.conn = MqttConnector(config, self.sink, self.statuses)
        self.conn.add(DeviceLink("dev-a", METER))

    @property
    def seqs(self) -> list[object]:
        return [s.value for s in self.sink.samples if s.point == "seq"]

    async def start(self) -> None:
        await self.conn.start()
        client = self.conn.client
        await until(lambda: client is not None and client.connected, 10, "connected")
        await asyncio.sleep(0.3)  # SUBACK

    async def stop(self) -> None:
        async with asyncio.timeout(10):
            await self.conn.stop()


@contextlib.asynccontextmanager
async def connectors(tmp_path: Path, port: int) -> AsyncIterator[tuple[Connector, Connector]]:
    pair = (
        Connector(connector_config(tmp_path, port, "0/2")),
        Connector(connector_config(tmp_path, port, "1/2")),
    )
    try:
        for c in pair:
            await c.start()
        yield pair
    finally:
        for c in pair:
            await c.stop()


def device(port: int, name: str = "dev-a") -> aiomqtt.Client:
    return aiomqtt.Client("127.0.0.1", port, username=name, password=SECRETS[name], identifier=name)


async def publish(client: aiomqtt.Client, seqs: range, base: int) -> None:
    for seq in seqs:
        body = {"ts": base + seq, "values": {"seq": seq}}
        await client.publish("indunet/v1/dev-a/telemetry", json.dumps(body), qos=1)


async def test_two_connectors_each_take_a_share_and_every_message_exactly_once(
    tmp_path: Path,
) -> None:
    count = 600
    with broker(tmp_path) as b:
        async with connectors(tmp_path, b.port) as (first, second), device(b.port) as dev:
            assert first.conn.config.client_id == "indunet-connector-0"
            assert second.conn.config.client_id == "indunet-connector-1"
            await dev.publish("indunet/v1/dev-a/status", "online", qos=1, retain=True)
            # a device joining the group name it can guess takes nothing away
            async with device(b.port, "dev-t") as thief:
                await thief.subscribe(f"$share/{OPEN_SHARE_GROUP}/indunet/v1/+/telemetry", qos=1)
                await publish(dev, range(count), now_ms() - 60_000)
                await until(
                    lambda: len(first.seqs) + len(second.seqs) >= count, 20, "every message"
                )
            await asyncio.sleep(0.3)  # a late duplicate would arrive now
            both = first.seqs + second.seqs
            assert sorted(both) == list(range(count))  # none lost, none twice
            assert len(first.seqs) > count // 4 and len(second.seqs) > count // 4
            # statuses are not shared: each connector knows the device is online
            await until(lambda: first.statuses.last("dev-a") is True, 5, "status at first")
            await until(lambda: second.statuses.last("dev-a") is True, 5, "status at second")
            await dev.publish("indunet/v1/dev-a/status", b"", qos=1, retain=True)


async def answer_commands(dev: aiomqtt.Client) -> None:
    async for m in dev.messages:
        cmd = json.loads(bytes(m.payload))  # type: ignore[arg-type]
        result = {"id": cmd["id"], "ok": True, "output": f"{cmd['value']}!"}
        await dev.publish("indunet/v1/dev-a/commands/result", json.dumps(result), qos=1)


async def test_a_command_result_reaches_the_connector_that_sent_the_command(
    tmp_path: Path,
) -> None:
    with broker(tmp_path) as b:
        async with connectors(tmp_path, b.port) as (first, second), device(b.port) as dev:
            await dev.subscribe("indunet/v1/dev-a/commands", qos=1)
            task = asyncio.create_task(answer_commands(dev))
            try:
                async with asyncio.timeout(10):
                    assert await second.conn.write("dev-a", "mode", "auto") == "auto!"
                    assert await first.conn.write("dev-a", "mode", "eco") == "eco!"
                    assert await second.conn.write("dev-a", "mode", "off") == "off!"
            finally:
                task.cancel()
            assert second.conn.router.counts["results"] == 2
            assert first.conn.router.counts["results"] == 1
            # the other connector saw each result, ignored it and recorded nothing
            assert first.sink.rejects == [] and second.sink.rejects == []


async def test_a_connector_away_keeps_its_turn_until_it_is_back(tmp_path: Path) -> None:
    # Mosquitto (2.0.11) goes on handing an absent connector's session its turn: those
    # messages wait for it, none is lost, and none reaches the other connector.
    count = 200
    with broker(tmp_path) as b:
        async with connectors(tmp_path, b.port) as (first, second), device(b.port) as dev:
            await second.stop()
            await publish(dev, range(count), now_ms() - 60_000)
            await until(lambda: len(first.seqs) >= count // 2, 10, "the first's turn")
            await asyncio.sleep(0.3)
            assert len(first.seqs) < count  # the rest waits in the absent session
            back = Connector(second.conn.config)
            await back.start()
            try:
                await until(lambda: len(first.seqs) + len(back.seqs) >= count, 10, "all")
                await asyncio.sleep(0.3)
                assert sorted(first.seqs + back.seqs) == list(range(count))
            finally:
                await back.stop()
