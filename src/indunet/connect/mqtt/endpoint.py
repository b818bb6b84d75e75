"""The embedded MQTT endpoint: Indunet's own MQTT 3.1.1 server for devices (asyncio streams).

Devices log in with user name = device id and their secret; a CONNECT whose credentials are
refused is noted (peer address, user name) in the ``refused`` signal
(``connect.events.AUTH_FAILURES``, target ``mqtt``). Each connection reads
continuously: every PUBLISH decoded since the last batch goes to the sink in ONE ``submit``
and the acknowledgements (PUBACK, PUBREC) follow in order once it returned, i.e. once the
samples are durable. On ``Overloaded`` nothing is acknowledged, reading that connection
pauses and the batch is retried with backoff. A malformed packet closes that connection only.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import logging
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from enum import Enum

from indunet.connect.events import MAX_TEXT
from indunet.connect.mqtt import acl
from indunet.connect.mqtt.packets import (
    SUBACK_FAILURE,
    ConnAck,
    Connect,
    ConnectCode,
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
    UnsupportedProtocolVersion,
    Will,
    encode,
)
from indunet.connect.mqtt.router import Batch, MessageRouter
from indunet.connect.mqtt.sessions import Session
from indunet.core.backoff import Backoff
from indunet.core.signals import Signal
from indunet.telemetry import Overloaded

log = logging.getLogger(__name__)

Authenticate = Callable[[str, str], bool | Awaitable[bool]]
"""``authenticate(device_id, secret)``: true when the secret is the device's (may be async)."""

_PINGRESP = encode(PingResp())
_SERVER_ONLY = (Connect, ConnAck, SubAck, UnsubAck, PingResp)


@dataclass
class EndpointLimits:
    """Bounds of the embedded endpoint."""

    max_packet: int = 1 << 20  # bytes
    max_inflight: int = 20  # outgoing QoS 1/2 messages per session
    max_queued: int = 100  # commands kept per persistent session while offline
    max_sessions_per_device: int = 4
    max_pending: int = 2000  # decoded packets waiting per connection before reading pauses
    max_commits: int = 8  # batches of one connection being stored at once (acks stay in order)
    connect_timeout: float = 10.0  # seconds for the CONNECT to arrive
    write_timeout: float = 30.0  # seconds a client may take to read what we send
    retry_base: float = 0.05  # Overloaded backoff
    retry_cap: float = 2.0


class Phase(Enum):
    """Where a connection's processing is: ``READING`` → ``DRAINING``; either → ``FAILED``."""

    READING = "reading"  # the reader is reading; the processor stores what it decoded
    DRAINING = "draining"  # the reader ended: store and acknowledge what is left, then stop
    FAILED = "failed"  # storing failed: nothing more is stored or acknowledged


class Ending(Enum):
    """Why a connection ended; the first reason found is kept. Only ``LOST`` sends the will."""

    LOST = "lost"  # the network went, a protocol error, a missed keepalive, a failed store
    DISCONNECTED = "disconnected"  # the client sent DISCONNECT
    TAKEN_OVER = "taken_over"  # a new connection with the same client id (the device stays online)
    SHUT_DOWN = "shut_down"  # the endpoint stopped


class MqttEndpoint:
    """The server: authentication, topic ACL, sessions, keepalive, wills, commands out."""

    def __init__(
        self,
        router: MessageRouter,
        authenticate: Authenticate,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        limits: EndpointLimits | None = None,
        refused: Signal | None = None,
    ) -> None:
        self.router = router
        self.authenticate = authenticate
        self.refused = refused
        self.host = host
        self.requested_port = port
        self.limits = limits or EndpointLimits()
        self.sessions: dict[tuple[str, str], Session] = {}
        self.connections: dict[tuple[str, str], _Connection] = {}
        self.counts = {"connects": 0, "refused": 0, "protocol_errors": 0, "keepalive_expired": 0}
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    @property
    def port(self) -> int:
        """The bound port (useful when started on port 0)."""
        if self._server is None or not self._server.sockets:
            return self.requested_port
        return int(self._server.sockets[0].getsockname()[1])

    async def start(self) -> None:
        """Listen on ``host:port``."""
        self._server = await asyncio.start_server(self._serve, self.host, self.requested_port)
        log.info("MQTT endpoint listening on %s:%d", self.host, self.port)

    async def stop(self) -> None:
        """Close the listener and every connection; devices go offline."""
        if self._server is not None:
            self._server.close()
        for conn in list(self.connections.values()):
            conn.kick(takeover=False)
        if self._tasks:
            await asyncio.wait(self._tasks, timeout=5)
        for task in list(self._tasks):
            task.cancel()
        if self._server is not None:
            await self._server.wait_closed()
            self._server = None

    def online(self) -> set[str]:
        """Devices with at least one live connection."""
        return {key[0] for key in self.connections}

    async def publish_to(self, device_id: str, topic: str, payload: bytes, qos: int = 1) -> int:
        """Deliver to the device's sessions subscribed to ``topic``; return how many took it.

        A persistent session of an offline device queues QoS 1/2 messages (bounded). QoS is
        the lower of ``qos`` and the granted one.
        """
        taken = 0
        for session in [s for s in self.sessions.values() if s.device == device_id]:
            granted = session.granted(topic)
            if granted is None or (granted == 0 and session.send is None):
                continue
            session.offer(Publish(topic, payload, min(qos, granted)))
            taken += 1
        return taken

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        if task is not None:
            self._tasks.add(task)
        try:
            await _Connection(self, reader, writer).run()
        except Exception:
            log.exception("MQTT connection failed")
        finally:
            writer.close()
            if task is not None:
                self._tasks.discard(task)

    async def _check(self, connect: Connect, peer: str | None) -> int:
        """CONNACK return code for a CONNECT's credentials from ``peer`` (refusals noted)."""
        if connect.username is None or connect.password is None:
            self._refused(connect, peer)
            return ConnectCode.BAD_CREDENTIALS
        try:
            secret = connect.password.decode()
        except UnicodeDecodeError:
            self._refused(connect, peer)
            return ConnectCode.NOT_AUTHORIZED
        try:
            ok = await asyncio.to_thread(self.authenticate, connect.username, secret)
            if inspect.isawaitable(ok):
                ok = await ok
        except Exception:
            log.exception("MQTT authentication of %s failed", connect.username)
            return ConnectCode.SERVER_UNAVAILABLE
        if not ok:
            self._refused(connect, peer)
            return ConnectCode.NOT_AUTHORIZED
        will = connect.will
        forms = self.router.form_topics(connect.username)
        if will is not None and not acl.may_publish(connect.username, will.topic, forms):
            return ConnectCode.NOT_AUTHORIZED
        return ConnectCode.ACCEPTED

    def _refused(self, connect: Connect, peer: str | None) -> None:
        if self.refused is not None:
            user = connect.username and connect.username[:MAX_TEXT]  # as the record keeps it
            self.refused.add((peer, user, user, "mqtt", None))

    def _session(self, device: str, client_id: str, clean: bool) -> tuple[Session, bool]:
        key = (device, client_id)
        old = self.sessions.pop(key, None)
        if old is not None and not clean:
            self.sessions[key] = old
            return old, True
        session = Session(
            device, client_id, clean, self.limits.max_inflight, self.limits.max_queued
        )
        self.sessions[key] = session
        idle = [k for k, s in self.sessions.items() if s.device == device and s.send is None]
        idle.remove(key)
        for stale in idle[: max(0, len(idle) + 1 - self.limits.max_sessions_per_device)]:
            del self.sessions[stale]
        return session, False


class _Connection:
    """One network connection: handshake, a reader task and the batch processor."""

    def __init__(
        self, endpoint: MqttEndpoint, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        self.ep = endpoint
        self.reader = reader
        self.writer = writer
        self.decoder = PacketDecoder(endpoint.limits.max_packet)
        self.pending: list[Packet] = []
        self.wake = asyncio.Event()
        self.room = asyncio.Event()
        self.stalled = 0  # batches waiting out an Overloaded sink: reading pauses meanwhile
        self.commits: set[asyncio.Task[bool]] = set()
        self.last_commit: asyncio.Task[bool] | None = None
        self.qos2_storing: set[int] = set()
        self.phase = Phase.READING
        self.ending = Ending.LOST
        self.leftover: list[Packet] = []
        self.finished = asyncio.Event()
        self.connect: Connect | None = None
        self.session: Session | None = None

    def send(self, data: bytes) -> None:
        """Write bytes unless the connection is closing."""
        if not self.writer.is_closing():
            self.writer.write(data)

    def enter(self, phase: Phase) -> None:
        """Move to ``phase``; ``FAILED`` is final, and the reader ending cannot undo it."""
        if self.phase is not Phase.FAILED:
            self.phase = phase

    def end(self, why: Ending) -> None:
        """Note why the connection ends, unless a reason was noted already."""
        if self.ending is Ending.LOST:
            self.ending = why

    def kick(self, *, takeover: bool) -> None:
        """Close from the server side, without the will: a takeover, or shutdown."""
        self.end(Ending.TAKEN_OVER if takeover else Ending.SHUT_DOWN)
        self.writer.close()

    async def run(self) -> None:
        """Serve the connection until it ends."""
        if not await self._handshake():
            return
        reading = asyncio.create_task(self._read())
        try:
            await self._process()
        finally:
            reading.cancel()
            await asyncio.gather(reading, return_exceptions=True)
            await self._teardown()

    async def _handshake(self) -> bool:
        ep = self.ep
        packets: list[Packet] = []
        try:
            async with asyncio.timeout(ep.limits.connect_timeout):
                while not packets:
                    data = await self.reader.read(65536)
                    if not data:
                        return False
                    packets = self.decoder.feed(data)
        except UnsupportedProtocolVersion as exc:
            self.send(encode(ConnAck(ConnectCode.UNACCEPTABLE_PROTOCOL)))
            ep.counts["refused"] += 1
            log.info("MQTT client refused: %s", exc.message)
            return False
        except ProtocolError as exc:
            ep.counts["protocol_errors"] += 1
            log.info("MQTT connection closed before CONNECT: %s", exc.message)
            return False
        except (TimeoutError, OSError):
            return False
        connect = packets[0]
        if not isinstance(connect, Connect):
            ep.counts["protocol_errors"] += 1
            log.info("MQTT connection closed: first packet is not CONNECT")
            return False
        peername = self.writer.get_extra_info("peername")
        code = await ep._check(connect, str(peername[0]) if peername else None)
        client_id = connect.client_id
        if code == ConnectCode.ACCEPTED and not client_id:
            if connect.clean_session:
                client_id = "auto-" + secrets.token_hex(8)
            else:
                code = ConnectCode.IDENTIFIER_REJECTED
        if code != ConnectCode.ACCEPTED:
            ep.counts["refused"] += 1
            log.info("MQTT CONNECT of %r refused with code %d", connect.username, code)
            self.send(encode(ConnAck(code)))
            await self._drain()
            return False
        device = str(connect.username)
        key = (device, client_id)
        previous = ep.connections.get(key)
        if previous is not None:
            previous.kick(takeover=True)
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(5):
                    await previous.finished.wait()
        session, present = ep._session(device, client_id, connect.clean_session)
        self.connect, self.session = connect, session
        ep.connections[key] = self
        ep.counts["connects"] += 1
        self.send(encode(ConnAck(ConnectCode.ACCEPTED, present)))
        session.send = self.send
        ep.router.set_status(device, True)
        session.resume()
        self.leftover = packets[1:]
        return True

    def _dispatch(self, packets: list[Packet]) -> bool:
        """Queue packets for the processor; true once the client sent DISCONNECT."""
        for packet in packets:
            if isinstance(packet, PingReq):
                self.send(_PINGRESP)
            elif isinstance(packet, Disconnect):
                self.end(Ending.DISCONNECTED)
                return True
            elif isinstance(packet, _SERVER_ONLY):
                raise ProtocolError(f"a client may not send {type(packet).__name__}")
            else:
                self.pending.append(packet)
        return False

    async def _read(self) -> None:
        assert self.connect is not None
        keepalive = self.connect.keepalive * 1.5 or None
        try:
            # packets that came in the same read as CONNECT: nothing else will wake the
            # processor for them if the client now waits for their answers
            if self._dispatch(self.leftover):
                return
            self.leftover = []
            self.wake.set()
            if self.decoder.error is not None:
                raise self.decoder.error
            while True:
                while self.stalled or len(self.pending) >= self.ep.limits.max_pending:
                    self.room.clear()
                    await self.room.wait()
                try:
                    async with asyncio.timeout(keepalive):
                        data = await self.reader.read(65536)
                except TimeoutError:
                    self.ep.counts["keepalive_expired"] += 1
                    log.info("MQTT client %s missed its keepalive", self.connect.username)
                    return
                if not data:
                    return
                if self._dispatch(self.decoder.feed(data)):
                    return
                self.wake.set()
                if self.decoder.error is not None:
                    raise self.decoder.error
        except ProtocolError as exc:
            self.ep.counts["protocol_errors"] += 1
            log.info("MQTT client %s closed: %s", self.connect.username, exc.message)
        except OSError:
            pass
        finally:
            self.enter(Phase.DRAINING)
            self.wake.set()

    async def _process(self) -> None:
        """Hand batches to the sink as they arrive, up to ``max_commits`` at a time."""
        try:
            while self.phase is not Phase.FAILED:
                if not self.pending:
                    if self.phase is Phase.DRAINING:
                        return
                    self.wake.clear()
                    await self.wake.wait()
                    continue
                batch, self.pending = self.pending, []
                self.room.set()
                publishes: list[Publish] = []
                for packet in batch:
                    if isinstance(packet, Publish):
                        publishes.append(packet)
                    else:
                        if publishes:
                            await self._ingest(publishes)
                            publishes = []
                        self._control(packet)
                if publishes:
                    await self._ingest(publishes)
                await self._drain()
        finally:
            if self.commits:
                await asyncio.gather(*self.commits, return_exceptions=True)

    async def _ingest(self, publishes: list[Publish]) -> None:
        """Start storing a batch; its acknowledgements follow the earlier batches' in order."""
        session = self.session
        assert session is not None
        fresh = []
        for p in publishes:
            if p.qos == 2 and p.packet_id is not None:
                if p.packet_id in session.received or p.packet_id in self.qos2_storing:
                    continue  # a resent QoS 2 message already stored: acknowledge only
                self.qos2_storing.add(p.packet_id)
            fresh.append((p.topic, p.payload))
        batch = self.ep.router.decode(session.device, fresh)
        while len(self.commits) >= self.ep.limits.max_commits:
            await asyncio.wait(self.commits, return_when=asyncio.FIRST_COMPLETED)
        previous = self.last_commit
        task = asyncio.create_task(self._commit(batch, publishes, previous))
        self.commits.add(task)
        task.add_done_callback(self.commits.discard)
        self.last_commit = task

    async def _commit(
        self, batch: Batch, publishes: list[Publish], previous: asyncio.Task[bool] | None
    ) -> bool:
        """Store, wait for the batch before, acknowledge; false when nothing may be acked."""
        ep, session = self.ep, self.session
        assert session is not None
        backoff = Backoff(ep.limits.retry_base, ep.limits.retry_cap)
        while True:
            try:
                await ep.router.commit(batch)
                break
            except Overloaded:
                if self.phase is not Phase.READING:
                    self.enter(Phase.FAILED)  # nobody left to acknowledge; a sender resends
                    return False
                self.stalled += 1
                try:
                    await asyncio.sleep(backoff.next())
                finally:
                    self.stalled -= 1
                    self.room.set()
            except Exception:
                log.exception("MQTT messages of device %s could not be stored", session.device)
                self.enter(Phase.FAILED)
                self.writer.close()  # not acknowledged: the device resends after reconnecting
                return False
        if previous is not None and not await previous:
            return False  # acknowledgements must keep the order of the PUBLISHes
        out = bytearray()
        for p in publishes:
            if p.qos == 1 and p.packet_id is not None:
                out += encode(PubAck(p.packet_id))
            elif p.qos == 2 and p.packet_id is not None:
                session.received.add(p.packet_id)
                self.qos2_storing.discard(p.packet_id)
                out += encode(PubRec(p.packet_id))
        if out:
            self.send(bytes(out))
        return True

    def _control(self, packet: Packet) -> None:
        session = self.session
        assert session is not None
        if isinstance(packet, Subscribe):
            codes = []
            for flt, qos in packet.topics:
                if acl.may_subscribe(session.device, flt):
                    session.subscriptions[flt] = qos
                    codes.append(qos)
                else:
                    log.info("MQTT device %s may not subscribe to %s", session.device, flt)
                    codes.append(SUBACK_FAILURE)
            self.send(encode(SubAck(packet.packet_id, tuple(codes))))
        elif isinstance(packet, Unsubscribe):
            for flt in packet.filters:
                session.subscriptions.pop(flt, None)
            self.send(encode(UnsubAck(packet.packet_id)))
        elif isinstance(packet, PubAck):
            session.acked(packet.packet_id)
        elif isinstance(packet, PubRec):
            session.recorded(packet.packet_id)
            self.send(encode(PubRel(packet.packet_id)))
        elif isinstance(packet, PubComp):
            session.completed(packet.packet_id)
        elif isinstance(packet, PubRel):
            session.received.discard(packet.packet_id)
            self.send(encode(PubComp(packet.packet_id)))

    async def _drain(self) -> None:
        try:
            async with asyncio.timeout(self.ep.limits.write_timeout):
                await self.writer.drain()
        except (TimeoutError, OSError):
            self.writer.close()

    async def _teardown(self) -> None:
        """Forget the connection, publish the will if it was lost, and mark the device."""
        ep, session, connect = self.ep, self.session, self.connect
        assert session is not None and connect is not None
        try:
            if ep.connections.get(session.key) is self:
                del ep.connections[session.key]
            if session.send == self.send:
                session.send = None
            if connect.will is not None and self.ending is Ending.LOST:
                await self._publish_will(session.device, connect.will)
        finally:  # whatever the will's fate, the session, status and takeover move on
            if session.clean and ep.sessions.get(session.key) is session:
                del ep.sessions[session.key]
            if self.ending is not Ending.TAKEN_OVER and session.device not in ep.online():
                ep.router.set_status(session.device, False)
            self.finished.set()

    async def _publish_will(self, device: str, will: Will) -> None:
        router = self.ep.router
        try:
            await router.commit(router.decode(device, [(will.topic, will.payload)]))
        except Overloaded:
            log.warning("will of MQTT device %s lost: ingest overloaded", device)
        except Exception:
            log.exception("will of MQTT device %s could not be stored", device)
