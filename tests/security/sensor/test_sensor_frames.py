"""Frames built by hand from the specs: DNP3 (real CRCs), S7 SZL answers shaped as real CPUs
send them, EtherNet/IP over UDP, an encrypted OPC UA channel, VLAN tags, raw IP, SLL,
mid-stream captures and gaps."""

from __future__ import annotations

import socket
import struct

import dpkt

from indunet.security.sensor import dnp3
from indunet.security.sensor.decode import Decoder

A, B = "10.2.0.1", "10.2.0.2"


def tcp(src: str, dst: str, sport: int, dport: int, seq: int, data: bytes = b"",
        flags: int = dpkt.tcp.TH_ACK, vlan: bool = False) -> bytes:  # fmt: skip
    t = dpkt.tcp.TCP(sport=sport, dport=dport, seq=seq, flags=flags, data=data)
    ip = dpkt.ip.IP(src=socket.inet_aton(src), dst=socket.inet_aton(dst), p=6, data=t)
    ip.len = len(ip)
    raw = bytes(ip)
    head = b"\x02\x00\x00\x00\x00\x0b\x02\x00\x00\x00\x00\x0a"
    if vlan:
        return head + b"\x81\x00\x00\x64\x08\x00" + raw
    return head + b"\x08\x00" + raw


def udp(src: str, dst: str, sport: int, dport: int, data: bytes) -> bytes:
    u = dpkt.udp.UDP(sport=sport, dport=dport, data=data)
    u.ulen = len(u)
    ip = dpkt.ip.IP(src=socket.inet_aton(src), dst=socket.inet_aton(dst), p=17, data=u)
    ip.len = len(ip)
    return b"\x02\x00\x00\x00\x00\x0b\x02\x00\x00\x00\x00\x0a\x08\x00" + bytes(ip)


class Conn:
    """Both directions of one TCP connection, sequence numbers kept."""

    def __init__(self, dec: Decoder, port: int, syn: bool = True) -> None:
        self.dec, self.port = dec, port
        self.seq = {True: 1000, False: 9000}
        self.out: list = []
        if syn:
            self.out += dec.feed(0.0, tcp(A, B, 50000, port, 999, flags=dpkt.tcp.TH_SYN))
            self.out += dec.feed(
                0.0, tcp(B, A, port, 50000, 8999, flags=dpkt.tcp.TH_SYN | dpkt.tcp.TH_ACK)
            )

    def send(self, up: bool, data: bytes, ts: float = 1.0) -> list:
        s = self.seq[up]
        self.seq[up] += len(data)
        frame = tcp(A, B, 50000, self.port, s, data) if up else tcp(B, A, self.port, 50000, s, data)
        got = self.dec.feed(ts, frame)
        self.out += got
        return got


def dnp3_frame(ctrl: int, dst: int, src: int, user: bytes) -> bytes:
    head = b"\x05\x64" + bytes([5 + len(user), ctrl]) + struct.pack("<HH", dst, src)
    out = head + struct.pack("<H", dnp3.crc(head))
    for i in range(0, len(user), 16):
        block = user[i : i + 16]
        out += block + struct.pack("<H", dnp3.crc(block))
    return out


def test_dnp3_crc_matches_the_standard_example() -> None:
    # the link-layer "reset link states" example frame: 05 64 05 C0 01 00 00 04 E9 21
    assert dnp3.crc(bytes.fromhex("056405C001000004")) == 0x21E9


def test_dnp3_over_tcp_controls_responses_and_bad_crc() -> None:
    dec = Decoder()
    c = Conn(dec, 20000)
    # direct operate (5), CROB g12v1, qualifier 0x28, one object at index 3
    app = bytes([0xC1, 5, 12, 1, 0x28, 1, 0, 3, 0]) + bytes(11)
    c.send(True, dnp3_frame(0xC4, 10, 1, bytes([0xC0]) + app))
    c.send(False, dnp3_frame(0x44, 1, 10, bytes([0xC0, 0xC1, 129, 0x00, 0x00])))
    # read class 0 (g60v1, qualifier 6), split in two transport segments
    read = bytes([0xC2, 1, 60, 1, 0x06])
    c.send(True, dnp3_frame(0xC4, 10, 1, bytes([0x41]) + read[:3]))
    c.send(True, dnp3_frame(0xC4, 10, 1, bytes([0x82]) + read[3:]))
    # response with IIN: device restart + object unknown
    c.send(False, dnp3_frame(0x44, 1, 10, bytes([0xC0, 0xC2, 129, 0x80, 0x02])))
    # cold restart, unanswered
    c.send(True, dnp3_frame(0xC4, 10, 1, bytes([0xC0, 0xC3, 13])))
    # unsolicited response from the outstation
    c.send(False, dnp3_frame(0x44, 1, 10, bytes([0xC0, 0xF4, 130, 0x02, 0x00])))
    bad = bytearray(dnp3_frame(0xC4, 10, 1, bytes([0xC0, 0xC4, 1, 60, 2, 6])))
    bad[12] ^= 0xFF  # corrupt a user data byte: its block CRC no longer matches
    c.send(True, bytes(bad))
    out = c.out + dec.flush()
    names = [(t.function_name, t.write, t.status) for t in out]
    assert names == [
        ("direct_operate", True, "ok"),
        ("read", False, "exception"),
        ("unsolicited_response", False, "ok"),
        ("cold_restart", True, "unanswered"),
    ]
    op, read_tx, unsol, _ = out
    assert op.unit == 10 and op.details["source"] == 1
    assert op.details["object"] == {"group": 12, "variation": 1, "qualifier": 0x28}
    assert read_tx.details["object"]["group"] == 60
    assert read_tx.details["iin"] == ["device_restart", "object_unknown"]
    assert read_tx.error == "object_unknown"
    assert unsol.src_ip == B and unsol.details["iin"] == ["class1_events"]
    assert dec.stats.malformed["dnp3"].count == 1
    assert "CRC" in dec.stats.malformed["dnp3"].last_reason
    assert dec.stats.malformed["dnp3"].last_packet == dec.stats.packets


def test_dnp3_over_udp() -> None:
    dec = Decoder()
    req = dnp3_frame(0xC4, 4, 3, bytes([0xC0, 0xC5, 14]))  # warm restart
    rsp = dnp3_frame(0x44, 3, 4, bytes([0xC0, 0xC5, 129, 0, 0]))
    out = dec.feed(1.0, udp(A, B, 20001, 20000, req)) + dec.feed(1.1, udp(B, A, 20000, 20001, rsp))
    assert [(t.function_name, t.write, t.status, t.unit) for t in out] == [
        ("warm_restart", True, "ok", 4)
    ]


def _s7(rosctr: int, ref: int, params: bytes, data: bytes = b"", err: bytes = b"") -> bytes:
    s7 = struct.pack(">BBHHHH", 0x32, rosctr, 0, ref, len(params), len(data)) + err
    payload = b"\x02\xf0\x80" + s7 + params + data
    return struct.pack(">BBH", 3, 0, 4 + len(payload)) + payload


def test_s7_szl_component_identification_pi_services_and_s7plus() -> None:
    dec = Decoder()
    c = Conn(dec, 102)
    req_params = bytes([0x00, 0x01, 0x12, 0x04, 0x11, 0x44, 0x01, 0x00])
    req_data = bytes([0xFF, 0x09, 0x00, 0x04, 0x00, 0x1C, 0x00, 0x00])
    c.send(True, _s7(7, 1, req_params, req_data))
    records = b"".join(
        struct.pack(">H", idx) + name.ljust(32, b"\x00")
        for idx, name in ((1, b"PLC_1"), (2, b"CPU 1516-3 PN/DP"), (5, b"S V-L9AB12345"))
    )
    rsp_params = bytes([0x00, 0x01, 0x12, 0x08, 0x12, 0x84, 0x01, 0x01, 0x00, 0x00, 0x00, 0x00])
    body = struct.pack(">HHHH", 0x001C, 0, 34, 3) + records
    rsp_data = bytes([0xFF, 0x09]) + struct.pack(">H", len(body)) + body
    c.send(False, _s7(7, 1, rsp_params, rsp_data))
    # PI service _INSE (activate a downloaded block), then an S7comm-plus PDU
    name = b"_INSE"
    pi = (
        bytes([0x28, 0, 0, 0, 0, 0, 0, 0xFD])
        + struct.pack(">H", 4)
        + b"0800"
        + bytes([len(name)])
        + name
    )
    c.send(True, _s7(1, 2, pi))
    c.send(False, _s7(3, 2, bytes([0x28]), err=b"\x00\x00"))
    plus = b"\x02\xf0\x80\x72\x01\x00\x10" + bytes(16)
    c.send(True, struct.pack(">BBH", 3, 0, 4 + len(plus)) + plus)
    szl, inse = c.out
    assert szl.function_name == "read_szl" and szl.details["szl_name"] == "component_identification"
    assert szl.details["component_identification"] == {
        "plc_name": "PLC_1", "module_name": "CPU 1516-3 PN/DP", "serial_number": "S V-L9AB12345",
    }  # fmt: skip
    assert inse.function_name == "pi_service" and inse.write
    assert inse.details["pi_service"] == "_INSE"
    assert dec.stats.counts["s7comm.s7comm_plus"] == 1
    assert dec.stats.malformed == {}


def _enip(command: int, body: bytes, context: bytes = b"ctx00001") -> bytes:
    return struct.pack("<HHII", command, len(body), 0, 0) + context + b"\x00" * 4 + body


def test_enip_udp_list_identity_and_cip_errors() -> None:
    dec = Decoder()
    ident = (
        struct.pack("<H", 1)
        + struct.pack(">hH4s8x", 2, 44818, socket.inet_aton(B))
        + struct.pack("<HHHBBHI", 1, 14, 54, 20, 11, 0x30, 0xC0FFEE)
        + bytes([9])
        + b"1769-L33E"
        + b"\x03"
    )
    item = struct.pack("<HH", 0x0C, len(ident)) + ident
    out = dec.feed(1.0, udp(A, "255.255.255.255", 50001, 44818, _enip(0x63, b"")))
    out += dec.feed(1.1, udp(B, A, 44818, 50001, _enip(0x63, struct.pack("<H", 1) + item)))
    out += dec.flush()
    answered = [t for t in out if t.status == "ok"]
    assert answered[0].details["identity"] == {
        "vendor_id": 1, "device_type": 14, "product_code": 54, "revision": "20.11",
        "status": 0x30, "serial_number": "0x00c0ffee", "product_name": "1769-L33E",
        "address": B,
    }  # fmt: skip
    # SendRRData: Stop (0x07) the identity object, answered "privilege violation"
    c = Conn(dec, 44818)
    cip = bytes([0x07, 2, 0x20, 0x01, 0x24, 0x01])
    cpf = struct.pack("<IHH", 0, 5, 2) + struct.pack("<HH", 0, 0)
    c.send(True, _enip(0x6F, cpf + struct.pack("<HH", 0xB2, len(cip)) + cip))
    rsp = bytes([0x87, 0, 0x0F, 0])
    c.send(False, _enip(0x6F, cpf + struct.pack("<HH", 0xB2, len(rsp)) + rsp))
    (stop,) = c.out
    assert (stop.function_name, stop.write, stop.status, stop.error) == (
        "stop", True, "exception", "privilege_violation",
    )  # fmt: skip
    assert stop.details["class_name"] == "identity"


def test_opcua_encrypted_channel_is_counted_not_decoded() -> None:
    dec = Decoder()
    c = Conn(dec, 4840)
    policy = b"http://opcfoundation.org/UA/SecurityPolicy#Basic256Sha256"
    opn = struct.pack("<I", 0) + struct.pack("<i", len(policy)) + policy
    opn += struct.pack("<i", 4) + b"cert" + struct.pack("<i", -1) + bytes(40)
    c.send(True, b"OPNF" + struct.pack("<I", 8 + len(opn)) + opn)
    c.send(False, b"OPNF" + struct.pack("<I", 8 + len(opn)) + opn)
    for _ in range(3):
        c.send(True, b"MSGF" + struct.pack("<I", 40) + bytes(32))
    (tx,) = c.out
    assert tx.function_name == "OpenSecureChannelRequest"
    assert tx.details["security_policy"] == policy.decode()
    assert dec.stats.counts["opcua.encrypted_messages"] == 3
    assert dec.stats.counts["opcua.secured_channels"] == 1


MODBUS_REQ = bytes.fromhex("000700000006110300640002")
MODBUS_RSP = bytes.fromhex("000700000007110304000a000b")


def test_vlan_raw_ip_and_sll_link_types() -> None:
    dec = Decoder()
    f1 = tcp(A, B, 50000, 502, 1, MODBUS_REQ, vlan=True)
    f2 = tcp(B, A, 502, 50000, 1, MODBUS_RSP, vlan=True)
    out = dec.feed(1.0, f1) + dec.feed(1.1, f2)
    assert [(t.function_name, t.values, t.unit) for t in out] == [
        ("read_holding_registers", [10, 11], 17)
    ]
    dec = Decoder()
    ip1, ip2 = f1[18:], f2[18:]
    assert dec.feed_link(1.0, 101, ip1) == []
    assert len(dec.feed_link(1.1, 101, ip2)) == 1
    dec = Decoder()
    sll = b"\x00\x00\x00\x01\x00\x06" + bytes(8) + b"\x08\x00"
    assert dec.feed_link(1.0, 113, sll + ip1) == []
    assert len(dec.feed_link(1.1, 113, sll + ip2)) == 1
    assert dec.stats.packets == 2


def test_midstream_capture_and_gap_resynchronise() -> None:
    dec = Decoder()
    c = Conn(dec, 502, syn=False)
    c.send(True, MODBUS_REQ[5:])  # the tail of a PDU whose start was not captured
    c.send(True, MODBUS_REQ)
    c.send(False, MODBUS_RSP)
    assert [t.function_name for t in c.out] == ["read_holding_registers"]
    assert dec.stats.resyncs >= 1
    # a hole that never fills: held bytes beyond the bound become a gap
    dec = Decoder(max_held_bytes=64)
    c = Conn(dec, 502)
    c.seq[True] += 3  # three bytes lost
    for _ in range(8):
        c.send(True, MODBUS_REQ)
    c.send(False, MODBUS_RSP)
    assert dec.stats.gaps == 1 and dec.stats.held_overflow == 1
    assert any(t.status == "ok" for t in c.out)


def test_flow_table_is_bounded_and_evicts_least_recent() -> None:
    dec = Decoder(max_flows=4)
    for port in range(40000, 40010):
        dec.feed(1.0, tcp(A, B, port, 502, 1, MODBUS_REQ))
    assert len(dec.flows.flows) == 4
    assert dec.stats.evicted_flows == 6
    out = dec.flush()
    assert len(out) == 4 and all(t.status == "unanswered" for t in out)
    assert dec.stats.transactions == 10  # the evicted flows' requests came out too
