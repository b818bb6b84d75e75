"""Security event ingest: Suricata EVE lines parsed, normalised and handed through the hub,
against a bare ``orjson.loads`` loop over the same file.

    python bench/security_ingest.py [LINES]

A generated ``eve.json`` of LINES lines (default 200,000) in the shapes Suricata 7 writes:
70 % ``flow``, 15 % ``alert`` (Modbus/DNP3/ET signatures, severities 1–3), 10 % ``modbus``
and 5 % ``anomaly``. Each run reads the file line by line; ours turns every line into a
``SecurityEvent`` (``ingest.Reader``) and submits batches of 2,000 to a fresh ``Hub`` with a
no-op subscriber, waiting until the hub has handed every event on. Detection (the rules
engine) is NOT included: it is not on this branch. Prints the median of 5 runs of each,
events/s, the ratio (ours / baseline, target ≥ 0.25) and the load average.
"""

from __future__ import annotations

import asyncio
import os
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

import orjson

from indunet.security import Hub, SecurityEvent
from indunet.security.ingest import Reader

LINES = int(sys.argv[1]) if len(sys.argv) > 1 else 200_000
RUNS = 5
BATCH = 2_000
SIGNATURES = [
    (2102000, "ET SCADA Modbus Write Multiple Registers from unknown host", 1),
    (2102001, "ET SCADA DNP3 Cold Restart request", 1),
    (2019401, "ET SCAN Suspicious inbound to MSSQL port 1433", 2),
    (2210044, "SURICATA STREAM Packet with invalid timestamp", 3),
]


def line(i: int, rnd: random.Random) -> bytes:
    ts = f"2024-03-01T10:{(i // 60) % 60:02d}:{i % 60:02d}.{i % 1_000_000:06d}+0800"
    src = f"192.168.{rnd.randrange(1, 8)}.{rnd.randrange(2, 250)}"
    dst = f"10.10.{rnd.randrange(1, 4)}.{rnd.randrange(2, 60)}"
    base = {
        "timestamp": ts,
        "flow_id": 1_000_000_000 + i,
        "in_iface": "eth1",
        "src_ip": src,
        "src_port": rnd.randrange(1024, 65535),
        "dest_ip": dst,
        "dest_port": rnd.choice((502, 20000, 44818, 102, 443)),
        "proto": "TCP",
    }
    r = rnd.random()
    if r < 0.70:
        base |= {
            "event_type": "flow",
            "app_proto": "modbus",
            "flow": {
                "pkts_toserver": rnd.randrange(1, 99),
                "pkts_toclient": rnd.randrange(1, 99),
                "bytes_toserver": rnd.randrange(60, 9999),
                "bytes_toclient": rnd.randrange(60, 9999),
                "start": ts,
                "end": ts,
                "age": 0,
                "state": "closed",
                "reason": "timeout",
                "alerted": False,
            },
            "tcp": {"tcp_flags": "1b", "syn": True, "fin": True, "ack": True, "state": "closed"},
        }
    elif r < 0.85:
        sid, sig, sev = rnd.choice(SIGNATURES)
        base |= {
            "event_type": "alert",
            "pkt_src": "wire/pcap",
            "alert": {
                "action": "allowed",
                "gid": 1,
                "signature_id": sid,
                "rev": 3,
                "signature": sig,
                "category": "Attempted Administrator Privilege Gain",
                "severity": sev,
            },
            "app_proto": "modbus",
            "direction": "to_server",
            "flow": {"pkts_toserver": 4, "pkts_toclient": 3, "start": ts},
        }
    elif r < 0.95:
        base |= {
            "event_type": "modbus",
            "modbus": {
                "id": i,
                "request": {
                    "transaction_id": i % 65536,
                    "protocol_id": 0,
                    "unit_id": 1,
                    "function_raw": 3,
                    "function_code": "RdHoldRegs",
                    "access_type": "READ | HOLDING",
                    "category": "PUBLIC_ASSIGNED",
                    "error_flags": "NONE",
                    "read": {"address": rnd.randrange(0, 999), "quantity": 10},
                },
            },
        }
    else:
        base |= {
            "event_type": "anomaly",
            "anomaly": {"type": "decode", "event": "decoder.ipv4.trunc_pkt"},
        }
    return orjson.dumps(base)


def baseline(path: Path) -> float:
    start = time.perf_counter()
    n = 0
    with path.open("rb") as f:
        for raw in f:
            orjson.loads(raw)
            n += 1
    assert n == LINES
    return time.perf_counter() - start


async def ours(path: Path) -> float:
    handled = 0

    async def noop(batch: Sequence[SecurityEvent]) -> None:
        nonlocal handled
        handled += len(batch)

    hub = Hub()
    hub.subscribe("noop", noop)
    await hub.start()
    start = time.perf_counter()
    reader = Reader("eve", "eve.json")
    batch: list[SecurityEvent] = []
    with path.open("rb") as f:
        for number, raw in enumerate(f, 1):
            event = reader.line(raw, number)
            if event is not None:
                batch.append(event)
            if len(batch) >= BATCH:
                await hub.submit(batch)
                batch = []
                await asyncio.sleep(0)  # as a tail does between chunks: the hub runs
    await hub.submit(batch)
    await hub.drained()
    took = time.perf_counter() - start
    await hub.stop()
    assert handled == LINES, handled
    return took


def main() -> None:
    rnd = random.Random(12)
    path = Path(tempfile.mkdtemp(prefix="security-ingest-")) / "eve.json"
    with path.open("wb") as f:
        for i in range(LINES):
            f.write(line(i, rnd) + b"\n")
    base_runs, our_runs = [], []
    for _ in range(RUNS):  # alternated, so both see the same load
        base_runs.append(baseline(path))
        our_runs.append(asyncio.run(ours(path)))
    b, o = statistics.median(base_runs), statistics.median(our_runs)
    print(f"file: {LINES:,} EVE lines, {path.stat().st_size / 1e6:.1f} MB")
    print(f"orjson.loads loop:            {LINES / b:12,.0f} lines/s  (median {b:.3f} s)")
    print(f"parse+normalise+hub (no-op):  {LINES / o:12,.0f} events/s (median {o:.3f} s)")
    print(f"ratio ours/baseline: {b / o:.3f}  (target >= 0.25); detection not included")
    print(
        f"load average: {' '.join(f'{x:.2f}' for x in os.getloadavg())} on {os.cpu_count()} cores"
    )


if __name__ == "__main__":
    main()
