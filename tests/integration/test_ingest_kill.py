"""Killing the ingest process mid-stream: nothing that was acknowledged is lost.

A real ``indunet up`` process takes a steady stream of telemetry, over its embedded MQTT
endpoint (QoS 1, a persistent session, 50 messages in flight) or over HTTP batches, and is
killed with SIGKILL in the middle of it, as a power cut or the OOM killer would. It is started
again on the same ports and data directory; the sender reconnects and sends again what was
not acknowledged. Then every sample is read back: each one acknowledged (PUBACK, HTTP 200)
before the kill is there, every one sent is there once the sender is done, none twice.
"""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from paho.mqtt import client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from tests.integration.servers import Server, free_port, group

from indunet import core

pytestmark = pytest.mark.integration
USCC = core.make_uscc("91350200MA3K7LL0")
RATE = 300  # messages (or rows) a second
BEFORE_KILL_S = 2.5  # streaming before the kill
AFTER_RESTART_S = 2.0  # streaming after the restart
SETTLE_S = 20.0  # at most, for the sender to get everything acknowledged after it stops
HTTP_BATCH = 20  # rows per POST


@dataclass
class Platform:
    """A running ``indunet up`` with one enterprise, an admin client, and its MQTT port."""

    server: Server
    api: httpx.Client
    mqtt_port: int
    enterprise_id: int

    def device(self, device_id: str, protocol: str) -> str:
        """Register an environment sensor; return its secret."""
        spec = {"id": device_id, "name": device_id, "model": "indunet:env-sensor"}
        spec |= {"protocol": protocol, "enterprise_id": self.enterprise_id}
        resp = self.api.post("/api/v1/devices", json=spec)
        assert resp.status_code == 201, resp.text
        secret: str = resp.json()["secret"]
        return secret

    def stored(self, device_id: str, point: str, start: int, end: int) -> list[dict[str, Any]]:
        """Every stored sample of a point in ``[start, end)``, oldest first."""
        resp = self.api.get(
            f"/api/v1/devices/{device_id}/points/{point}/samples",
            params={"start": start, "end": end, "limit": 100_000},
        )
        assert resp.status_code == 200, resp.text
        body = resp.json()
        assert body["next"] is None
        samples: list[dict[str, Any]] = body["samples"]
        return samples

    def crash_and_restart(self) -> float:
        """SIGKILL the process, start it again on the same ports and data; the seconds down."""
        self.server.kill()
        down = time.monotonic()
        self.server.start()
        return time.monotonic() - down


@pytest.fixture
def platform(tmp_path: Path) -> Iterator[Platform]:
    mqtt_port = free_port()
    with group(tmp_path) as g:
        server = g.start("platform", "up", env={"INDUNET_MQTT_PORT": str(mqtt_port)})
        password = server.admin_password
        assert password, server.output
        api = httpx.Client(base_url=server.url, timeout=10.0)
        token = api.post("/api/v1/auth/token", json={"username": "admin", "password": password})
        api.headers["Authorization"] = f"Bearer {token.json()['token']}"
        ent = api.post("/api/v1/enterprises", json={"uscc": USCC, "name": "断电测试工厂"})
        assert ent.status_code < 300, ent.text
        prefix = api.post("/api/v1/prefixes", json={"prefix": "88.100.7", "enterprise_uscc": USCC})
        assert prefix.status_code < 300, prefix.text
        try:
            yield Platform(server, api, mqtt_port, ent.json()["id"])
        finally:
            api.close()


def paced(start: float, seq: int) -> None:
    """Sleep until message ``seq`` is due at ``RATE`` a second from ``start``."""
    delay = start + seq / RATE - time.monotonic()
    if delay > 0:
        time.sleep(delay)


@dataclass
class MqttDevice:
    """A paho client publishing sequence-numbered QoS 1 messages and noting their PUBACKs."""

    device_id: str
    secret: str
    port: int
    base: int
    lock: threading.Lock = field(default_factory=threading.Lock)
    seq_of: dict[int, int] = field(default_factory=dict)  # mid -> seq, while unacknowledged
    acked: set[int] = field(default_factory=set)
    early: set[int] = field(default_factory=set)  # mids acknowledged before they were noted
    published: int = 0
    connects: int = 0
    connected: threading.Event = field(default_factory=threading.Event)

    def __post_init__(self) -> None:
        c = mqtt.Client(
            CallbackAPIVersion.VERSION2,
            client_id=f"{self.device_id}-main",
            clean_session=False,
            protocol=mqtt.MQTTv311,
        )
        c.username_pw_set(self.device_id, self.secret)
        c.max_inflight_messages_set(50)
        c.max_queued_messages_set(0)  # unbounded: messages wait in the client while down
        c.reconnect_delay_set(min_delay=1, max_delay=1)
        c.on_connect = self._on_connect
        c.on_disconnect = lambda *_: self.connected.clear()
        c.on_publish = self._on_publish
        self.client = c

    def _on_connect(self, _c: Any, _u: Any, _flags: Any, reason: Any, _p: Any) -> None:
        if not reason.is_failure:
            self.connects += 1
            self.connected.set()

    def _on_publish(self, _c: Any, _u: Any, mid: int, reason: Any, _p: Any) -> None:
        if reason.is_failure:
            return
        with self.lock:
            seq = self.seq_of.pop(mid, None)
            if seq is None:
                self.early.add(mid)  # acknowledged before publish() returned its mid
            else:
                self.acked.add(seq)

    def start(self) -> None:
        self.client.connect_async("127.0.0.1", self.port, keepalive=10)
        self.client.loop_start()
        assert self.connected.wait(10), "the device could not log in to the MQTT endpoint"

    def publish(self, seq: int) -> None:
        values = {"temperature": 20 + (seq % 50) / 10, "humidity": seq % 100}
        payload = orjson.dumps({"ts": self.base + seq, "values": values})
        # paho calls on_publish holding its own lock: never call paho holding ours
        info = self.client.publish(f"indunet/v1/{self.device_id}/telemetry", payload, qos=1)
        with self.lock:
            self.published += 1
            if info.mid in self.early:
                self.early.discard(info.mid)
                self.acked.add(seq)
            else:
                self.seq_of[info.mid] = seq

    def unacked(self) -> int:
        with self.lock:
            return self.published - len(self.acked)

    def stop(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def test_mqtt_messages_acknowledged_before_a_kill_survive_it(platform: Platform) -> None:
    t0 = time.monotonic()
    base = int(time.time() * 1000) - 3_600_000
    dev = MqttDevice("env-kill", platform.device("env-kill", "mqtt"), platform.mqtt_port, base)
    dev.start()
    stop = threading.Event()

    def stream() -> None:
        start = time.monotonic()
        for seq in itertools.count():
            if stop.is_set():
                return
            paced(start, seq)
            dev.publish(seq)

    publisher = threading.Thread(target=stream, daemon=True)
    publisher.start()
    try:
        time.sleep(BEFORE_KILL_S)
        assert len(dev.acked) > RATE, "the stream did not get going before the kill"
        with dev.lock:
            acked_at_kill, published_at_kill = set(dev.acked), dev.published
        down_s = platform.crash_and_restart()
        assert dev.connected.wait(10), "the device did not reconnect after the restart"
        time.sleep(AFTER_RESTART_S)
    finally:
        stop.set()
        publisher.join(5)
    deadline = time.monotonic() + SETTLE_S
    while dev.unacked() and time.monotonic() < deadline:
        time.sleep(0.1)
    left = dev.unacked()
    dev.stop()
    total = dev.published
    assert left == 0, f"{left} of {total} messages never acknowledged after the restart"

    temps = platform.stored("env-kill", "temperature", base, base + total)
    humids = platform.stored("env-kill", "humidity", base, base + total)
    seqs = [s["ts"] - base for s in humids]
    assert len(seqs) == len(set(seqs)), "a message was stored twice"
    missing = sorted(acked_at_kill - set(seqs))
    assert not missing, (
        f"{len(missing)} messages acknowledged before the kill are lost: {missing[:10]}"
    )
    assert seqs == list(range(total)), "every message sent is stored once the sender is done"
    assert [s["ts"] - base for s in temps] == seqs
    assert all(s["value"] == (s["ts"] - base) % 100 for s in humids)
    print(
        f"\nMQTT: {total} messages, {len(acked_at_kill)} acknowledged before the kill, "
        f"{published_at_kill - len(acked_at_kill)} sent but not acknowledged at the kill, "
        f"{len(dev.acked) - len(acked_at_kill)} acknowledged later; down {down_s:.1f} s, "
        f"{dev.connects} logins, {time.monotonic() - t0:.1f} s in all"
    )


@dataclass
class HttpDevice:
    """Posts numbered batches of rows with its secret; keeps failed batches to send again."""

    device_id: str
    secret: str
    url: str
    base: int
    ok: dict[int, float] = field(default_factory=dict)  # batch -> when its 200 came
    retry: list[int] = field(default_factory=list)
    cut: int = 0  # requests that had reached the server when it died (no answer came)
    refused: int = 0  # requests that found no server
    answers: list[dict[str, Any]] = field(default_factory=list)  # bodies of the 200s
    posting: threading.Event = field(default_factory=threading.Event)  # a request is out
    stop: threading.Event = field(default_factory=threading.Event)
    give_up_at: float = float("inf")  # once stopped, failed batches are retried until then

    def body(self, batch: int) -> bytes:
        first = batch * HTTP_BATCH
        rows = [
            {"device": self.device_id, "point": "humidity", "ts": self.base + n, "value": n % 100}
            for n in range(first, first + HTTP_BATCH)
        ]
        return orjson.dumps({"samples": rows})

    def run(self) -> None:
        """Send fresh batches at ``RATE`` rows a second, failed ones first, until stopped."""
        auth = {"Authorization": f"Device {self.device_id}:{self.secret}"}
        auth["Content-Type"] = "application/json"
        start, fresh = time.monotonic(), itertools.count()
        with httpx.Client(base_url=self.url, headers=auth, timeout=5.0) as http:
            while not self.stop.is_set() or (self.retry and time.monotonic() < self.give_up_at):
                if self.retry:
                    batch = self.retry.pop(0)
                else:
                    batch = next(fresh)
                    paced(start, batch * HTTP_BATCH)
                self.posting.set()
                try:
                    resp = http.post("/api/v1/telemetry", content=self.body(batch))
                except httpx.ConnectError:
                    self.refused += 1
                    self.retry.append(batch)
                    time.sleep(0.1)
                    continue
                except httpx.TransportError:
                    self.cut += 1
                    self.retry.append(batch)
                    continue
                finally:
                    self.posting.clear()
                if resp.status_code == 200:
                    self.ok[batch] = time.monotonic()
                    self.answers.append(resp.json())
                else:  # 503 while the buffer is full: later
                    self.retry.append(batch)
                    time.sleep(0.1)


def test_http_batches_answered_200_before_a_kill_survive_it(platform: Platform) -> None:
    t0 = time.monotonic()
    base = int(time.time() * 1000) - 3_600_000
    dev = HttpDevice("gw-kill", platform.device("gw-kill", "http"), platform.server.url, base)
    sender = threading.Thread(target=dev.run, daemon=True)
    sender.start()
    try:
        time.sleep(BEFORE_KILL_S)
        assert len(dev.ok) > 10, "the stream did not get going before the kill"
        dev.posting.wait(5)  # kill while a request is out, when the race is at its worst
        killed_at = time.monotonic()
        down_s = platform.crash_and_restart()
        time.sleep(AFTER_RESTART_S)
    finally:
        dev.give_up_at = time.monotonic() + SETTLE_S
        dev.stop.set()
        sender.join(SETTLE_S + 10)
    assert not sender.is_alive() and not dev.retry, f"batches never answered: {dev.retry[:10]}"
    before = {b for b, at in dev.ok.items() if at < killed_at}
    batches = max(dev.ok) + 1
    assert sorted(dev.ok) == list(range(batches))
    assert all(a["dead_lettered"] == 0 for a in dev.answers), dev.answers
    stored = platform.stored("gw-kill", "humidity", base, base + batches * HTTP_BATCH)
    ts = [s["ts"] - base for s in stored]
    assert len(ts) == len(set(ts)), "a row was stored twice"
    lost = sorted(
        b for b in before if not set(range(b * HTTP_BATCH, (b + 1) * HTTP_BATCH)) <= set(ts)
    )
    assert not lost, f"batches answered 200 before the kill are lost: {lost[:10]}"
    assert ts == list(range(batches * HTTP_BATCH)), "every batch sent is stored in the end"
    assert all(s["value"] == (s["ts"] - base) % 100 for s in stored)
    print(
        f"\nHTTP: {batches} batches of {HTTP_BATCH}, {len(before)} answered before the kill, "
        f"{dev.cut} cut off by it, {dev.refused} refused while down; down {down_s:.1f} s, "
        f"{time.monotonic() - t0:.1f} s in all"
    )
