"""Fuzzing the MQTT codec, router and embedded endpoint with hypothesis.

Random and mutated byte streams, fed whole or in random pieces, may only yield packets or
raise the codec's ``ProtocolError``; every packet type survives encode → decode unchanged,
alone and in a stream split anywhere. Any topic and payload decodes into samples and dead
letters. A logged-in device sending anything never makes an exception escape its
connection, and its teardown always runs. Bounded: 200 examples a property (25 for the
endpoint, each a real connection), a few seconds in all.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

import orjson
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tests.connect.test_mqtt_support import METER, RecordingSink, Statuses, embedded, port_of

from indunet.connect import DeviceLink
from indunet.connect.mqtt import MessageRouter
from indunet.connect.mqtt.packets import (
    ConnAck,
    Connect,
    Disconnect,
    Packet,
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
    Will,
    encode,
)

FUZZ = settings(
    max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow], database=None
)

# -- valid packets --------------------------------------------------------------------------
text = st.text(st.characters(codec="utf-8", exclude_characters="\x00"), max_size=40)
level = st.text(st.characters(codec="utf-8", exclude_characters="\x00+#/"), max_size=8)
topic_name = st.lists(level, min_size=1, max_size=5).map("/".join).filter(bool)
topic_filter = (
    st.lists(st.one_of(level, st.just("+")), min_size=1, max_size=5)
    .flatmap(lambda levels: st.sampled_from(["", "/#"]).map(lambda tail: "/".join(levels) + tail))
    .filter(bool)
)
packet_id = st.integers(1, 65535)
u16 = st.integers(0, 65535)
payload = st.binary(max_size=64)


@st.composite
def publishes(draw: st.DrawFn) -> Publish:
    qos = draw(st.integers(0, 2))
    return Publish(
        draw(topic_name),
        draw(payload),
        qos,
        draw(st.booleans()),
        dup=qos > 0 and draw(st.booleans()),
        packet_id=draw(packet_id) if qos else None,
    )


@st.composite
def connects(draw: st.DrawFn) -> Connect:
    username = draw(st.none() | text)
    will = draw(st.none() | st.builds(Will, topic_name, payload, st.integers(0, 2), st.booleans()))
    return Connect(
        draw(text),
        username,
        draw(st.none() | payload) if username is not None else None,
        draw(u16),
        draw(st.booleans()),
        will,
        draw(st.sampled_from([3, 4])),
    )


packets: st.SearchStrategy[Packet] = st.one_of(
    connects(),
    st.builds(ConnAck, st.integers(0, 255), st.booleans()),
    publishes(),
    st.builds(PubAck, u16),
    st.builds(PubRec, u16),
    st.builds(PubRel, u16),
    st.builds(PubComp, u16),
    st.builds(UnsubAck, u16),
    st.builds(
        Subscribe,
        packet_id,
        st.lists(st.tuples(topic_filter, st.integers(0, 2)), min_size=1, max_size=4).map(tuple),
    ),
    st.builds(SubAck, u16, st.lists(st.sampled_from([0, 1, 2, 0x80]), max_size=4).map(tuple)),
    st.builds(Unsubscribe, packet_id, st.lists(topic_filter, min_size=1, max_size=4).map(tuple)),
    st.just(PingReq()),
    st.just(PingResp()),
    st.just(Disconnect()),
)


def feed_in_pieces(data: bytes, cuts: list[int]) -> list[Packet]:
    """Decode ``data`` split at ``cuts``; only ``ProtocolError`` may escape."""
    decoder = PacketDecoder(max_packet=1 << 16)
    out: list[Packet] = []
    start = 0
    for cut in [*sorted(c % (len(data) + 1) for c in cuts), len(data)]:
        out += decoder.feed(data[start:cut])
        start = cut
    return out


@FUZZ
@given(packets)
def test_every_packet_round_trips(packet: Packet) -> None:
    assert PacketDecoder().feed(encode(packet)) == [packet]


@FUZZ
@given(st.lists(packets, max_size=6), st.lists(st.integers(0, 10_000), max_size=8))
def test_a_stream_of_packets_round_trips_however_it_is_split(
    stream: list[Packet], cuts: list[int]
) -> None:
    data = b"".join(encode(p) for p in stream)
    assert feed_in_pieces(data, cuts) == stream


@FUZZ
@given(st.binary(max_size=300), st.lists(st.integers(0, 300), max_size=6))
def test_random_bytes_raise_only_protocol_errors(data: bytes, cuts: list[int]) -> None:
    try:
        decoded = feed_in_pieces(data, cuts)
    except ProtocolError:
        return
    for packet in decoded:  # what decoded is a packet the encoder reproduces
        assert PacketDecoder().feed(encode(packet)) == [packet]


@st.composite
def mutated_streams(draw: st.DrawFn) -> bytes:
    """Valid packets with bytes flipped, inserted, deleted or the stream cut short."""
    data = bytearray(b"".join(encode(p) for p in draw(st.lists(packets, min_size=1, max_size=4))))
    for _ in range(draw(st.integers(1, 4))):
        at = draw(st.integers(0, len(data)))
        op = draw(st.sampled_from(["flip", "set", "insert", "delete", "truncate"]))
        if op == "insert":
            data[at:at] = draw(st.binary(min_size=1, max_size=4))
        elif op == "truncate":
            del data[at:]
        elif at < len(data):
            if op == "flip":
                data[at] ^= 1 << draw(st.integers(0, 7))
            elif op == "set":
                data[at] = draw(st.sampled_from([0x00, 0x7F, 0x80, 0xFF, 0xC0, 0xED]))
            else:
                del data[at]
    return bytes(data)


@FUZZ
@given(mutated_streams(), st.lists(st.integers(0, 1000), max_size=6))
def test_mutated_streams_raise_only_protocol_errors(data: bytes, cuts: list[int]) -> None:
    try:
        packets_out = feed_in_pieces(data, cuts)
    except ProtocolError:
        return
    for packet in packets_out:  # what decoded is a packet the encoder reproduces
        assert PacketDecoder().feed(encode(packet)) == [packet]


# -- payloads: what a device may publish ---------------------------------------------------
json_scalar = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**63), 2**63 - 1),
    st.floats(allow_nan=False),
    st.text(max_size=20),
    st.sampled_from(["2024-01-01T00:00:00Z", "not a time", "", "1e308", "-1"]),
)
json_values = st.recursive(
    json_scalar,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.dictionaries(
            st.one_of(st.sampled_from(["ts", "values", "device", "temp", "seq", "id"]), text),
            inner,
            max_size=4,
        ),
    ),
    max_leaves=12,
)
device_payloads = st.one_of(
    json_values.map(lambda v: orjson.dumps(v)),
    st.binary(max_size=80),
    st.sampled_from([b"[" * 5000, b'{"ts": 1e999}', b'{"ts": ' + b"9" * 5000 + b"}", b"\xff"]),
)
device_topics = st.one_of(
    st.sampled_from(
        [
            "indunet/v1/dev-a/telemetry",
            "indunet/v1/dev-a/commands/result",
            "indunet/v1/dev-a/status",
            "indunet/v1/dev-a/gps",
            "indunet/v1/dev-b/telemetry",
            "indunet/v1/dev-a/other",
        ]
    ),
    topic_name,
)


def fuzz_router() -> MessageRouter:
    router = MessageRouter(RecordingSink())
    router.add(DeviceLink("dev-a", METER))
    return router


@FUZZ
@given(st.lists(st.tuples(device_topics, device_payloads), min_size=1, max_size=4))
def test_router_decodes_any_publish_into_samples_or_dead_letters(
    messages: list[tuple[str, bytes]],
) -> None:
    for publisher in ("dev-a", None):  # the embedded endpoint, an external broker
        batch = fuzz_router().decode(publisher, messages)
        assert len(batch.rejects) <= len(messages)
        for sample in batch.samples:
            assert sample.device == "dev-a" or publisher is None


# -- the embedded endpoint: a logged-in device sending anything ----------------------------
client_packets = st.one_of(
    publishes(),
    st.builds(PubAck, packet_id),
    st.builds(PubRec, packet_id),
    st.builds(PubRel, packet_id),
    st.builds(PubComp, packet_id),
    st.builds(
        Subscribe,
        packet_id,
        st.lists(st.tuples(topic_filter, st.integers(0, 2)), min_size=1, max_size=3).map(tuple),
    ),
    st.builds(Unsubscribe, packet_id, st.lists(topic_filter, min_size=1, max_size=3).map(tuple)),
    st.just(PingReq()),
    st.just(Disconnect()),
    st.just(ConnAck()),  # server-only: a protocol error
)


@st.composite
def sessions_after_connect(draw: st.DrawFn) -> bytes:
    """What a logged-in device sends: client packets, then maybe mutated bytes."""
    stream = b"".join(encode(p) for p in draw(st.lists(client_packets, max_size=6)))
    if draw(st.booleans()):
        stream += draw(mutated_streams())
    return stream


class _Errors(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


async def _serve_one(stream: bytes) -> tuple[list[logging.LogRecord], Statuses]:
    errors, statuses = _Errors(), Statuses()
    logger = logging.getLogger("indunet.connect.mqtt")
    logger.addHandler(errors)
    try:
        async with embedded(RecordingSink(), statuses) as conn:
            reader, writer = await asyncio.open_connection("127.0.0.1", port_of(conn))
            writer.write(encode(Connect("dev-a", "dev-a", b"secret-a")) + stream)
            await writer.drain()
            with contextlib.suppress(TimeoutError, ConnectionError):
                async with asyncio.timeout(0.3):
                    while await reader.read(65536):
                        pass
            writer.close()
            deadline = asyncio.get_running_loop().time() + 5
            while statuses.last("dev-a") is not False:
                assert asyncio.get_running_loop().time() < deadline, "device never went offline"
                await asyncio.sleep(0.01)
    finally:
        logger.removeHandler(errors)
    return errors.records, statuses


@settings(max_examples=25, deadline=None, database=None)
@given(sessions_after_connect())
def test_the_endpoint_survives_anything_a_logged_in_device_sends(stream: bytes) -> None:
    records, statuses = asyncio.run(_serve_one(stream))
    assert [r.getMessage() for r in records] == []  # no exception escaped a connection
    assert statuses.events[0] == ("dev-a", True)
    assert statuses.last("dev-a") is False  # and the teardown ran
