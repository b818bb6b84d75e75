"""What passive asset discovery costs the security hub, per event.

    python bench/security_assets_discovery.py [EVENTS] [HOSTS]

``EVENTS`` Modbus ``ot.transaction`` events (every tenth a write, every fiftieth a 43/14
identification answer) between ``HOSTS`` clients and servers, made beforehand. Each run
pushes them through a fresh ``Hub``: the baseline with a subscriber that does nothing, the
figure with the inventory's ``Discovery`` subscribed, its flush (one transaction on SQLite
in a temporary directory) included. Runs alternate; the medians, their ratio and the load
average are printed.
"""

import asyncio
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

from indunet.core import Settings
from indunet.security import Hub, SecurityEvent
from indunet.security.assets import Assets, Discovery
from indunet.security.sensor.records import Transaction
from indunet.web.app import open_database

EVENTS = int(sys.argv[1]) if len(sys.argv) > 1 else 50_000
HOSTS = int(sys.argv[2]) if len(sys.argv) > 2 else 500
RUNS = 5


def events() -> list[SecurityEvent]:
    out = []
    for i in range(EVENTS):
        server, client = i % HOSTS, (i * 7 + 1) % HOSTS
        details = (
            {"VendorName": "Schneider Electric", "ProductCode": f"BMX{server}"}
            if i % 50 == 0
            else {}
        )
        tx = Transaction(
            ts=1_765_000_000 + i / 1000,
            protocol="modbus",
            src_ip=f"10.1.{client // 250}.{client % 250 + 1}",
            src_port=40000 + i % 1000,
            dst_ip=f"10.2.{server // 250}.{server % 250 + 1}",
            dst_port=502,
            function=6 if i % 10 == 0 else 3,
            function_name="write_single_register" if i % 10 == 0 else "read_holding_registers",
            write=i % 10 == 0,
            src_mac=f"00:0c:29:00:{client // 256:02x}:{client % 256:02x}",
            dst_mac=f"00:80:f4:00:{server // 256:02x}:{server % 256:02x}",
            details=details,
        )
        out.append(tx.to_event("bench", enterprise_id=None))
    return out


async def nothing(batch: Sequence[SecurityEvent]) -> None:
    return None


async def run(evs: list[SecurityEvent], store: Assets | None) -> float:
    hub = Hub(max_queued=len(evs) + 1, seen_ids=len(evs) + 1)
    disc = Discovery(store, flush_s=3600) if store is not None else None
    hub.subscribe("x", disc.handle if disc is not None else nothing)
    start = time.perf_counter()
    await hub.start()
    hub.offer(evs)
    await hub.drained()
    if disc is not None:
        await disc.flush()
    took = time.perf_counter() - start
    await hub.stop()
    return took


def main() -> None:
    evs = events()
    base: list[float] = []
    found: list[float] = []
    for _ in range(RUNS):
        data = Path(tempfile.mkdtemp(prefix="assets-bench-"))
        engine = open_database(Settings(data_dir=data, port=8000))
        store = Assets(engine)
        base.append(asyncio.run(run(evs, None)))  # a fresh hub each run: no duplicates
        found.append(asyncio.run(run(evs, store)))
        engine.dispose()
    b, f = statistics.median(base), statistics.median(found)
    print(f"events: {EVENTS:,}, hosts: {2 * HOSTS:,}, runs: {RUNS}")
    print(f"hub alone:           {b / EVENTS * 1e6:8.2f} µs/event ({EVENTS / b:,.0f} events/s)")
    print(f"hub with discovery:  {f / EVENTS * 1e6:8.2f} µs/event ({EVENTS / f:,.0f} events/s)")
    print(f"ratio to baseline:   {f / b:.1f}x")
    print(f"load average:        {os.getloadavg()[0]:.2f} (1 min), {os.cpu_count()} CPUs")


if __name__ == "__main__":
    main()
