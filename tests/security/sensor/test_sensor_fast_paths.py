"""The decoder's shortcuts give what its general code gives: the one-unpack IPv4/TCP path
against headers with options, padding, fragments and short packets (and IPv6 beside it);
Modbus and OPC UA framing read with one unpack; the table-driven Modbus coil and register
lists; OPC UA node ids passed over without making their text; requests waiting for an
answer past the limit."""

from __future__ import annotations

import socket
import struct

import dpkt
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tests.security.sensor.test_sensor_frames import MODBUS_REQ, MODBUS_RSP, tcp

from indunet.security.sensor import modbus, opcua
from indunet.security.sensor.base import Endpoints, Pending
from indunet.security.sensor.decode import Decoder
from indunet.security.sensor.records import Transaction
from indunet.security.sensor.uabinary import Reader

C, S = "10.3.0.1", "10.3.0.2"


def _with_ip_options(frame: bytes) -> bytes:
    """The same frame with a 4-byte IPv4 option (NOPs): the general path reads it."""
    ip = bytearray(frame[14:34]) + b"\x01\x01\x01\x01" + frame[34:]
    ip[0] = 0x46
    struct.pack_into(">H", ip, 2, len(ip))
    return frame[:14] + bytes(ip)


def _exchange(dec: Decoder, wrap: object) -> list[Transaction]:
    frames = [
        tcp(C, S, 41000, 502, 1, MODBUS_REQ),
        tcp(S, C, 502, 41000, 1, MODBUS_RSP),
    ]
    out: list[Transaction] = []
    for i, frame in enumerate(frames):
        out += dec.feed(float(i), wrap(frame))  # type: ignore[operator]
    return out


def test_ip_options_and_padding_decode_as_a_plain_header() -> None:
    plain, options, padded = Decoder(), Decoder(), Decoder()
    want = _exchange(plain, lambda f: f)
    assert [t.function_name for t in want] == ["read_holding_registers"]
    assert _exchange(options, _with_ip_options) == want
    assert _exchange(padded, lambda f: f + bytes(6)) == want  # Ethernet trailer after IP
    for dec in (plain, options, padded):
        assert dec.stats.by_protocol == {"modbus": 2} and dec.stats.transactions == 1
        assert not dec.stats.truncated and not dec.stats.malformed


def test_short_fragmented_and_cut_tcp_take_the_general_path() -> None:
    dec = Decoder()
    frame = tcp(C, S, 41000, 502, 1, MODBUS_REQ)
    fragment = bytearray(frame)
    fragment[20] |= 0x20  # more fragments
    assert dec.feed(0.0, bytes(fragment)) == []
    assert dec.stats.fragments == 1
    for port in (502, 80):  # cut short whether or not its port is decoded
        short = bytearray(tcp(C, S, 41000, port, 1, MODBUS_REQ))
        struct.pack_into(">H", short, 16, 30)  # total length 30: no room for a TCP header
        assert dec.feed(0.0, bytes(short)) == []
    assert dec.feed(0.0, frame[:-1]) == []  # total length past the frame's end
    bad_offset = bytearray(frame)
    bad_offset[46] = 0x40  # TCP data offset 16 bytes, shorter than its header
    assert dec.feed(0.0, bytes(bad_offset)) == []
    assert dec.stats.truncated == 4 and dec.stats.packets == 5
    assert dec.stats.other_traffic == 0
    assert dec.stats.by_protocol == {}  # counted only once its header is whole


def _tcp6(src: str, dst: str, sport: int, dport: int, seq: int, data: bytes) -> bytes:
    t = dpkt.tcp.TCP(sport=sport, dport=dport, seq=seq, flags=dpkt.tcp.TH_ACK, data=data)
    ip = dpkt.ip6.IP6(
        src=socket.inet_pton(socket.AF_INET6, src), dst=socket.inet_pton(socket.AF_INET6, dst),
        nxt=6, hlim=64, data=t, plen=len(bytes(t)),
    )  # fmt: skip
    return b"\x02\x00\x00\x00\x00\x0b\x02\x00\x00\x00\x00\x0a\x86\xdd" + bytes(ip)


def test_ipv4_and_ipv6_flows_name_their_ends() -> None:
    dec = Decoder()
    out = dec.feed(0.0, _tcp6("fd00::1", "fd00::2", 41000, 502, 1, MODBUS_REQ))
    out += dec.feed(0.1, _tcp6("fd00::2", "fd00::1", 502, 41000, 1, MODBUS_RSP))
    out += _exchange(dec, lambda f: f)
    assert [(t.src_ip, t.src_port, t.dst_ip, t.dst_port, t.status) for t in out] == [
        ("fd00::1", 41000, "fd00::2", 502, "ok"),
        ("10.3.0.1", 41000, "10.3.0.2", 502, "ok"),
    ]
    assert len(dec.flows.flows) == 2 and dec.stats.by_protocol == {"modbus": 4}


def _modbus_framing(buf: bytes, off: int) -> int:
    """Modbus framing as it was read byte by byte."""
    if len(buf) - off < 6:
        return 0
    if buf[off + 2] or buf[off + 3]:
        return -1
    length = (buf[off + 4] << 8) | buf[off + 5]
    return -1 if length < 2 or length > 254 else 6 + length


def _opcua_framing(buf: bytes, off: int) -> int:
    """OPC UA framing as it was read: type, chunk letter, then the size."""
    if len(buf) - off < 8:
        return 0
    if bytes(buf[off : off + 3]) not in opcua.MESSAGE_TYPES or buf[off + 3] not in b"FCA":
        return -1
    size: int = struct.unpack_from("<I", buf, off + 4)[0]
    return size if 8 <= size <= opcua.MAX_MESSAGE else -1


@settings(max_examples=400)
@given(
    head=st.sampled_from([b"MSGF", b"OPNF", b"HELC", b"CLOA", b"MSGX", b"MSG", b"msgF", b""]),
    mbap=st.tuples(st.integers(0, 2), st.integers(0, 300)),
    rest=st.binary(max_size=12),
    off=st.integers(0, 3),
)
def test_framing_matches_reading_byte_by_byte(
    head: bytes, mbap: tuple[int, int], rest: bytes, off: int
) -> None:
    ua = bytes(off) + head + rest
    mb = bytes(off) + struct.pack(">HHH", 7, *mbap) + rest
    for buf in (ua, mb, bytearray(ua), bytearray(mb)):
        assert opcua.pdu_length(buf, off) == _opcua_framing(bytes(buf), off)
        assert modbus.pdu_length(buf, off) == _modbus_framing(bytes(buf), off)


def _bits_reference(raw: bytes, count: int) -> list[bool]:
    count = min(count, len(raw) * 8, 128)
    return [bool(raw[i >> 3] >> (i & 7) & 1) for i in range(count)]


@given(raw=st.binary(max_size=40), count=st.integers(0, 400))
def test_coils_and_registers_match_a_bit_by_bit_reading(raw: bytes, count: int) -> None:
    assert modbus._bits(raw, count) == _bits_reference(raw, count)
    regs = [(raw[2 * i] << 8) | raw[2 * i + 1] for i in range(min(len(raw) // 2, 128))]
    assert modbus._regs(raw) == regs


def test_value_lists_stop_at_128() -> None:
    raw = bytes(range(256))
    assert modbus._regs(raw + raw) == [(b << 8) | (b + 1) for b in range(0, 256, 2)]
    assert modbus._bits(b"\xff" * 40, 1000) == [True] * 128


def _outcome(data: bytes, skip: bool) -> tuple[str, int]:
    r = Reader(data, 0)
    try:
        if skip:
            r.skip_nodeid()
        else:
            r.nodeid()
    except Exception as exc:  # the same error, type and text, either way
        return f"{type(exc).__name__}: {exc}", -1
    return "", r.pos


@settings(max_examples=400)
@given(
    kind=st.sampled_from([0, 1, 2, 3, 4, 5, 0x40, 0x80, 0xC1, 7]),
    rest=st.binary(max_size=24),
)
def test_a_node_id_passed_over_ends_where_reading_it_ends(kind: int, rest: bytes) -> None:
    data = bytes([kind]) + rest
    assert _outcome(data, skip=True) == _outcome(data, skip=False)


@pytest.mark.parametrize("data", [b"\x00\x55\xaa\xaa", b"\x01\x02\x34\x12", b"\x01\x00\x34\x12"])
def test_the_usual_node_ids_are_passed_over_in_their_length(data: bytes) -> None:
    r = Reader(data + b"tail", 0)
    r.skip_nodeid()
    assert r.pos == (2 if data[0] == 0 else 4)


def test_a_repeated_key_or_a_full_table_gives_up_the_old_request() -> None:
    ends = Endpoints(C, 41000, S, 502)
    pending = Pending(limit=2)
    a, b, c, d = (ends.tx(float(i), "modbus", 3, "read_holding_registers") for i in range(4))
    assert pending.put(1, a) == [] and pending.put(2, b) == []
    assert pending.put(1, c) == [a] and a.status == "unanswered"  # same key again
    assert pending.put(3, d) == [b] and b.status == "unanswered"  # past the limit
    assert pending.take(1) is c and pending.take(3) is d and pending.items == {}
