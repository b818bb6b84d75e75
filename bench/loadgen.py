"""A pure-Python HTTP/1.1 load generator with keep-alive connections (asyncio + uvloop).

Run it as its own process, so that load and server do not share an interpreter:

    python bench/loadgen.py max  http://127.0.0.1:PORT PATHS_FILE --connections 32 --seconds 5
    python bench/loadgen.py rate http://127.0.0.1:PORT PATHS_FILE --rate 2000 --seconds 10

``PATHS_FILE`` holds one request path per line; requests rotate over them. ``max`` keeps every
connection busy (closed loop) and reports requests per second. ``rate`` sends at a fixed rate
(open loop) and measures each request from the moment it was *due*, not from when it was sent,
so a stalled server is charged for the requests it held back (no coordinated omission).
It prints one JSON object. Only 127.0.0.1 / localhost targets are accepted; every run stops
by itself after ``--seconds`` plus a grace period.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from itertools import cycle
from pathlib import Path
from urllib.parse import urlsplit

GRACE = 5.0


class Connection(asyncio.Protocol):
    """One keep-alive connection with at most one request in flight."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.buf = bytearray()
        self.waiter: asyncio.Future[int] | None = None
        self.lost = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def connection_lost(self, exc: Exception | None) -> None:
        self.lost = True
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_exception(ConnectionError("connection closed"))

    def data_received(self, data: bytes) -> None:
        self.buf += data
        end = self.buf.find(b"\r\n\r\n")
        if end < 0:
            return
        head = bytes(self.buf[:end]).lower()
        i = head.find(b"content-length:")
        length = 0
        if i >= 0:
            j = head.find(b"\r\n", i)
            length = int(head[i + 15 : j if j >= 0 else len(head)])
        total = end + 4 + length
        if len(self.buf) < total:
            return
        status = int(self.buf[9:12])
        del self.buf[:total]
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_result(status)

    async def request(self, raw: bytes) -> int:
        """Send one request and wait for its status code."""
        assert self.transport is not None
        self.waiter = asyncio.get_running_loop().create_future()
        self.transport.write(raw)
        return await self.waiter


def requests(host: str, port: int, paths_file: Path) -> list[bytes]:
    """Raw GET requests, one per path."""
    hostport = f"{host}:{port}".encode()
    return [
        b"GET " + p.encode() + b" HTTP/1.1\r\nHost: " + hostport + b"\r\n\r\n"
        for p in paths_file.read_text().split()
    ]


async def connect(host: str, port: int, n: int) -> list[Connection]:
    """Open ``n`` connections."""
    loop = asyncio.get_running_loop()
    out = []
    for _ in range(n):
        _, proto = await loop.create_connection(Connection, host, port)
        out.append(proto)
    return out


async def run_max(host: str, port: int, reqs: list[bytes], conns: int, seconds: float) -> dict:
    """Closed loop: every connection sends its next request as soon as the last one is back."""
    pool = await connect(host, port, conns)
    rotation = cycle(reqs)
    lat: list[float] = []
    errors = 0
    stop = time.perf_counter() + seconds

    async def worker(c: Connection) -> None:
        nonlocal errors
        while time.perf_counter() < stop and not c.lost:
            t0 = time.perf_counter()
            try:
                status = await c.request(next(rotation))
            except ConnectionError:
                errors += 1
                return
            lat.append((time.perf_counter() - t0) * 1000)
            if status != 200:
                errors += 1

    t0 = time.perf_counter()
    await asyncio.wait_for(asyncio.gather(*(worker(c) for c in pool)), seconds + GRACE)
    took = time.perf_counter() - t0
    return {
        "tool": "python",
        "requests": len(lat),
        "rps": len(lat) / took,
        "errors": errors,
        **summary(lat),
    }


async def run_rate(
    host: str, port: int, reqs: list[bytes], conns: int, rate: float, seconds: float
) -> dict:
    """Open loop: request ``i`` is due at ``start + i / rate``; latency counts from then."""
    pool = await connect(host, port, conns)
    queue: asyncio.Queue[tuple[float, bytes] | None] = asyncio.Queue()
    lat: list[float] = []
    late_send: list[float] = []
    errors = 0
    total = int(rate * seconds)
    rotation = cycle(reqs)

    async def worker(c: Connection) -> None:
        nonlocal errors
        while True:
            item = await queue.get()
            if item is None:
                return
            due, raw = item
            late_send.append((time.perf_counter() - due) * 1000)
            try:
                status = await c.request(raw)
            except ConnectionError:
                errors += 1
                return
            lat.append((time.perf_counter() - due) * 1000)
            if status != 200:
                errors += 1

    workers = [asyncio.create_task(worker(c)) for c in pool]
    start = time.perf_counter() + 0.05
    i = 0
    while i < total:
        now = time.perf_counter()
        due = start + i / rate
        if due > now:
            await asyncio.sleep(due - now)
            now = time.perf_counter()
        while i < total and start + i / rate <= now:
            queue.put_nowait((start + i / rate, next(rotation)))
            i += 1
    for _ in pool:
        queue.put_nowait(None)
    _done, pending = await asyncio.wait(workers, timeout=GRACE)
    for t in pending:
        t.cancel()
    took = time.perf_counter() - start
    unfinished = total - len(lat) - errors
    return {
        "tool": "python-rate",
        "target_rps": rate,
        "sent": total,
        "achieved_rps": len(lat) / took,
        "errors": errors,
        "unfinished": unfinished,
        "queue_wait_p99_ms": summary(late_send)["p99_ms"],
        **summary(lat),
    }


def summary(ms: list[float]) -> dict:
    """Percentiles of latencies in milliseconds (nearest rank)."""
    s = sorted(ms)
    if not s:
        return {"p50_ms": 0.0, "p90_ms": 0.0, "p99_ms": 0.0, "max_ms": 0.0}

    def q(x: float) -> float:
        return s[min(len(s) - 1, max(0, int(x * len(s) + 0.999999) - 1))]

    return {"p50_ms": q(0.5), "p90_ms": q(0.9), "p99_ms": q(0.99), "max_ms": s[-1]}


def main() -> None:
    """Parse arguments, run, print JSON."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("mode", choices=["max", "rate"])
    ap.add_argument("url")
    ap.add_argument("paths", type=Path)
    ap.add_argument("--connections", type=int, default=32)
    ap.add_argument("--seconds", type=float, default=5.0)
    ap.add_argument("--rate", type=float, default=1000.0)
    a = ap.parse_args()
    u = urlsplit(a.url)
    if u.hostname not in ("127.0.0.1", "localhost", "::1"):
        sys.exit("loadgen only targets this machine (127.0.0.1, localhost, ::1)")
    if not 0 < a.seconds <= 120:
        sys.exit("--seconds must be between 0 and 120")
    reqs = requests(u.hostname, u.port or 80, a.paths)
    if a.mode == "max":
        coro = run_max(u.hostname, u.port or 80, reqs, a.connections, a.seconds)
    else:
        coro = run_rate(u.hostname, u.port or 80, reqs, a.connections, a.rate, a.seconds)
    try:
        import uvloop

        result = uvloop.run(coro)
    except ImportError:
        result = asyncio.run(coro)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
