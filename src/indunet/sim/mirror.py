"""A network tap for the virtual factory: what a plant's SPAN port or TAP gives a sensor.

``Tap`` is a TCP relay in front of a piece of simulated equipment: clients connect to the tap's
address, which relays both directions to the equipment's own server and writes every relayed
segment into a ``PcapWriter`` as the Ethernet/IPv4/TCP frame a mirror port would have copied:
the client's real address and port, the equipment's public address and port, the handshake,
consistent sequence and acknowledgement numbers, data cut at 1,460 bytes, and the close. A
passive sensor reading the file (``indunet sensor follow``) sees the conversations as it
would on a plant network. MAC addresses are derived from the IPv4 address (``02:00:`` and the
four bytes: locally administered), since loopback has none.

The capture is bounded: past ``max_bytes`` the file is moved to ``<name>.1`` (replacing the
previous one) and a new file begins, as ``tcpdump -C`` rotates.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import logging
import os
import random
import struct
import time
from pathlib import Path
from typing import BinaryIO

log = logging.getLogger(__name__)
MSS = 1460
MAX_BYTES = 16 * 1024 * 1024
_PCAP_HEADER = struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1)  # LINKTYPE_ETHERNET
_SYN, _ACK, _PSH, _FIN = 0x02, 0x10, 0x08, 0x01


def mac_of(ip: str) -> bytes:
    """The tap's stand-in MAC for an IPv4 address: 02:00 and the address's four bytes."""
    return b"\x02\x00" + ipaddress.IPv4Address(ip).packed


def _checksum(data: bytes) -> int:
    if len(data) % 2:
        data += b"\x00"
    total: int = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


def frame(
    src: tuple[str, int], dst: tuple[str, int], seq: int, ack: int, flags: int, payload: bytes
) -> bytes:
    """One Ethernet/IPv4/TCP frame with correct IP and TCP checksums."""
    sip, dip = ipaddress.IPv4Address(src[0]).packed, ipaddress.IPv4Address(dst[0]).packed
    tcp = struct.pack("!HHIIBBHHH", src[1], dst[1], seq, ack, 5 << 4, flags, 65535, 0, 0)
    pseudo = sip + dip + struct.pack("!BBH", 0, 6, len(tcp) + len(payload))
    tcp = tcp[:16] + struct.pack("!H", _checksum(pseudo + tcp + payload)) + tcp[18:]
    total = 20 + len(tcp) + len(payload)
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, total, 0, 0x4000, 64, 6, 0, sip, dip)
    ip = ip[:10] + struct.pack("!H", _checksum(ip)) + ip[12:]
    return mac_of(dst[0]) + mac_of(src[0]) + b"\x08\x00" + ip + tcp + payload


class PcapWriter:
    """Frames appended to a pcap file (0600), flushed as written, rotated past ``max_bytes``."""

    def __init__(self, path: Path, max_bytes: int = MAX_BYTES) -> None:
        self.path = path
        self.max_bytes = max_bytes
        self.frames = 0
        self._file: BinaryIO = self._open()

    def _open(self) -> BinaryIO:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        f = os.fdopen(fd, "wb")
        f.write(_PCAP_HEADER)
        f.flush()
        self._size = len(_PCAP_HEADER)
        return f

    def write(self, data: bytes, ts: float | None = None) -> None:
        """Append one frame, stamped ``ts`` (now by default)."""
        ts = time.time() if ts is None else ts
        sec = int(ts)
        record = struct.pack("<IIII", sec, int((ts - sec) * 1e6), len(data), len(data)) + data
        if self._size + len(record) > self.max_bytes:
            self._rotate()
        f = self._file
        f.write(record)
        f.flush()
        self._size += len(record)
        self.frames += 1

    def _rotate(self) -> None:
        self.close()
        os.replace(self.path, self.path.with_name(self.path.name + ".1"))
        self._file = self._open()

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self._file.close()


class _Side:
    """One direction's addresses and next sequence number."""

    def __init__(self, addr: tuple[str, int]) -> None:
        self.addr = addr
        self.seq = random.getrandbits(32)


class Tap:
    """Listens on ``host:port`` and relays to ``upstream``, mirroring into ``writer``."""

    def __init__(
        self, writer: PcapWriter, upstream: tuple[str, int], host: str = "127.0.0.1", port: int = 0
    ) -> None:
        self.writer = writer
        self.upstream = upstream
        self.host, self.port = host, port
        self._server: asyncio.Server | None = None
        self._conns: set[asyncio.Task[None]] = set()

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._serve, self.host, self.port)
        self.port = int(self._server.sockets[0].getsockname()[1])

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            for task in list(self._conns):
                task.cancel()
            await asyncio.gather(*self._conns, return_exceptions=True)
            await self._server.wait_closed()
            self._server = None

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._conns.add(task)
        peer = writer.get_extra_info("peername")
        client, server = _Side((peer[0], int(peer[1]))), _Side((self.host, self.port))
        try:
            up_reader, up_writer = await asyncio.open_connection(*self.upstream)
        except OSError:
            writer.close()
            self._conns.discard(task)
            return
        self._handshake(client, server)
        try:
            await asyncio.gather(
                self._pump(reader, up_writer, client, server),
                self._pump(up_reader, writer, server, client),
            )
        except (OSError, asyncio.IncompleteReadError):
            pass
        finally:
            self._emit(client, server, _FIN | _ACK, b"")
            for w in (writer, up_writer):
                w.close()
            self._conns.discard(task)

    def _handshake(self, client: _Side, server: _Side) -> None:
        w = self.writer
        w.write(frame(client.addr, server.addr, client.seq, 0, _SYN, b""))
        client.seq += 1
        w.write(frame(server.addr, client.addr, server.seq, client.seq, _SYN | _ACK, b""))
        server.seq += 1
        w.write(frame(client.addr, server.addr, client.seq, server.seq, _ACK, b""))

    def _emit(self, src: _Side, dst: _Side, flags: int, data: bytes) -> None:
        for i in range(0, max(len(data), 1), MSS):
            chunk = data[i : i + MSS]
            self.writer.write(frame(src.addr, dst.addr, src.seq, dst.seq, flags, chunk))
            src.seq = (src.seq + len(chunk)) & 0xFFFFFFFF

    async def _pump(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        src: _Side,
        dst: _Side,
    ) -> None:
        while data := await reader.read(65536):
            self._emit(src, dst, _PSH | _ACK, data)
            writer.write(data)
            await writer.drain()
        with contextlib.suppress(OSError):
            writer.write_eof()
