"""Following a capture file that is still being written (``tcpdump -w``, ``dumpcap -w`` on a
SPAN/mirror port): like ``tail -f`` for pcap and pcapng.

The file is read in slices of at most ``max_read`` bytes; whole records are handed on, a
record cut at the end of what is written so far waits for the rest. When nothing new comes,
the file is looked at every ``poll_s`` seconds: replaced by a new file (another inode: a
rotation) or shorter than what was read (truncated), it is read again from its start. A file
that does not exist yet is waited for. A record that cannot be right (a length beyond the
bound, an unknown format) is counted in ``stats.corrupt`` with its number, and the file is
skipped until it is rotated or truncated (the stream cannot be resynchronised).
"""

from __future__ import annotations

import asyncio
import logging
import os
import struct
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

from .pcapio import MAX_BLOCK, MAX_RECORD, PCAP_MAGICS, PCAPNG_SHB

log = logging.getLogger(__name__)
Record = tuple[float, int, bytes]
"""(timestamp, link type, frame)"""


@dataclass
class FollowStats:
    packets: int = 0
    bytes_read: int = 0
    rotations: int = 0
    corrupt: int = 0
    errors: list[str] = field(default_factory=list)
    """The last few problems, naming file and packet (at most 20 kept)."""

    def error(self, text: str) -> None:
        self.errors.append(text)
        del self.errors[:-20]


class Corrupt(Exception):
    pass


class _Parser:
    """Records out of a byte stream that arrives in pieces (pcap or pcapng)."""

    def __init__(self) -> None:
        self.buf = bytearray()
        self.kind = ""  # "pcap" / "pcapng", once the first bytes were seen
        self.order = "<"
        self.divisor = 1e6
        self.linktype = 1
        self.bound = MAX_RECORD
        self.interfaces: list[tuple[int, float]] = []
        self.number = 0
        self.broken = ""

    def feed(self, data: bytes) -> list[Record]:
        """The whole records now readable; ``broken`` says why reading cannot go on (the
        records before the fault are returned all the same)."""
        self.buf += data
        out: list[Record] = []
        try:
            if not self.kind and not self._header():
                return out
            if self.kind == "pcap":
                self._pcap(out)
            else:
                self._pcapng(out)
        except Corrupt as exc:
            self.broken = str(exc)
            self.buf.clear()
        return out

    def _header(self) -> bool:
        buf = self.buf
        if len(buf) < 4:
            return False
        magic = bytes(buf[:4])
        if magic in PCAP_MAGICS:
            if len(buf) < 24:
                return False
            self.order, self.divisor = PCAP_MAGICS[magic]
            snaplen, linktype = struct.unpack_from(self.order + "II", buf, 16)
            self.linktype = linktype & 0x0FFFFFFF
            self.bound = min(max(snaplen, 65_535), MAX_RECORD)
            del buf[:24]
            self.kind = "pcap"
            return True
        if magic == PCAPNG_SHB:
            self.kind = "pcapng"
            return True
        raise Corrupt("not a pcap or pcapng file (unknown magic number)")

    def _pcap(self, out: list[Record]) -> None:
        buf, order = self.buf, self.order
        pos = 0
        hdr = struct.Struct(order + "IIII")
        while len(buf) - pos >= 16:
            sec, frac, caplen, _ = hdr.unpack_from(buf, pos)
            if caplen > self.bound:
                raise Corrupt(
                    f"packet {self.number + 1}: record length {caplen} exceeds {self.bound}"
                )
            if len(buf) - pos - 16 < caplen:
                break
            self.number += 1
            out.append(
                (sec + frac / self.divisor, self.linktype, bytes(buf[pos + 16 : pos + 16 + caplen]))
            )
            pos += 16 + caplen
        del buf[:pos]

    def _pcapng(self, out: list[Record]) -> None:
        buf = self.buf
        pos = 0
        while len(buf) - pos >= 12:
            btype_raw = bytes(buf[pos : pos + 4])
            if btype_raw == PCAPNG_SHB:
                if len(buf) - pos < 12:
                    break
                bom = bytes(buf[pos + 8 : pos + 12])
                if bom == b"\x4d\x3c\x2b\x1a":
                    self.order = "<"
                elif bom == b"\x1a\x2b\x3c\x4d":
                    self.order = ">"
                else:
                    raise Corrupt(f"packet {self.number + 1}: bad pcapng byte-order magic")
                self.interfaces = []
            order = self.order
            btype, length = struct.unpack_from(order + "II", buf, pos)
            if length < 12 or length % 4 or length > MAX_BLOCK:
                raise Corrupt(f"packet {self.number + 1}: pcapng block length {length}")
            if len(buf) - pos < length:
                break
            body = bytes(buf[pos + 8 : pos + length - 4])
            pos += length
            if btype == 1 and len(body) >= 8:  # interface description
                linktype = struct.unpack_from(order + "H", body, 0)[0]
                self.interfaces.append((linktype, _tsresol(body[8:], order)))
            elif btype == 6 and len(body) >= 20:  # enhanced packet
                iface, hi, lo, caplen = struct.unpack_from(order + "IIII", body, 0)
                self.number += 1
                if iface >= len(self.interfaces):
                    raise Corrupt(f"packet {self.number}: interface {iface} not described")
                if caplen > len(body) - 20 or caplen > MAX_RECORD:
                    raise Corrupt(f"packet {self.number}: captured length {caplen} is wrong")
                linktype, div = self.interfaces[iface]
                out.append((((hi << 32) | lo) / div, linktype, body[20 : 20 + caplen]))
            elif btype == 3 and len(body) >= 4 and self.interfaces:  # simple packet
                self.number += 1
                linktype, _ = self.interfaces[0]
                out.append((0.0, linktype, body[4:]))
        del buf[:pos]


def _tsresol(options: bytes, order: str) -> float:
    """The interface's ticks per second (if_tsresol, option 9; default microseconds)."""
    pos = 0
    while pos + 4 <= len(options):
        code, length = struct.unpack_from(order + "HH", options, pos)
        if code == 0:
            break
        if code == 9 and length >= 1:
            v = options[pos + 4]
            return float(2 ** (v & 0x7F)) if v & 0x80 else float(10**v)
        pos += 4 + length + (-length % 4)
    return 1e6


class PcapFollower:
    """Records of ``path`` as it grows, across rotations, until ``stop``."""

    def __init__(
        self,
        path: str | Path,
        *,
        poll_s: float = 0.2,
        max_read: int = 1024 * 1024,
    ) -> None:
        self.path = Path(path)
        self.poll_s = poll_s
        self.max_read = max_read
        self.stats = FollowStats()
        self._stop = asyncio.Event()

    def stop(self) -> None:
        self._stop.set()

    async def batches(self) -> AsyncIterator[list[Record]]:
        """Lists of records as they are written; ends after ``stop``."""
        f: BinaryIO | None = None
        parser = _Parser()
        offset = 0
        broken = False
        try:
            while not self._stop.is_set():
                if f is None:
                    f = await asyncio.to_thread(_open, self.path)
                    if f is None:
                        await self._idle()
                        continue
                    parser, offset, broken = _Parser(), 0, False
                data = b"" if broken else await asyncio.to_thread(f.read, self.max_read)
                if data:
                    offset += len(data)
                    self.stats.bytes_read += len(data)
                    records = parser.feed(data)
                    if parser.broken:
                        broken = True
                        self.stats.corrupt += 1
                        self.stats.error(f"{self.path}: {parser.broken}")
                        log.warning(
                            "following %s: %s; waiting for a new file", self.path, parser.broken
                        )
                    if records:
                        self.stats.packets += len(records)
                        yield records
                    continue
                if await asyncio.to_thread(_replaced, self.path, f, offset):
                    f.close()
                    f = None
                    self.stats.rotations += 1
                    log.info("%s was rotated or truncated: reading it from its start", self.path)
                    continue
                await self._idle()
        finally:
            if f is not None:
                f.close()

    async def _idle(self) -> None:
        try:
            async with asyncio.timeout(self.poll_s):
                await self._stop.wait()
        except TimeoutError:
            pass


def _open(path: Path) -> BinaryIO | None:
    try:
        return open(path, "rb")
    except FileNotFoundError:
        return None


def _replaced(path: Path, f: BinaryIO, offset: int) -> bool:
    """The name now points at another file, or the file is shorter than what was read."""
    try:
        now = os.stat(path)
    except FileNotFoundError:
        return False  # gone for now: keep reading the old one until a new one appears
    mine = os.fstat(f.fileno())
    return (now.st_ino, now.st_dev) != (mine.st_ino, mine.st_dev) or now.st_size < offset
