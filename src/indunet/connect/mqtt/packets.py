"""MQTT 3.1.1 control packets (and 3.1, protocol level 3): dataclasses, encoder, incremental decoder.

Written from the OASIS MQTT Version 3.1.1 standard. Every rule the standard marks as making
a packet malformed raises ``ProtocolError`` naming the problem; a server closes that one
network connection. ``UnsupportedProtocolVersion`` (a ``ProtocolError``) is raised for a
CONNECT of another protocol level (MQTT 5), so the server can answer CONNACK 0x01 first.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum

from indunet.core import IndunetError

MAX_REMAINING = 268_435_455  # the largest Remaining Length four bytes can carry


class ProtocolError(IndunetError):
    """A peer broke the MQTT protocol (malformed packet or forbidden sequence)."""

    code = "mqtt_protocol_error"
    status = 400


class UnsupportedProtocolVersion(ProtocolError):
    """A CONNECT asked for a protocol level this server does not speak (e.g. MQTT 5)."""

    code = "mqtt_unsupported_protocol"

    def __init__(self, level: int) -> None:
        super().__init__(f"MQTT protocol level {level} is not supported (3.1 and 3.1.1 are)")
        self.level = level


class PacketType(IntEnum):
    """Control packet types (the high nibble of the first byte)."""

    CONNECT = 1
    CONNACK = 2
    PUBLISH = 3
    PUBACK = 4
    PUBREC = 5
    PUBREL = 6
    PUBCOMP = 7
    SUBSCRIBE = 8
    SUBACK = 9
    UNSUBSCRIBE = 10
    UNSUBACK = 11
    PINGREQ = 12
    PINGRESP = 13
    DISCONNECT = 14


class ConnectCode(IntEnum):
    """CONNACK return codes."""

    ACCEPTED = 0
    UNACCEPTABLE_PROTOCOL = 1
    IDENTIFIER_REJECTED = 2
    SERVER_UNAVAILABLE = 3
    BAD_CREDENTIALS = 4
    NOT_AUTHORIZED = 5


SUBACK_FAILURE = 0x80
"""SUBACK return code for a refused subscription."""


@dataclass(frozen=True, slots=True)
class Will:
    """The message a server publishes for a client that vanishes without DISCONNECT."""

    topic: str
    payload: bytes
    qos: int = 0
    retain: bool = False


@dataclass(frozen=True, slots=True)
class Connect:
    """CONNECT: the first packet of a client."""

    client_id: str
    username: str | None = None
    password: bytes | None = None
    keepalive: int = 60
    clean_session: bool = True
    will: Will | None = None
    protocol_level: int = 4


@dataclass(frozen=True, slots=True)
class ConnAck:
    """CONNACK: the server's answer to CONNECT."""

    return_code: int = 0
    session_present: bool = False


@dataclass(frozen=True, slots=True)
class Publish:
    """PUBLISH: an application message (either direction)."""

    topic: str
    payload: bytes
    qos: int = 0
    retain: bool = False
    dup: bool = False
    packet_id: int | None = None


@dataclass(frozen=True, slots=True)
class PubAck:
    """PUBACK: QoS 1 delivery acknowledged."""

    packet_id: int


@dataclass(frozen=True, slots=True)
class PubRec:
    """PUBREC: QoS 2 message received (step 1 of 2)."""

    packet_id: int


@dataclass(frozen=True, slots=True)
class PubRel:
    """PUBREL: QoS 2 message released (step 2 of 2, sender side)."""

    packet_id: int


@dataclass(frozen=True, slots=True)
class PubComp:
    """PUBCOMP: QoS 2 delivery complete."""

    packet_id: int


@dataclass(frozen=True, slots=True)
class Subscribe:
    """SUBSCRIBE: topic filters with their requested QoS."""

    packet_id: int
    topics: tuple[tuple[str, int], ...]


@dataclass(frozen=True, slots=True)
class SubAck:
    """SUBACK: granted QoS per filter, or 0x80 for a refused one."""

    packet_id: int
    return_codes: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class Unsubscribe:
    """UNSUBSCRIBE: topic filters to drop."""

    packet_id: int
    filters: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class UnsubAck:
    """UNSUBACK."""

    packet_id: int


@dataclass(frozen=True, slots=True)
class PingReq:
    """PINGREQ: keepalive from the client."""


@dataclass(frozen=True, slots=True)
class PingResp:
    """PINGRESP: the server's answer to PINGREQ."""


@dataclass(frozen=True, slots=True)
class Disconnect:
    """DISCONNECT: the client leaves cleanly (its will is discarded)."""


Packet = (
    Connect
    | ConnAck
    | Publish
    | PubAck
    | PubRec
    | PubRel
    | PubComp
    | Subscribe
    | SubAck
    | Unsubscribe
    | UnsubAck
    | PingReq
    | PingResp
    | Disconnect
)

_ACKS: dict[type, int] = {PubAck: 0x40, PubRec: 0x50, PubRel: 0x62, PubComp: 0x70, UnsubAck: 0xB0}
_ACK_TYPES: dict[int, type[PubAck | PubRec | PubRel | PubComp | UnsubAck]] = {
    PacketType.PUBACK: PubAck,
    PacketType.PUBREC: PubRec,
    PacketType.PUBREL: PubRel,
    PacketType.PUBCOMP: PubComp,
    PacketType.UNSUBACK: UnsubAck,
}
_EMPTY: dict[int, PingReq | PingResp | Disconnect] = {
    PacketType.PINGREQ: PingReq(),
    PacketType.PINGRESP: PingResp(),
    PacketType.DISCONNECT: Disconnect(),
}
# Fixed-header flags the standard requires for each type (PUBLISH carries its own).
_FLAGS = {PacketType.PUBREL: 2, PacketType.SUBSCRIBE: 2, PacketType.UNSUBSCRIBE: 2}


def _length(n: int) -> bytes:
    if n > MAX_REMAINING:
        raise ProtocolError(f"packet of {n} bytes is larger than MQTT allows")
    out = bytearray()
    while True:
        byte, n = n & 0x7F, n >> 7
        out.append(byte | 0x80 if n else byte)
        if not n:
            return bytes(out)


def _str(s: str) -> bytes:
    raw = s.encode()
    return len(raw).to_bytes(2, "big") + raw


def _bin(b: bytes) -> bytes:
    return len(b).to_bytes(2, "big") + b


def _frame(first: int, body: bytes) -> bytes:
    return bytes((first,)) + _length(len(body)) + body


def encode(packet: Packet) -> bytes:
    """The bytes of one control packet."""
    if isinstance(packet, Publish):
        first = 0x30 | (packet.dup << 3) | (packet.qos << 1) | packet.retain
        body = _str(packet.topic)
        if packet.qos:
            body += (packet.packet_id or 0).to_bytes(2, "big")
        return _frame(first, body + packet.payload)
    if isinstance(packet, PubAck | PubRec | PubRel | PubComp | UnsubAck):
        return bytes((_ACKS[type(packet)], 2)) + packet.packet_id.to_bytes(2, "big")
    if isinstance(packet, ConnAck):
        return bytes((0x20, 2, int(packet.session_present), packet.return_code))
    if isinstance(packet, PingReq):
        return b"\xc0\x00"
    if isinstance(packet, PingResp):
        return b"\xd0\x00"
    if isinstance(packet, Disconnect):
        return b"\xe0\x00"
    if isinstance(packet, SubAck):
        return _frame(0x90, packet.packet_id.to_bytes(2, "big") + bytes(packet.return_codes))
    if isinstance(packet, Subscribe):
        body = packet.packet_id.to_bytes(2, "big")
        body += b"".join(_str(f) + bytes((q,)) for f, q in packet.topics)
        return _frame(0x82, body)
    if isinstance(packet, Unsubscribe):
        body = packet.packet_id.to_bytes(2, "big") + b"".join(_str(f) for f in packet.filters)
        return _frame(0xA2, body)
    return _encode_connect(packet)


def _encode_connect(p: Connect) -> bytes:
    name = "MQIsdp" if p.protocol_level == 3 else "MQTT"
    flags = (p.clean_session << 1) | ((p.username is not None) << 7)
    flags |= (p.password is not None) << 6
    payload = _str(p.client_id)
    if p.will is not None:
        flags |= 0x04 | (p.will.qos << 3) | (p.will.retain << 5)
        payload += _str(p.will.topic) + _bin(p.will.payload)
    if p.username is not None:
        payload += _str(p.username)
    if p.password is not None:
        payload += _bin(p.password)
    header = _str(name) + bytes((p.protocol_level, flags)) + p.keepalive.to_bytes(2, "big")
    return _frame(0x10, header + payload)


class _Reader:
    """Cursor over one packet's body; every read past the end is a malformed packet."""

    __slots__ = ("data", "end", "kind", "pos")

    def __init__(self, data: bytes, kind: str) -> None:
        self.data, self.pos, self.end, self.kind = data, 0, len(data), kind

    def u8(self) -> int:
        if self.pos >= self.end:
            raise ProtocolError(f"{self.kind} packet is truncated")
        self.pos += 1
        return self.data[self.pos - 1]

    def u16(self) -> int:
        if self.pos + 2 > self.end:
            raise ProtocolError(f"{self.kind} packet is truncated")
        self.pos += 2
        return (self.data[self.pos - 2] << 8) | self.data[self.pos - 1]

    def binary(self) -> bytes:
        n = self.u16()
        if self.pos + n > self.end:
            raise ProtocolError(f"{self.kind} packet has a field longer than the packet")
        self.pos += n
        return self.data[self.pos - n : self.pos]

    def string(self, what: str) -> str:
        try:
            s = self.binary().decode()
        except UnicodeDecodeError:
            raise ProtocolError(f"{self.kind} {what} is not valid UTF-8") from None
        if "\x00" in s:
            raise ProtocolError(f"{self.kind} {what} contains U+0000")
        return s

    def rest(self) -> bytes:
        out = self.data[self.pos :]
        self.pos = self.end
        return out

    def done(self) -> None:
        if self.pos != self.end:
            raise ProtocolError(f"{self.kind} packet has {self.end - self.pos} extra bytes")


def _topic_name(topic: str, kind: str) -> str:
    if not topic:
        raise ProtocolError(f"{kind} topic name is empty")
    if "+" in topic or "#" in topic:
        raise ProtocolError(f"{kind} topic name {topic!r} contains a wildcard")
    return topic


def _packet_id(r: _Reader) -> int:
    pid = r.u16()
    if pid == 0:
        raise ProtocolError(f"{r.kind} packet identifier is 0")
    return pid


def _decode_publish(flags: int, body: bytes) -> Publish:
    qos = (flags >> 1) & 3
    if qos == 3:
        raise ProtocolError("PUBLISH has QoS 3")
    if qos == 0 and flags & 8:
        raise ProtocolError("PUBLISH with QoS 0 has the DUP flag set")
    r = _Reader(body, "PUBLISH")
    topic = _topic_name(r.string("topic name"), "PUBLISH")
    pid = _packet_id(r) if qos else None
    return Publish(topic, r.rest(), qos, bool(flags & 1), bool(flags & 8), pid)


def _decode_connect(body: bytes) -> Connect:
    r = _Reader(body, "CONNECT")
    name = r.string("protocol name")
    level = r.u8()
    if name not in ("MQTT", "MQIsdp"):
        raise ProtocolError(f"CONNECT protocol name {name!r} is not MQTT")
    if (name, level) not in (("MQTT", 4), ("MQIsdp", 3)):
        raise UnsupportedProtocolVersion(level)
    flags = r.u8()
    if flags & 1:
        raise ProtocolError("CONNECT reserved flag is set")
    keepalive = r.u16()
    client_id = r.string("client identifier")
    will = None
    will_qos = (flags >> 3) & 3
    if flags & 0x04:
        if will_qos == 3:
            raise ProtocolError("CONNECT will QoS is 3")
        will_topic = _topic_name(r.string("will topic"), "CONNECT will")
        will = Will(will_topic, r.binary(), will_qos, bool(flags & 0x20))
    elif will_qos or flags & 0x20:
        raise ProtocolError("CONNECT has will QoS or retain without the will flag")
    if flags & 0x40 and not flags & 0x80:
        raise ProtocolError("CONNECT has a password flag without a user name flag")
    username = r.string("user name") if flags & 0x80 else None
    password = r.binary() if flags & 0x40 else None
    r.done()
    return Connect(client_id, username, password, keepalive, bool(flags & 2), will, level)


def _decode_subscribe(body: bytes) -> Subscribe:
    r = _Reader(body, "SUBSCRIBE")
    pid = _packet_id(r)
    topics = []
    while r.pos < r.end:
        flt = r.string("topic filter")
        qos = r.u8()
        if qos > 2:
            raise ProtocolError(f"SUBSCRIBE requests QoS byte {qos:#x} for {flt!r}")
        topics.append((_filter(flt, "SUBSCRIBE"), qos))
    if not topics:
        raise ProtocolError("SUBSCRIBE has no topic filter")
    return Subscribe(pid, tuple(topics))


def _decode_unsubscribe(body: bytes) -> Unsubscribe:
    r = _Reader(body, "UNSUBSCRIBE")
    pid = _packet_id(r)
    filters = []
    while r.pos < r.end:
        filters.append(_filter(r.string("topic filter"), "UNSUBSCRIBE"))
    if not filters:
        raise ProtocolError("UNSUBSCRIBE has no topic filter")
    return Unsubscribe(pid, tuple(filters))


def _filter(flt: str, kind: str) -> str:
    if not flt:
        raise ProtocolError(f"{kind} topic filter is empty")
    levels = flt.split("/")
    for i, level in enumerate(levels):
        if "#" in level and (level != "#" or i != len(levels) - 1):
            raise ProtocolError(f"{kind} topic filter {flt!r} misplaces '#'")
        if "+" in level and level != "+":
            raise ProtocolError(f"{kind} topic filter {flt!r} misplaces '+'")
    return flt


def _decode_body(ptype: int, flags: int, body: bytes) -> Packet:
    if ptype == PacketType.PUBLISH:
        return _decode_publish(flags, body)
    try:
        kind = PacketType(ptype)
    except ValueError:
        raise ProtocolError(f"packet type {ptype} is reserved") from None
    if flags != _FLAGS.get(kind, 0):
        raise ProtocolError(f"{kind.name} has fixed-header flags {flags:#x}")
    if kind in _ACK_TYPES:
        r = _Reader(body, kind.name)
        packet = _ACK_TYPES[kind](r.u16())
        r.done()
        return packet
    if kind in (PacketType.PINGREQ, PacketType.PINGRESP, PacketType.DISCONNECT):
        if body:
            raise ProtocolError(f"{kind.name} has a non-empty body")
        return _EMPTY[kind]
    if kind == PacketType.CONNECT:
        return _decode_connect(body)
    if kind == PacketType.SUBSCRIBE:
        return _decode_subscribe(body)
    if kind == PacketType.UNSUBSCRIBE:
        return _decode_unsubscribe(body)
    r = _Reader(body, kind.name)
    if kind == PacketType.CONNACK:
        ack, code = r.u8(), r.u8()
        r.done()
        if ack & 0xFE:
            raise ProtocolError("CONNACK has reserved acknowledge flags set")
        return ConnAck(code, bool(ack & 1))
    pid = r.u16()
    return SubAck(pid, tuple(r.rest()))


class PacketDecoder:
    """Turns a byte stream into packets, however the bytes were split across reads."""

    def __init__(self, max_packet: int = 1 << 20) -> None:
        self.max_packet = max_packet
        self.error: ProtocolError | None = None
        self._buf = bytearray()

    @property
    def buffered(self) -> int:
        """Bytes received but not yet part of a whole packet."""
        return len(self._buf)

    def feed(self, data: bytes) -> list[Packet]:
        """Append ``data`` and return every packet now complete.

        A malformed packet raises ``ProtocolError``; when whole packets came before it in the
        same bytes, those are returned first and the error is kept in ``error`` (and raised
        by the next ``feed``), so a caller can still handle what the peer sent correctly.
        """
        if self.error is not None:
            raise self.error
        buf = self._buf
        buf += data
        out: list[Packet] = []
        pos, end = 0, len(buf)
        try:
            while end - pos >= 2:
                first = buf[pos]
                length, mult, i = 0, 1, pos + 1
                while True:
                    if i >= end:
                        return out
                    byte = buf[i]
                    length += (byte & 0x7F) * mult
                    i += 1
                    if not byte & 0x80:
                        break
                    mult <<= 7
                    if i - pos > 4:
                        raise ProtocolError("remaining length is longer than four bytes")
                if length > self.max_packet:
                    raise ProtocolError(
                        f"packet of {length} bytes exceeds this server's limit of "
                        f"{self.max_packet} bytes"
                    )
                if i + length > end:
                    return out
                out.append(_decode_body(first >> 4, first & 0x0F, bytes(buf[i : i + length])))
                pos = i + length
            return out
        except ProtocolError as exc:
            self.error = exc
            if not out:
                raise
            return out
        finally:
            del buf[:pos]
