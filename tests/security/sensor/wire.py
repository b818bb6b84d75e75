"""Test helpers: a TCP relay that records what real clients and servers say to each other,
and a writer that turns the recording into a pcap the way a capture would look (Ethernet,
IPv4, TCP with consistent sequence numbers, handshake and FIN), with segments cut at awkward
places, some out of order and one retransmitted."""

from __future__ import annotations

import asyncio
import random
import socket
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import dpkt

CLIENT_MAC = b"\x02\x00\x00\x00\x00\x01"
SERVER_MAC = b"\x02\x00\x00\x00\x00\x02"


@dataclass
class Conversation:
    """One TCP connection: what each side sent, in order, with the time it was read."""

    chunks: list[tuple[float, bool, bytes]] = field(default_factory=list)  # (ts, to_server, data)


class Relay:
    """Listens on loopback, forwards each connection to ``target``, records both directions."""

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.conversations: list[Conversation] = []
        self.port = 0
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    async def __aenter__(self) -> Relay:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._server is not None
        self._server.close()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        conv = Conversation()
        self.conversations.append(conv)
        up_r, up_w = await asyncio.open_connection("127.0.0.1", self.target_port)
        loop = asyncio.get_running_loop()

        async def pump(src: asyncio.StreamReader, dst: asyncio.StreamWriter, up: bool) -> None:
            try:
                while data := await src.read(65536):
                    conv.chunks.append((loop.time(), up, data))
                    dst.write(data)
                    await dst.drain()
            except (ConnectionError, asyncio.CancelledError):
                pass
            finally:
                dst.close()

        tasks = [
            asyncio.ensure_future(pump(reader, up_w, True)),
            asyncio.ensure_future(pump(up_r, writer, False)),
        ]
        for t in tasks:
            self._tasks.add(t)
        await asyncio.gather(*tasks, return_exceptions=True)


def _frame(src: str, dst: str, sport: int, dport: int, seq: int, ack: int, flags: int,
           data: bytes, to_server: bool) -> bytes:  # fmt: skip
    tcp = dpkt.tcp.TCP(sport=sport, dport=dport, seq=seq, ack=ack, flags=flags, data=data)
    ip = dpkt.ip.IP(src=socket.inet_aton(src), dst=socket.inet_aton(dst), p=6, ttl=64, data=tcp)
    ip.len = len(ip)
    smac, dmac = (CLIENT_MAC, SERVER_MAC) if to_server else (SERVER_MAC, CLIENT_MAC)
    return bytes(dpkt.ethernet.Ethernet(src=smac, dst=dmac, type=0x0800, data=ip))


def frames(
    conversations: Iterable[Conversation],
    server_port: int,
    *,
    client_ip: str = "10.1.0.5",
    server_ip: str = "10.1.0.9",
    seed: int = 7,
    mangle: bool = True,
    t0: float = 1_765_000_000.0,
) -> list[tuple[float, bytes]]:
    """Timestamped Ethernet frames for the conversations, one TCP connection each."""
    rng = random.Random(seed)
    out: list[tuple[float, bytes]] = []
    retransmitted = False
    for n, conv in enumerate(conversations):
        cport = 40000 + n
        seqs = {True: rng.randrange(1 << 32), False: rng.randrange(1 << 32)}
        base = conv.chunks[0][0] if conv.chunks else 0.0
        ts = t0 + n

        def emit(
            t: float,
            up: bool,
            flags: int,
            data: bytes,
            seq: int | None = None,
            seqs: dict[bool, int] = seqs,
            cport: int = cport,
        ) -> None:
            s = seqs[up] if seq is None else seq
            src, dst, sp, dp = (
                (client_ip, server_ip, cport, server_port)
                if up
                else (server_ip, client_ip, server_port, cport)
            )
            out.append((t, _frame(src, dst, sp, dp, s, seqs[not up], flags, data, up)))

        ack = dpkt.tcp.TH_ACK
        emit(ts, True, dpkt.tcp.TH_SYN, b"")
        seqs[True] = (seqs[True] + 1) % (1 << 32)
        emit(ts, False, dpkt.tcp.TH_SYN | ack, b"")
        seqs[False] = (seqs[False] + 1) % (1 << 32)
        emit(ts, True, ack, b"")
        last = ts
        for t, up, data in conv.chunks:
            last = ts + (t - base) + 0.001
            if not mangle:
                emit(last, up, ack | dpkt.tcp.TH_PUSH, data)
                seqs[up] = (seqs[up] + len(data)) % (1 << 32)
                continue
            # cut at awkward places: 1 byte, then 5, then random sizes
            pieces, pos, cuts = [], 0, [1, 5]
            while pos < len(data):
                size = cuts.pop(0) if cuts else rng.randint(3, 40)
                pieces.append(((seqs[up] + pos) % (1 << 32), data[pos : pos + size]))
                pos += size
            if len(pieces) >= 3 and rng.random() < 0.5:
                pieces[1], pieces[2] = pieces[2], pieces[1]  # out of order
            for seq, piece in pieces:
                emit(last, up, ack | dpkt.tcp.TH_PUSH, piece, seq)
                if not retransmitted and len(pieces) > 2:
                    emit(last, up, ack | dpkt.tcp.TH_PUSH, piece, seq)  # retransmission
                    retransmitted = True
            seqs[up] = (seqs[up] + len(data)) % (1 << 32)
        emit(last + 0.01, True, dpkt.tcp.TH_FIN | ack, b"")
        seqs[True] = (seqs[True] + 1) % (1 << 32)
        emit(last + 0.01, False, dpkt.tcp.TH_FIN | ack, b"")
    return out


def write_pcap(path: Path, frames_: Iterable[tuple[float, bytes]]) -> Path:
    with open(path, "wb") as f:
        w = dpkt.pcap.Writer(f, linktype=dpkt.pcap.DLT_EN10MB)
        for ts, frame in frames_:
            w.writepkt(frame, ts=ts)
    return path
