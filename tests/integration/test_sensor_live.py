"""Live capture (``security.sensor.live``) on a real link: a pymodbus server in a network
namespace, a pymodbus client here writing coils to it across a veth, the sensor capturing on
this side's interface and decoding the writes. Root only; bounded in time; the namespaces
are deleted whatever happens (``tests/integration/netns.py``)."""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from pymodbus.client import AsyncModbusTcpClient
from tests.integration.netns import NetnsUnavailable, network, wait_until

from indunet.core import NotFound
from indunet.security.sensor.decode import Decoder
from indunet.security.sensor.live import LiveCapture
from indunet.security.sensor.records import Transaction

BUDGET_S = 60.0
SERVER = """
import asyncio
from pymodbus.server import ModbusTcpServer
from pymodbus.simulator import DataType, SimData, SimDevice

async def main():
    device = SimDevice(id=1, simdata=(
        [SimData(0, values=[False] * 64, datatype=DataType.BITS)],
        [SimData(0, values=[False] * 8, datatype=DataType.BITS)],
        [SimData(0, values=[0] * 8, datatype=DataType.REGISTERS)],
        [SimData(0, values=[0] * 8, datatype=DataType.REGISTERS)],
    ))
    server = ModbusTcpServer([device], address=("0.0.0.0", 502))
    await server.serve_forever(background=True)
    print("ready", flush=True)
    await asyncio.sleep(120)

asyncio.run(main())
"""


async def test_writes_across_a_veth_are_seen_live(tmp_path: Path) -> None:
    t0 = time.monotonic()
    try:
        with network(["plc"], tmp_path) as net:
            await _run(net, tmp_path)
    except NetnsUnavailable as exc:
        pytest.skip(str(exc))
    assert time.monotonic() - t0 < BUDGET_S


async def _run(net: object, tmp_path: Path) -> None:
    from tests.integration.netns import Network

    assert isinstance(net, Network)
    plc = net.addr["plc"]
    server = net.run("plc", "modbus-server", [sys.executable, "-c", SERVER], env=dict(os.environ))
    await asyncio.to_thread(wait_until, lambda: "ready" in server.output, 20, "the server")

    capture = LiveCapture(f"{net.tag}r")  # this side of the veth pair to the switch
    await capture.start()
    decoder = Decoder("veth")
    seen: list[Transaction] = []
    try:
        client = AsyncModbusTcpClient(plc, port=502, timeout=5)
        assert await client.connect(), server.output
        try:
            r = await client.write_coil(10, True, device_id=1)
            assert not r.isError()
            r = await client.write_coils(20, [True, False, True], device_id=1)
            assert not r.isError()
            r = await client.read_coils(20, count=3, device_id=1)
            assert r.bits[:3] == [True, False, True]
        finally:
            client.close()
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and len(seen) < 3:
            for ts, frame in capture.take():
                seen.extend(decoder.feed(ts, frame))
            await asyncio.sleep(0.05)
    finally:
        await capture.stop()
    writes = [(t.function_name, t.address, t.count, t.status) for t in seen if t.write]
    assert writes == [("write_single_coil", 10, 1, "ok"), ("write_multiple_coils", 20, 3, "ok")]
    first = seen[0]
    assert first.dst_ip == plc and first.dst_port == 502
    assert first.src_ip == f"{net.subnet}.1"
    assert abs(first.ts - time.time()) < 30  # the kernel's timestamp, not the capture's
    assert [t.function_name for t in seen if not t.write] == ["read_coils"]
    stats = capture.stats
    assert stats.packets >= 10 and stats.dropped == 0
    assert decoder.stats.malformed == {}


async def test_a_missing_interface_or_no_right_is_a_clear_error() -> None:
    with pytest.raises(NotFound, match="no network interface named 'nosuch0'"):
        LiveCapture("nosuch0").open()
    if os.geteuid() == 0:
        cap = LiveCapture("lo")
        cap.open()  # root may
        await cap.start()
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.sendto(b"x" * 10, ("127.0.0.1", 9))
        await asyncio.sleep(0.3)
        await cap.stop()
        assert cap.stats.packets >= 1
        assert not cap.running


def test_without_cap_net_raw_the_command_says_so() -> None:
    if os.geteuid() != 0 or not shutil.which("setpriv"):
        pytest.skip("needs root and setpriv to take CAP_NET_RAW away")
    # root without CAP_NET_RAW, as an unprivileged account would be: exit 2, a message
    done = subprocess.run(
        ["setpriv", "--bounding-set", "-net_raw", "--", sys.executable, "-m", "indunet",
         "sensor", "live", "--iface", "lo", "--seconds", "1"],
        capture_output=True, text=True, timeout=60, check=False,
        env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)},
    )  # fmt: skip
    assert done.returncode == 2, done.stderr
    assert "capturing on lo needs root or the CAP_NET_RAW capability" in done.stderr
    assert "Traceback" not in done.stderr
