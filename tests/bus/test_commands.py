"""Commands across processes without a server: the requests a connector takes or refuses,
the replies it gives, how the asking side reads them, and which side carries a command out.

The serving side is a real ``ConnectorManager`` with the in-memory connector standing in for
the device; the wire part (NATS request/reply between two processes) runs in
tests/integration/test_bus_crossprocess.py.
"""

from __future__ import annotations

from typing import Any

import orjson
import pytest
from tests.telemetry.fleet import PRESS

from indunet import bus
from indunet.bus.commands import (
    MAX_MESSAGE,
    parse_reply,
    result_reply,
)
from indunet.connect import ChecksWrites, ConnectorManager, DeviceLink, MemoryConnector
from indunet.core import InvalidInput
from indunet.telemetry import CommandFailed, Value


def request(**fields: Any) -> bytes:
    return orjson.dumps({"v": 1, "op": "write", "device": "press-1", "name": "enabled", **fields})


class Checking(MemoryConnector):
    """The in-memory connector, refusing texts longer than 8 characters as a Modbus
    connector refuses values its register cannot hold."""

    async def check_write(self, device_id: str, point: str, value: Value) -> None:
        if isinstance(value, str) and len(value) > 8:
            raise InvalidInput(f"point {point} of {device_id} holds at most 8 characters")


def served() -> tuple[bus.CommandServer, MemoryConnector]:
    memory = Checking("modbus", on_action=lambda _d, _a, p: {"echo": p})
    assert isinstance(memory, ChecksWrites)
    manager = ConnectorManager({"modbus": memory})
    manager.attach("modbus", DeviceLink("press-1", PRESS))
    offline = bus.Backbone(["nats://127.0.0.1:1"], bus.Names("toffline", 2))
    return bus.CommandServer(offline, manager, 0), memory


@pytest.mark.parametrize(
    ("raw", "says"),
    [
        (b"", "JSON object"),
        (b"[1, 2]", "JSON object"),
        (b"\xff\xfe", "JSON object"),
        (b'{"v": 2, "op": "write"}', "version must be 1"),
        (request(op="format_disk"), "op must be one of"),
        (request(device=""), "'device' must be a text"),
        (request(device=7), "'device' must be a text"),
        (request(name="x" * 300), "'name' must be a text"),
        (request(argument={"a": 1}), "written value must be"),
        (request(argument=None), "written value must be"),
        (b"{" + b" " * MAX_MESSAGE + b"}", "at most"),
    ],
)
async def test_a_hostile_request_gets_an_error_reply_naming_what_is_wrong(
    raw: bytes, says: str
) -> None:
    server, memory = served()
    reply = orjson.loads(await server.handle(raw))
    assert reply["ok"] is False and reply["code"] == "invalid_input"
    assert says in reply["message"]
    assert memory.writes == [] and server.refused == 1


async def test_a_write_and_an_invocation_are_carried_out_and_answered() -> None:
    server, memory = served()
    assert orjson.loads(await server.handle(request(argument=True))) == {
        "ok": True,
        "result": None,
    }
    assert memory.writes == [("press-1", "enabled", True)]
    ran = await server.handle(request(op="invoke", name="reset", argument={"hard": 1}))
    assert orjson.loads(ran) == {"ok": True, "result": {"echo": {"hard": 1}}}
    assert server.served == 2


async def test_what_the_device_refuses_comes_back_as_the_errors_the_asker_raises() -> None:
    server, memory = served()
    checked = await server.handle(request(op="check_write", name="recipe", argument="x" * 20))
    with pytest.raises(InvalidInput, match="at most 8 characters"):
        parse_reply(checked, "press-1")
    assert parse_reply(await server.handle(request(op="check_write", argument="ok")), "p") is None
    memory.set_offline("press-1")
    with pytest.raises(CommandFailed, match="press-1 is offline"):
        parse_reply(await server.handle(request(argument=True)), "press-1")
    unknown = await server.handle(request(device="ghost-1", argument=True))
    with pytest.raises(CommandFailed, match="ghost-1 is not attached"):
        parse_reply(unknown, "ghost-1")
    assert memory.writes == []


@pytest.mark.parametrize(
    "raw", [b"", b"null", b"[]", b'{"ok": "yes"}', b"{" + b" " * MAX_MESSAGE + b"}", b"\x00"]
)
def test_a_reply_that_cannot_be_read_is_a_failed_command(raw: bytes) -> None:
    with pytest.raises(CommandFailed, match="answer of the connector of device press-1"):
        parse_reply(raw, "press-1")


def test_an_answer_too_large_to_carry_is_replaced_by_an_error() -> None:
    reply = orjson.loads(result_reply("x" * MAX_MESSAGE))
    assert reply["ok"] is False and "larger than" in reply["message"]
    assert orjson.loads(result_reply(float("nan")))["result"] == "nan"  # not JSON: its repr


async def test_without_a_connection_a_command_fails_naming_the_device() -> None:
    offline = bus.Backbone(["nats://127.0.0.1:1"], bus.Names("toffline", 2))
    remote = bus.RemoteSender(offline, 3)
    with pytest.raises(CommandFailed, match="no connector serves device press-1"):
        await remote.write("press-1", "enabled", True)
    await remote.check_write("press-1", "enabled", True)  # passes: the write records why
    with pytest.raises(InvalidInput, match="at most"):
        await remote.invoke("press-1", "reset", "x" * MAX_MESSAGE)


async def test_a_connector_process_carries_out_its_own_devices_and_forwards_the_rest() -> None:
    memory = MemoryConnector("modbus")
    manager = ConnectorManager({"modbus": memory})
    manager.attach("modbus", DeviceLink("press-1", PRESS))
    offline = bus.Backbone(["nats://127.0.0.1:1"], bus.Names("toffline", 2))
    routed = bus.RoutedSender(manager, bus.RemoteSender(offline, 2), owns=lambda d: d == "press-1")
    await routed.write("press-1", "enabled", True)
    assert memory.writes == [("press-1", "enabled", True)]
    with pytest.raises(CommandFailed, match="no connector serves device press-2"):
        await routed.write("press-2", "enabled", True)


def test_the_owner_of_a_device_is_the_connector_share_of_its_hash() -> None:
    for device in ("press-1", "oven-7", "电表-3"):
        owners = [i for i in range(3) if bus.owns_device(device, i, 3)]
        assert owners == [bus.owner_index(device, 3)]
