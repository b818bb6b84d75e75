"""The connector manager routes devices and commands to the connector of their protocol."""

from __future__ import annotations

import socket
from collections.abc import Sequence

import pytest

from indunet.connect import (
    Backoff,
    CommandFailed,
    ConnectorManager,
    DeviceLink,
    MemoryConnector,
    MqttConfig,
    MqttConnector,
)
from indunet.connect.modbus import ModbusConnector
from indunet.devices import Action, Device, ModbusForm, Point, ThingModel
from indunet.telemetry import Sample

MODEL = ThingModel(
    id="test:pump",
    version="1.0.0",
    title={"en": "Pump"},
    points={
        "speed": Point("speed", "number", writable=True, minimum=0, maximum=3000),
        "temp": Point("temp", "number"),
    },
    actions={"start": Action("start")},
)


class Statuses:
    def __init__(self) -> None:
        self.seen: list[tuple[str, bool]] = []

    def device_status(self, device_id: str, online: bool) -> None:
        self.seen.append((device_id, online))


@pytest.fixture
def parts() -> tuple[ConnectorManager, MemoryConnector, Statuses]:
    status = Statuses()
    memory = MemoryConnector("modbus", status, on_action=lambda d, a, p: {"started": d, "with": p})
    return ConnectorManager({"modbus": memory}), memory, status


async def test_commands_reach_the_device_through_its_connector(parts) -> None:
    manager, memory, status = parts
    manager.attach("modbus", DeviceLink("pump-1", MODEL))
    await manager.start()
    assert status.seen == [("pump-1", True)]
    await manager.write("pump-1", "speed", 1200.0)
    assert memory.values["pump-1"]["speed"] == 1200.0
    assert await manager.invoke("pump-1", "start", {"ramp": 5}) == {
        "started": "pump-1",
        "with": {"ramp": 5},
    }
    [sample] = await manager.read("pump-1")
    assert (sample.point, sample.value) == ("speed", 1200.0)
    await manager.stop()
    assert status.seen[-1] == ("pump-1", False)


async def test_refusals_name_the_reason(parts) -> None:
    manager, memory, _ = parts
    manager.attach("modbus", DeviceLink("pump-1", MODEL))
    manager.attach("http", DeviceLink("gw-1", MODEL))
    await manager.start()
    with pytest.raises(CommandFailed, match="temp of device pump-1 is not writable"):
        await manager.write("pump-1", "temp", 1.0)
    with pytest.raises(CommandFailed, match="gw-1 speaks http"):
        await manager.write("gw-1", "speed", 1.0)
    with pytest.raises(CommandFailed, match="nope is not attached"):
        await manager.invoke("nope", "start", None)
    memory.set_offline("pump-1")
    with pytest.raises(CommandFailed, match="pump-1 is offline"):
        await manager.write("pump-1", "speed", 1.0)
    assert memory.writes == []


async def test_detach_and_reattach_move_a_device(parts) -> None:
    manager, memory, _ = parts
    other = MemoryConnector("opcua")
    manager.connectors["opcua"] = other
    manager.attach("modbus", DeviceLink("pump-1", MODEL))
    manager.attach("opcua", DeviceLink("pump-1", MODEL))
    assert "pump-1" not in memory.devices
    assert "pump-1" in other.devices
    manager.detach("pump-1")
    assert other.devices == {}
    assert [h.devices for h in manager.health()] == [0, 0]


def test_backoff_grows_to_its_cap_with_jitter_and_resets() -> None:
    b = Backoff(base=0.5, cap=8.0)
    delays = [b.next() for _ in range(10)]
    assert 0.25 <= delays[0] <= 0.5
    assert 4.0 <= delays[-1] <= 8.0  # capped, never above cap
    assert all(d <= 8.0 for d in delays)
    assert len({round(d, 6) for d in delays[5:]}) > 1  # jittered, not lock-step
    b.reset()
    assert b.next() <= 0.5


def _device(device_id: str, protocol: str = "modbus", **connection: object) -> Device:
    return Device(
        device_id,
        1,
        device_id,
        MODEL.id,
        MODEL.version,
        protocol,
        dict(connection),  # type: ignore[arg-type]
    )


def test_sync_attaches_new_and_changed_devices_and_detaches_the_gone() -> None:
    memory = MemoryConnector("modbus")
    opcua = MemoryConnector("opcua")
    manager = ConnectorManager({"modbus": memory, "opcua": opcua})
    models = {"a": MODEL, "b": MODEL, "c": MODEL}
    fleet = [_device("a", host="10.0.0.1"), _device("b", host="10.0.0.2")]
    assert manager.sync(fleet, models.get) == ["a", "b"]
    assert sorted(memory.devices) == ["a", "b"]
    assert manager.sync(fleet, models.get) == []  # nothing changed: nothing touched
    fleet = [
        _device("a", host="10.0.0.9"),  # settings changed
        _device("b", "opcua", endpoint="opc.tcp://h:4840"),  # protocol changed
        _device("c", host="10.0.0.3"),  # new
    ]
    assert manager.sync(fleet, models.get) == ["a", "b", "c"]
    assert memory.devices["a"].connection == {"host": "10.0.0.9"}
    assert sorted(memory.devices) == ["a", "c"] and list(opcua.devices) == ["b"]
    del models["c"]  # a device whose model is gone is not served
    assert manager.sync(fleet[:1], models.get) == ["b", "c"]  # b deleted, c without model
    assert list(memory.devices) == ["a"] and opcua.devices == {}


def test_sync_skips_a_device_its_connector_refuses_and_retries_it_when_it_changes() -> None:
    modbus = ModbusConnector(_Sink(), Statuses())  # real settings checks, never started
    manager = ConnectorManager({"modbus": modbus})
    bad = [_device("a", host="10.0.0.1", port=70000), _device("b", host="10.0.0.2")]
    model = ThingModel(
        "test:reg", "1.0.0", {}, {"v": Point("v", "integer", forms=(ModbusForm("holding", 0),))}
    )
    assert manager.sync(bad, lambda _: model) == ["a", "b"]
    assert modbus.health().devices == 1  # b is served; a is refused, and logged
    assert manager.sync(bad, lambda _: model) == []  # not retried every call
    fixed = [_device("a", host="10.0.0.1", port=1502), bad[1]]
    assert manager.sync(fixed, lambda _: model) == ["a"]
    assert modbus.health().devices == 2


async def test_start_raises_naming_the_connector_that_failed_and_starts_the_others() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        status = Statuses()
        memory = MemoryConnector("modbus", status)
        mqtt = MqttConnector(MqttConfig(port=port), _Sink(), status)
        manager = ConnectorManager({"mqtt": mqtt, "modbus": memory})
        manager.attach("modbus", DeviceLink("pump-1", MODEL))
        with pytest.raises(RuntimeError, match="the mqtt connector did not start"):
            await manager.start()
        assert status.seen == [("pump-1", True)]  # the others started all the same
        await manager.stop()
        assert status.seen[-1] == ("pump-1", False)


class _Sink:
    async def submit(self, samples: Sequence[Sample], *, source: str) -> None:
        pass

    async def reject(
        self,
        device: str | None,
        *,
        source: str,
        reason: str,
        payload: bytes | str,
        why: str | None = None,
        params: object = None,
    ) -> None:
        pass
