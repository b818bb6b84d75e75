"""The embedded MQTT endpoint with real MQTT clients (aiomqtt/paho) and raw sockets."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Sequence
from pathlib import Path

import aiomqtt
import pytest
import sqlalchemy as sa
from tests.conftest import until
from tests.connect.test_mqtt_support import (
    RecordingSink,
    Statuses,
    device,
    embedded,
    now_ms,
    platform,
    port_of,
)

from indunet.connect.events import AUTH_FAILURES
from indunet.connect.mqtt.packets import (
    ConnAck,
    Connect,
    PacketDecoder,
    PingReq,
    PubAck,
    PubComp,
    Publish,
    PubRec,
    PubRel,
    SubAck,
    Subscribe,
    Will,
    encode,
)
from indunet.core.signals import Signal
from indunet.telemetry import Sample

T = "indunet/v1/{}/telemetry"


class Raw:
    """A hand-driven MQTT client over a plain socket, for what real clients never send."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer, self.decoder = reader, writer, PacketDecoder()
        self.inbox: list[object] = []

    @classmethod
    async def open(cls, port: int) -> Raw:
        return cls(*await asyncio.open_connection("127.0.0.1", port))

    async def login(self, device_id: str, secret: str, **kw: object) -> ConnAck:
        await self.send(Connect(device_id, device_id, secret.encode(), **kw))  # type: ignore[arg-type]
        ack = await self.next()
        assert isinstance(ack, ConnAck)
        return ack

    async def send(self, packet: object) -> None:
        self.writer.write(encode(packet))  # type: ignore[arg-type]
        await self.writer.drain()

    async def next(self, wait: float = 5.0) -> object:
        while not self.inbox:
            data = await asyncio.wait_for(self.reader.read(65536), wait)
            if not data:
                raise ConnectionError("closed by the server")
            self.inbox += self.decoder.feed(data)
        return self.inbox.pop(0)

    async def closed(self, wait: float = 5.0) -> bool:
        """True once the server closed the connection (everything sent before is dropped)."""
        try:
            while await asyncio.wait_for(self.reader.read(65536), wait):
                pass
        except (ConnectionError, TimeoutError):
            return False
        return True

    def close(self) -> None:
        self.writer.close()


async def test_telemetry_is_stored_before_qos1_and_qos2_are_acknowledged(
    engine: sa.Engine, tmp_path: Path
) -> None:
    statuses = Statuses()
    async with platform(engine, tmp_path, "dev-a") as p, embedded(p.pipeline, statuses) as conn:
        ts = now_ms()
        async with device(port_of(conn), "dev-a") as c:
            await c.publish(
                T.format("dev-a"), json.dumps({"ts": ts, "values": {"temp": 1.5}}), qos=1
            )
            assert p.values("dev-a", "temp") == [1.5]  # PUBACK came after storage
            await c.publish(T.format("dev-a"), json.dumps({"temp": 2.5, "ts": ts + 1}), qos=2)
            assert p.values("dev-a", "temp") == [1.5, 2.5]  # PUBREC came after storage
            body = json.dumps(
                [{"ts": ts + 2, "temp": 3.5, "on": True}, {"ts": ts + 3, "mode": "x"}]
            )
            await c.publish(T.format("dev-a"), body, qos=0)
            await until(lambda: len(p.values("dev-a", "temp")) == 3, what="QoS 0 sample")
            await until(lambda: p.values("dev-a", "mode") == ["x"], what="second list item")
            assert p.values("dev-a", "on") == [True]
            assert statuses.last("dev-a") is True
        await until(lambda: statuses.last("dev-a") is False, what="offline after disconnect")
        latest = await conn.read("dev-a")
        assert {s.point: s.value for s in latest} == {"temp": 3.5, "on": True, "mode": "x"}


async def test_model_json_paths_on_form_topics(engine: sa.Engine, tmp_path: Path) -> None:
    async with platform(engine, tmp_path, "dev-a") as p, embedded(p.pipeline) as conn:
        async with device(port_of(conn), "dev-a") as c:
            payload = json.dumps({"ts": now_ms(), "pos": [24.48, 118.09]})
            await c.publish("indunet/v1/dev-a/gps", payload, qos=1)
        assert p.values("dev-a", "lat") == [24.48]
        assert p.values("dev-a", "lon") == [118.09]


@pytest.mark.parametrize(("user", "secret"), [("dev-a", "wrong"), ("nobody", "secret-a")])
async def test_wrong_credentials_are_refused_with_not_authorized(user: str, secret: str) -> None:
    statuses, sink = Statuses(), RecordingSink()
    async with embedded(sink, statuses) as conn:
        with pytest.raises(aiomqtt.MqttError, match=r"[Nn]ot authori[sz]ed"):
            async with device(port_of(conn), user, secret):
                pass
        raw = await Raw.open(port_of(conn))
        assert (await raw.login(user, secret)).return_code == 5
        assert await raw.closed()
        assert statuses.events == []
        assert conn.health().detail["refused"] == 2


async def test_connect_without_credentials_is_refused_with_bad_user_name_or_password() -> None:
    async with embedded(RecordingSink()) as conn:
        raw = await Raw.open(port_of(conn))
        await raw.send(Connect("anon"))
        assert await raw.next() == ConnAck(4)
        assert await raw.closed()


async def test_publishing_as_another_device_is_dead_lettered_and_not_stored(
    engine: sa.Engine, tmp_path: Path
) -> None:
    async with platform(engine, tmp_path, "dev-a", "dev-b") as p, embedded(p.pipeline) as conn:
        async with device(port_of(conn), "dev-a") as c:
            forged = json.dumps({"ts": now_ms(), "values": {"temp": 99.0}})
            await c.publish(T.format("dev-b"), forged, qos=1)  # acknowledged: no endless resend
            await c.publish("indunet/v1/dev-a/commands", forged, qos=1)  # its own inbox
            await c.publish(T.format("dev-a"), json.dumps({"temp": 5.0}), qos=1)  # still served
        assert p.values("dev-b", "temp") == []
        assert p.values("dev-a", "temp") == [5.0]
        details = p.details("dev-a")
        assert "device dev-a may not publish to indunet/v1/dev-b/telemetry" in details
        assert "device dev-a may not publish to indunet/v1/dev-a/commands" in details
        # authorisation has its own reason, apart from payloads that could not be read
        assert {x.reason for x in p.letters.list(device="dev-a")} == {"forbidden_topic"}
        assert p.pipeline.stats()["dead_lettered"] == {"forbidden_topic": 2}


async def test_payload_naming_another_device_is_dead_lettered(
    engine: sa.Engine, tmp_path: Path
) -> None:
    async with platform(engine, tmp_path, "dev-a", "dev-b") as p, embedded(p.pipeline) as conn:
        async with device(port_of(conn), "dev-a") as c:
            await c.publish(T.format("dev-a"), json.dumps({"device": "dev-b", "temp": 1}), qos=1)
        assert p.values("dev-a", "temp") == p.values("dev-b", "temp") == []
        assert any("names device dev-b" in d for d in p.details("dev-a"))


async def test_malformed_payload_is_dead_lettered_and_the_connection_continues(
    engine: sa.Engine, tmp_path: Path
) -> None:
    async with platform(engine, tmp_path, "dev-a") as p, embedded(p.pipeline) as conn:
        async with device(port_of(conn), "dev-a") as c:
            await c.publish(T.format("dev-a"), b"{not json", qos=1)
            await c.publish(T.format("dev-a"), json.dumps({"temp": {"nested": 1}}), qos=1)
            await c.publish(T.format("dev-a"), json.dumps({"temp": 7.0}), qos=1)
        assert p.values("dev-a", "temp") == [7.0]
        letters = p.letters.list(device="dev-a")
        assert len(letters) == 2
        assert {x.reason for x in letters} == {"undecodable"}
        assert any("not JSON" in x.detail for x in letters)
        assert any(x.payload == "{not json" for x in letters)


async def test_unknown_point_passes_to_the_pipeline_which_dead_letters_it(
    engine: sa.Engine, tmp_path: Path
) -> None:
    async with platform(engine, tmp_path, "dev-a") as p, embedded(p.pipeline) as conn:
        async with device(port_of(conn), "dev-a") as c:
            await c.publish(T.format("dev-a"), json.dumps({"temp": 1.0, "bogus": 2}), qos=1)
        assert p.values("dev-a", "temp") == [1.0]
        assert [x.reason for x in p.letters.list(device="dev-a")] == ["unknown_point"]


async def test_malformed_packet_closes_only_that_connection() -> None:
    sink = RecordingSink()
    async with embedded(sink) as conn, device(port_of(conn), "dev-b") as good:
        bad = await Raw.open(port_of(conn))
        assert (await bad.login("dev-a", "secret-a")).return_code == 0
        bad.writer.write(b"\x36\x03\x00\x01a")  # PUBLISH with QoS 3
        assert await bad.closed()
        await good.publish(T.format("dev-b"), json.dumps({"temp": 1.0}), qos=1)
        assert [s.value for s in sink.samples] == [1.0]
        assert conn.health().detail["protocol_errors"] == 1


async def test_packets_before_a_malformed_one_are_still_handled() -> None:
    sink = RecordingSink()
    async with embedded(sink) as conn:
        raw = await Raw.open(port_of(conn))
        await raw.login("dev-a", "secret-a")
        good = encode(Publish(T.format("dev-a"), b'{"temp": 4}', qos=0))
        raw.writer.write(good + b"\xf0\x00")  # then a reserved packet type
        assert await raw.closed()
        assert [s.value for s in sink.samples] == [4]


async def test_mqtt5_is_refused_with_unacceptable_protocol_version() -> None:
    async with embedded(RecordingSink()) as conn:
        raw = await Raw.open(port_of(conn))
        # A real MQTT 5 CONNECT: level 5, clean start, keepalive 60, empty properties, id "v5"
        raw.writer.write(bytes.fromhex("100f00044d5154540502003c0000027635"))
        assert await raw.next() == ConnAck(1)
        assert await raw.closed()
        with pytest.raises(aiomqtt.MqttError):
            async with device(port_of(conn), "dev-a", protocol=aiomqtt.ProtocolVersion.V5):
                pass


async def test_mqtt31_clients_are_served() -> None:
    sink = RecordingSink()
    async with embedded(sink) as conn:
        async with device(port_of(conn), "dev-a", protocol=aiomqtt.ProtocolVersion.V31) as c:
            await c.publish(T.format("dev-a"), json.dumps({"temp": 3.0}), qos=1)
        assert [s.value for s in sink.samples] == [3.0]


async def test_subscribing_to_another_devices_commands_is_refused() -> None:
    async with embedded(RecordingSink()) as conn:
        raw = await Raw.open(port_of(conn))
        await raw.login("dev-a", "secret-a")
        filters = (
            ("indunet/v1/dev-b/commands", 1),
            ("indunet/v1/+/commands", 1),
            ("indunet/v1/dev-a/commands", 1),
            ("#", 0),
        )
        await raw.send(Subscribe(3, filters))
        assert await raw.next() == SubAck(3, (0x80, 0x80, 1, 0x80))
        assert await conn.publish_to("dev-b", "indunet/v1/dev-b/commands", b"x") == 0
        assert await conn.publish_to("dev-a", "indunet/v1/dev-a/commands", b"y") == 1
        got = await raw.next()
        assert isinstance(got, Publish) and got.payload == b"y" and got.qos == 1


async def test_qos2_resend_is_stored_once_and_released() -> None:
    sink = RecordingSink()
    async with embedded(sink) as conn:
        raw = await Raw.open(port_of(conn))
        await raw.login("dev-a", "secret-a")
        message = Publish(T.format("dev-a"), b'{"temp": 8}', qos=2, packet_id=7)
        await raw.send(message)
        assert await raw.next() == PubRec(7)
        await raw.send(Publish(message.topic, message.payload, 2, dup=True, packet_id=7))
        assert await raw.next() == PubRec(7)  # acknowledged again, not stored again
        await raw.send(PubRel(7))
        assert await raw.next() == PubComp(7)
        assert len(sink.samples) == 1


async def test_messages_arriving_together_are_submitted_together() -> None:
    sink = RecordingSink()
    async with embedded(sink) as conn:
        raw = await Raw.open(port_of(conn))
        await raw.login("dev-a", "secret-a")
        burst = b"".join(
            encode(Publish(T.format("dev-a"), b'{"count": %d}' % i, qos=1, packet_id=i + 1))
            for i in range(200)
        )
        raw.writer.write(burst)
        acks = [await raw.next() for _ in range(200)]
        assert [a.packet_id for a in acks] == list(range(1, 201))  # type: ignore[attr-defined]
        assert len(sink.samples) == 200
        assert len(sink.calls) < 20  # not one submit per message


async def test_batches_are_stored_concurrently_and_acknowledged_in_order() -> None:
    sink = RecordingSink()
    sink.delays = [0.5, 0.0]  # the first batch is slow to store, the second quick
    async with embedded(sink) as conn:
        raw = await Raw.open(port_of(conn))
        await raw.login("dev-a", "secret-a")
        await raw.send(Publish(T.format("dev-a"), b'{"count": 1}', qos=1, packet_id=1))
        await until(lambda: len(sink.started) == 1, what="first submit")
        await raw.send(Publish(T.format("dev-a"), b'{"count": 2}', qos=1, packet_id=2))
        await until(lambda: len(sink.calls) == 1, what="second batch stored")
        assert [s.value for s in sink.samples] == [2]  # the second is stored first ...
        with pytest.raises(TimeoutError):
            await raw.next(wait=0.1)  # ... but not acknowledged before the first
        assert [(await raw.next()).packet_id for _ in range(2)] == [1, 2]  # type: ignore[attr-defined]


async def test_overloaded_sink_withholds_the_ack_until_stored() -> None:
    sink = RecordingSink()
    sink.overloaded = 3
    async with embedded(sink, retry_base=0.1, retry_cap=0.2) as conn:
        raw = await Raw.open(port_of(conn))
        await raw.login("dev-a", "secret-a")
        await raw.send(Publish(T.format("dev-a"), b'{"temp": 1}', qos=1, packet_id=1))
        with pytest.raises(TimeoutError):
            await raw.next(wait=0.1)  # no PUBACK while the sink refuses
        ack = await raw.next(wait=5)
        assert ack.packet_id == 1  # type: ignore[attr-defined]
        assert sink.refused == 3 and len(sink.samples) == 1


async def test_keepalive_timeout_marks_the_device_offline_and_publishes_its_will() -> None:
    statuses, sink = Statuses(), RecordingSink()
    async with embedded(sink, statuses) as conn:
        raw = await Raw.open(port_of(conn))
        will = Will("indunet/v1/dev-a/status", b"offline")
        await raw.login("dev-a", "secret-a", keepalive=1, will=will)
        await raw.send(PingReq())
        assert type(await raw.next()).__name__ == "PingResp"
        assert statuses.events == [("dev-a", True)]
        loop = asyncio.get_running_loop()
        started = loop.time()
        assert await raw.closed(wait=5)  # silent for 1.5 x keepalive
        assert 1.2 < loop.time() - started < 4
        await until(lambda: statuses.last("dev-a") is False, what="offline")
        assert statuses.events == [("dev-a", True), ("dev-a", False)]
        assert conn.health().detail["keepalive_expired"] == 1


async def test_will_is_not_published_after_a_clean_disconnect() -> None:
    sink = RecordingSink()
    async with embedded(sink) as conn:
        will = aiomqtt.Will(T.format("dev-a"), json.dumps({"temp": -1.0}))
        async with device(port_of(conn), "dev-a", will=will):
            pass
        raw = await Raw.open(port_of(conn))
        await raw.login("dev-a", "secret-a", will=Will(T.format("dev-a"), b'{"temp": -2}'))
        raw.close()  # vanishes without DISCONNECT
        await until(lambda: len(sink.samples) == 1, what="will")
        assert sink.samples[0].value == -2


async def test_will_outside_the_device_topics_is_refused() -> None:
    async with embedded(RecordingSink()) as conn:
        raw = await Raw.open(port_of(conn))
        ack = await raw.login("dev-a", "secret-a", will=Will(T.format("dev-b"), b"{}"))
        assert ack.return_code == 5


async def test_persistent_session_keeps_subscription_and_bounded_commands() -> None:
    async with embedded(RecordingSink(), max_queued=3) as conn:
        raw = await Raw.open(port_of(conn))
        assert (await raw.login("dev-a", "secret-a", clean_session=False)).session_present is False
        await raw.send(Subscribe(1, (("indunet/v1/dev-a/commands", 1),)))
        await raw.next()
        raw.close()
        await until(lambda: "dev-a" not in conn.endpoint.online(), what="offline")  # type: ignore[union-attr]
        for i in range(5):
            assert await conn.publish_to("dev-a", "indunet/v1/dev-a/commands", b"%d" % i) == 1
        raw = await Raw.open(port_of(conn))
        assert (await raw.login("dev-a", "secret-a", clean_session=False)).session_present is True
        got = [await raw.next() for _ in range(3)]
        assert [g.payload for g in got] == [b"2", b"3", b"4"]  # type: ignore[attr-defined]
        raw.close()
        # a clean session starts empty
        raw = await Raw.open(port_of(conn))
        assert (await raw.login("dev-a", "secret-a", clean_session=True)).session_present is False
        assert await conn.publish_to("dev-a", "indunet/v1/dev-a/commands", b"z") == 0


async def test_unacknowledged_command_is_resent_after_reconnect() -> None:
    async with embedded(RecordingSink()) as conn:
        raw = await Raw.open(port_of(conn))
        await raw.login("dev-a", "secret-a", clean_session=False)
        await raw.send(Subscribe(1, (("indunet/v1/dev-a/commands", 1),)))
        await raw.next()
        await conn.publish_to("dev-a", "indunet/v1/dev-a/commands", b"go")
        first = await raw.next()
        assert isinstance(first, Publish) and not first.dup
        raw.close()  # no PUBACK
        await until(lambda: "dev-a" not in conn.endpoint.online(), what="offline")  # type: ignore[union-attr]
        raw = await Raw.open(port_of(conn))
        await raw.login("dev-a", "secret-a", clean_session=False)
        again = await raw.next()
        assert isinstance(again, Publish) and again.dup and again.packet_id == first.packet_id


async def test_a_second_connection_of_the_same_client_takes_over() -> None:
    statuses = Statuses()
    async with embedded(RecordingSink(), statuses) as conn:
        first = await Raw.open(port_of(conn))
        await first.login("dev-a", "secret-a")
        second = await Raw.open(port_of(conn))
        assert (await second.login("dev-a", "secret-a")).return_code == 0
        assert await first.closed()
        assert statuses.events == [("dev-a", True)]  # no offline flap on takeover
        # another device cannot take over with the same client id
        other = await Raw.open(port_of(conn))
        await other.send(Connect("dev-a", "dev-b", b"secret-b"))
        assert await other.next() == ConnAck(0)
        await second.send(PingReq())
        assert type(await second.next()).__name__ == "PingResp"


async def test_stop_closes_connections_and_marks_devices_offline() -> None:
    statuses = Statuses()
    async with embedded(RecordingSink(), statuses) as conn:
        raw = await Raw.open(port_of(conn))
        await raw.login("dev-a", "secret-a")
    assert statuses.events == [("dev-a", True), ("dev-a", False)]
    assert await raw.closed()


async def test_packets_in_the_same_read_as_connect_are_answered_at_once() -> None:
    # MQTT 3.1.1 lets a client send right after CONNECT; these came in one TCP write
    sink = RecordingSink()
    async with embedded(sink) as conn:
        raw = await Raw.open(port_of(conn))
        raw.writer.write(
            encode(Connect("dev-a", "dev-a", b"secret-a"))
            + encode(Publish(T.format("dev-a"), b'{"temp": 7}', qos=1, packet_id=7))
            + encode(Subscribe(8, (("indunet/v1/dev-a/commands", 1),)))
        )
        await raw.writer.drain()
        assert await raw.next() == ConnAck(0)
        # nothing else is sent: the endpoint must not wait for another packet (the PUBACK
        # waits for storage, so the SUBACK may come first)
        answers = [await raw.next(wait=2), await raw.next(wait=2)]
        assert PubAck(7) in answers
        assert SubAck(8, (1,)) in answers
        assert [s.value for s in sink.samples] == [7]
        raw.close()


class FailingSink(RecordingSink):
    """A sink whose store breaks (not ``Overloaded``) once ``broken`` is set."""

    broken = False

    async def submit(self, samples: Sequence[Sample], *, source: str) -> None:
        if self.broken:
            raise RuntimeError("test: the store is down")
        await super().submit(samples, source=source)


async def test_a_will_that_cannot_be_stored_still_ends_the_connection_cleanly() -> None:
    statuses, sink = Statuses(), FailingSink()
    async with embedded(sink, statuses) as conn:
        assert conn.endpoint is not None
        raw = await Raw.open(port_of(conn))
        will = Will(T.format("dev-a"), b'{"temp": -3}')
        await raw.login("dev-a", "secret-a", will=will)
        sink.broken = True
        raw.close()  # vanishes without DISCONNECT: the will's commit raises RuntimeError
        await until(lambda: statuses.last("dev-a") is False, 5, "offline status")
        assert conn.endpoint.sessions == {}  # the clean session is deleted
        assert conn.endpoint.connections == {}
        sink.broken = False
        again = await Raw.open(port_of(conn))  # same client id: no wait for a takeover
        started = asyncio.get_running_loop().time()
        assert (await again.login("dev-a", "secret-a")).return_code == 0
        assert asyncio.get_running_loop().time() - started < 1
        again.close()


def test_connection_phases_and_endings_keep_what_is_final() -> None:
    from indunet.connect.mqtt.endpoint import Ending, MqttEndpoint, Phase, _Connection
    from indunet.connect.mqtt.router import MessageRouter

    conn = _Connection(MqttEndpoint(MessageRouter(RecordingSink()), lambda *_: True), None, None)  # type: ignore[arg-type]
    assert (conn.phase, conn.ending) == (Phase.READING, Ending.LOST)
    conn.enter(Phase.FAILED)
    conn.enter(Phase.DRAINING)  # the reader ending after a failed store does not undo it
    assert conn.phase is Phase.FAILED
    conn.end(Ending.DISCONNECTED)
    conn.end(Ending.SHUT_DOWN)  # the first reason is the one that decides the will
    assert conn.ending is Ending.DISCONNECTED


async def test_refused_credentials_are_noted_with_the_peer_and_the_name_given() -> None:
    refused = Signal(AUTH_FAILURES)
    async with embedded(RecordingSink(), refused=refused) as conn:
        port = port_of(conn)
        for user, secret in (("dev-a", "wrong"), ("nobody", "secret-a")):
            raw = await Raw.open(port)
            assert (await raw.login(user, secret)).return_code == 5
            raw.close()
        anonymous = await Raw.open(port)
        await anonymous.send(Connect("anon"))
        assert await anonymous.next() == ConnAck(4)
        anonymous.close()
        # right credentials, a will outside the device's topics: refused, but no guess
        raw = await Raw.open(port)
        ack = await raw.login("dev-a", "secret-a", will=Will("indunet/v1/dev-b/status", b"x"))
        assert ack.return_code == 5
        raw.close()
        async with device(port, "dev-b"):
            pass
    event = refused.take()
    assert event is not None
    assert [(r["src"], r["user"], r["device"], r["target"]) for r in event.data["records"]] == [
        ("127.0.0.1", "dev-a", "dev-a", "mqtt"),
        ("127.0.0.1", "nobody", "nobody", "mqtt"),
        ("127.0.0.1", None, None, "mqtt"),
    ]
