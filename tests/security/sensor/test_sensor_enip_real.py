"""Real EtherNet/IP traffic: cpppo's EtherNet/IP CIP server (simulating a Logix controller)
and its command-line clients through the recording relay, decoded from a pcap."""

from __future__ import annotations

import asyncio
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from tests.security.sensor.wire import Conversation, Relay, frames, write_pcap

from indunet.security.sensor.decode import Decoder, read_file

pytest.importorskip("cpppo")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_listening(port: int, deadline: float) -> None:
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return
        except OSError:
            time.sleep(0.1)
    raise TimeoutError("cpppo server did not start")


async def _client(*args: str) -> None:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", *args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    async with asyncio.timeout(30):
        assert await proc.wait() == 0


async def _record(port: int) -> list[Conversation]:
    async with Relay(port) as relay:
        address = f"127.0.0.1:{relay.port}"
        await _client("cpppo.server.enip.client", "--address", address, "-i",
                      "Tag[0-3]", "Tag[1]=(INT)5")  # fmt: skip
        await _client("cpppo.server.enip.get_attribute", "--address", address, "@1/1/7")
        await asyncio.sleep(0.2)
    return relay.conversations


def test_real_enip_sessions_decode(tmp_path: Path) -> None:
    port = _free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "cpppo.server.enip", "--address", f"127.0.0.1:{port}",
         "Tag=INT[10]"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        _wait_listening(port, time.monotonic() + 30)
        conversations = asyncio.run(_record(port))
    finally:
        server.terminate()
        server.wait(10)
    pcap = write_pcap(tmp_path / "enip.pcap", frames(conversations, 44818, seed=9))
    dec = Decoder()
    txs = list(read_file(pcap, dec))
    names = [t.function_name for t in txs]
    assert names == [
        "register_session", "list_identity", "read_tag", "write_tag",
        "register_session", "get_attribute_single",
    ], names  # fmt: skip
    reg, ident, read, write, _, attr = txs
    assert reg.function == 0x65 and not reg.write
    identity = ident.details["identity"]
    assert identity["product_name"] == "1756-L61/B LOGIX5561"
    assert identity["vendor_id"] == 1 and identity["revision"].count(".") == 1
    assert read.function == 0x4C and read.details["tag"] == "Tag[0]" and not read.write
    assert read.details["via"] == "unconnected_send" and read.status == "ok"
    assert write.function == 0x4D and write.details["tag"] == "Tag[1]" and write.write
    assert attr.function == 0x0E
    assert (attr.details["class"], attr.details["instance"], attr.details["attribute"]) == (1, 1, 7)
    assert attr.details["class_name"] == "identity"
    assert dec.stats.malformed == {}
