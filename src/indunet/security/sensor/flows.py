"""TCP reassembly: each direction of a flow turns segments into whole PDUs.

In order by sequence number; a segment ahead of the next expected byte is held (at most
``max_held`` bytes per direction) until the hole fills; bytes already seen (retransmissions,
overlaps) are dropped. A hole that does not fill (held bytes past the bound, or a capture
that started mid-stream) is a gap: the stream skips to the held bytes and looks for the next
PDU header the protocol's framing recognises. PDUs larger than the protocol's ``max_pdu`` are
skipped without being buffered. The flow table is bounded: past ``max_flows`` the least
recently used flow is evicted (its unanswered requests flushed)."""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass, field

from .base import Counts, Endpoints, Malformed, ProtocolSpec, Session
from .records import Transaction

#: An IP address in a flow key: IPv4 as its 32-bit number (cheaper to hash than bytes, and
#: it comes out of the header unpack as one), IPv6 as its 16 bytes.
Address = int | bytes
#: (IP protocol, client address, server address, client port, server port)
FlowKey = tuple[int, Address, Address, int, int]

MOD = 1 << 32
HALF = 1 << 31


@dataclass(slots=True)
class FlowCounters:
    """What reassembly saw; the decoder adds these to its stats."""

    gaps: int = 0
    retransmissions: int = 0
    held_overflow: int = 0
    oversize_pdus: int = 0
    resyncs: int = 0
    framing_errors: list[str] = field(default_factory=list)


class Stream:
    """One direction of a TCP flow."""

    __slots__ = ("buf", "held", "held_bytes", "next_seq", "resync", "skip")

    def __init__(self) -> None:
        self.next_seq: int | None = None
        self.buf = bytearray()
        self.held: dict[int, bytes] = {}
        self.held_bytes = 0
        self.resync = False
        self.skip = 0

    def syn(self, seq: int) -> None:
        self.next_seq = (seq + 1) % MOD
        self.buf.clear()
        self.held.clear()
        self.held_bytes = 0
        self.resync = False
        self.skip = 0


class Flow:
    """A TCP flow between a client and a server port the sensor decodes."""

    __slots__ = ("ends", "fin", "max_pdu", "pdu", "pdu_length", "session", "spec", "streams")

    def __init__(self, spec: ProtocolSpec, ends: Endpoints, counts: Counts) -> None:
        self.spec = spec
        self.ends = ends
        self.session: Session = spec.session(ends, counts)
        self.streams = (Stream(), Stream())  # 0: client to server, 1: server to client
        self.fin = 0
        # looked up once, used for every segment
        self.pdu = self.session.pdu
        self.pdu_length = spec.pdu_length
        self.max_pdu = spec.max_pdu

    def segment(
        self,
        ts: float,
        to_server: bool,
        seq: int,
        data: bytes,
        counters: FlowCounters,
        max_held: int,
    ) -> list[Transaction]:
        """Take one segment's payload; return the transactions its whole PDUs complete."""
        st = self.streams[0 if to_server else 1]
        if st.next_seq == seq and not st.buf and not st.held and not st.skip and not st.resync:
            # in order, nothing pending: frame it as is
            end = len(data)
            st.next_seq = (seq + end) % MOD
            if self.pdu_length(data, 0) == end <= self.max_pdu:  # one whole PDU: the usual
                try:
                    return self.pdu(ts, to_server, data)
                except Exception as exc:
                    self._failed(exc, counters)
                    return []
            return self._cut(ts, to_server, st, data, counters)
        if st.next_seq is None:
            # no SYN seen: the capture started mid-stream, so find a PDU boundary first
            st.next_seq = seq
            st.resync = True
        off = (seq - st.next_seq) % MOD
        if off >= HALF:  # starts before the next expected byte
            back = MOD - off
            if back >= len(data):
                counters.retransmissions += 1
                return []
            data = data[back:]
            off = 0
        if off:
            if off + len(data) > max_held + (1 << 20):
                # far ahead of anything plausible: take it as the new start after a gap
                self._gap(st, seq, counters)
            else:
                if seq not in st.held or len(st.held[seq]) < len(data):
                    st.held_bytes += len(data) - len(st.held.get(seq, b""))
                    st.held[seq] = data
                if st.held_bytes <= max_held:
                    return []
                counters.held_overflow += 1
                self._gap(st, min(st.held, key=lambda s: (s - st.next_seq) % MOD), counters)  # type: ignore[operator]
                return self._drain(ts, to_server, st, counters)
        if not st.held and not st.buf and not st.skip and not st.resync:
            st.next_seq = (st.next_seq + len(data)) % MOD
            return self._frames(ts, to_server, st, data, counters)
        st.buf += data
        st.next_seq = (st.next_seq + len(data)) % MOD
        return self._drain(ts, to_server, st, counters)

    def _gap(self, st: Stream, seq: int, counters: FlowCounters) -> None:
        counters.gaps += 1
        st.next_seq = seq
        st.buf.clear()
        st.skip = 0
        st.resync = True

    def _drain(
        self, ts: float, to_server: bool, st: Stream, counters: FlowCounters
    ) -> list[Transaction]:
        """Move held segments that now follow on into the buffer, then cut PDUs."""
        while st.held:
            moved = False
            for seq in list(st.held):
                assert st.next_seq is not None
                off = (seq - st.next_seq) % MOD
                if off and off < HALF:
                    continue
                part = st.held.pop(seq)
                st.held_bytes -= len(part)
                moved = True
                back = (MOD - off) % MOD
                if back < len(part):
                    st.buf += part[back:]
                    st.next_seq = (st.next_seq + len(part) - back) % MOD
                else:
                    counters.retransmissions += 1
            if not moved:
                break
        if not st.buf:
            return []
        data = bytes(st.buf)
        st.buf.clear()
        return self._frames(ts, to_server, st, data, counters)

    def _frames(
        self, ts: float, to_server: bool, st: Stream, data: bytes, counters: FlowCounters
    ) -> list[Transaction]:
        """Cut ``data`` (the stream's next bytes) into PDUs; keep an incomplete tail."""
        if not st.skip and not st.resync and self.pdu_length(data, 0) == len(data) <= self.max_pdu:
            try:  # one whole PDU in the segment
                return self.pdu(ts, to_server, data)
            except Exception as exc:
                self._failed(exc, counters)
                return []
        return self._cut(ts, to_server, st, data, counters)

    def _failed(self, exc: Exception, counters: FlowCounters) -> None:
        """A PDU the session could not read is a framing error: ``Malformed`` says why, any
        other exception is a decoder bug, named, that must not stop the stream."""
        reason = str(exc) if isinstance(exc, Malformed) else f"{type(exc).__name__}: {exc}"
        counters.framing_errors.append(f"{self.spec.name}: {reason}")

    def _cut(
        self, ts: float, to_server: bool, st: Stream, data: bytes, counters: FlowCounters
    ) -> list[Transaction]:
        """Cut ``data`` into PDUs, however many there are; keep an incomplete tail."""
        spec = self.spec
        end = len(data)
        pos = 0
        out: list[Transaction] = []
        if st.skip:
            n = min(st.skip, end)
            st.skip -= n
            pos = n
        while pos < end:
            if st.resync:
                found = spec.resync(data, pos)
                if found < 0:
                    # keep a short tail: a header may be split across segments
                    pos = max(pos, end - 16)
                    break
                if found or pos:
                    counters.resyncs += 1
                pos = found
                st.resync = False
            size = spec.pdu_length(data, pos)
            if size == 0:
                break
            if size < 0:
                counters.framing_errors.append(f"{spec.name}: bad PDU header, resynchronising")
                st.resync = True
                pos += 1
                continue
            if size > spec.max_pdu:
                counters.oversize_pdus += 1
                take = min(size, end - pos)
                st.skip = size - take
                pos += take
                continue
            if end - pos < size:
                break
            pdu = data[pos : pos + size] if pos or size != end else data
            pos += size
            try:
                out += self.pdu(ts, to_server, pdu)
            except Exception as exc:
                self._failed(exc, counters)
        if pos < end:
            st.buf += data[pos:]
        return out

    def datagram(
        self, ts: float, to_server: bool, data: bytes, counters: FlowCounters
    ) -> list[Transaction]:
        """A UDP payload: one or more whole PDUs, nothing carried over."""
        spec = self.spec
        out: list[Transaction] = []
        pos = 0
        while pos < len(data):
            size = spec.pdu_length(data, pos)
            if size <= 0 or pos + size > len(data):
                counters.framing_errors.append(f"{spec.name}: datagram with a bad or cut PDU")
                break
            try:
                out += self.pdu(ts, to_server, data[pos : pos + size])
            except Exception as exc:
                self._failed(exc, counters)
            pos += size
        return out

    def flush(self) -> list[Transaction]:
        return self.session.flush()


class FlowTable:
    """Flows by (client ip, client port, server ip, server port), least recently used first."""

    __slots__ = ("evicted", "flows", "limit")

    def __init__(self, limit: int) -> None:
        self.flows: OrderedDict[FlowKey, Flow] = OrderedDict()
        self.limit = max(1, limit)
        self.evicted = 0

    def get(self, key: FlowKey) -> Flow | None:
        flow = self.flows.get(key)
        if flow is not None:
            self.flows.move_to_end(key)
        return flow

    def add(self, key: FlowKey, flow: Flow) -> list[Transaction]:
        out: list[Transaction] = []
        while len(self.flows) >= self.limit:
            _, old = self.flows.popitem(last=False)
            self.evicted += 1
            out += old.flush()
        self.flows[key] = flow
        return out

    def close(self, key: FlowKey) -> list[Transaction]:
        flow = self.flows.pop(key, None)
        return flow.flush() if flow is not None else []

    def flush(self) -> list[Transaction]:
        out: list[Transaction] = []
        for flow in self.flows.values():
            out += flow.flush()
        self.flows.clear()
        return out
