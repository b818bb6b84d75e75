"""The cost of a ping per pool checkout: N short requests with ``pool_pre_ping`` on and off.

    python bench/db_checkout.py [postgresql://postgres@127.0.0.1:5432/test] [N]

Each request checks a connection out of the pool, runs one short query (a primary-key read of
a one-row table, what a token or device lookup costs) and returns it, as a web request or a
worker's lookup does. Two engines on the same server, one as ``core.make_engine`` builds it
(no pre-ping; only connections idle 10 s are pinged) and one with ``pool_pre_ping=True`` (the
old setting), take turns in rounds of 200 requests so both see the same machine load. Prints
the median and p95 per request, the ratio, and the load average.
"""

import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import sqlalchemy as sa

from indunet.core import Settings, make_engine

URL = sys.argv[1] if len(sys.argv) > 1 else "postgresql://postgres@127.0.0.1:5432/test"
N = int(sys.argv[2]) if len(sys.argv) > 2 else 20_000
ROUND = 200
TABLE = f"bench_checkout_{os.getpid()}"
QUERY = sa.text(f"SELECT v FROM {TABLE} WHERE k = 1")


def timed(engine: sa.Engine, n: int) -> list[float]:
    out = []
    for _ in range(n):
        t0 = time.perf_counter()
        with engine.connect() as conn:
            conn.execute(QUERY).scalar_one()
        out.append(time.perf_counter() - t0)
    return out


def main() -> None:
    data = Path(tempfile.mkdtemp(prefix="db-checkout-"))
    ours = make_engine(Settings(database_url=URL, data_dir=data, role="api"))
    url = ours.url
    ping = sa.create_engine(url, pool_size=5, max_overflow=5, pool_pre_ping=True)
    with ours.begin() as conn:
        conn.execute(sa.text(f"CREATE TABLE IF NOT EXISTS {TABLE} (k int PRIMARY KEY, v text)"))
        conn.execute(sa.text(f"INSERT INTO {TABLE} VALUES (1, 'x') ON CONFLICT DO NOTHING"))
    times: dict[str, list[float]] = {"pre-ping off": [], "pre-ping on": []}
    timed(ours, 100), timed(ping, 100)  # warm both pools
    for _ in range(N // ROUND):
        times["pre-ping off"] += timed(ours, ROUND)
        times["pre-ping on"] += timed(ping, ROUND)
    with ours.begin() as conn:
        conn.execute(sa.text(f"DROP TABLE {TABLE}"))
    ours.dispose()
    ping.dispose()
    med = {k: statistics.median(v) * 1e6 for k, v in times.items()}
    print(f"{N} requests each, one short query per checkout, {URL.split('@')[-1]}")
    for k, v in times.items():
        p95 = statistics.quantiles(v, n=20)[18] * 1e6
        print(f"  {k:13} median {med[k]:7.1f} µs   p95 {p95:7.1f} µs")
    print(f"  ratio on/off {med['pre-ping on'] / med['pre-ping off']:.2f}")
    print("  load average " + " ".join(f"{x:.2f}" for x in os.getloadavg()))


if __name__ == "__main__":
    main()
