"""The factory's tap: relayed Modbus conversations copied into a pcap as a SPAN port would,
and the intruder whose sweep and writes the security pages of the demo detect."""

from __future__ import annotations

import asyncio
import socket
import struct
import time
from pathlib import Path

import dpkt
import pytest
from pymodbus.client import AsyncModbusTcpClient

from indunet.devices import ThingModel
from indunet.sim import Equipment, ModbusGateway, make_plan
from indunet.sim.intruder import Intruder
from indunet.sim.mirror import PcapWriter, frame, mac_of


def packets(path: Path) -> list[tuple[float, dpkt.ethernet.Ethernet]]:
    with path.open("rb") as f:
        return [(ts, dpkt.ethernet.Ethernet(buf)) for ts, buf in dpkt.pcap.Reader(f)]


def modbus_requests(path: Path, port: int) -> list[tuple[str, int, int]]:
    """(client address, unit, function) of every Modbus request sent to ``port``."""
    out = []
    streams: dict[tuple[str, int], bytes] = {}
    for _, eth in packets(path):
        ip, tcp = eth.data, eth.data.data
        if tcp.dport != port or not tcp.data:
            continue
        key = (socket.inet_ntoa(ip.src), tcp.sport)
        buf = streams.get(key, b"") + bytes(tcp.data)
        while len(buf) >= 8:
            length = struct.unpack_from("!H", buf, 4)[0]
            if len(buf) < 6 + length:
                break
            out.append((key[0], buf[6], buf[7]))
            buf = buf[6 + length :]
        streams[key] = buf
    return out


@pytest.fixture
async def mirrored(models: dict[str, ThingModel], tmp_path: Path):  # type: ignore[no-untyped-def]
    plan = make_plan(models.values())
    eqs = [Equipment(d, models[d.model_id], seed=4) for d in plan.by_protocol("modbus")]
    for eq in eqs:
        eq.tick(time.time())
    writer = PcapWriter(tmp_path / "mirror.pcap")
    gw = ModbusGateway(eqs, mirror=writer)
    await gw.start()
    try:
        yield gw, writer
    finally:
        await gw.stop()
        writer.close()


def test_frames_carry_valid_checksums() -> None:
    raw = frame(("10.0.0.9", 50211), ("10.0.0.2", 502), 1000, 2000, 0x18, b"\x00\x01hello")
    eth = dpkt.ethernet.Ethernet(raw)
    assert eth.src == mac_of("10.0.0.9") and eth.dst == mac_of("10.0.0.2")
    ip = eth.data
    check = dpkt.ip.IP(bytes(ip))
    check.sum = 0
    assert dpkt.ip.IP(bytes(check)).sum == ip.sum  # dpkt recomputes: the same
    tcp = ip.data
    assert (tcp.sport, tcp.dport, tcp.seq, tcp.ack, bytes(tcp.data)) == (
        50211,
        502,
        1000,
        2000,
        b"\x00\x01hello",
    )


async def test_a_relayed_conversation_is_mirrored_with_its_real_addresses(
    mirrored: tuple[ModbusGateway, PcapWriter], tmp_path: Path
) -> None:
    gw, writer = mirrored
    client = AsyncModbusTcpClient("127.0.0.1", port=gw.port, timeout=3, retries=0)
    async with asyncio.timeout(10):
        assert await client.connect()
        rr = await client.read_holding_registers(0, count=2, device_id=1)
        assert not rr.isError()  # the equipment answers through the tap
    client.close()
    await asyncio.sleep(0.1)
    frames = packets(writer.path)
    syn = frames[0][1].data.data
    assert syn.flags == dpkt.tcp.TH_SYN and syn.dport == gw.port
    assert modbus_requests(writer.path, gw.port) == [("127.0.0.1", 1, 3)]
    answers = [f for _, f in frames if f.data.data.sport == gw.port and f.data.data.data]
    assert answers and bytes(answers[0].data.data.data)[7] == 3  # the reply, same function


async def test_the_intruder_sweeps_and_writes_from_its_own_address(
    mirrored: tuple[ModbusGateway, PcapWriter],
) -> None:
    gw, writer = mirrored
    intruder = Intruder([("127.0.0.1", gw.port, len(gw.equipment))])
    async with asyncio.timeout(20):
        await intruder.round()
    await asyncio.sleep(0.1)
    seen = modbus_requests(writer.path, gw.port)
    assert {src for src, _, _ in seen} == {"127.0.0.66"}
    units = len(gw.equipment)
    assert [(u, fc) for _, u, fc in seen] == [
        *((u, fc) for u in range(1, units + 1) for fc in (43, 17)),
        (1, 1),
        (1, 5),
        (1, 15),
    ]
    assert intruder.writes == 2 and intruder.rounds == 1


def test_the_capture_rotates_past_its_bound(tmp_path: Path) -> None:
    writer = PcapWriter(tmp_path / "m.pcap", max_bytes=2_000)
    raw = frame(("10.0.0.9", 1), ("10.0.0.2", 502), 0, 0, 0x18, b"x" * 400)
    for _ in range(10):
        writer.write(raw)
    writer.close()
    assert (tmp_path / "m.pcap.1").exists()
    assert (tmp_path / "m.pcap").stat().st_size <= 2_000
    assert oct((tmp_path / "m.pcap").stat().st_mode & 0o777) == "0o600"
    assert len(packets(tmp_path / "m.pcap")) + len(packets(tmp_path / "m.pcap.1")) <= 10
