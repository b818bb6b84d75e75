"""Hostile input: truncated and garbage PDUs for each protocol, broken capture files, and
random or mutated frames. Nothing raises; everything bad is counted with its packet number."""

from __future__ import annotations

import struct
from pathlib import Path

import dpkt
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tests.security.sensor.test_sensor_frames import (
    MODBUS_REQ,
    MODBUS_RSP,
    Conn,
    _enip,
    _s7,
    dnp3_frame,
    tcp,
    udp,
)

from indunet.security.sensor.decode import Decoder, read_file


def _bad(dec: Decoder, protocol: str) -> tuple[int, str, int]:
    m = dec.stats.malformed[protocol]
    return m.count, m.last_reason, m.last_packet


def test_modbus_truncated_and_garbage_are_counted() -> None:
    dec = Decoder()
    c = Conn(dec, 502)
    c.send(True, bytes.fromhex("0001000000020103"))  # fc 3 without address/count
    c.send(True, bytes.fromhex("000200050006010300000001"))  # protocol id 5: not Modbus
    c.send(True, MODBUS_REQ)  # a good one after the garbage is still decoded
    c.send(False, MODBUS_RSP)
    count, reason, packet = _bad(dec, "modbus")
    assert count == 2 and packet == 4
    assert "bad PDU header" in reason
    assert [t.function_name for t in c.out] == ["read_holding_registers"]


def test_opcua_garbage_and_truncated_bodies() -> None:
    dec = Decoder()
    c = Conn(dec, 4840)
    c.send(True, b"HELF" + struct.pack("<I", 12) + b"\x00\x00\x00\x00")  # HEL cut short
    c.send(True, b"MSGF" + struct.pack("<I", 20) + bytes(12))  # MSG without a type id
    c.send(True, b"XYZF" + struct.pack("<I", 9) + b"\x00")  # not a message type
    count, _, packet = _bad(dec, "opcua")
    assert count == 3 and packet == 5


def test_s7_enip_dnp3_garbage() -> None:
    dec = Decoder()
    c = Conn(dec, 102)
    c.send(True, _s7(1, 1, b""))  # job without a function
    c.send(True, b"\x03\x00\x00\x0b\x02\xf0\x80\x99\x01\x00\x00")  # unknown protocol id
    c.send(True, _s7(1, 2, b"\x04\x01", b"\x00" * 200)[:20])  # lengths past the end: held
    assert _bad(dec, "s7comm")[0] == 2
    dec = Decoder()
    c = Conn(dec, 44818)
    c.send(True, _enip(0x6F, b"\x00\x00"))  # SendRRData with a cut CPF
    c.send(True, b"\xff\xff" + bytes(22))  # unknown command
    assert _bad(dec, "enip")[0] == 2
    dec = Decoder()
    dec.feed(1.0, udp("10.0.0.1", "10.0.0.2", 1, 20000, b"\x05\x64\x05"))  # cut datagram
    dec.feed(1.0, udp("10.0.0.1", "10.0.0.2", 1, 20000, dnp3_frame(0xC4, 1, 2, b"\xc0\xc0")))
    assert _bad(dec, "dnp3") == (2, "dnp3: application header cut short", 2)


def test_short_and_odd_frames() -> None:
    dec = Decoder()
    assert dec.feed(0, b"") == []
    assert dec.feed(0, b"\x00" * 13) == []
    frame = tcp("10.0.0.1", "10.0.0.2", 1, 502, 1, MODBUS_REQ)
    assert dec.feed(0, frame[:30]) == []  # IP header cut
    assert dec.feed(0, frame[:40]) == []  # IP total length beyond the frame
    assert dec.feed(0, b"\x02" * 12 + b"\x81\x00") == []  # VLAN tag cut
    assert dec.feed(0, b"\x02" * 12 + b"\x08\x06" + bytes(28)) == []  # ARP
    assert dec.stats.truncated == 5 and dec.stats.not_ip == 1
    assert dec.feed_ip(0, b"\x60" + bytes(10)) == []
    assert dec.feed_link(0, 999, b"abc") == []


def _pcap(path: Path, frames: list[bytes]) -> Path:
    with open(path, "wb") as f:
        w = dpkt.pcap.Writer(f)
        for i, frame in enumerate(frames):
            w.writepkt(frame, ts=1.0 + i)
    return path


def _modbus_frames() -> list[bytes]:
    return [
        tcp("10.0.0.1", "10.0.0.2", 1, 502, 1, MODBUS_REQ),
        tcp("10.0.0.2", "10.0.0.1", 502, 1, 1, MODBUS_RSP),
        tcp("10.0.0.1", "10.0.0.2", 1, 502, 1 + len(MODBUS_REQ), MODBUS_REQ),
    ]


def test_truncated_pcap_yields_what_came_before(tmp_path: Path) -> None:
    path = _pcap(tmp_path / "t.pcap", _modbus_frames())
    data = path.read_bytes()
    path.write_bytes(data[:-10])  # the third record cut
    dec = Decoder()
    txs = list(read_file(path, dec))
    assert [t.status for t in txs] == ["ok"]  # the first exchange survives
    assert dec.stats.capture_errors == [f"{path}: packet 3: record cut short (56 of 66 bytes)"]
    assert dec.stats.packets == 2
    huge = bytearray(data)
    struct.pack_into("<I", huge, 24 + 8, 10_000_000)  # first record claims 10 MB
    path.write_bytes(bytes(huge))
    dec = Decoder()
    assert list(read_file(path, dec)) == []
    assert "packet 1: record length 10000000 exceeds" in dec.stats.capture_errors[0]
    path.write_bytes(b"garbage!" * 4)
    dec = Decoder()
    assert list(read_file(path, dec)) == []
    assert "not a pcap or pcapng file" in dec.stats.capture_errors[0]
    dec = Decoder()
    assert list(read_file(tmp_path / "missing.pcap", dec)) == []
    assert "missing.pcap" in dec.stats.capture_errors[0]


def _pcapng(path: Path, frames: list[bytes]) -> bytes:
    with open(path, "wb") as f:
        w = dpkt.pcapng.Writer(f)
        for i, frame in enumerate(frames):
            w.writepkt(frame, ts=1.0 + i)
    return path.read_bytes()


def test_pcapng_reads_and_stops_at_a_bad_block(tmp_path: Path) -> None:
    path = tmp_path / "t.pcapng"
    data = _pcapng(path, _modbus_frames())
    dec = Decoder()
    txs = list(read_file(path, dec))
    assert [t.status for t in txs] == ["ok", "unanswered"]
    assert dec.stats.capture_errors == []
    # find the third enhanced packet block and give it an impossible length
    pos, blocks = 0, []
    while pos < len(data):
        btype, blen = struct.unpack_from("<II", data, pos)
        blocks.append((btype, pos))
        pos += blen
    third = [p for t, p in blocks if t == 6][2]
    bad = bytearray(data)
    struct.pack_into("<I", bad, third + 4, 7)
    path.write_bytes(bytes(bad))
    dec = Decoder()
    txs = list(read_file(path, dec))
    assert [t.status for t in txs] == ["ok"]
    assert dec.stats.capture_errors == [f"{path}: packet 3: block of type 0x6 has bad length 7"]


PORTS = [502, 4840, 102, 44818, 20000]
SEEDS = [
    MODBUS_REQ,
    MODBUS_RSP,
    _s7(1, 1, bytes([0x04, 1, 0x12, 0x0A, 0x10, 2, 0, 4, 0, 1, 0x84, 0, 0, 0x20])),
    _enip(
        0x6F,
        struct.pack("<IHH", 0, 5, 2)
        + struct.pack("<HHHH", 0, 0, 0xB2, 6)
        + bytes([0x0E, 3, 0x20, 1, 0x24, 1]),
    ),
    dnp3_frame(0xC4, 1, 2, bytes([0xC0, 0xC1, 1, 60, 1, 6])),
    b"HELF" + struct.pack("<I", 40) + bytes(32),
]


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    seed=st.sampled_from(SEEDS),
    port=st.sampled_from(PORTS),
    flips=st.lists(st.tuples(st.integers(0, 400), st.integers(0, 255)), max_size=6),
    cut=st.integers(0, 400),
    noise=st.binary(max_size=64),
    to_server=st.booleans(),
    use_udp=st.booleans(),
    raw_frame=st.binary(max_size=120),
)
def test_random_and_mutated_frames_never_raise(
    seed: bytes, port: int, flips: list[tuple[int, int]], cut: int, noise: bytes,
    to_server: bool, use_udp: bool, raw_frame: bytes,
) -> None:  # fmt: skip
    dec = Decoder(max_flows=8, max_held_bytes=1024)
    payload = bytearray(seed + noise)
    for pos, value in flips:
        if payload:
            payload[pos % len(payload)] = value
    payload = payload[: max(cut, 1)]
    a, b = ("10.0.0.1", "10.0.0.2") if to_server else ("10.0.0.2", "10.0.0.1")
    sp, dp = (40000, port) if to_server else (port, 40000)
    make = udp if use_udp else (lambda *a: tcp(*a[:4], 7, a[4]))
    frame = make(a, b, sp, dp, bytes(payload))
    for data in (frame, raw_frame, frame[: len(frame) // 2], frame):
        dec.feed(1.0, data)
        dec.feed_ip(1.0, data[14:])
    dec.flush()
    assert len(dec.flows.flows) == 0
    assert dec.stats.packets == 8
