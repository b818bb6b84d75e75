"""The MQTT connector in broker mode against real Mosquitto: the system one and private ones.

Private brokers run ``/usr/sbin/mosquitto`` on a free loopback port with their own config,
data and log in ``tmp_path``; they are always killed at the end of the test.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import getpass
import json
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import aiomqtt
import paho.mqtt.client as mqtt
import pytest
import sqlalchemy as sa
from tests.conftest import need_service, until
from tests.connect.test_mqtt_support import (
    METER,
    Platform,
    RecordingSink,
    Statuses,
    now_ms,
    platform,
)
from tests.integration.servers import free_port

from indunet.connect import DeviceLink, MqttConfig, MqttConnector
from indunet.connect.mqtt import BrokerSettings, BrokerUrl, write_mosquitto_files

MOSQUITTO = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
needs_binary = pytest.mark.skipif(not Path(MOSQUITTO).exists(), reason="no mosquitto binary")


def _die_with_parent() -> None:
    if sys.platform.startswith("linux"):
        ctypes.CDLL(None).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


class Mosquitto:
    """A private Mosquitto broker that can be stopped and started again on the same port."""

    def __init__(
        self, home: Path, extra: str = "", *, conf: Path | None = None, port: int = 0
    ) -> None:
        self.home, self.port = home, port or free_port()
        home.mkdir(parents=True, exist_ok=True)
        self.proc: subprocess.Popen[bytes] | None = None
        if conf is not None:  # a complete configuration written elsewhere
            self.conf = conf
            return
        self.conf = home / "mosquitto.conf"
        self.conf.write_text(
            # run as this user: as root, Mosquitto would switch to "mosquitto" and could not
            # read the test's private (0700) directory
            f"user {getpass.getuser()}\nlistener {self.port} 127.0.0.1\npersistence true\n"
            f"persistence_location {home}/\nlog_dest file {home}/mosquitto.log\n"
            + (extra or "allow_anonymous true\n")
        )

    def start(self) -> None:
        with (self.home / "stderr.log").open("ab") as err:
            self.proc = subprocess.Popen(
                [MOSQUITTO, "-c", str(self.conf)],
                stdout=err,
                stderr=err,
                preexec_fn=_die_with_parent,
            )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"mosquitto exited: {(self.home / 'stderr.log').read_text()}")
            with (
                contextlib.suppress(OSError),
                socket.create_connection(("127.0.0.1", self.port), 0.2),
            ):
                return
            time.sleep(0.02)
        raise RuntimeError("mosquitto did not start listening within 10 s")

    def stop(self) -> None:
        """SIGTERM (Mosquitto saves its persistence file), then SIGKILL if it lingers."""
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(5)


@contextlib.contextmanager
def mosquitto(
    home: Path, extra: str = "", *, conf: Path | None = None, port: int = 0
) -> Iterator[Mosquitto]:
    broker = Mosquitto(home, extra, conf=conf, port=port)
    broker.start()
    try:
        yield broker
    finally:
        broker.stop()


@contextlib.asynccontextmanager
async def broker_connector(
    url: str, p: Platform, client_id: str, status: Statuses | None = None, **kw: Any
) -> AsyncIterator[MqttConnector]:
    config = MqttConfig(
        broker=BrokerUrl.parse(url), client_id=client_id, backoff_base=0.05, backoff_cap=0.5, **kw
    )
    conn = MqttConnector(config, p.pipeline, status)
    for d in ("dev-a", "dev-b"):
        conn.add(DeviceLink(d, METER))
    await conn.start()
    try:
        await until(lambda: conn.client is not None and conn.client.connected, 10, "broker")
        await asyncio.sleep(0.2)  # SUBACK
        yield conn
    finally:
        await asyncio.wait_for(conn.stop(), 10)


def forget_session(port: int, client_id: str) -> None:
    """Connect once with a clean session: the broker drops what it kept for ``client_id``."""
    c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=client_id, clean_session=True)
    c.connect("127.0.0.1", port)
    c.loop_start()
    time.sleep(0.2)
    c.disconnect()
    c.loop_stop()


async def test_qos1_end_to_end_and_commands_through_the_system_mosquitto(
    engine: sa.Engine, tmp_path: Path
) -> None:
    need_service("Mosquitto", "127.0.0.1", 1883)
    run = uuid.uuid4().hex[:10]
    dev = f"it-{run}"  # unique device id: its topics are this run's own
    client_id = f"indunet-it-{run}"
    statuses = Statuses()
    async with platform(engine, tmp_path, dev) as p:
        config = MqttConfig(broker=BrokerUrl.parse("mqtt://127.0.0.1:1883"), client_id=client_id)
        conn = MqttConnector(config, p.pipeline, statuses)
        conn.add(DeviceLink(dev, METER))
        await conn.start()
        try:
            await until(lambda: conn.client is not None and conn.client.connected, 10, "broker")
            await asyncio.sleep(0.2)
            base = now_ms()
            will = aiomqtt.Will(f"indunet/v1/{dev}/status", "offline", qos=1, retain=True)
            async with aiomqtt.Client("127.0.0.1", 1883, identifier=f"dev-{run}", will=will) as c:
                await c.publish(f"indunet/v1/{dev}/status", "online", qos=1, retain=True)
                for seq in range(200):
                    body = {"ts": base + seq, "values": {"seq": seq, "temp": 20.0}}
                    await c.publish(f"indunet/v1/{dev}/telemetry", json.dumps(body), qos=1)
                await until(lambda: len(p.values(dev, "seq")) == 200, 10, "200 samples")
                assert p.values(dev, "seq") == list(range(200))
                assert statuses.last(dev) is True

                await c.subscribe(f"indunet/v1/{dev}/commands", qos=1)

                async def answer() -> None:
                    async for m in c.messages:
                        cmd = json.loads(bytes(m.payload))  # type: ignore[arg-type]
                        result = {"id": cmd["id"], "ok": True, "output": cmd["value"] * 2}
                        await c.publish(
                            f"indunet/v1/{dev}/commands/result", json.dumps(result), qos=1
                        )

                task = asyncio.create_task(answer())
                try:
                    await asyncio.wait_for(conn.write(dev, "mode", "auto"), 10)
                finally:
                    task.cancel()
                await c.publish(f"indunet/v1/{dev}/status", "offline", qos=1, retain=True)
                await until(lambda: statuses.last(dev) is False, 5, "offline status")
            assert conn.health().detail["broker_connected"] is True
            assert conn.last_seen(dev) is not None
        finally:
            await asyncio.wait_for(conn.stop(), 10)
            async with aiomqtt.Client("127.0.0.1", 1883) as c:  # drop the retained status
                await c.publish(f"indunet/v1/{dev}/status", b"", qos=1, retain=True)
            await asyncio.to_thread(forget_session, 1883, client_id)


@needs_binary
async def test_broker_keeps_messages_while_indunet_is_down(
    engine: sa.Engine, tmp_path: Path
) -> None:
    with mosquitto(tmp_path / "broker") as broker:
        url = f"mqtt://127.0.0.1:{broker.port}"
        base = now_ms()
        async with platform(engine, tmp_path, "dev-a") as p:
            async with broker_connector(url, p, "indunet-keep"):
                pass  # the session (and its subscriptions) now exist at the broker
            async with aiomqtt.Client("127.0.0.1", broker.port, identifier="dev-a") as c:
                for seq in range(100):
                    payload = json.dumps({"ts": base + seq, "seq": seq})
                    await c.publish("indunet/v1/dev-a/telemetry", payload, qos=1)
            assert p.values("dev-a", "seq") == []
            async with broker_connector(url, p, "indunet-keep"):
                await until(lambda: len(p.values("dev-a", "seq")) == 100, 10, "queued messages")
        assert p.values("dev-a", "seq") == list(range(100))


class Publisher:
    """A device on its own paho thread: QoS 1 sequence numbers, noting each PUBACK."""

    def __init__(
        self,
        port: int,
        count: int,
        base: int,
        device: str = "dev-a",
        password: str | None = None,
        client_id: str = "restart-dev",
    ) -> None:
        self.count, self.base, self.device = count, base, device
        self.sent = 0
        self._seq_of_mid: dict[int, int] = {}
        self._acked_mids: set[int] = set()  # on_publish may come before publish() returns
        c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=client_id, clean_session=False)
        c.max_queued_messages_set(0)  # paho keeps what it could not send yet, unbounded
        if password is not None:
            c.username_pw_set(device, password)
        c.reconnect_delay_set(0.05, 0.5)
        c.on_publish = lambda _c, _u, mid, _rc, _p: self._acked_mids.add(mid)
        c.connect("127.0.0.1", port, keepalive=5)
        self.client = c

    @property
    def acked(self) -> set[int]:
        """Sequence numbers the broker acknowledged."""
        mids = set(self._acked_mids)
        return {seq for mid, seq in list(self._seq_of_mid.items()) if mid in mids}

    def run(self, interval: float) -> None:
        self.client.loop_start()
        for seq in range(self.count):
            payload = json.dumps({"ts": self.base + seq, "values": {"seq": seq}})
            info = self.client.publish(f"indunet/v1/{self.device}/telemetry", payload, qos=1)
            self._seq_of_mid[info.mid] = seq
            self.sent += 1
            time.sleep(interval)

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


@needs_binary
async def test_broker_restart_mid_stream_loses_and_duplicates_nothing_acknowledged(
    engine: sa.Engine, tmp_path: Path
) -> None:
    count = 400
    with mosquitto(tmp_path / "broker") as broker:
        url = f"mqtt://127.0.0.1:{broker.port}"
        async with (
            platform(engine, tmp_path, "dev-a") as p,
            broker_connector(url, p, "indunet-restart") as conn,
        ):
            publisher = Publisher(broker.port, count, now_ms() - 60_000)
            # a daemon thread: should paho ever hang, the test fails instead of the run
            sending = threading.Thread(target=publisher.run, args=(0.005,), daemon=True)
            sending.start()
            try:
                await until(lambda: publisher.sent >= count // 3, 20, "a third sent")
                await asyncio.to_thread(broker.stop)  # SIGTERM mid-stream
                await asyncio.sleep(0.3)
                await asyncio.to_thread(broker.start)
                await until(lambda: not sending.is_alive(), 30, "all published")
                await until(lambda: len(publisher.acked) == count, 30, "every PUBACK")
                acked = set(publisher.acked)
                await until(lambda: acked <= set(p.values("dev-a", "seq")), 30, "acked stored")
            finally:
                sending.join(30)
                publisher.close()
            stored = p.values("dev-a", "seq")
            assert len(stored) == len(set(stored))  # exactly once
            assert set(stored) <= set(range(count))
            assert acked <= set(stored)
            assert conn.health().reconnects >= 1


@needs_binary
async def test_mosquitto_enforces_the_acl_and_passwords_we_write(
    engine: sa.Engine, tmp_path: Path
) -> None:
    port = free_port()
    files = write_mosquitto_files(
        tmp_path / "auth",
        service_user="indunet",
        service_password="svc-pw",
        devices={"dev-a": "secret-a", "dev-b": "secret-b"},
        broker=BrokerSettings(port=port, bind="127.0.0.1", run_as=getpass.getuser()),
    )
    with mosquitto(tmp_path / "broker", conf=files.config_file, port=port) as broker:
        url = f"mqtt://indunet:svc-pw@127.0.0.1:{broker.port}"
        port = broker.port
        async with (
            platform(engine, tmp_path, "dev-a", "dev-b") as p,
            broker_connector(url, p, "indunet-acl"),
        ):
            with pytest.raises(aiomqtt.MqttError, match=r"[Nn]ot authori[sz]ed"):
                async with aiomqtt.Client("127.0.0.1", port, username="dev-a", password="nope"):
                    pass
            ts = now_ms()
            async with aiomqtt.Client(
                "127.0.0.1", port, username="dev-a", password="secret-a", identifier="dev-a"
            ) as a:
                forged = json.dumps({"ts": ts, "temp": 66.0})
                await a.publish("indunet/v1/dev-b/telemetry", forged, qos=1)
                own = json.dumps({"ts": ts, "temp": 1.0})
                await a.publish("indunet/v1/dev-a/telemetry", own, qos=1)
                await until(lambda: p.values("dev-a", "temp") == [1.0], 5, "own telemetry")
                assert p.values("dev-b", "temp") == []
                await a.subscribe("indunet/v1/dev-b/commands", qos=1)
                await a.subscribe("indunet/v1/dev-a/commands", qos=1)
                async with aiomqtt.Client(
                    "127.0.0.1", port, username="indunet", password="svc-pw"
                ) as svc:
                    await svc.publish("indunet/v1/dev-b/commands", b"for b", qos=1)
                    await svc.publish("indunet/v1/dev-a/commands", b"for a", qos=1)
                first = await asyncio.wait_for(anext(aiter(a.messages)), 5)
                assert first.payload == b"for a"


@needs_binary
async def test_overloaded_ingest_pauses_and_loses_nothing(tmp_path: Path) -> None:
    sink = RecordingSink()
    sink.overloaded = 3
    with mosquitto(tmp_path / "broker") as broker:
        config = MqttConfig(
            broker=BrokerUrl.parse(f"mqtt://127.0.0.1:{broker.port}"), client_id="indunet-busy"
        )
        conn = MqttConnector(config, sink)
        await conn.start()
        try:
            await until(lambda: conn.client is not None and conn.client.connected, 10, "broker")
            await asyncio.sleep(0.2)
            base = now_ms()
            async with aiomqtt.Client("127.0.0.1", broker.port, identifier="busy-dev") as c:
                for seq in range(300):
                    payload = json.dumps({"ts": base + seq, "seq": seq})
                    await c.publish("indunet/v1/dev-a/telemetry", payload, qos=1)
            await until(lambda: len({s.ts for s in sink.samples}) == 300, 15, "all stored")
            assert sink.refused == 3
            assert sorted(s.value for s in sink.samples) == list(range(300))
        finally:
            await asyncio.wait_for(conn.stop(), 10)


@needs_binary
async def test_broker_mode_reads_many_messages_per_socket_read(
    engine: sa.Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # paho reads each packet in 3-4 small recv calls through its private Client._sock_recv;
    # the connector overrides it to read 64 KiB ahead (2.4x the ingest rate in
    # bench/mqtt_ingest.py). Should a paho release stop calling it, this test says so.
    reads = 0
    real = mqtt.Client._sock_recv

    def counting(self: mqtt.Client, bufsize: int) -> bytes:
        nonlocal reads
        reads += 1
        return real(self, bufsize)

    monkeypatch.setattr(mqtt.Client, "_sock_recv", counting)
    count = 2000
    with mosquitto(
        tmp_path / "broker",
        "allow_anonymous true\nmax_inflight_messages 1000\nmax_queued_messages 1000000000\n",
    ) as b:
        url = f"mqtt://127.0.0.1:{b.port}"
        async with platform(engine, tmp_path, "dev-a") as p:
            async with broker_connector(url, p, "indunet-readahead"):
                pass  # the session exists: messages queue for it
            base = now_ms()
            async with aiomqtt.Client("127.0.0.1", b.port, identifier="dev-a") as c:
                for seq in range(count):
                    body = json.dumps({"ts": base + seq, "seq": seq})
                    await c.publish("indunet/v1/dev-a/telemetry", body, qos=1)
            reads = 0
            async with broker_connector(url, p, "indunet-readahead"):
                await until(lambda: len(p.values("dev-a", "seq")) == count, 20, "all stored")
    assert reads > 0, "paho no longer reads through Client._sock_recv"
    assert reads < count / 4, f"{reads} socket reads for {count} messages: no read-ahead"
