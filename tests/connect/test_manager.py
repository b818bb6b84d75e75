"""The connector manager routes devices and commands to the connector of their protocol."""

from __future__ import annotations

import pytest

from indunet.connect import Backoff, CommandFailed, ConnectorManager, DeviceLink, MemoryConnector
from indunet.devices import Action, Point, ThingModel

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
