"""The decoder: frames in, industrial-protocol transactions out.

``Decoder.feed`` takes an Ethernet frame (VLAN/QinQ tags skipped), ``feed_ip`` a bare IPv4 or
IPv6 packet. The protocol is chosen by the server's well-known port (TCP 502 Modbus, 4840 OPC
UA, 102 S7comm, 44818 EtherNet/IP, 20000 DNP3; UDP 44818 and 20000). Nothing that arrives
makes it raise: a frame or PDU it cannot read is counted in ``stats.malformed`` with the
packet number and the reason, and decoding goes on. ``read_file`` runs a pcap/pcapng file
through a decoder."""

from __future__ import annotations

import socket
import struct
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import dnp3, enip, modbus, opcua, s7comm
from .base import Endpoints, ProtocolSpec
from .flows import Address, Flow, FlowCounters, FlowKey, FlowTable
from .pcapio import ETHERNET, NULL, RAW_TYPES, SLL, SLL2, CaptureError, read_packets
from .records import Transaction

SPECS: tuple[ProtocolSpec, ...] = (modbus.SPEC, opcua.SPEC, s7comm.SPEC, enip.SPEC, dnp3.SPEC)
TCP_PORTS = {port: spec for spec in SPECS for port in spec.tcp_ports}
UDP_PORTS = {port: spec for spec in SPECS for port in spec.udp_ports}

VLAN_TYPES = frozenset({0x8100, 0x88A8, 0x9100})
_IPV4 = struct.Struct(">BxH2xHxB2xII").unpack_from
_TCP = struct.Struct(">HHI4xH").unpack_from
#: An IPv4 header without options and the TCP header after it: total length, fragment
#: field, protocol, addresses, ports, sequence number, data offset and flags.
_IPV4_TCP = struct.Struct(">2xH2xHxB2xIIHHI4xH").unpack_from


@dataclass(slots=True)
class MalformedCount:
    count: int = 0
    last_reason: str = ""
    last_packet: int = 0


@dataclass(slots=True)
class SensorStats:
    """What the decoder has seen. ``counts`` holds protocol-specific counters
    (``opcua.encrypted_messages``, ``s7comm.s7comm_plus``…)."""

    packets: int = 0
    bytes: int = 0
    by_protocol: dict[str, int] = field(default_factory=dict)
    transactions: int = 0
    malformed: dict[str, MalformedCount] = field(default_factory=dict)
    truncated: int = 0
    not_ip: int = 0
    fragments: int = 0
    other_traffic: int = 0
    evicted_flows: int = 0
    gaps: int = 0
    retransmissions: int = 0
    held_overflow: int = 0
    oversize_pdus: int = 0
    resyncs: int = 0
    capture_errors: list[str] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for name in self.__slots__:
            value = getattr(self, name)
            if name == "malformed":
                value = {
                    k: {
                        "count": v.count,
                        "last_reason": v.last_reason,
                        "last_packet": v.last_packet,
                    }
                    for k, v in value.items()
                }
            elif isinstance(value, dict | list):
                value = type(value)(value)
            out[name] = value
        return out


class Decoder:
    """Decodes one capture (a file or a live interface); not thread-safe."""

    def __init__(
        self,
        observer: str = "sensor",
        *,
        max_flows: int = 10_000,
        max_held_bytes: int = 256 * 1024,
    ) -> None:
        self.observer = observer
        self._stats = SensorStats()
        self.flows = FlowTable(max_flows)
        self._flow_map = self.flows.flows  # looked up once per packet
        self.max_held = max_held_bytes
        self._counters = FlowCounters()
        self._pending_out: list[Transaction] = []  # where evicted flows' requests go
        self.tcp_ports = dict(TCP_PORTS)  # server port -> protocol; ``serve`` adds more
        self.udp_ports = dict(UDP_PORTS)

    def serve(self, port: int, protocol: str, *, udp: bool = False) -> None:
        """Decode ``protocol`` on server ``port`` too (a device on a non-standard port: a
        Modbus gateway on 5020, the virtual factory's free ports); ``InvalidInput`` for an
        unknown protocol or a port out of range."""
        from indunet.core import InvalidInput

        spec = next((s for s in SPECS if s.name == protocol), None)
        if spec is None or not 1 <= port <= 65535:
            raise InvalidInput(
                f"cannot decode {protocol!r} on port {port}: protocols are "
                f"{', '.join(s.name for s in SPECS)}, ports 1 to 65535",
                reason="sensor_port",
                params={"protocol": protocol[:32], "port": str(port)},
            )
        (self.udp_ports if udp else self.tcp_ports)[port] = spec

    @property
    def stats(self) -> SensorStats:
        """The counters so far (reassembly's counters copied in)."""
        st, c = self._stats, self._counters
        st.gaps, st.retransmissions, st.resyncs = c.gaps, c.retransmissions, c.resyncs
        st.oversize_pdus, st.held_overflow = c.oversize_pdus, c.held_overflow
        st.evicted_flows = self.flows.evicted
        return st

    # -- input ------------------------------------------------------------------------

    def feed(self, ts: float, frame: bytes) -> list[Transaction]:
        """One Ethernet frame."""
        st = self._stats
        st.packets += 1
        n = len(frame)
        st.bytes += n
        if n < 14:
            st.truncated += 1
            return []
        etype = (frame[12] << 8) | frame[13]
        off = 14
        if etype != 0x0800:  # VLAN tags, IPv6, or not IP at all
            while etype in VLAN_TYPES:
                if n < off + 4:
                    st.truncated += 1
                    return []
                etype = (frame[off + 2] << 8) | frame[off + 3]
                off += 4
            if etype != 0x0800 and etype != 0x86DD:
                st.not_ip += 1
                return []
        if n >= off + 40 and frame[off] == 0x45:
            # the common case, IPv4 without options: its header and TCP's in one unpack; a
            # packet that is not whole, unfragmented TCP takes the general path below
            tot, frag, proto, src, dst, sport, dport, seq, offflags = _IPV4_TCP(frame, off)
            end = off + tot
            if proto == 6 and tot >= 40 and end <= n and not frag & 0x3FFF:
                return self._tcp_packet(
                    ts, frame, frame, src, dst, off + 20, end, sport, dport, seq, offflags
                )
        return self._ip(ts, frame, off, frame)

    def feed_ip(self, ts: float, packet: bytes) -> list[Transaction]:
        """One IPv4 or IPv6 packet without a link-layer header."""
        st = self._stats
        st.packets += 1
        st.bytes += len(packet)
        return self._ip(ts, packet, 0, None)

    def feed_link(self, ts: float, linktype: int, data: bytes) -> list[Transaction]:
        """One record of a capture with the given pcap link type."""
        if linktype == ETHERNET:
            return self.feed(ts, data)
        if linktype in RAW_TYPES:
            return self.feed_ip(ts, data)
        if linktype == SLL and len(data) >= 16 and data[14:16] in (b"\x08\x00", b"\x86\xdd"):
            return self.feed_ip(ts, data[16:])
        if linktype == SLL2 and len(data) >= 20 and data[0:2] in (b"\x08\x00", b"\x86\xdd"):
            return self.feed_ip(ts, data[20:])
        if linktype == NULL and len(data) >= 4:
            return self.feed_ip(ts, data[4:])
        self._stats.packets += 1
        self._stats.bytes += len(data)
        self._stats.not_ip += 1
        return []

    def flush(self) -> list[Transaction]:
        """End of capture: every request still waiting, as unanswered."""
        out = self.flows.flush()
        self._stats.transactions += len(out)
        return out

    # -- layers -----------------------------------------------------------------------

    def _ip(self, ts: float, pkt: bytes, off: int, frame: bytes | None) -> list[Transaction]:
        st = self._stats
        n = len(pkt)
        if n < off + 20:
            st.truncated += 1
            return []
        version = pkt[off] >> 4
        if version == 4:
            vihl, tot, frag, proto, src, dst = _IPV4(pkt, off)
            ihl = (vihl & 15) * 4
            end = off + tot
            if ihl < 20 or end > n or end < off + ihl:
                st.truncated += 1
                return []
            if frag & 0x3FFF:
                st.fragments += 1
                return []
            t = off + ihl
        elif version == 6:
            if n < off + 40:
                st.truncated += 1
                return []
            end = off + 40 + ((pkt[off + 4] << 8) | pkt[off + 5])
            if end > n:
                st.truncated += 1
                return []
            proto = pkt[off + 6]
            src = pkt[off + 8 : off + 24]
            dst = pkt[off + 24 : off + 40]
            t = off + 40
        else:
            st.not_ip += 1
            return []
        if proto == 6:
            if end < t + 20:
                st.truncated += 1
                return []
            sport, dport, seq, offflags = _TCP(pkt, t)
            return self._tcp_packet(ts, pkt, frame, src, dst, t, end, sport, dport, seq, offflags)
        if proto == 17:
            if end < t + 8:
                st.truncated += 1
                return []
            sport = (pkt[t] << 8) | pkt[t + 1]
            dport = (pkt[t + 2] << 8) | pkt[t + 3]
            spec = self.udp_ports.get(dport)
            to_server = True
            if spec is None:
                spec = self.udp_ports.get(sport)
                if spec is None:
                    st.other_traffic += 1
                    return []
                to_server = False
            name = spec.name
            st.by_protocol[name] = st.by_protocol.get(name, 0) + 1
            try:
                return self._udp(ts, pkt, frame, spec, to_server, src, dst, sport, dport, t, end)
            except Exception as exc:
                self._malformed(name, f"{type(exc).__name__}: {exc}")
                return []
        st.other_traffic += 1
        return []

    def _tcp_packet(
        self,
        ts: float,
        pkt: bytes,
        frame: bytes | None,
        src: Address,
        dst: Address,
        t: int,
        end: int,
        sport: int,
        dport: int,
        seq: int,
        offflags: int,
    ) -> list[Transaction]:
        """A TCP segment (its header at ``t``, the IP packet's end at ``end``)."""
        ports = self.tcp_ports
        spec = ports.get(dport)
        to_server = True
        if spec is None:
            spec = ports.get(sport)
            if spec is None:
                self._stats.other_traffic += 1
                return []
            to_server = False
        start = t + ((offflags >> 12) << 2)
        if start < t + 20 or start > end:
            self._stats.truncated += 1
            return []
        name = spec.name
        by_protocol = self._stats.by_protocol
        by_protocol[name] = by_protocol.get(name, 0) + 1
        if not offflags & 0x07:  # no SYN/FIN/RST: data or an acknowledgement
            if start == end:
                return []
            key: FlowKey = (6, src, dst, sport, dport) if to_server else (6, dst, src, dport, sport)
            flows = self._flow_map
            known = flows.get(key)
            if known is not None:  # the common case: data on a known flow
                flows.move_to_end(key)
                counters = self._counters
                try:
                    got = known.segment(ts, to_server, seq, pkt[start:end], counters, self.max_held)
                except Exception as exc:  # never let one packet stop the sensor
                    self._malformed(name, f"{type(exc).__name__}: {exc}")
                    return []
                if counters.framing_errors:
                    return self._done(got, name)
                self._stats.transactions += len(got)
                return got
        try:
            return self._tcp(
                ts, frame, spec, to_server, src, dst, sport, dport, seq, offflags & 0xFF,
                pkt[start:end],
            )  # fmt: skip
        except Exception as exc:  # never let one packet stop the sensor
            self._malformed(name, f"{type(exc).__name__}: {exc}")
            return []

    def _flow(
        self,
        key: FlowKey,
        spec: ProtocolSpec,
        frame: bytes | None,
        to_server: bool,
        create: bool,
    ) -> Flow | None:
        flow = self.flows.get(key)
        if flow is not None or not create:
            return flow
        _, caddr, saddr, cport, sport = key
        ends = Endpoints(_text(caddr), cport, _text(saddr), sport)
        if frame is not None:
            smac, dmac = frame[6:12].hex(":"), frame[0:6].hex(":")
            ends.client_mac, ends.server_mac = (smac, dmac) if to_server else (dmac, smac)
        flow = Flow(spec, ends, self._stats.counts)
        evicted = self.flows.add(key, flow)
        if evicted:
            self._stats.evicted_flows = self.flows.evicted
            self._pending_out.extend(evicted)
        return flow

    def _tcp(
        self,
        ts: float,
        frame: bytes | None,
        spec: ProtocolSpec,
        to_server: bool,
        src: Address,
        dst: Address,
        sport: int,
        dport: int,
        seq: int,
        flags: int,
        payload: bytes,
    ) -> list[Transaction]:
        if not payload and not flags & 0x07:
            return []  # a bare acknowledgement
        key: FlowKey = (6, src, dst, sport, dport) if to_server else (6, dst, src, dport, sport)
        self._pending_out = out = []
        if flags & 0x04:  # RST: the flow is over
            out += self.flows.close(key)
            return self._done(out, spec.name)
        flow = self._flow(key, spec, frame, to_server, bool(payload) or bool(flags & 0x02))
        if flow is None:
            return []
        if flags & 0x02:
            flow.streams[0 if to_server else 1].syn(seq)
            seq = (seq + 1) & 0xFFFFFFFF
        if payload:
            out += flow.segment(ts, to_server, seq, payload, self._counters, self.max_held)
        if flags & 0x01:
            flow.fin |= 1 if to_server else 2
            if flow.fin == 3:
                out += self.flows.close(key)
        return self._done(out, spec.name)

    def _udp(
        self,
        ts: float,
        pkt: bytes,
        frame: bytes | None,
        spec: ProtocolSpec,
        to_server: bool,
        src: Address,
        dst: Address,
        sport: int,
        dport: int,
        t: int,
        end: int,
    ) -> list[Transaction]:
        key: FlowKey = (17, src, dst, sport, dport) if to_server else (17, dst, src, dport, sport)
        self._pending_out = out = []
        flow = self._flow(key, spec, frame, to_server, True)
        assert flow is not None
        out += flow.datagram(ts, to_server, pkt[t + 8 : end], self._counters)
        return self._done(out, spec.name)

    def _done(self, out: list[Transaction], name: str) -> list[Transaction]:
        errors = self._counters.framing_errors
        if errors:
            for reason in errors:
                self._malformed(name, reason)
            errors.clear()
        self._stats.transactions += len(out)
        return out

    def _malformed(self, protocol: str, reason: str) -> None:
        entry = self._stats.malformed.get(protocol)
        if entry is None:
            entry = self._stats.malformed[protocol] = MalformedCount()
        entry.count += 1
        entry.last_reason = reason[:300]
        entry.last_packet = self._stats.packets


def _text(address: Address) -> str:
    """A flow key's address as transactions carry it (``10.1.0.5``, ``fd00::1``)."""
    if isinstance(address, int):
        return socket.inet_ntop(socket.AF_INET, address.to_bytes(4, "big"))
    return socket.inet_ntop(socket.AF_INET6, address)


def read_file(path: str | Path, decoder: Decoder | None = None) -> Iterator[Transaction]:
    """Every transaction in a pcap/pcapng file, the unanswered ones last. Pass a ``decoder``
    to read its ``stats`` afterwards; a file that cannot be read to its end stops at the bad
    record (``stats.capture_errors`` names the file and packet) without raising."""
    dec = decoder if decoder is not None else Decoder()
    feed_link, feed = dec.feed_link, dec.feed
    try:
        for ts, linktype, data in read_packets(path):
            out = feed(ts, data) if linktype == ETHERNET else feed_link(ts, linktype, data)
            if out:
                yield from out
    except CaptureError as exc:
        dec.stats.capture_errors.append(str(exc))
        dec.stats.truncated += 1
    except OSError as exc:
        dec.stats.capture_errors.append(f"{path}: {exc.strerror or exc}")
    yield from dec.flush()
