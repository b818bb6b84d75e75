"""Small Modbus/TCP captures made with dpkt, for the sensor runtime's tests."""

from __future__ import annotations

import socket
import struct
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

import dpkt

CLIENT = ("192.168.10.20", 40512, b"\x02\x00\x00\x00\x00\x20")
SERVER = ("192.168.10.10", 502, b"\x02\x00\x00\x00\x00\x10")


def _frame(src: tuple[str, int, bytes], dst: tuple[str, int, bytes], seq: int, ack: int,
           flags: int, payload: bytes = b"") -> bytes:  # fmt: skip
    tcp = dpkt.tcp.TCP(
        sport=src[1], dport=dst[1], seq=seq, ack=ack, flags=flags, win=65535, data=payload
    )
    ip = dpkt.ip.IP(
        src=socket.inet_aton(src[0]), dst=socket.inet_aton(dst[0]), p=dpkt.ip.IP_PROTO_TCP,
        data=tcp, ttl=64,
    )  # fmt: skip
    ip.len = len(ip)
    eth = dpkt.ethernet.Ethernet(src=src[2], dst=dst[2], type=dpkt.ethernet.ETH_TYPE_IP, data=ip)
    return bytes(eth)


def write_coil_frames(
    n: int, t0: float = 1_765_000_000.0, sport: int = CLIENT[1], first: int = 100
) -> Iterator[tuple[float, bytes]]:
    """A TCP handshake from ``sport``, then ``n`` write-single-coil requests (address
    ``first`` + i), each answered."""
    client = (CLIENT[0], sport, CLIENT[2])
    c_seq, s_seq = 1000, 5000
    ack, syn, psh = dpkt.tcp.TH_ACK, dpkt.tcp.TH_SYN, dpkt.tcp.TH_PUSH
    yield t0, _frame(client, SERVER, c_seq, 0, syn)
    yield t0 + 0.001, _frame(SERVER, client, s_seq, c_seq + 1, syn | ack)
    c_seq += 1
    s_seq += 1
    yield t0 + 0.002, _frame(client, SERVER, c_seq, s_seq, ack)
    for i in range(n):
        pdu = struct.pack(">BHH", 5, first + i, 0xFF00)
        adu = struct.pack(">HHHB", i + 1, 0, len(pdu) + 1, 1) + pdu
        t = t0 + 0.01 + i * 0.01
        yield t, _frame(client, SERVER, c_seq, s_seq, psh | ack, adu)
        c_seq += len(adu)
        yield t + 0.002, _frame(SERVER, client, s_seq, c_seq, psh | ack, adu)
        s_seq += len(adu)


def write_pcap(path: Path, frames: Iterator[tuple[float, bytes]]) -> Path:
    with path.open("wb") as f:
        writer = dpkt.pcap.Writer(f)
        for ts, frame in frames:
            writer.writepkt(frame, ts=ts)
    return path


def append_frames(f: BinaryIO, frames: Iterator[tuple[float, bytes]]) -> None:
    """Records (no file header) to an open pcap file, as tcpdump appends them."""
    for ts, frame in frames:
        sec = int(ts)
        usec = round((ts - sec) * 1e6)
        f.write(struct.pack("<IIII", sec, usec, len(frame), len(frame)) + frame)
    f.flush()


PCAP_HEADER = struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1)
