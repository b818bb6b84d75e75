"""Syslog listeners: UDP (RFC 5426) and TCP (RFC 6587: octet counting and newline framing).

Both are off unless an address is configured (``INDUNET_SECURITY_SYSLOG_UDP``,
``INDUNET_SECURITY_SYSLOG_TCP``, e.g. ``0.0.0.0:5514``). Limits:

- a message is ``MAX_LINE`` bytes at most (longer: counted ``overlong``, skipped);
- each peer (address) has a rate (``rate`` messages a second): over it, UDP datagrams are
  counted ``rate_limited`` and dropped, a TCP peer is read no faster (TCP pushes back);
- TCP connections are ``max_connections`` at most (more are closed at once, counted) and
  closed after ``idle_s`` seconds without data;
- UDP cannot wait: when the hub's queue is full its events are ``dropped`` and counted; TCP
  waits for room (``Hub.submit``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import OrderedDict
from datetime import UTC, tzinfo
from typing import Any

from ..events import SecurityEvent
from ..hub import Hub
from .common import MAX_LINE
from .gate import Bucket, Gate, SourceStats
from .reader import LineBroken, Reader
from .tail import hand_on

log = logging.getLogger(__name__)
PEER_RATE = 1_000.0
MAX_PEERS = 10_000
MAX_CONNECTIONS = 64
IDLE_S = 300.0


class _Peers:
    """A token bucket per peer address, the least recently seen forgotten first."""

    def __init__(self, rate: float) -> None:
        self.rate = rate
        self._buckets: OrderedDict[str, Bucket] = OrderedDict()

    def of(self, peer: str) -> Bucket:
        bucket = self._buckets.get(peer)
        if bucket is None:
            bucket = self._buckets[peer] = Bucket(self.rate)
            while len(self._buckets) > MAX_PEERS:
                self._buckets.popitem(last=False)
        else:
            self._buckets.move_to_end(peer)
        return bucket


def _split(address: str) -> tuple[str, int]:
    host, _, port = address.rpartition(":")
    if not host or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise ValueError(f"{address!r} is not host:port")
    return host.strip("[]"), int(port)


class _Datagrams(asyncio.DatagramProtocol):
    def __init__(self, listener: UdpSyslog) -> None:
        self.listener = listener

    def datagram_received(self, data: bytes, addr: Any) -> None:
        self.listener.received(data, str(addr[0]))


class UdpSyslog:
    """Syslog over UDP: each datagram one message."""

    def __init__(
        self,
        address: str,
        hub: Hub,
        stats: SourceStats,
        *,
        rate: float = PEER_RATE,
        zone: tzinfo = UTC,
        enterprise_id: int | None = None,
        max_message: int = MAX_LINE,
    ) -> None:
        self.host, self.port = _split(address)
        self.max_message = max_message
        self.hub = hub
        self.stats = stats
        self.gate = Gate(stats)
        self.peers = _Peers(rate)
        self.reader = Reader("syslog", f"udp {address}", zone=zone, enterprise_id=enterprise_id)
        self._pending: list[SecurityEvent] = []
        self._transport: asyncio.DatagramTransport | None = None
        self.bound: tuple[str, int] | None = None

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        transport, _ = await loop.create_datagram_endpoint(
            lambda: _Datagrams(self), local_addr=(self.host, self.port)
        )
        self._transport = transport
        self.bound = transport.get_extra_info("sockname")[:2]

    async def stop(self) -> None:
        if self._transport is not None:
            self._transport.close()
            self._transport = None
        self._flush()

    def received(self, data: bytes, peer: str) -> None:
        stats = self.stats
        stats.read += 1
        if len(data) > self.max_message:
            stats.overlong += 1
            return
        if self.peers.of(peer).take(1) < 1:
            stats.rate_limited += 1
            return
        try:
            event = self.reader.line(data, stats.read, peer=peer)
        except LineBroken as exc:
            stats.bad += 1
            stats.last_error = f"from {peer}: {exc.error.error}"[:300]
            return
        if event is None:
            return
        stats.parsed += 1
        if not self._pending:
            asyncio.get_running_loop().call_soon(self._flush)
        self._pending.append(event)

    def _flush(self) -> None:
        batch, self._pending = self._pending, []
        fresh = self.gate.fresh(batch)
        if not fresh:
            return
        receipt = self.hub.offer(fresh)
        self.stats.submitted += receipt.accepted
        self.stats.duplicates += receipt.duplicates
        self.stats.dropped += receipt.dropped


class TcpSyslog:
    """Syslog over TCP, each frame octet-counted (``LEN SP MSG``) or ended by a newline."""

    def __init__(
        self,
        address: str,
        hub: Hub,
        stats: SourceStats,
        *,
        rate: float = PEER_RATE,
        zone: tzinfo = UTC,
        enterprise_id: int | None = None,
        max_connections: int = MAX_CONNECTIONS,
        idle_s: float = IDLE_S,
    ) -> None:
        self.host, self.port = _split(address)
        self.address = address
        self.hub = hub
        self.stats = stats
        self.gate = Gate(stats)
        self.peers = _Peers(rate)
        self.zone = zone
        self.enterprise_id = enterprise_id
        self.max_connections = max_connections
        self.idle_s = idle_s
        self.connections = 0
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self.bound: tuple[str, int] | None = None

    async def start(self) -> None:
        self._server = await asyncio.start_server(
            self._serve, self.host, self.port, limit=MAX_LINE + 16
        )
        self.bound = self._server.sockets[0].getsockname()[:2]

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            for task in list(self._tasks):
                task.cancel()
            for task in list(self._tasks):
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
            with contextlib.suppress(Exception):
                await self._server.wait_closed()
            self._server = None

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        peer = str(writer.get_extra_info("peername")[0])
        if self.connections >= self.max_connections:
            self.stats.refused += 1
            self.stats.last_error = f"{peer}: over {self.max_connections} connections; closed"
            writer.close()
            return
        self.connections += 1
        if task is not None:
            self._tasks.add(task)
        lines = Reader("syslog", f"tcp {peer}", zone=self.zone, enterprise_id=self.enterprise_id)
        number = 0
        try:
            while True:
                async with asyncio.timeout(self.idle_s):
                    frame = await self._frame(reader)
                if frame is None:
                    break
                number += 1
                self.stats.read += 1
                if frame is _TOO_LONG:
                    self.stats.overlong += 1
                    continue
                await self.peers.of(peer).wait(1)
                try:
                    event = lines.line(frame, number, peer=peer)
                except LineBroken as exc:
                    self.stats.bad += 1
                    self.stats.last_error = f"from {peer}: {exc.error}"[:300]
                    continue
                if event is not None:
                    self.stats.parsed += 1
                    await hand_on(self.hub, self.gate, [event])
        except (TimeoutError, ConnectionError, asyncio.IncompleteReadError):
            pass
        except ValueError as exc:  # a broken octet count
            self.stats.bad += 1
            self.stats.last_error = f"from {peer}: {exc}"[:300]
        finally:
            self.connections -= 1
            if task is not None:
                self._tasks.discard(task)
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()

    async def _frame(self, reader: asyncio.StreamReader) -> bytes | None:
        """The next message; None at the end of the stream; ``_TOO_LONG`` for one skipped."""
        first = await reader.read(1)
        if not first:
            return None
        if first.isdigit():  # octet counting: "LEN SP MSG"
            digits = first
            while True:
                c = await reader.readexactly(1)
                if c == b" ":
                    break
                if not c.isdigit() or len(digits) >= 9:
                    raise ValueError("an octet count that is not a number followed by a space")
                digits += c
            size = int(digits)
            if size > MAX_LINE:
                while size:
                    size -= len(await reader.readexactly(min(size, 65_536)))
                return _TOO_LONG
            return await reader.readexactly(size)
        try:
            rest = await reader.readuntil(b"\n")
        except asyncio.LimitOverrunError:
            while True:  # skip to the end of the line
                try:
                    await reader.readuntil(b"\n")
                    break
                except asyncio.LimitOverrunError as exc:
                    await reader.readexactly(exc.consumed)
            return _TOO_LONG
        except asyncio.IncompleteReadError as exc:
            rest = exc.partial
            if not rest and first in b"\r\n":
                return None
        return first + rest


_TOO_LONG = b"\x00too long"
