"""External broker mode: a paho-mqtt 2.x client driven by the asyncio loop (no paho thread).

paho tells us about its socket (``on_socket_open/close/register_write/unregister_write``) and
the loop calls ``loop_read``/``loop_write`` when it is ready, ``loop_misc`` every second.
The client id is fixed and ``clean_session=False``, so the broker keeps QoS 1 messages
while Indunet is down. Acknowledgements are manual: ``ack`` only after ``submit`` returned.
Reconnects forever with ``Backoff``.

Several connector processes on one broker (``MqttConfig.share_group``) each have their own
client id and session and subscribe device traffic as ``$share/<group>/<filter>``: the broker
hands each message to one of them. Command results and statuses are subscribed without
``$share``: every connector sees them, the one that sent a command takes its result and the
others ignore an id they do not wait for; every connector knows which devices are offline.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
from dataclasses import dataclass
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from indunet.connect.mqtt import topics
from indunet.connect.mqtt.config import BrokerUrl, MqttConfig
from indunet.connect.mqtt.router import MessageRouter
from indunet.core.backoff import Backoff
from indunet.telemetry import Overloaded

log = logging.getLogger(__name__)

EVERY_CONNECTOR = frozenset(
    {f"{topics.PREFIX}+/{topics.RESULT}", f"{topics.PREFIX}+/{topics.STATUS}"}
)
"""Filters each connector of a share group subscribes on its own (not shared)."""


def wire_filter(topic_filter: str, group: str | None) -> str:
    """The filter sent to the broker: in a share group, ``$share/<group>/`` before device
    traffic (results and statuses excepted, ``EVERY_CONNECTOR``); without one, unchanged."""
    if group is None or topic_filter in EVERY_CONNECTOR:
        return topic_filter
    return f"$share/{group}/{topic_filter}"


READ_SLICE = 0.01
"""Seconds one turn of reading may hold the event loop (a backlog arrives in 64 KiB reads)."""


class _ReadAheadClient(mqtt.Client):
    """paho's client reading its socket 64 KiB at a time.

    paho asks the socket for one byte (the packet type), then each length byte, then the
    rest: four ``recv`` calls and one event-loop wakeup per message. Reading ahead serves
    those small reads from memory; ``BrokerClient._readable`` then handles every packet
    already read before it returns to the loop.

    ``_sock_recv`` is private paho API, kept on purpose: paho 2.x has no public way to give
    it a buffered socket (``on_socket_open`` shows the socket but cannot replace it, and
    there is no call to feed it bytes). Without it ``bench/mqtt_ingest.py`` drained 3,314
    instead of 8,108 messages/s. Should a paho release stop calling it, the override is
    simply never called (paho's own reads, correct but slower) and
    ``test_broker_mode_reads_many_messages_per_socket_read`` fails.
    """

    _ahead = b""
    _pos = 0

    @property
    def buffered(self) -> int:
        """Bytes read from the socket that paho has not consumed yet."""
        return len(self._ahead) - self._pos

    def forget_ahead(self) -> None:
        """Drop read-ahead bytes (the socket they came from is gone)."""
        self._ahead, self._pos = b"", 0

    def _sock_recv(self, bufsize: int) -> bytes:
        if self._pos >= len(self._ahead):
            data = super()._sock_recv(65536)
            if len(data) <= bufsize:
                self.forget_ahead()
                return data
            self._ahead, self._pos = data, 0
        start = self._pos
        self._pos = min(start + bufsize, len(self._ahead))
        return self._ahead[start : self._pos]


@dataclass(slots=True)
class _Received:
    generation: int
    mid: int
    qos: int
    topic: str
    payload: bytes


class BrokerClient:
    """Subscribes to device topics on an external broker and feeds the router."""

    def __init__(self, router: MessageRouter, broker: BrokerUrl, config: MqttConfig) -> None:
        self.router = router
        self.broker = broker
        self.config = config
        self.connected = False
        self.counts = {"connects": 0, "reconnects": 0, "errors": 0}
        self.last_error = ""
        self._client = self._make_client()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._loop_thread = 0
        self._fd = -1
        self._reading = False
        self._generation = 0
        self._received: list[_Received] = []
        self._wake = asyncio.Event()
        self._connack: asyncio.Future[tuple[str, bool]] | None = None
        self._closed = asyncio.Event()
        self._subscribed: set[str] = set()
        self._tasks: list[asyncio.Task[None]] = []
        self._stopping = False

    def _make_client(self) -> _ReadAheadClient:
        client = _ReadAheadClient(
            CallbackAPIVersion.VERSION2,
            client_id=self.config.client_id,
            clean_session=False,
            protocol=mqtt.MQTTv311,
            manual_ack=True,
        )
        if self.broker.username is not None:
            client.username_pw_set(self.broker.username, self.broker.password)
        if self.broker.tls:
            client.tls_set()
        client.connect_timeout = 10.0
        client.on_socket_open = self._on_socket_open
        client.on_socket_close = self._on_socket_close
        client.on_socket_register_write = self._on_register_write
        client.on_socket_unregister_write = self._on_unregister_write
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_message = self._on_message
        return client

    # -- lifecycle ---------------------------------------------------------------------------
    async def start(self) -> None:
        """Begin connecting (in the background; never raises for an unreachable broker)."""
        self._loop = asyncio.get_running_loop()
        self._loop_thread = threading.get_ident()
        self._stopping = False
        self._tasks = [
            asyncio.create_task(self._run(), name="mqtt-broker-connection"),
            asyncio.create_task(self._process(), name="mqtt-broker-ingest"),
            asyncio.create_task(self._misc(), name="mqtt-broker-keepalive"),
        ]

    async def stop(self) -> None:
        """Disconnect cleanly (the broker keeps the session) and stop every task."""
        self._stopping = True
        if self.connected:
            self._client.disconnect()
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(2):
                    await self._closed.wait()
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks = []
        self._drop_socket()
        self.connected = False

    def subscribe(self, filters: list[str]) -> None:
        """Subscribe (QoS 1) to filters not yet subscribed in this session (shared ones in
        the share group, see ``wire_filter``)."""
        new = [t for t in filters if t not in self._subscribed]
        if new and self.connected:
            group = self.config.share_group
            self._client.subscribe([(wire_filter(t, group), 1) for t in new])
            self._subscribed.update(new)

    def publish(self, topic: str, payload: bytes, qos: int = 1) -> bool:
        """Publish (a command); false when the broker is not connected."""
        if not self.connected:
            return False
        info = self._client.publish(topic, payload, qos=qos)
        return info.rc == mqtt.MQTT_ERR_SUCCESS

    async def _run(self) -> None:
        backoff = Backoff(self.config.backoff_base, self.config.backoff_cap)
        loop = asyncio.get_running_loop()
        while not self._stopping:
            self._closed.clear()
            self._connack = loop.create_future()
            self._generation += 1
            try:
                await loop.run_in_executor(None, self._connect_blocking)
                async with asyncio.timeout(15):
                    refusal, present = await self._connack
                if refusal:
                    raise ConnectionRefusedError(f"broker refused the connection: {refusal}")
            except (OSError, TimeoutError) as exc:
                self.counts["errors"] += 1
                self.last_error = f"{self.broker}: {exc}"
                log.warning("MQTT broker %s unreachable: %s", self.broker, exc)
                self._drop_socket()
                await asyncio.sleep(backoff.next())
                continue
            backoff.reset()
            self.counts["reconnects" if self.counts["connects"] else "connects"] += 1
            self.connected = True
            log.info(
                "MQTT broker %s connected as %s (session present: %s)",
                self.broker,
                self.config.client_id,
                present,
            )
            standard = self.router.standard_subscriptions()
            if present:  # the broker kept them: subscribing again would resend retained messages
                self._subscribed.update(standard)
            else:
                self._subscribed.clear()
            self.subscribe(standard + self.router.extra_subscriptions())
            await self._closed.wait()
            self.connected = False
            if not self._stopping:
                log.warning("MQTT broker %s connection lost", self.broker)
                await asyncio.sleep(backoff.next())

    def _connect_blocking(self) -> None:
        self._client.connect(self.broker.host, self.broker.port, self.config.keepalive)

    async def _misc(self) -> None:
        while True:
            await asyncio.sleep(1.0)
            if self.connected:
                self._client.loop_misc()

    # -- paho socket callbacks (may come from the connecting thread) --------------------------
    def _in_loop(self, fn: Any, *args: Any) -> None:
        if self._loop is None:
            return
        if threading.get_ident() == self._loop_thread:
            fn(*args)
        else:
            self._loop.call_soon_threadsafe(fn, *args)

    def _on_socket_open(self, _c: mqtt.Client, _u: Any, sock: Any) -> None:
        self._client.forget_ahead()
        if sock.fileno() >= 0:
            self._in_loop(self._register, sock.fileno())

    def _register(self, fd: int) -> None:
        if self._loop is None or self._stopping:
            return
        self._fd = fd
        self._loop.add_reader(fd, self._readable)
        self._reading = True

    def _on_socket_close(self, _c: mqtt.Client, _u: Any, sock: Any) -> None:
        self._client.forget_ahead()
        if sock.fileno() >= 0:
            self._in_loop(self._unregister, sock.fileno())

    def _unregister(self, fd: int) -> None:
        if self._loop is None:
            return
        self._loop.remove_reader(fd)
        self._loop.remove_writer(fd)
        if fd == self._fd:
            self._fd = -1
            self._reading = False
            self._closed.set()

    def _on_register_write(self, _c: mqtt.Client, _u: Any, sock: Any) -> None:
        if sock.fileno() >= 0:
            self._in_loop(self._want_write, sock.fileno())

    def _want_write(self, fd: int) -> None:
        if self._loop is not None and fd == self._fd:
            self._loop.add_writer(fd, self._client.loop_write)

    def _on_unregister_write(self, _c: mqtt.Client, _u: Any, sock: Any) -> None:
        if sock.fileno() >= 0:
            self._in_loop(self._no_write, sock.fileno())

    def _no_write(self, fd: int) -> None:
        if self._loop is not None:
            self._loop.remove_writer(fd)

    def _readable(self) -> None:
        """Handle what the socket has, and every packet already read ahead, in time slices."""
        client = self._client
        client.loop_read()
        deadline = time.monotonic() + READ_SLICE
        while time.monotonic() < deadline:
            sock = client.socket()
            if sock is None or not self._reading:
                return
            if not client.buffered and not getattr(sock, "pending", lambda: 0)():
                return  # (TLS ``pending``: bytes decrypted already, no readiness event)
            client.loop_read()
        if self._loop is not None:
            self._loop.call_soon(self._readable)  # let other tasks run, then go on

    def _pause(self, paused: bool) -> None:
        if self._loop is None or self._fd < 0 or paused != self._reading:
            return
        if paused:
            self._loop.remove_reader(self._fd)
        else:
            self._loop.add_reader(self._fd, self._readable)
            if self._client.buffered:
                self._loop.call_soon(self._readable)  # no readiness event for these
        self._reading = not paused

    def _drop_socket(self) -> None:
        """Forget a socket paho did not close itself (CONNACK never came, or stopping)."""
        if self._fd >= 0:
            self._unregister(self._fd)
        with contextlib.suppress(OSError):
            sock = self._client.socket()
            if sock is not None:
                sock.close()

    # -- paho protocol callbacks (on the loop) -------------------------------------------------
    def _on_connect(self, _c: mqtt.Client, _u: Any, flags: Any, rc: Any, _p: Any) -> None:
        if self._connack is not None and not self._connack.done():
            refusal = str(rc) if rc.is_failure else ""
            self._connack.set_result((refusal, bool(flags.session_present)))

    def _on_disconnect(self, _c: mqtt.Client, _u: Any, _f: Any, rc: Any, _p: Any) -> None:
        self._closed.set()

    def _on_message(self, _c: mqtt.Client, _u: Any, msg: mqtt.MQTTMessage) -> None:
        self._received.append(
            _Received(self._generation, msg.mid, msg.qos, msg.topic, bytes(msg.payload))
        )
        self._wake.set()
        if len(self._received) >= self.config.max_pending:
            self._pause(True)

    async def _process(self) -> None:
        """Store what arrived, in one submit per batch, then acknowledge in order."""
        while True:
            await self._wake.wait()
            self._wake.clear()
            items, self._received = self._received, []
            if not items:
                continue
            batch = self.router.decode(None, [(m.topic, m.payload) for m in items])
            backoff = Backoff(0.05, 2.0)
            while True:
                try:
                    await self.router.commit(batch)
                    break
                except Overloaded:
                    self._pause(True)
                    await asyncio.sleep(backoff.next())
                except Exception as exc:
                    # Not stored and not acknowledged: reconnecting makes the broker resend.
                    log.exception("MQTT messages from %s could not be stored", self.broker)
                    self.counts["errors"] += 1
                    self.last_error = f"storing failed: {exc}"
                    self._pause(False)
                    self._client.disconnect()
                    items = []
                    break
            self._pause(False)
            for m in items:
                if m.qos and m.generation == self._generation and self.connected:
                    self._client.ack(m.mid, m.qos)
