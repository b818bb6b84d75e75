"""Real Modbus/TCP traffic (pymodbus client and server through a recording relay) written to a
pcap with awkward segmentation, decoded back into exact transactions."""

from __future__ import annotations

import asyncio
from pathlib import Path

from pymodbus.client import AsyncModbusTcpClient
from pymodbus.datastore import (
    ModbusDeviceContext,
    ModbusSequentialDataBlock,
    ModbusServerContext,
)
from pymodbus.pdu.device import ModbusDeviceIdentification
from pymodbus.server import ModbusTcpServer
from tests.security.sensor.wire import Conversation, Relay, frames, write_pcap

from indunet.security.sensor.decode import Decoder, read_file


async def _record() -> list[Conversation]:
    device = ModbusDeviceContext(
        co=ModbusSequentialDataBlock(1, [False] * 64),
        di=ModbusSequentialDataBlock(1, [True, False] * 32),
        hr=ModbusSequentialDataBlock(1, list(range(100, 164))),
        ir=ModbusSequentialDataBlock(1, list(range(7, 71))),
    )
    identity = ModbusDeviceIdentification(
        info_name={
            "VendorName": "Indunet Test Works",
            "ProductCode": "ITW-PLC-9",
            "MajorMinorRevision": "3.16.1",
            "VendorUrl": "https://example.com/itw",
            "ProductName": "Press Controller",
            "ModelName": "PC-9000",
        }
    )
    server = ModbusTcpServer(
        ModbusServerContext(devices={1: device}, single=False),
        identity=identity,
        address=("127.0.0.1", 0),
    )
    await server.serve_forever(background=True)
    port = server.transport.sockets[0].getsockname()[1]
    try:
        async with Relay(port) as relay:
            client = AsyncModbusTcpClient("127.0.0.1", port=relay.port, timeout=5)
            await client.connect()
            await client.read_coils(0, count=10, device_id=1)
            await client.read_discrete_inputs(2, count=4, device_id=1)
            await client.read_holding_registers(3, count=5, device_id=1)
            await client.read_input_registers(1, count=2, device_id=1)
            await client.write_coil(4, True, device_id=1)
            await client.write_register(10, 4242, device_id=1)
            await client.write_coils(20, [True, False, True], device_id=1)
            await client.write_registers(30, [1, 2, 3, 65535], device_id=1)
            await client.mask_write_register(
                address=5, and_mask=0x00F2, or_mask=0x0025, device_id=1
            )
            await client.readwrite_registers(
                read_address=0, read_count=2, write_address=40, values=[7, 8], device_id=1
            )
            await client.read_device_information(read_code=1, object_id=0, device_id=1)
            await client.read_holding_registers(9000, count=2, device_id=1)  # illegal address
            await client.diag_query_data(0x1234, device_id=1)
            client.close()
            await asyncio.sleep(0.2)
        return relay.conversations
    finally:
        await server.shutdown()


def test_real_modbus_session_decodes_exactly(tmp_path: Path) -> None:
    conversations = asyncio.run(_record())
    assert conversations and conversations[0].chunks
    pcap = write_pcap(tmp_path / "modbus.pcap", frames(conversations, 502))
    dec = Decoder()
    txs = list(read_file(pcap, dec))
    got = [(t.function_name, t.address, t.count, t.write, t.status) for t in txs]
    assert got == [
        ("read_coils", 0, 10, False, "ok"),
        ("read_discrete_inputs", 2, 4, False, "ok"),
        ("read_holding_registers", 3, 5, False, "ok"),
        ("read_input_registers", 1, 2, False, "ok"),
        ("write_single_coil", 4, 1, True, "ok"),
        ("write_single_register", 10, 1, True, "ok"),
        ("write_multiple_coils", 20, 3, True, "ok"),
        ("write_multiple_registers", 30, 4, True, "ok"),
        ("mask_write_register", 5, 1, True, "ok"),
        ("read_write_multiple_registers", 40, 2, True, "ok"),
        ("read_device_identification", None, None, False, "ok"),
        ("read_holding_registers", 9000, 2, False, "exception"),
        ("diagnostics", None, None, False, "ok"),
    ]
    by = {t.function_name: t for t in txs}
    assert txs[0].values == [False] * 10
    assert by["read_discrete_inputs"].values == [True, False, True, False]
    assert txs[2].values == [103, 104, 105, 106, 107]
    assert by["read_input_registers"].values == [8, 9]
    assert by["write_single_coil"].values == [True]
    assert by["write_single_register"].values == [4242]
    assert by["write_multiple_coils"].values == [True, False, True]
    assert by["write_multiple_registers"].values == [1, 2, 3, 65535]
    assert by["mask_write_register"].details["and_mask"] == 0x00F2
    rw = by["read_write_multiple_registers"]
    assert rw.values == [7, 8] and rw.details["read_address"] == 0
    assert rw.details["read_values"] == [100, 101]
    ident = by["read_device_identification"].details["device_identification"]
    assert ident == {
        "VendorName": "Indunet Test Works",
        "ProductCode": "ITW-PLC-9",
        "MajorMinorRevision": "3.16.1",
    }  # read code 1: the basic objects
    assert txs[11].error == "illegal_data_address"
    assert by["diagnostics"].details["sub_function_name"] == "return_query_data"
    for t in txs:
        assert (t.src_ip, t.dst_ip, t.dst_port, t.unit) == ("10.1.0.5", "10.1.0.9", 502, 1)
        assert t.src_mac == "02:00:00:00:00:01"
        assert t.to_event("sensor-1").kind == "ot.transaction"
    s = dec.stats
    assert s.transactions == 13
    assert s.malformed == {}
    assert s.retransmissions >= 1
    assert s.gaps == 0


def test_real_modbus_extended_identification(tmp_path: Path) -> None:
    """Read code 2 (regular) carries VendorUrl, ProductName, ModelName."""

    async def run() -> list[Conversation]:
        identity = ModbusDeviceIdentification(
            info_name={"VendorName": "V", "ProductCode": "P", "MajorMinorRevision": "1.0",
                       "VendorUrl": "http://v", "ProductName": "PN", "ModelName": "M-1"}
        )  # fmt: skip
        server = ModbusTcpServer(
            ModbusServerContext(devices={3: ModbusDeviceContext()}, single=False),
            identity=identity,
            address=("127.0.0.1", 0),
        )
        await server.serve_forever(background=True)
        port = server.transport.sockets[0].getsockname()[1]
        try:
            async with Relay(port) as relay:
                client = AsyncModbusTcpClient("127.0.0.1", port=relay.port, timeout=5)
                await client.connect()
                await client.read_device_information(read_code=2, object_id=0, device_id=3)
                await client.report_device_id(device_id=3)
                client.close()
                await asyncio.sleep(0.2)
            return relay.conversations
        finally:
            await server.shutdown()

    pcap = write_pcap(tmp_path / "id.pcap", frames(asyncio.run(run()), 502, seed=3))
    txs = list(read_file(pcap))
    assert [t.function_name for t in txs] == ["read_device_identification", "report_server_id"]
    assert txs[0].details["device_identification"] == {
        "VendorName": "V", "ProductCode": "P", "MajorMinorRevision": "1.0",
        "VendorUrl": "http://v", "ProductName": "PN", "ModelName": "M-1",
    }  # fmt: skip
    assert txs[0].unit == 3
    assert "run_indicator" in txs[1].details
