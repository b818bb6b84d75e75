"""Benchmark: the time-series store's writes and downsampling, with same-run baselines.

(a) ``SqliteStore.write_batch`` points/s in batches of 10,000, in two shapes: 1,000 points
    x 10 timestamps per batch (a plant of 100 devices at 1 Hz, ten seconds a batch) and one
    point x 10,000 timestamps. Baseline, round by round in alternating order: a bare
    ``sqlite3`` ``executemany`` of the same (series, ts, value, quality) rows into a plain
    table, same pragmas (WAL, synchronous=NORMAL), one commit per batch.
(b) With ``--database-url``: ``PostgresStore.write_batch`` points/s (COPY path, same shapes);
    baseline a bare psycopg ``COPY`` of the same rows into a plain table.
(c) Downsampling 10,000,000 points of one point over one day (written with ``write_batch``):
    one-minute buckets (median ms of several runs) vs a raw SQL ``GROUP BY`` minute over the
    same rows; plus one-hour buckets, raw ten-second buckets, ``latest`` and a 10,000-sample
    ``query``. Target: one-minute buckets under 500 ms.

    python bench/telemetry_store.py
    python bench/telemetry_store.py --quick
    python bench/telemetry_store.py --database-url postgresql://postgres@127.0.0.1:5432/test

PostgreSQL runs in a fresh schema (``bench_tel_<pid>``) dropped afterwards.
"""

from __future__ import annotations

import argparse
import os
import sqlite3
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from common import CpuMeter, median, save, say, verdict, workspace
from indunet.telemetry import PostgresStore, Sample, SqliteStore

T0 = 1_714_521_600_000  # 2024-05-01T00:00:00Z
DAY = 86_400_000
WRITE_TARGET = 300_000
DOWNSAMPLE_TARGET_MS = 500.0


# -- data ------------------------------------------------------------------------------------
def plant_batches(n: int, start_batch: int = 0) -> list[list[Sample]]:
    """``n`` batches of 1,000 points (100 devices x 10) x 10 timestamps, one second apart."""
    keys = [(f"dev-{i // 10:03d}", f"p{i % 10}") for i in range(1000)]
    out = []
    for b in range(start_batch, start_batch + n):
        out.append(
            [
                Sample(d, p, T0 + (b * 10 + k) * 1000, (b * 10 + k + j) % 1000 * 0.5)
                for k in range(10)
                for j, (d, p) in enumerate(keys)
            ]
        )
    return out


def point_batches(n: int, start_batch: int = 0) -> list[list[Sample]]:
    """``n`` batches of one point x 10,000 timestamps, 10 ms apart."""
    return [
        [Sample("dev-000", "p0", T0 + (b * 10_000 + k) * 10, k * 0.25) for k in range(10_000)]
        for b in range(start_batch, start_batch + n)
    ]


def as_rows(batches: list[list[Sample]]) -> list[list[tuple[Any, ...]]]:
    """The baseline's rows: (series, ts, value, quality) with integer series ids."""
    ids: dict[tuple[str, str], int] = {}
    return [
        [(ids.setdefault((s.device, s.point), len(ids) + 1), s.ts, s.value, s.quality) for s in b]
        for b in batches
    ]


# -- (a) and (b): writes ---------------------------------------------------------------------
def sqlite_baseline(path: Path, rows: list[list[tuple[Any, ...]]]) -> tuple[float, float]:
    """Wall and CPU seconds for executemany of ``rows`` into a plain table, a commit a batch."""
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    conn.execute("CREATE TABLE samples (series INTEGER, ts INTEGER, v, q INTEGER)")
    t0, c0 = time.perf_counter(), time.process_time()
    for batch in rows:
        conn.execute("BEGIN")
        conn.executemany("INSERT INTO samples VALUES (?, ?, ?, ?)", batch)
        conn.execute("COMMIT")
    took = time.perf_counter() - t0, time.process_time() - c0
    conn.close()
    return took


def store_writes(open_: Callable[[], Any], batches: list[list[Sample]]) -> tuple[float, float]:
    """Wall and CPU seconds for ``write_batch`` of ``batches`` (after one warm-up batch)."""
    store = open_()
    try:
        store.write_batch(batches[0])
        t0, c0 = time.perf_counter(), time.process_time()
        for batch in batches[1:]:
            store.write_batch(batch)
        return time.perf_counter() - t0, time.process_time() - c0
    finally:
        store.close()


def write_rounds(
    name: str,
    batches: list[list[Sample]],
    rounds: int,
    run_store: Callable[[int, list[list[Sample]]], tuple[float, float]],
    run_base: Callable[[int, list[list[tuple[Any, ...]]]], tuple[float, float]],
) -> dict[str, Any]:
    """Store and baseline, alternating, ``rounds`` times; medians of points/s and the ratio."""
    rows = as_rows(batches[1:])
    n = sum(len(b) for b in batches[1:])
    store_rates, base_rates, store_cpu, base_cpu, foreign = [], [], [], [], []
    meter = CpuMeter(names=("postgres",))  # the database server works for us
    for r in range(rounds):
        order = ("store", "base") if r % 2 == 0 else ("base", "store")
        meter.start()
        for which in order:
            if which == "store":
                wall, cpu = run_store(r, batches)
                store_rates.append(n / wall)
                store_cpu.append(n / cpu)
            else:
                wall, cpu = run_base(r, rows)
                base_rates.append(n / wall)
                base_cpu.append(n / cpu)
        foreign.append(round(meter.foreign_cores(), 2))
        say(
            f"  {name} round {r + 1}: store {store_rates[-1]:,.0f}/s,"
            f" baseline {base_rates[-1]:,.0f}/s (other processes: {foreign[-1]} cores)"
        )
    out = {
        "points": n,
        "store_points_per_s": round(median(store_rates)),
        "baseline_points_per_s": round(median(base_rates)),
        "rounds_store": [round(x) for x in store_rates],
        "rounds_baseline": [round(x) for x in base_rates],
        "rounds_foreign_cores": foreign,
        # points per second of this process's CPU: steadier on a shared machine; for
        # PostgreSQL it leaves out the server's work, so only the wall figures compare
        "store_points_per_cpu_s": round(median(store_cpu)),
        "baseline_points_per_cpu_s": round(median(base_cpu)),
    }
    out["ratio"] = round(out["store_points_per_s"] / out["baseline_points_per_s"], 3)
    out["cpu_ratio"] = round(out["store_points_per_cpu_s"] / out["baseline_points_per_cpu_s"], 3)
    return out


@contextmanager
def pg_schema(url: str, name: str) -> Iterator[str]:
    """A fresh schema, as a URL with it on the search path; dropped afterwards."""
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(f'DROP SCHEMA IF EXISTS "{name}" CASCADE')
        conn.execute(f'CREATE SCHEMA "{name}"')
    sep = "&" if "?" in url else "?"
    try:
        yield f"{url}{sep}options=-csearch_path%3D{name}"
    finally:
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA IF EXISTS "{name}" CASCADE')


def pg_baseline(url: str, rows: list[list[tuple[Any, ...]]]) -> tuple[float, float]:
    """Wall and CPU seconds for a bare COPY of ``rows`` into a plain table, a batch a commit."""
    import psycopg

    with psycopg.connect(url) as conn:
        conn.execute("DROP TABLE IF EXISTS bench_plain")
        conn.execute("CREATE TABLE bench_plain (series int, ts bigint, v float8, q smallint)")
        conn.commit()
        t0, c0 = time.perf_counter(), time.process_time()
        for batch in rows:
            with (
                conn.cursor() as cur,
                cur.copy("COPY bench_plain FROM STDIN (FORMAT BINARY)") as cp,
            ):
                cp.set_types(["int4", "int8", "float8", "int2"])
                for row in batch:
                    cp.write_row(row)
            conn.commit()
        return time.perf_counter() - t0, time.process_time() - c0


# -- (c): downsampling -----------------------------------------------------------------------
def fill_day(store: SqliteStore, points: int) -> float:
    """Write ``points`` samples of one point spread over one day; return points/s."""
    step = DAY / points
    t0 = time.perf_counter()
    for lo in range(0, points, 10_000):
        store.write_batch(
            [
                Sample("cnc-0001", "spindle_rpm", T0 + int(i * step), 1000.0 + (i * 7919) % 5000)
                for i in range(lo, min(points, lo + 10_000))
            ]
        )
    return points / (time.perf_counter() - t0)


def timed_ms(fn: Callable[[], Any], runs: int) -> tuple[float, Any]:
    """Median milliseconds of ``runs`` calls, and the last result."""
    times, result = [], None
    for _ in range(runs):
        t0 = time.perf_counter()
        result = fn()
        times.append((time.perf_counter() - t0) * 1000)
    return round(median(times), 2), result


def raw_group_by(path: Path) -> Callable[[], list[Any]]:
    """The baseline: one SQL GROUP BY minute over the raw rows, on a connection of its own."""
    conn = sqlite3.connect(path)
    sid = conn.execute("SELECT id FROM tel_series WHERE point = 'spindle_rpm'").fetchone()[0]
    sql = (
        "SELECT (ts - ?) / 60000 AS k, min(v), max(v), avg(v), count(*) FROM tel_samples"
        " WHERE series = ? AND ts >= ? AND ts < ? GROUP BY k ORDER BY k"
    )
    return lambda: conn.execute(sql, (T0, sid, T0, T0 + DAY)).fetchall()


def downsampling(work: Path, points: int, runs: int) -> dict[str, Any]:
    """Figures of (c) on a fresh SqliteStore holding ``points`` samples of one day."""
    path = work / "day.db"
    store = SqliteStore(path)
    try:
        meter = CpuMeter()
        meter.start()
        say(f"  writing {points:,} points of one point over one day ...")
        rate = fill_day(store, points)
        say(f"  written at {rate:,.0f} points/s")

        def ds(width: int) -> Callable[[], Any]:
            return lambda: store.downsample("cnc-0001", "spindle_rpm", T0, T0 + DAY, width)

        minute_ms, minutes = timed_ms(ds(60_000), runs)
        hour_ms, _ = timed_ms(ds(3_600_000), runs)
        raw10_ms, tens = timed_ms(ds(10_000), max(1, runs // 3))
        base_ms, base = timed_ms(raw_group_by(path), max(1, runs // 3))
        latest_ms, _ = timed_ms(lambda: store.latest("cnc-0001"), runs * 4)
        query_ms, rows = timed_ms(
            lambda: store.query("cnc-0001", "spindle_rpm", T0 + DAY // 2, T0 + DAY, limit=10_000),
            runs * 4,
        )
        assert [b.count for b in minutes] == [r[4] for r in base], "rollups disagree with raw"
        assert sum(b.count for b in tens) == points and len(rows) == 10_000
        return {
            "points": points,
            "fill_points_per_s": round(rate),
            "minute_buckets_ms": minute_ms,
            "minute_buckets": len(minutes),
            "baseline_raw_group_by_ms": base_ms,
            "ratio_baseline_over_store": round(base_ms / minute_ms, 1),
            "hour_buckets_ms": hour_ms,
            "raw_10s_buckets_ms": raw10_ms,
            "latest_ms": latest_ms,
            "query_10000_ms": query_ms,
            "db_mb": round(path.stat().st_size / 1e6),
            "foreign_cores": round(meter.foreign_cores(), 2),
        }
    finally:
        store.close()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--points", type=int, default=10_000_000, help="points for (c)")
    ap.add_argument("--batches", type=int, default=40, help="batches of 10,000 per write round")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--runs", type=int, default=9, help="downsample runs (median)")
    ap.add_argument("--database-url", help="PostgreSQL for (b)")
    ap.add_argument("--quick", action="store_true", help="small sizes: checks the script works")
    args = ap.parse_args()
    if args.quick:
        args.points, args.batches, args.rounds, args.runs = 300_000, 8, 2, 3
    result: dict[str, Any] = {"writes": {}, "target_points_per_s": WRITE_TARGET}
    shapes = {"1000_points_x_10": plant_batches, "1_point_x_10000": point_batches}
    with workspace("telemetry") as work:
        say("(a) SqliteStore.write_batch vs bare executemany")
        for name, make in shapes.items():
            batches = make(args.batches + 1)
            result["writes"][f"sqlite_{name}"] = write_rounds(
                f"sqlite {name}",
                batches,
                args.rounds,
                lambda r, b, name=name: store_writes(
                    lambda: SqliteStore(work / f"store-{name}-{r}.db"), b
                ),
                lambda r, rows, name=name: sqlite_baseline(work / f"base-{name}-{r}.db", rows),
            )
        if args.database_url:
            say("(b) PostgresStore.write_batch vs bare COPY")
            for name, make in shapes.items():
                batches = make(args.batches + 1)
                tag = f"bench_tel_{os.getpid()}"
                with pg_schema(args.database_url, tag) as url:
                    result["writes"][f"postgres_{name}"] = write_rounds(
                        f"postgres {name}",
                        batches,
                        args.rounds,
                        lambda r, b, url=url: _fresh_pg(url, b),
                        lambda r, rows, url=url: pg_baseline(url, rows),
                    )
        say("(c) downsampling one day of one point")
        result["downsample"] = downsampling(work, args.points, args.runs)
    ds = result["downsample"]
    result["verdict"] = {
        "sqlite_write": verdict(
            min(
                w["store_points_per_s"]
                for k, w in result["writes"].items()
                if k.startswith("sqlite")
            )
            >= WRITE_TARGET
        ),
        "downsample_minutes": verdict(ds["minute_buckets_ms"] < DOWNSAMPLE_TARGET_MS),
    }
    for key, w in result["writes"].items():
        say(
            f"{key}: {w['store_points_per_s']:,} points/s; baseline {w['baseline_points_per_s']:,}"
            f" (ratio {w['ratio']}); per CPU second {w['store_points_per_cpu_s']:,} vs"
            f" {w['baseline_points_per_cpu_s']:,} (ratio {w['cpu_ratio']})"
        )
    say(
        f"downsample {ds['points']:,} points, 1 day: 1-minute buckets {ds['minute_buckets_ms']} ms"
        f" (raw GROUP BY {ds['baseline_raw_group_by_ms']} ms, {ds['ratio_baseline_over_store']}x),"
        f" 1-hour {ds['hour_buckets_ms']} ms, raw 10-second {ds['raw_10s_buckets_ms']} ms;"
        f" latest {ds['latest_ms']} ms, query of 10,000 {ds['query_10000_ms']} ms"
    )
    say(f"verdict: {result['verdict']}")
    say(f"results: {save('telemetry_store', result)}")


def _fresh_pg(url: str, batches: list[list[Sample]]) -> tuple[float, float]:
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("DROP TABLE IF EXISTS tel_samples, tel_rollup_1m, tel_series CASCADE")
    return store_writes(lambda: PostgresStore(url), batches)


if __name__ == "__main__":
    main()
