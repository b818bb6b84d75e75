"""MqttConnector: commands and their results, last values, health, configuration."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from typing import Any

import aiomqtt
import pytest
from tests.conftest import until
from tests.connect.test_mqtt_support import (
    METER,
    RecordingSink,
    Statuses,
    device,
    embedded,
    port_of,
)

from indunet.connect import CommandFailed, ConnectorManager, DeviceLink, MqttConfig, MqttConnector
from indunet.connect.mqtt import BrokerUrl
from indunet.core import InvalidInput, Settings

COMMANDS = "indunet/v1/{}/commands"
RESULT = "indunet/v1/{}/commands/result"

Answer = Callable[[dict[str, Any]], dict[str, Any] | None]


async def serve_commands(client: aiomqtt.Client, device_id: str, answer: Answer) -> None:
    """A device's command loop: answer each command on commands/result."""
    async for message in client.messages:
        command = json.loads(bytes(message.payload))  # type: ignore[arg-type]
        reply = answer(command)
        if reply is not None:
            await client.publish(
                RESULT.format(device_id), json.dumps({"id": command["id"], **reply}), qos=1
            )


async def with_device(
    conn: MqttConnector, answer: Answer, body: Callable[[], Awaitable[None]]
) -> list[dict[str, Any]]:
    seen: list[dict[str, Any]] = []

    def record(command: dict[str, Any]) -> dict[str, Any] | None:
        seen.append(command)
        return answer(command)

    async with device(port_of(conn), "dev-a") as c:
        await c.subscribe(COMMANDS.format("dev-a"), qos=1)
        task = asyncio.create_task(serve_commands(c, "dev-a", record))
        try:
            await body()
        finally:
            task.cancel()
    return seen


async def test_write_round_trip_returns_when_the_device_confirms() -> None:
    async with embedded(RecordingSink()) as conn:

        async def body() -> None:
            await conn.write("dev-a", "on", True)

        seen = await with_device(conn, lambda c: {"ok": True}, body)
        assert len(seen) == 1
        assert seen[0]["point"] == "on" and seen[0]["value"] is True
        assert len(seen[0]["id"]) == 36  # a UUID
        assert conn.router.pending == {}


async def test_write_returns_the_devices_output_through_the_connector_manager() -> None:
    async with embedded(RecordingSink()) as conn:
        manager = ConnectorManager({"mqtt": conn})
        manager.attach("mqtt", DeviceLink("dev-a", METER))
        out: list[Any] = []

        async def body() -> None:
            out.append(await manager.write("dev-a", "mode", "auto"))

        await with_device(conn, lambda c: {"ok": True, "output": {"was": "manual"}}, body)
        assert out == [{"was": "manual"}]  # what the command service records as its result


async def test_invoke_returns_the_devices_output() -> None:
    async with embedded(RecordingSink()) as conn:
        out: list[Any] = []

        async def body() -> None:
            out.append(await conn.invoke("dev-a", "reset", {"hard": True}))

        seen = await with_device(conn, lambda c: {"ok": True, "output": {"done": c["input"]}}, body)
        assert out == [{"done": {"hard": True}}]
        assert seen[0]["action"] == "reset"


async def test_device_refusal_raises_command_failed_with_its_error() -> None:
    async with embedded(RecordingSink()) as conn:

        async def body() -> None:
            with pytest.raises(CommandFailed, match="dev-a: interlock engaged"):
                await conn.write("dev-a", "mode", "manual")

        await with_device(conn, lambda c: {"ok": False, "error": "interlock engaged"}, body)


async def test_silent_device_times_out() -> None:
    async with embedded(RecordingSink(), answer_within=0.3) as conn:

        async def body() -> None:
            with pytest.raises(CommandFailed, match=r"did not answer the command within 0.3 s"):
                await conn.write("dev-a", "on", False)

        await with_device(conn, lambda c: None, body)
        assert conn.router.pending == {}


async def test_result_from_another_device_does_not_complete_the_command() -> None:
    sink = RecordingSink()
    async with embedded(sink, answer_within=0.5) as conn:
        async with device(port_of(conn), "dev-b") as forger:

            async def body() -> None:
                writing = asyncio.ensure_future(conn.write("dev-a", "on", True))
                await until(lambda: conn.router.pending, what="a pending command")
                (command_id,) = conn.router.pending
                forged = json.dumps({"id": command_id, "ok": True})
                await forger.publish(RESULT.format("dev-b"), forged, qos=1)
                with pytest.raises(CommandFailed, match="did not answer"):
                    await writing

            await with_device(conn, lambda c: None, body)
        assert any("device dev-b answered command" in r for _, r in sink.rejects)


async def test_commands_fail_fast_for_offline_devices_and_bad_points() -> None:
    async with embedded(RecordingSink()) as conn:
        with pytest.raises(CommandFailed, match="device dev-a is offline"):
            await conn.write("dev-a", "on", True)
        with pytest.raises(CommandFailed, match="point temp of device dev-a is not writable"):
            await conn.write("dev-a", "temp", 1.0)
        with pytest.raises(CommandFailed, match="has no action explode"):
            await conn.invoke("dev-a", "explode", None)
        async with device(port_of(conn), "dev-a"):  # online, but not subscribed
            with pytest.raises(
                CommandFailed, match="has not subscribed to indunet/v1/dev-a/commands"
            ):
                await conn.write("dev-a", "on", True)


async def test_health_and_last_seen() -> None:
    statuses = Statuses()
    async with embedded(RecordingSink(), statuses) as conn:
        async with device(port_of(conn), "dev-a") as c:
            await c.publish("indunet/v1/dev-a/telemetry", json.dumps({"temp": 1}), qos=1)
            await c.publish("indunet/v1/dev-a/telemetry", b"nope", qos=1)
            health = conn.health()
            assert health.protocol == "mqtt" and health.connected == 1 and health.devices == 3
            assert health.detail["mode"] == "embedded" and health.detail["port"] == port_of(conn)
            assert health.detail["samples"] == 1 and health.detail["rejected"] == 1
            assert health.errors == 1
            assert conn.last_seen("dev-a") is not None
        await until(lambda: conn.health().connected == 0, what="disconnect")
        assert conn.last_seen("dev-c") is None


def test_broker_urls_parse() -> None:
    url = BrokerUrl.parse("mqtt://indunet:p%40ss@broker.local:1884")
    assert (url.host, url.port, url.username, url.password, url.tls) == (
        "broker.local",
        1884,
        "indunet",
        "p@ss",
        False,
    )
    assert str(url) == "mqtt://indunet@broker.local:1884"  # no password in logs
    assert BrokerUrl.parse("mqtts://h").port == 8883
    assert BrokerUrl.parse("mqtt://h").port == 1883
    for bad in ("http://h", "mqtt://", "mqtt://h:99999", "h:1883"):
        with pytest.raises(InvalidInput, match="MQTT broker URL"):
            BrokerUrl.parse(bad)


def test_config_from_settings(tmp_path: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("INDUNET_MQTT_PORT", raising=False)  # a test worker's own port
    embedded_cfg = MqttConfig.from_settings(Settings(data_dir=tmp_path))
    assert (embedded_cfg.mode, embedded_cfg.port) == ("embedded", 11883)
    off = MqttConfig.from_settings(Settings(data_dir=tmp_path, mqtt_port=0))
    assert off.mode == "off"
    broker = MqttConfig.from_settings(
        Settings(data_dir=tmp_path, mqtt_url="mqtt://u:p@127.0.0.1:1883")
    )
    assert broker.mode == "broker" and broker.broker is not None and broker.broker.username == "u"
    assert MqttConnector(off, RecordingSink()).health().detail["mode"] == "off"
