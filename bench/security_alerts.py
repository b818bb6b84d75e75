"""The alert store's write rate: alerts a second through ``AlertStore.raise_alerts``.

    python bench/security_alerts.py

Raises 20,000 alerts (5 % at the promotion level, so they make or join cases by shared
observables) as 200 concurrent batches of 100 into a running store on a fresh SQLite
database, and, as the baseline measured in the same run, inserts the same rows with one plain
``executemany`` per 2,000 (the floor: no deduplication, promotion or merging). Median of three
runs of each, with the machine's load average.
"""

import asyncio
import os
import statistics
import tempfile
import time
from pathlib import Path

from indunet.core import Settings
from indunet.security import Alert
from indunet.security.cases import AlertStore
from indunet.security.cases.alertstore import _row
from indunet.security.casetables import alerts as table
from indunet.web import open_database

N = 20_000
BATCH = 100
RUNS = 3


def make(enterprise: None = None) -> list[Alert]:
    now = time.time()
    return [
        Alert(
            ts=now + i / 1000,
            rule=f"ics.rule_{i % 40}",
            rule_version=1,
            level=13 if i % 20 == 0 else 5,
            title=f"Modbus write #{i}",
            enterprise_id=None,
            techniques=(f"T08{i % 60:02d}",),
            src_ip=f"10.0.{i % 50}.{i % 200}",
            dst_ip="10.1.0.20",
            assets=(i % 300,),
        )
        for i in range(N)
    ]


def engine_of() -> object:
    tmp = Path(tempfile.mkdtemp())
    return open_database(Settings(data_dir=tmp))


async def through_store() -> float:
    engine = engine_of()
    store = AlertStore(engine)  # type: ignore[arg-type]
    items = make()
    await store.start()
    start = time.perf_counter()
    await asyncio.gather(*(store.raise_alerts(items[k : k + BATCH]) for k in range(0, N, BATCH)))
    took = time.perf_counter() - start
    await store.stop()
    assert store.stats.written == N, store.stats
    return N / took


def plain_insert() -> float:
    engine = engine_of()
    from datetime import UTC, datetime

    now = datetime.now(UTC)
    rows = [_row(a, now) for a in make()]
    start = time.perf_counter()
    with engine.begin() as conn:  # type: ignore[attr-defined]
        for k in range(0, N, 2_000):
            conn.execute(table.insert(), rows[k : k + 2_000])
    return N / (time.perf_counter() - start)


def main() -> None:
    store = statistics.median(asyncio.run(through_store()) for _ in range(RUNS))
    plain = statistics.median(plain_insert() for _ in range(RUNS))
    print(f"alert store: {store:,.0f} alerts/s (5 % promoted or merged into cases)")
    print(f"plain insert baseline: {plain:,.0f} rows/s; store/baseline = {store / plain:.2f}")
    print(f"load average: {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs")


if __name__ == "__main__":
    main()
