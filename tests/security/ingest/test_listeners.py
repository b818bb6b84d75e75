"""Syslog listeners on loopback, on ephemeral ports, with real sockets: UDP, TCP with both
framings, overlong messages, per-peer rate, bounded connections, UDP overflow drops."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Sequence

from tests.conftest import until

from indunet.security import Hub, SecurityEvent
from indunet.security.ingest.common import MAX_LINE
from indunet.security.ingest.gate import SourceStats
from indunet.security.ingest.listeners import TcpSyslog, UdpSyslog

MSG = "<34>1 2024-03-01T10:00:00Z plc-gw sshd - - - Failed password {i}"


class Collect:
    def __init__(self) -> None:
        self.events: list[SecurityEvent] = []

    async def __call__(self, batch: Sequence[SecurityEvent]) -> None:
        self.events.extend(batch)


async def test_udp_messages_become_events_and_bad_ones_are_counted() -> None:
    got = Collect()
    hub = Hub()
    hub.subscribe("t", got)
    await hub.start()
    stats = SourceStats("syslog-udp", "udp", "syslog")
    udp = UdpSyslog("127.0.0.1:0", hub, stats, max_message=2048)
    await udp.start()
    assert udp.bound is not None
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        for i in range(5):
            s.sendto(MSG.format(i=i).encode(), udp.bound)
        s.sendto(b"not syslog", udp.bound)
        s.sendto(b"<13>1 - - - - - - " + b"x" * 2048, udp.bound)
    await until(lambda: stats.read == 7)
    await hub.drained()
    await until(lambda: len(got.events) == 5)
    assert {e.message for e in got.events} == {f"Failed password {i}" for i in range(5)}
    e = got.events[0]
    assert e.kind == "log.auth" and e.observer == "plc-gw" and e.fields["peer"] == "127.0.0.1"
    assert (stats.bad, stats.overlong, stats.submitted) == (1, 1, 5)
    await udp.stop()
    await hub.stop()


async def test_udp_over_the_rate_and_over_a_full_hub_is_dropped_and_counted() -> None:
    hub = Hub(max_queued=10)  # not started: nothing leaves the queue
    stats = SourceStats("syslog-udp", "udp", "syslog")
    udp = UdpSyslog("127.0.0.1:0", hub, stats, rate=50)
    await udp.start()
    assert udp.bound is not None
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        for i in range(200):
            s.sendto(MSG.format(i=i).encode(), udp.bound)
            if i % 20 == 0:
                await asyncio.sleep(0.01)
    await until(lambda: stats.read >= 190)
    await asyncio.sleep(0.1)
    await udp.stop()
    assert stats.rate_limited > 0
    assert stats.submitted == 10 == hub.queued
    assert stats.dropped == stats.parsed - 10 > 0
    # every datagram that arrived is accounted for
    assert stats.read == stats.parsed + stats.rate_limited


async def test_tcp_octet_counting_and_newline_framing() -> None:
    got = Collect()
    hub = Hub()
    hub.subscribe("t", got)
    await hub.start()
    stats = SourceStats("syslog-tcp", "tcp", "syslog")
    tcp = TcpSyslog("127.0.0.1:0", hub, stats)
    await tcp.start()
    assert tcp.bound is not None
    _, writer = await asyncio.open_connection(*tcp.bound)
    framed = b""
    for i in range(3):
        m = MSG.format(i=i).encode()
        framed += str(len(m)).encode() + b" " + m
    writer.write(framed)
    writer.write(b"<13>1 - - - - - - line one\n<13>1 - - - - - - line two\n")
    writer.write(b"<13>Mar  1 10:00:07 hmi-02 sudo[811]: operator : COMMAND=/bin/sh\n")
    writer.write(b"<13>1 - - - - - - " + b"y" * (MAX_LINE + 10) + b"\n")  # overlong, skipped
    writer.write(b"70000 " + b"z" * 70000)  # an octet count over the bound, skipped
    writer.write(b"<13>1 - - - - - - after\n")
    await writer.drain()
    await until(lambda: stats.read == 9)
    await hub.drained()
    await until(lambda: len(got.events) == 7)
    assert [e.message for e in got.events][-1] == "after"
    assert stats.overlong == 2
    writer.close()
    await tcp.stop()
    await hub.stop()


async def test_tcp_connections_are_bounded() -> None:
    hub = Hub()
    stats = SourceStats("syslog-tcp", "tcp", "syslog")
    tcp = TcpSyslog("127.0.0.1:0", hub, stats, max_connections=2)
    await tcp.start()
    assert tcp.bound is not None
    conns = [await asyncio.open_connection(*tcp.bound) for _ in range(2)]
    await until(lambda: tcp.connections == 2)
    r3, w3 = await asyncio.open_connection(*tcp.bound)
    async with asyncio.timeout(5):
        assert await r3.read() == b""  # closed at once
    assert stats.refused == 1
    for _, w in conns:
        w.close()
    w3.close()
    await tcp.stop()


async def test_tcp_bad_octet_count_ends_the_connection_only() -> None:
    got = Collect()
    hub = Hub()
    hub.subscribe("t", got)
    await hub.start()
    stats = SourceStats("syslog-tcp", "tcp", "syslog")
    tcp = TcpSyslog("127.0.0.1:0", hub, stats)
    await tcp.start()
    assert tcp.bound is not None
    _, w = await asyncio.open_connection(*tcp.bound)
    w.write(b"12x <13>1 - - -")
    await w.drain()
    await until(lambda: stats.bad == 1)
    _, w2 = await asyncio.open_connection(*tcp.bound)
    w2.write(b"<13>1 - - - - - - still here\n")
    await w2.drain()
    await until(lambda: len(got.events) == 1)
    w.close()
    w2.close()
    await tcp.stop()
    await hub.stop()
