"""Cached resolution over the Handle protocol (UDP) against an asyncio UDP echo server.

Two server processes, each on uvloop: the Handle protocol endpoint of an embedded hierarchy
(``ids.wire.service.endpoint``, what ``indunet up --handle-port`` runs), with one handle of
the top-level node ``88`` in its resolver's cache, asked with the recursion flag; and a bare
asyncio UDP server answering every datagram with bytes of the same size as that answer. The
same load generator (its own process, ``WINDOW`` requests in flight on one socket) drives
each in interleaved rounds; medians are printed with the ratio (target >= 0.4x) and the
requests per second per core of server CPU time.

    python bench/handle_udp.py                   # 3 rounds of 5 s each
    python bench/handle_udp.py --rounds 1 --seconds 2
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import struct
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import common

HANDLE = "88/BENCH-1"
WINDOW = 32
TARGET = 0.4


def request_packet(request_id: int = 1) -> bytes:
    """A resolution request with the recursion flag, built by hand (RFC 3652 layout)."""
    body = struct.pack(">I", len(HANDLE)) + HANDLE.encode() + b"\0\0\0\0" + b"\0\0\0\0"
    header = struct.pack(">iiIHBBiI", 1, 0, 0x1000_0000, 0, 0, 0, 0, len(body))
    message = header + body + b"\0\0\0\0"
    return struct.pack(">BBHiiiI", 2, 10, 0, 0, request_id, 0, len(message)) + message


def _uvloop() -> None:
    try:
        import uvloop

        asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
    except ImportError:
        pass


# -- servers ---------------------------------------------------------------------------------
def serve_wire(port: int, data_dir: str) -> None:
    """The embedded hierarchy with its Handle protocol port, the handle in the cache."""
    from indunet.core import Settings
    from indunet.ids import OPERATOR
    from indunet.ids.wire.service import endpoint
    from indunet.web import build_state, open_database

    settings = Settings(data_dir=Path(data_dir), handle_port=port)
    engine = open_database(settings)
    state = build_state(settings, engine=engine)
    values = [
        {"index": 1, "type": "URL", "data": "https://factory.example.cn/devices/bench-1"},
        {"index": 2, "type": "DESC", "data": "benchmark record: CNC lathe, line 3"},
    ]
    state.hierarchy.nodes["88"].put(HANDLE, values, OPERATOR)
    wire = endpoint(state)
    assert wire is not None

    async def run() -> None:
        answer = await state.hierarchy.front.resolve(HANDLE, recurse=True)
        assert answer.rc == 1, answer
        await wire.start()
        print("ready", flush=True)
        await asyncio.Event().wait()

    _uvloop()
    asyncio.run(run())


class _Echo(asyncio.DatagramProtocol):
    def __init__(self, reply: bytes) -> None:
        self.reply = reply
        self.transport: Any = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport

    def datagram_received(self, data: bytes, addr: Any) -> None:
        self.transport.sendto(self.reply, addr)


def serve_echo(port: int, size: int) -> None:
    """Answer every datagram with ``size`` bytes."""

    async def run() -> None:
        loop = asyncio.get_running_loop()
        await loop.create_datagram_endpoint(
            lambda: _Echo(b"\x01" * size), local_addr=(common.HOST, port)
        )
        print("ready", flush=True)
        await asyncio.Event().wait()

    _uvloop()
    asyncio.run(run())


# -- load ------------------------------------------------------------------------------------
class _Load(asyncio.DatagramProtocol):
    def __init__(self, packet: bytes) -> None:
        self.packet = packet
        self.transport: Any = None
        self.done = 0

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport

    def datagram_received(self, data: bytes, addr: Any) -> None:
        self.done += 1
        self.transport.sendto(self.packet)


def load(port: int, seconds: float, window: int) -> None:
    """Keep ``window`` requests in flight for ``seconds``; print one JSON line."""

    async def run() -> dict[str, Any]:
        loop = asyncio.get_running_loop()
        transport, proto = await loop.create_datagram_endpoint(
            lambda: _Load(request_packet()), remote_addr=(common.HOST, port)
        )
        for _ in range(window):
            transport.sendto(proto.packet)
        await asyncio.sleep(0.5)  # warm-up
        start, t0 = proto.done, time.perf_counter()
        last = start
        while time.perf_counter() - t0 < seconds:
            await asyncio.sleep(0.1)
            if proto.done == last:  # lost datagrams: refill the window
                for _ in range(window):
                    transport.sendto(proto.packet)
            last = proto.done
        n, elapsed = proto.done - start, time.perf_counter() - t0
        transport.close()
        return {"requests": n, "seconds": round(elapsed, 3), "rps": round(n / elapsed, 1)}

    _uvloop()
    print(json.dumps(asyncio.run(run())), flush=True)


# -- the benchmark ---------------------------------------------------------------------------
def _start(args: list[str], name: str, env: dict[str, str]) -> subprocess.Popen[str]:
    proc = subprocess.Popen(
        [common.PYTHON, __file__, *args], stdout=subprocess.PIPE, text=True, env=env
    )
    assert proc.stdout is not None
    line = proc.stdout.readline().strip()
    if line != "ready":
        proc.kill()
        raise RuntimeError(f"{name} did not start: {line!r}")
    return proc


def _probe(port: int) -> int:
    import socket

    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.settimeout(5)
        s.sendto(request_packet(), (common.HOST, port))
        reply, _ = s.recvfrom(2048)
    rc = struct.unpack(">i", reply[24:28])[0]
    assert rc == 1, f"the wire server answered rc {rc}"
    return len(reply)


def _round(port: int, pid: int, seconds: float) -> dict[str, Any]:
    hz = os.sysconf("SC_CLK_TCK")
    ticks0, t0 = common._pid_ticks(pid), time.perf_counter()
    out = subprocess.run(
        [common.PYTHON, __file__, "load", "--port", str(port), "--seconds", str(seconds)],
        capture_output=True,
        text=True,
        timeout=seconds + 30,
        check=True,
    )
    wall = time.perf_counter() - t0
    res: dict[str, Any] = json.loads(out.stdout)
    res["server_cores"] = round((common._pid_ticks(pid) - ticks0) / hz / wall, 3)
    res["per_core"] = round(res["rps"] / max(res["server_cores"], 1e-3), 1)
    return res


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = ap.add_subparsers(dest="mode")
    w = sub.add_parser("serve-wire")
    w.add_argument("--port", type=int, required=True)
    w.add_argument("--data", required=True)
    e = sub.add_parser("serve-echo")
    e.add_argument("--port", type=int, required=True)
    e.add_argument("--size", type=int, required=True)
    ld = sub.add_parser("load")
    ld.add_argument("--port", type=int, required=True)
    ld.add_argument("--seconds", type=float, default=5.0)
    ld.add_argument("--window", type=int, default=WINDOW)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--seconds", type=float, default=5.0)
    args = ap.parse_args()
    if args.mode == "serve-wire":
        serve_wire(args.port, args.data)
        return 0
    if args.mode == "serve-echo":
        serve_echo(args.port, args.size)
        return 0
    if args.mode == "load":
        load(args.port, args.seconds, args.window)
        return 0

    env = dict(os.environ)
    src = Path(__file__).resolve().parent.parent / "src"
    env["PYTHONPATH"] = f"{src}{os.pathsep}{env.get('PYTHONPATH', '')}"
    procs: list[subprocess.Popen[str]] = []
    with common.workspace("handle-udp") as work:
        try:
            wport, eport = common.free_port(), common.free_port()
            wire = _start(["serve-wire", "--port", str(wport), "--data", str(work)], "wire", env)
            procs.append(wire)
            size = _probe(wport)
            echo = _start(["serve-echo", "--port", str(eport), "--size", str(size)], "echo", env)
            procs.append(echo)
            meter = common.CpuMeter([wire.pid, echo.pid])
            rounds: dict[str, list[dict[str, Any]]] = {"echo": [], "wire": []}
            for r in range(args.rounds):
                for name, port, pid in (("echo", eport, echo.pid), ("wire", wport, wire.pid)):
                    res, _ = common.measured(
                        meter, lambda p=port, q=pid: _round(p, q, args.seconds)
                    )
                    rounds[name].append(res)
                    common.say(
                        f"round {r + 1} {name}: {res['rps']:,.0f} req/s, server "
                        f"{res['server_cores']:.2f} cores, others {res['foreign_cores']:.2f} cores"
                    )
        finally:
            for p in procs:
                p.terminate()
                try:
                    p.wait(5)
                except subprocess.TimeoutExpired:
                    p.kill()
    echo_rps = common.median([x["rps"] for x in rounds["echo"]])
    wire_rps = common.median([x["rps"] for x in rounds["wire"]])
    per_core = common.median([x["per_core"] for x in rounds["wire"]])
    echo_core = common.median([x["per_core"] for x in rounds["echo"]])
    ratio = wire_rps / echo_rps
    common.say(f"answer size:        {size} bytes (one UDP packet each way)")
    common.say(f"UDP echo baseline:  {echo_rps:,.0f} req/s ({echo_core:,.0f} per server core)")
    common.say(f"Handle UDP cached:  {wire_rps:,.0f} req/s ({per_core:,.0f} per server core)")
    common.say(
        f"ratio:              {ratio:.2f}x (target >= {TARGET}x) {common.verdict(ratio >= TARGET)}"
    )
    common.save(
        "handle_udp",
        {
            "answer_bytes": size,
            "window": WINDOW,
            "echo_rps": echo_rps,
            "wire_rps": wire_rps,
            "ratio": round(ratio, 3),
            "wire_per_core": per_core,
            "echo_per_core": echo_core,
            "rounds": rounds,
        },
    )
    return 0 if ratio >= TARGET else 1


if __name__ == "__main__":
    sys.exit(main())
