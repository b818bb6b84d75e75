"""Reading capture files: pcap (micro- and nanosecond, either byte order) and pcapng.

Every record is checked before it is read (its length against the file's bound); a truncated
or corrupt record ends the reading with ``CaptureError`` naming the file and the packet number,
after everything before it has been yielded. pcapng interface blocks are read with dpkt's
block classes (link type, timestamp resolution and offset per interface)."""

from __future__ import annotations

import struct
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

import dpkt

#: Link types the decoder takes.
ETHERNET = 1
NULL = 0  # BSD loopback: a 4-byte address family, then IP
RAW = 101  # raw IPv4/IPv6 (also 12 and 14 on some systems)
RAW_TYPES = frozenset({12, 14, 101, 228, 229})
SLL = 113  # Linux cooked capture
SLL2 = 276

#: The biggest record accepted, whatever the file header says.
MAX_RECORD = 256 * 1024
#: The biggest pcapng block accepted.
MAX_BLOCK = 16 * 1024 * 1024

PCAP_MAGICS = {
    b"\xd4\xc3\xb2\xa1": ("<", 1e6),
    b"\xa1\xb2\xc3\xd4": (">", 1e6),
    b"\x4d\x3c\xb2\xa1": ("<", 1e9),
    b"\xa1\xb2\x3c\x4d": (">", 1e9),
}
PCAPNG_SHB = b"\x0a\x0d\x0d\x0a"


class CaptureError(Exception):
    """A capture file that cannot be read further: ``path``, ``packet`` (1-based) and why."""

    def __init__(self, path: str, packet: int, reason: str) -> None:
        super().__init__(f"{path}: packet {packet}: {reason}")
        self.path = path
        self.packet = packet
        self.reason = reason


def read_packets(path: str | Path) -> Iterator[tuple[float, int, bytes]]:
    """``(timestamp, link type, frame)`` for each packet of a pcap or pcapng file."""
    name = str(path)
    with open(path, "rb") as f:
        head = f.read(4)
        if head in PCAP_MAGICS:
            yield from _pcap(name, f, head)
        elif head == PCAPNG_SHB:
            yield from _pcapng(name, f)
        else:
            raise CaptureError(name, 1, "not a pcap or pcapng file (unknown magic number)")


def _pcap(name: str, f: BinaryIO, magic: bytes) -> Iterator[tuple[float, int, bytes]]:
    order, divisor = PCAP_MAGICS[magic]
    rest = f.read(20)
    if len(rest) < 20:
        raise CaptureError(name, 1, "file header cut short")
    _, _, _, _, snaplen, linktype = struct.unpack(order + "HHiIII", rest)
    linktype &= 0x0FFFFFFF
    bound = min(max(snaplen, 65_535), MAX_RECORD)
    rec = struct.Struct(order + "IIII")
    number = 0
    read = f.read
    while True:
        number += 1
        hdr = read(16)
        if not hdr:
            return
        if len(hdr) < 16:
            raise CaptureError(name, number, f"record header cut short ({len(hdr)} of 16 bytes)")
        sec, frac, caplen, _origlen = rec.unpack(hdr)
        if caplen > bound:
            raise CaptureError(name, number, f"record length {caplen} exceeds {bound}")
        data = read(caplen)
        if len(data) < caplen:
            raise CaptureError(name, number, f"record cut short ({len(data)} of {caplen} bytes)")
        yield sec + frac / divisor, linktype, data


def _pcapng(name: str, f: BinaryIO) -> Iterator[tuple[float, int, bytes]]:
    # interfaces of the current section: (link type, divisor, offset)
    interfaces: list[tuple[int, float, int]] = []
    order = "<"
    number = 0
    first = True
    while True:
        head = PCAPNG_SHB if first else f.read(4)
        first = False
        if not head:
            return
        packet_no = number + 1
        if len(head) < 4:
            raise CaptureError(name, packet_no, "block header cut short")
        if head == PCAPNG_SHB:
            lead = f.read(8)
            if len(lead) < 8:
                raise CaptureError(name, packet_no, "section header cut short")
            if lead[4:8] == b"\x4d\x3c\x2b\x1a":
                order = "<"
            elif lead[4:8] == b"\x1a\x2b\x3c\x4d":
                order = ">"
            else:
                raise CaptureError(name, packet_no, "section header with a bad byte-order magic")
            interfaces = []
            btype = 0x0A0D0D0A
            length = struct.unpack(order + "I", lead[:4])[0]
            body_start = lead
        else:
            lenb = f.read(4)
            if len(lenb) < 4:
                raise CaptureError(name, packet_no, "block header cut short")
            btype = struct.unpack(order + "I", head)[0]
            length = struct.unpack(order + "I", lenb)[0]
            body_start = lenb
        if length < 12 or length % 4 or length > MAX_BLOCK:
            raise CaptureError(name, packet_no, f"block of type {btype:#x} has bad length {length}")
        rest = f.read(length - 4 - len(body_start))
        if len(rest) < length - 4 - len(body_start):
            raise CaptureError(name, packet_no, f"block of type {btype:#x} cut short")
        block = head + body_start + rest
        if block[-4:] != block[4:8]:
            raise CaptureError(name, packet_no, f"block of type {btype:#x}: lengths differ")
        if btype == 1:
            interfaces.append(_interface(name, packet_no, block, order))
        elif btype == 6:
            number += 1
            if length < 32:
                raise CaptureError(name, number, "enhanced packet block too short")
            iface, high, low, caplen, _ = struct.unpack_from(order + "IIIII", block, 8)
            if iface >= len(interfaces):
                raise CaptureError(name, number, f"packet on undeclared interface {iface}")
            if 28 + caplen > length - 4:
                raise CaptureError(name, number, f"packet length {caplen} exceeds its block")
            linktype, divisor, offset = interfaces[iface]
            yield offset + ((high << 32) | low) / divisor, linktype, block[28 : 28 + caplen]
        elif btype == 3:
            number += 1
            if not interfaces:
                raise CaptureError(name, number, "simple packet block before any interface")
            origlen = struct.unpack_from(order + "I", block, 8)[0]
            caplen = min(origlen, length - 16)
            yield 0.0, interfaces[0][0], block[12 : 12 + caplen]
        # other blocks (statistics, name resolution, custom) carry no packets


def _interface(name: str, packet_no: int, block: bytes, order: str) -> tuple[int, float, int]:
    try:
        cls = (
            dpkt.pcapng.InterfaceDescriptionBlockLE
            if order == "<"
            else (dpkt.pcapng.InterfaceDescriptionBlock)
        )
        idb = cls(block)
    except (dpkt.Error, struct.error, ValueError) as exc:
        raise CaptureError(name, packet_no, f"bad interface description block: {exc}") from exc
    divisor, offset = 1e6, 0
    for opt in idb.opts:
        if opt.code == dpkt.pcapng.PCAPNG_OPT_IF_TSRESOL and opt.data:
            res = opt.data[0]
            divisor = float((2 if res & 0x80 else 10) ** (res & 0x7F))
        elif opt.code == dpkt.pcapng.PCAPNG_OPT_IF_TSOFFSET and len(opt.data) >= 8:
            offset = struct.unpack(order + "q", opt.data[:8])[0]
    return int(idb.linktype), divisor or 1e6, offset
