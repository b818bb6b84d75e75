"""Benchmark 3 (SQLite) and 4 (PostgreSQL): bulk registration, then resolution at 1,000 vs 1,000,000.

Bulk: ``ids.import_file`` registers CSV files (``handle,URL:1,DESC:2``) of ``--chunk`` rows
each on the secondary ``88.100`` as the prefix's admin, until the big database holds
``--total`` identifiers; each file is timed. Baseline, interleaved file by file: the same
number of rows (same columns, record JSON of the same shape and size, built beforehand) put
into a bare table with the driver's own ``executemany`` (``sqlite3`` or ``psycopg``), one
commit per 5,000 rows as ``import_file`` does. Target: >= 30,000 identifiers/s.

Resolution: a small database with ``--small`` identifiers and the big one are measured in the
same run, round by round in alternating order, on random identifiers of each: ``node.resolve``
in-process on the secondary, and HTTP GET from a ``indunet node --role secondary`` process per
database (one keep-alive connection, one request at a time). The ratio big/small of p50 and
p99 should not exceed 1 (we allow 1.25 for noise on a shared 2-core machine).

    python bench/bulk_registration.py                      # SQLite, 1,000,000
    python bench/bulk_registration.py --database-url postgresql://postgres@127.0.0.1:5432/test

PostgreSQL runs in fresh schemas (``bench_<pid>_…``) that are dropped afterwards.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import dataclasses
import os
import random
import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import orjson
import sqlalchemy as sa

from common import (
    CpuMeter,
    RawClient,
    free_port,
    indunet_command,
    latency_summary,
    measured,
    median,
    save,
    say,
    start_server,
    verdict,
    workspace,
)
from fixtures import (
    ENTERPRISE_PREFIX,
    SECRET,
    USERNAME,
    allocate,
    engine_for,
    handle_text,
    node,
)
from indunet import ids

RATE_TARGET = 30_000
RATIO_LIMIT = 1.25
COMMIT_EVERY = 5000


# -- databases -------------------------------------------------------------------------------
@contextmanager
def pg_schemas(url: str, names: list[str]) -> Iterator[dict[str, str]]:
    """Fresh PostgreSQL schemas, one URL each (``search_path`` set); dropped afterwards."""
    admin = sa.create_engine(_psycopg(url), isolation_level="AUTOCOMMIT")
    tag = f"bench_{os.getpid()}_{int(time.time())}"
    schemas = {n: f"{tag}_{n}" for n in names}
    try:
        with admin.connect() as conn:
            for s in schemas.values():
                conn.exec_driver_sql(f'CREATE SCHEMA "{s}"')
        sep = "&" if "?" in url else "?"
        yield {n: f"{url}{sep}options=-csearch_path%3D{s}" for n, s in schemas.items()}
    finally:
        with admin.connect() as conn:
            for s in schemas.values():
                conn.exec_driver_sql(f'DROP SCHEMA IF EXISTS "{s}" CASCADE')
        admin.dispose()


def _psycopg(url: str) -> str:
    return "postgresql+psycopg://" + url.removeprefix("postgresql://").removeprefix(
        "postgresql+psycopg://"
    )


# -- files and rows --------------------------------------------------------------------------
def write_csv(path: Path, start: int, stop: int) -> Path:
    """A bulk file with identifiers ``start`` … ``stop - 1``."""
    with path.open("w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["handle", "URL:1", "DESC:2"])
        for i in range(start, stop):
            w.writerow(
                [handle_text(i), f"https://factory.example/products/{i:07d}", f"CNC spindle {i}"]
            )
    return path


def raw_rows(template: list[ids.HandleValue], start: int, stop: int) -> list[tuple[Any, ...]]:
    """Rows for the baseline table: the stored record of identifier 1, re-valued for each ``i``."""
    now = time.strftime("%Y-%m-%d %H:%M:%S")
    out = []
    for i in range(start, stop):
        vals = [
            dataclasses.replace(v, value=f"https://factory.example/products/{i:07d}")
            if v.index == 1
            else dataclasses.replace(v, value=f"CNC spindle {i}")
            if v.index == 2
            else v
            for v in template
        ]
        text = handle_text(i)
        record = orjson.dumps([v.to_json(with_permissions=True) for v in vals]).decode()
        out.append(("88.100", text.upper(), text, ENTERPRISE_PREFIX, record, now, now))
    return out


class RawTable:
    """The baseline: a bare table filled with the driver's ``executemany``."""

    DDL = (
        "CREATE TABLE bench_raw (node VARCHAR(64), hkey VARCHAR(400), handle VARCHAR(400) NOT NULL,"
        " prefix VARCHAR(128) NOT NULL, record TEXT NOT NULL, created_at {ts} NOT NULL,"
        " updated_at {ts} NOT NULL, PRIMARY KEY (node, hkey))"
    )

    def __init__(self, data_dir: Path, url: str | None) -> None:
        self.pg = url is not None
        if url is not None:
            import psycopg

            self.conn: Any = psycopg.connect(url)
            self.conn.execute(self.DDL.format(ts="TIMESTAMPTZ"))
            self.mark = "%s"
        else:
            data_dir.mkdir(parents=True, exist_ok=True)
            self.conn = sqlite3.connect(data_dir / "raw.db")
            self.conn.execute("PRAGMA journal_mode=WAL")
            self.conn.execute("PRAGMA synchronous=NORMAL")
            self.conn.execute(self.DDL.format(ts="DATETIME"))
            self.mark = "?"
        self.conn.commit()
        self.sql = f"INSERT INTO bench_raw VALUES ({', '.join([self.mark] * 7)})"

    def insert(self, rows: list[tuple[Any, ...]]) -> None:
        """Insert ``rows``, committing every 5,000."""
        for i in range(0, len(rows), COMMIT_EVERY):
            cur = self.conn.cursor()
            cur.executemany(self.sql, rows[i : i + COMMIT_EVERY])
            self.conn.commit()

    def close(self) -> None:
        """Close the connection."""
        self.conn.close()


# -- measuring -------------------------------------------------------------------------------
def timed_import(sec: ids.Node, principal: ids.Principal, path: Path) -> tuple[int, float]:
    """Import one file; return identifiers registered and seconds taken."""
    t0 = time.perf_counter()
    report = ids.import_file(sec, path, principal)
    took = time.perf_counter() - t0
    if report.failed:
        raise RuntimeError(f"{path.name}: {report.failed} rows failed: {report.errors[:3]}")
    return report.registered, took


async def resolve_samples(node_: ids.Node, texts: list[str]) -> list[float]:
    """``node.resolve`` latency of each identifier, in milliseconds."""
    out = []
    for t in texts:
        t0 = time.perf_counter()
        answer = await node_.resolve(t)
        out.append((time.perf_counter() - t0) * 1000)
        if answer.rc != ids.RC.SUCCESS:
            raise RuntimeError(f"{t}: {answer.rc} {answer.message}")
    return out


def http_samples(client: RawClient, texts: list[str]) -> list[float]:
    """HTTP GET latency of each identifier, in milliseconds (on a fresh, warmed connection)."""
    client.reconnect()
    client.get(f"/api/handles/{texts[0]}")
    out = []
    for t in texts:
        t0 = time.perf_counter()
        status, _ = client.get(f"/api/handles/{t}")
        out.append((time.perf_counter() - t0) * 1000)
        if status != 200:
            raise RuntimeError(f"GET {t}: HTTP {status}")
    return out


def compare(rounds: dict[str, list[list[float]]]) -> dict[str, Any]:
    """Per-database medians over rounds of p50/p99, and the big/small ratios."""
    out: dict[str, Any] = {}
    for name, rs in rounds.items():
        per = [latency_summary(r) for r in rs]
        out[name] = {
            "p50_ms": median([x["p50_ms"] for x in per]),
            "p99_ms": median([x["p99_ms"] for x in per]),
        }
    out["ratio_p50"] = out["big"]["p50_ms"] / out["small"]["p50_ms"]
    out["ratio_p99"] = out["big"]["p99_ms"] / out["small"]["p99_ms"]
    out["pass"] = out["ratio_p50"] <= RATIO_LIMIT
    return out


def run(args: argparse.Namespace) -> dict[str, Any]:
    """Set up both databases, import, measure; return the result record."""
    pg = args.database_url is not None
    with (
        workspace("bulk") as ws,
        pg_schemas(args.database_url, ["small", "big"]) if pg else _nothing() as urls,
    ):
        urls = urls or {"small": None, "big": None}
        engines = {k: engine_for(ws / k, urls[k]) for k in ("small", "big")}
        nodes = {k: node(e, ids.NodeRole.SECONDARY, "88.100") for k, e in engines.items()}
        for n in nodes.values():
            allocate(n, ENTERPRISE_PREFIX, SECRET)
        principal = nodes["big"].authenticate(USERNAME, SECRET)

        say(f"small database: importing {args.small} identifiers …")
        small_n, small_s = timed_import(
            nodes["small"], principal, write_csv(ws / "small.csv", 1, args.small + 1)
        )
        raw = RawTable(ws / "raw", urls["big"])
        meter = CpuMeter(names=["postgres"] if pg else [])
        chunks = []
        template: list[ids.HandleValue] | None = None
        say(f"big database: importing {args.total} identifiers in files of {args.chunk} …")
        for start in range(1, args.total + 1, args.chunk):
            stop = min(args.total + 1, start + args.chunk)
            path = write_csv(ws / f"chunk-{start}.csv", start, stop)
            meter.start()
            n, took = timed_import(nodes["big"], principal, path)
            import_noise = meter.foreign_cores()
            path.unlink()
            if template is None:
                rec = nodes["big"].store.get(handle_text(1).upper())
                assert rec is not None
                template = rec.values
            rows = raw_rows(template, start, stop)
            meter.start()
            t0 = time.perf_counter()
            raw.insert(rows)
            raw_took = time.perf_counter() - t0
            raw_noise = meter.foreign_cores()
            chunks.append(
                {
                    "first": start,
                    "rows": n,
                    "import_s": took,
                    "import_rate": n / took,
                    "raw_s": raw_took,
                    "raw_rate": len(rows) / raw_took,
                    "foreign_cores": [round(import_noise, 3), round(raw_noise, 3)],
                }
            )
            say(
                f"  {stop - 1:>9,}: import_file {n / took:9,.0f} ids/s, "
                f"raw executemany {len(rows) / raw_took:9,.0f} rows/s, "
                f"ratio {(n / took) / (len(rows) / raw_took):.3f} "
                f"(others used {import_noise:.2f} / {raw_noise:.2f} cores)"
            )
        raw.close()
        counts = {k: n.store.count() for k, n in nodes.items()}
        say(f"held: {counts}")

        # One full read of each table first: this machine reclaims idle page cache, and a
        # serving node's pages are warm; both sizes get the same treatment.
        for e in engines.values():
            with e.connect() as conn:
                conn.exec_driver_sql("SELECT sum(length(record)) FROM ids_handles").scalar()
        rng = random.Random(7)
        picks = {
            "small": [handle_text(rng.randint(1, args.small)) for _ in range(args.samples)],
            "big": [handle_text(rng.randint(1, args.total)) for _ in range(args.samples)],
        }
        say(f"resolution in-process: {args.rounds} rounds x {args.samples} per database …")
        inproc: dict[str, list[list[float]]] = {"small": [], "big": []}

        async def in_process() -> None:
            for name in ("small", "big"):  # warm-up, not counted
                await resolve_samples(nodes[name], picks[name][:200])
            for r in range(args.rounds):
                for name in ("small", "big") if r % 2 == 0 else ("big", "small"):
                    for attempt in range(3):  # again if other processes took > 0.5 core
                        meter.quiet()
                        meter.start()
                        ms = await resolve_samples(nodes[name], picks[name])
                        if meter.foreign_cores() <= 0.5 or attempt == 2:
                            break
                    inproc[name].append(ms)

        asyncio.run(in_process())
        for e in engines.values():
            e.dispose()

        say(f"resolution over HTTP: {args.rounds} rounds x {args.samples} per database …")
        servers = []
        http: dict[str, list[list[float]]] = {"small": [], "big": []}
        try:
            clients = {}
            for name in ("small", "big"):
                port = free_port()
                env = {"INDUNET_DATABASE_URL": urls[name]} if urls[name] else {}
                s = start_server(
                    f"node-{name}",
                    indunet_command(
                        "node",
                        "--role",
                        "secondary",
                        "--prefix",
                        "88.100",
                        "--port",
                        str(port),
                        "--data-dir",
                        str(ws / name),
                    ),
                    port,
                    ws,
                    ready_path="/api/handles/0.NA/88.100.1",
                    env=env,
                )
                servers.append(s)
                clients[name] = RawClient(s.url)
                http_samples(clients[name], picks[name][:200])  # warm-up
            meter = CpuMeter([s.proc.pid for s in servers], names=["postgres"] if pg else [])
            for r in range(args.rounds):
                for name in ("small", "big") if r % 2 == 0 else ("big", "small"):
                    kept, _ = measured(
                        meter, lambda name=name: {"ms": http_samples(clients[name], picks[name])}
                    )
                    http[name].append(kept["ms"])
            for c in clients.values():
                c.close()
        finally:
            for s in servers:
                s.stop()

    import_rates = [c["import_rate"] for c in chunks]
    raw_rates = [c["raw_rate"] for c in chunks]
    rate = median(import_rates)
    return {
        "database": "postgresql" if pg else "sqlite",
        "total": args.total,
        "small": args.small,
        "chunk": args.chunk,
        "held": counts,
        "small_import_rate": small_n / small_s,
        "import_rate": rate,
        "raw_rate": median(raw_rates),
        "ratio": median([a / b for a, b in zip(import_rates, raw_rates, strict=True)]),
        "rate_target": RATE_TARGET,
        "rate_pass": rate >= RATE_TARGET,
        "chunks": chunks,
        "resolve_in_process": compare(inproc),
        "resolve_http": compare(http),
        "ratio_limit": RATIO_LIMIT,
    }


@contextmanager
def _nothing() -> Iterator[None]:
    yield None


def main() -> None:
    """Run and print the figures with their ratios to the baselines."""
    ap = argparse.ArgumentParser(description="bulk registration and resolution at scale")
    ap.add_argument("--database-url", default=os.environ.get("INDUNET_BENCH_DATABASE_URL"))
    ap.add_argument("--sqlite", action="store_true", help="ignore INDUNET_BENCH_DATABASE_URL")
    ap.add_argument("--total", type=int, default=1_000_000)
    ap.add_argument("--chunk", type=int, default=200_000)
    ap.add_argument("--small", type=int, default=1000)
    ap.add_argument("--samples", type=int, default=2000)
    ap.add_argument("--rounds", type=int, default=5)
    args = ap.parse_args()
    if args.sqlite:
        args.database_url = None
    res = run(args)
    name = f"bulk_registration_{res['database']}"
    path = save(name, res)
    db = res["database"]
    say(
        f"RESULT {name}: import_file {res['import_rate']:,.0f} ids/s (median of "
        f"{len(res['chunks'])} files), raw executemany {res['raw_rate']:,.0f} rows/s, ratio "
        f"{res['ratio']:.3f}; target >= {RATE_TARGET:,} ids/s {verdict(res['rate_pass'])}"
    )
    for kind in ("resolve_in_process", "resolve_http"):
        c = res[kind]
        say(
            f"RESULT {name} {kind} ({db}): {res['small']:,} ids p50 {c['small']['p50_ms']:.3f} "
            f"p99 {c['small']['p99_ms']:.3f} ms; {res['total']:,} ids p50 {c['big']['p50_ms']:.3f} "
            f"p99 {c['big']['p99_ms']:.3f} ms; ratio p50 {c['ratio_p50']:.2f} p99 "
            f"{c['ratio_p99']:.2f} (limit {RATIO_LIMIT}) {verdict(c['pass'])}"
        )
    say(f"written {path}")


if __name__ == "__main__":
    main()
