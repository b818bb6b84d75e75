"""The MQTT 3.1.1 packet codec: round trips, split streams, and every malformed case refused."""

from __future__ import annotations

import pytest

from indunet.connect.mqtt.packets import (
    ConnAck,
    Connect,
    Disconnect,
    PacketDecoder,
    PingReq,
    PingResp,
    ProtocolError,
    PubAck,
    PubComp,
    Publish,
    PubRec,
    PubRel,
    SubAck,
    Subscribe,
    UnsubAck,
    Unsubscribe,
    UnsupportedProtocolVersion,
    Will,
    encode,
)

PACKETS = [
    Connect("c1"),
    Connect(
        "dev-a",
        "dev-a",
        b"s3cret",
        keepalive=30,
        clean_session=False,
        will=Will("indunet/v1/dev-a/status", b"offline", qos=1, retain=True),
    ),
    Connect("old", protocol_level=3),
    ConnAck(0, session_present=True),
    ConnAck(5),
    Publish("indunet/v1/a/telemetry", b'{"t": 1}'),
    Publish("a/b", b"", qos=1, retain=True, dup=True, packet_id=65535),
    Publish("温度/车间", "负载".encode(), qos=2, packet_id=9),
    PubAck(1),
    PubRec(2),
    PubRel(3),
    PubComp(4),
    Subscribe(5, (("indunet/v1/a/commands", 1), ("x/+/y/#", 2))),
    SubAck(5, (1, 0x80)),
    Unsubscribe(6, ("a/#", "b")),
    UnsubAck(6),
    PingReq(),
    PingResp(),
    Disconnect(),
]


@pytest.mark.parametrize("packet", PACKETS, ids=lambda p: type(p).__name__)
def test_every_packet_round_trips(packet: object) -> None:
    assert PacketDecoder().feed(encode(packet)) == [packet]  # type: ignore[arg-type]


def test_a_stream_split_at_every_byte_decodes_the_same() -> None:
    stream = b"".join(encode(p) for p in PACKETS)  # type: ignore[arg-type]
    decoder = PacketDecoder()
    got = []
    for i in range(len(stream)):
        got += decoder.feed(stream[i : i + 1])
    assert got == PACKETS
    assert decoder.buffered == 0


def test_large_payload_uses_a_multi_byte_remaining_length() -> None:
    packet = Publish("t", b"x" * 300_000, qos=1, packet_id=1)
    data = encode(packet)
    assert data[1] & 0x80 and data[2] & 0x80  # three length bytes
    assert PacketDecoder().feed(data) == [packet]


def test_connect_fields_are_decoded() -> None:
    raw = bytes.fromhex("101500044d51545404c2003c0002633100016100027077")
    (c,) = PacketDecoder().feed(raw)
    assert c == Connect("c1", "a", b"pw", keepalive=60, clean_session=True)


def test_mqtt31_connect_is_accepted() -> None:
    raw = encode(Connect("c", protocol_level=3))
    assert b"MQIsdp" in raw
    (c,) = PacketDecoder().feed(raw)
    assert isinstance(c, Connect) and c.protocol_level == 3


def test_mqtt5_connect_is_reported_as_unsupported_version() -> None:
    raw = bytes.fromhex("100f00044d5154540502003c0000027635")
    with pytest.raises(UnsupportedProtocolVersion, match="level 5") as info:
        PacketDecoder().feed(raw)
    assert info.value.level == 5
    assert isinstance(info.value, ProtocolError)


def _connect(flags: int, tail: bytes = b"\x00\x01c") -> bytes:
    body = b"\x00\x04MQTT\x04" + bytes([flags]) + b"\x00\x3c" + tail
    return bytes([0x10, len(body)]) + body


MALFORMED = [
    (b"\x36\x03\x00\x01a", "QoS 3"),
    (b"\x38\x03\x00\x01a", "DUP"),
    (b"\x32\x05\x00\x01a\x00\x00", "packet identifier is 0"),
    (b"\x30\x05\x00\x03a/+", "wildcard"),
    (b"\x30\x02\x00\x00", "topic name is empty"),
    (b"\x30\x04\x00\x02\xff\xfe", "UTF-8"),
    (b"\x30\x04\x00\x02a\x00", "U+0000"),
    (b"\x30\x03\x00\x05a", "longer than the packet"),
    (b"\x00\x00", "type 0 is reserved"),
    (b"\xf0\x00", "type 15 is reserved"),
    (b"\x60\x02\x00\x01", "PUBREL has fixed-header flags"),
    (b"\x80\x06\x00\x01\x00\x01a\x01", "SUBSCRIBE has fixed-header flags"),
    (b"\x82\x02\x00\x01", "no topic filter"),
    (b"\x82\x06\x00\x01\x00\x01a\x03", "QoS byte"),
    (b"\x82\x07\x00\x01\x00\x02a#\x00", "misplaces '#'"),
    (b"\x82\x08\x00\x01\x00\x03a+b\x00", "misplaces '+'"),
    (b"\xa2\x02\x00\x01", "UNSUBSCRIBE has no topic filter"),
    (b"\x40\x03\x00\x01\x00", "extra bytes"),
    (b"\x40\x01\x00", "truncated"),
    (b"\xc0\x01\x00", "non-empty body"),
    (b"\x30\xff\xff\xff\xff\x01", "longer than four bytes"),
    (b"\x20\x02\x02\x00", "reserved acknowledge flags"),
    (_connect(0x03), "reserved flag"),
    (_connect(0x1C, b"\x00\x01c\x00\x01t\x00\x00"), "will QoS is 3"),
    (_connect(0x10), "without the will flag"),
    (_connect(0x42, b"\x00\x01c\x00\x01p"), "password flag without a user name"),
    (_connect(0x02, b"\x00\x01c\x00"), "extra bytes"),
    (b"\x10\x0c\x00\x04MQXX\x04\x02\x00\x3c\x00\x00", "protocol name"),
]


@pytest.mark.parametrize(("data", "problem"), MALFORMED, ids=[m[1] for m in MALFORMED])
def test_malformed_packets_raise_a_protocol_error_naming_the_problem(
    data: bytes, problem: str
) -> None:
    with pytest.raises(ProtocolError, match=problem.replace("+", r"\+")):
        PacketDecoder().feed(data)


def test_packet_above_the_size_limit_is_refused_before_it_is_buffered() -> None:
    decoder = PacketDecoder(max_packet=1000)
    with pytest.raises(ProtocolError, match="exceeds this server's limit of 1000"):
        decoder.feed(b"\x30\xe9\x07")  # announces 1001 bytes; none of them sent


def test_valid_packets_before_a_malformed_one_are_returned_then_the_error() -> None:
    decoder = PacketDecoder()
    got = decoder.feed(encode(PingReq()) + encode(PubAck(1)) + b"\xf0\x00")
    assert got == [PingReq(), PubAck(1)]
    assert decoder.error is not None and "reserved" in decoder.error.message
    with pytest.raises(ProtocolError, match="reserved"):
        decoder.feed(encode(PingReq()))
