"""Benchmark: the scaled mode's ingest, producer → JetStream → worker → PostgreSQL.

    python bench/bus_ingest.py            # about 3½ minutes on 2 cores
    python bench/bus_ingest.py --quick    # small sizes: checks that it works (~1 minute)
    python bench/bus_ingest.py --database-url postgresql://… --nats nats://…

Real services: NATS with JetStream (``--nats``, default 127.0.0.1:4222) under a unique
prefix whose streams are deleted at the end, PostgreSQL (``--database-url``, default the
``test`` database on 127.0.0.1) in a fresh schema dropped at the end. Every part is its own
process (``bench/bus_procs.py``), so each CPU figure is one process's.

Each round:
1. the producer publishes ``--devices`` devices x 10 points x ``--ticks`` ticks through
   ``telemetry.Pipeline(bus.BusWriter)`` (submissions of 100 samples, one per gateway of 10
   devices and tick, 200 gateways at a time), into a fresh stream;
2. from that same stream, in alternating order: the Indunet worker alone (shard 0/1), two
   workers (shards 0/2 and 1/2, half the partitions each), the bare baseline alone and two
   bare consumers. Each drain starts from new durable consumers and a fresh table, and is
   measured after its first ``--warm-ticks`` ticks are stored (the store learns each series'
   id once, one round trip each: that cold start is reported apart).
   Figures: points/s; points per CPU second of the worker processes, of their PostgreSQL
   backends and of the NATS server; ratio Indunet / bare.
Then: end-to-end latency at half and a fifth of the measured maximum (``--latency-at``; one
worker live, the producer open-loop: submission *k* due at ``start + k / rate``), from a
submission's due time to the moment the worker's pipeline returns for the envelope holding
it, i.e. its batch is committed in PostgreSQL (the worker acknowledges right after). Live
envelopes are small (the producer's batches are as large as the submissions waiting at that
moment, cut by partition): the figures say how small.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import subprocess
import time
import uuid
from pathlib import Path
from typing import Any

from common import BENCH, PYTHON, CpuMeter, latency_summary, median, save, say, workspace

PROCS = str(BENCH / "bus_procs.py")
DEFAULT_PG = "postgresql://postgres@127.0.0.1:5432/test"
STREAM_BYTES = 64 * 1024**2  # JetStream reserves it: small, per the shared server's rules
KINDS = (("indunet", 1), ("indunet", 2), ("bare", 1), ("bare", 2))


# -- services ----------------------------------------------------------------------------------
def letters_db(work: Path) -> Path:
    """A migrated SQLite control database for the pipelines' dead letters."""
    from indunet.core import Settings
    from indunet.web.app import open_database

    engine = open_database(Settings(data_dir=work))
    engine.dispose()
    return work / "indunet.db"


def fresh_schema(url: str, schema: str) -> None:
    """Drop and create ``schema``."""
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        conn.execute(f'CREATE SCHEMA "{schema}"')


def drop_schema(url: str, schema: str) -> None:
    """Drop ``schema``."""
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


def wal_lsn(url: str) -> str:
    """The server's current WAL position."""
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        row = conn.execute("SELECT pg_current_wal_lsn()::text").fetchone()
        return str(row[0]) if row else "0/0"


def wal_since(url: str, lsn: str) -> int:
    """WAL bytes written since ``lsn`` (by the whole server: an upper bound for us)."""
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        row = conn.execute("SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), %s)", (lsn,)).fetchone()
        return int(row[0]) if row else 0


def table_bytes(url: str, schema: str, tables: tuple[str, ...]) -> dict[str, int]:
    """Bytes of each table with its partitions, TOAST and indexes (after VACUUM ANALYZE)."""
    import psycopg

    out = {}
    with psycopg.connect(url, autocommit=True) as conn:
        for t in tables:
            conn.execute(f'VACUUM ANALYZE "{schema}".{t}')
            row = conn.execute(
                "SELECT coalesce(sum(pg_total_relation_size(c.oid)), 0) FROM pg_class c"
                " JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = %s"
                " AND c.relkind = 'r' AND (c.relname = %s OR c.relname LIKE %s)",
                (schema, t, t + "\\_2%"),
            ).fetchone()
            out[t] = int(row[0]) if row else 0
    return out


def count_rows(url: str, schema: str, table: str) -> int:
    """Rows in ``schema.table``."""
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        row = conn.execute(f'SELECT count(*) FROM "{schema}".{table}').fetchone()
        return int(row[0]) if row else 0


async def _jetstream(nats_url: str, job: str, prefix: str) -> Any:
    import nats
    from nats.js.errors import NotFoundError

    nc = await nats.connect(nats_url)
    js = nc.jetstream(timeout=10)
    out: Any = None
    try:
        stream = f"{prefix.upper()}_TELEMETRY"
        if job == "info":
            info = await js.stream_info(stream)
            out = {"messages": info.state.messages, "bytes": info.state.bytes}
        elif job == "delete":
            for name in (stream, f"{prefix.upper()}_EVENTS"):
                with contextlib.suppress(NotFoundError):
                    await js.delete_stream(name)
    finally:
        await nc.close()
    return out


def jetstream(args: argparse.Namespace, job: str) -> Any:
    """Run one JetStream chore on the run's prefix."""
    return asyncio.run(_jetstream(args.nats, job, args.prefix))


# -- processes ---------------------------------------------------------------------------------
def common_args(args: argparse.Namespace) -> list[str]:
    return [
        "--nats",
        args.nats,
        "--prefix",
        args.prefix,
        "--partitions",
        str(args.partitions),
        "--max-bytes",
        str(STREAM_BYTES),
        "--letters",
        str(args.letters),
        "--work",
        str(args.work),
        "--devices",
        str(args.devices),
        "--t0",
        str(args.t0),
        "--database-url",
        args.database_url,
        "--schema",
        args.schema,
        "--app",
        args.app,
    ]


def run(cmd: list[str], timeout: float) -> dict[str, Any]:
    """Run one bench process to the end; its last stdout line is its JSON answer."""
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=False)
    if out.returncode != 0:
        raise RuntimeError(f"{cmd[2]} failed ({out.returncode}):\n{out.stderr[-3000:]}")
    doc: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    return doc


def produce(args: argparse.Namespace, ticks: int) -> dict[str, Any]:
    """Publish ``ticks`` ticks of every device (closed loop)."""
    return run([PYTHON, PROCS, "produce", *common_args(args), "--ticks", str(ticks)], timeout=300)


def share(args: argparse.Namespace, index: int, count: int) -> int:
    """Devices whose partition a worker with share ``index/count`` reads."""
    from indunet import bus

    mine = set(bus.owned(index, count, args.partitions))
    return sum(
        1 for i in range(args.devices) if bus.partition_of(f"m{i:06d}", args.partitions) in mine
    )


def drain(args: argparse.Namespace, kind: str, workers: int, ticks: int) -> dict[str, Any]:
    """A fresh stream filled by the producer, then ``workers`` processes of ``kind`` drain
    it into a fresh table (the telemetry stream may be a work queue: acknowledged
    envelopes are gone, so every drain has its own)."""
    jetstream(args, "delete")
    prod = produce(args, ticks)
    stream = jetstream(args, "info")
    if prod["published"] < args.devices * 10 * ticks or not prod["settled"]:
        raise RuntimeError(f"the producer published {prod['published']:,} points: {prod}")
    fresh_schema(args.database_url, args.schema)
    meter = CpuMeter(names=("postgres", "nats-server"))
    meter.start()
    lsn = wal_lsn(args.database_url)
    procs = []
    for i in range(workers):
        n = share(args, i, workers) * 10
        cmd = [
            PYTHON,
            PROCS,
            "worker" if kind == "indunet" else "bare",
            *common_args(args),
            "--shard",
            f"{i}/{workers}",
            "--warm",
            str(n * args.warm_ticks),
            "--expect",
            str(n * ticks),
            "--timeout",
            "150",
        ]
        procs.append(
            subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        )
    docs = []
    for p in procs:
        try:
            stdout, stderr = p.communicate(timeout=200)
        except subprocess.TimeoutExpired:
            for q in procs:
                q.kill()
            raise
        if p.returncode != 0:
            raise RuntimeError(f"{kind} worker failed ({p.returncode}):\n{stderr[-3000:]}")
        docs.append(json.loads(stdout.strip().splitlines()[-1]))
    foreign = round(meter.foreign_cores(), 2)
    wal = wal_since(args.database_url, lsn)
    table = "tel_samples" if kind == "indunet" else "bare_samples"
    rows = count_rows(args.database_url, args.schema, table)
    tables = ("tel_samples", "tel_rollup_1m", "tel_series") if kind == "indunet" else (table,)
    sizes = table_bytes(args.database_url, args.schema, tables)
    steady = [d["steady"] for d in docs]
    samples = sum(s["samples"] for s in steady)
    wall = max(s["t1"] for s in steady) - min(s["t0"] for s in steady)
    cpu = sum(s["cpu_s"] for s in steady)
    pg = sum(s["pg_cpu_s"] for s in steady)
    nats = max(s["nats_cpu_s"] for s in steady)
    return {
        "kind": kind,
        "workers": workers,
        "points_per_s": round(samples / max(wall, 1e-6)),
        "points_per_worker_cpu_s": round(samples / max(cpu, 1e-6)),
        "points_per_pg_cpu_s": round(samples / max(pg, 1e-6)),
        "points_per_nats_cpu_s": round(samples / max(nats, 1e-6)),
        "worker_cores": round(cpu / max(wall, 1e-6), 2),
        "pg_cores": round(pg / max(wall, 1e-6), 2),
        "cold_points_per_s": round(
            sum(d["cold"]["samples"] for d in docs)
            / max(max(d["cold"]["wall_s"] for d in docs), 1e-6)
        ),
        "stored": sum(d["stored"] for d in docs),
        "rows": rows,
        "expected": args.devices * 10 * ticks,
        "foreign_cores": foreign,
        "wal_bytes_per_point": round(wal / max(rows, 1), 1),
        "table_bytes_per_point": {t: round(b / max(rows, 1), 1) for t, b in sizes.items()},
        "procs": [{k: v for k, v in d.items() if k != "partitions"} for d in docs],
        "producer": prod,
        "stream": stream,
    }


def latency(args: argparse.Namespace, rate: float) -> dict[str, Any]:
    """One worker live; the producer open-loop at ``rate`` points/s for ``--latency-seconds``."""
    jetstream(args, "delete")
    fresh_schema(args.database_url, args.schema)
    seconds = args.latency_seconds
    expect = int(rate / 100 * seconds) * 100
    t0 = int(time.time() * 1000) - 60_000  # ticks go forward from a minute ago
    answer = Path(args.work) / "latency.json"
    base = common_args(args)
    base[base.index("--t0") + 1] = str(t0)
    worker = subprocess.Popen(
        [
            PYTHON,
            PROCS,
            "worker",
            *base,
            "--latency",
            "--warm",
            "0",
            "--expect",
            str(expect),
            "--timeout",
            str(seconds + 60),
            "--out",
            str(answer),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert worker.stdout is not None
    ready = worker.stdout.readline()
    if '"ready"' not in ready:
        worker.kill()
        raise RuntimeError(f"the live worker did not start: {worker.communicate()[1][-3000:]}")
    started = time.time()
    prod = run(
        [
            PYTHON,
            PROCS,
            "produce",
            *base,
            "--rate",
            str(rate),
            "--seconds",
            str(seconds),
        ],
        timeout=seconds + 120,
    )
    _, stderr = worker.communicate(timeout=seconds + 120)
    if worker.returncode != 0:
        raise RuntimeError(f"the live worker failed:\n{stderr[-3000:]}")
    doc = json.loads(answer.read_text())
    cut = started + args.latency_warm
    kept = [ms for due, ms in doc.pop("lags") if due >= cut]
    return {
        "rate_points_per_s": round(rate),
        "seconds": seconds,
        "warm_s_left_out": args.latency_warm,
        "stored": doc["stored"],
        "expected": expect,
        "published_points_per_s": prod["points_per_s"],
        "points_per_envelope": prod["points_per_envelope"],
        "worker_store_batches": doc["store_batches"],
        "worker_store_write_s": doc["store_write_s"],
        "worker_wall_s": round(doc["steady"]["t1"] - started, 1),
        "producer_submit_p50_ms": prod["submit_p50_ms"],
        "producer_submit_p99_ms": prod["submit_p99_ms"],
        "worker_cores": round(doc["steady"]["cpu_s"] / max(doc["steady"]["wall_s"], 1e-6), 2)
        if doc["steady"]["samples"]
        else round(doc["cold"]["cpu_s"] / max(doc["cold"]["wall_s"], 1e-6), 2),
        "retried": doc["retried"],
        **latency_summary(kept),
    }


# -- rounds ------------------------------------------------------------------------------------
def summary(rounds: list[dict[str, Any]]) -> dict[str, Any]:
    """Medians per kind of drain, ratios and scaling efficiency."""
    out: dict[str, Any] = {}
    for kind, workers in KINDS:
        key = f"{kind}_{workers}"
        runs = [r["drains"][key] for r in rounds]
        out[key] = {
            f: round(median([x[f] for x in runs]))
            for f in (
                "points_per_s",
                "points_per_worker_cpu_s",
                "points_per_pg_cpu_s",
                "points_per_nats_cpu_s",
                "cold_points_per_s",
            )
        }
        out[key]["worker_cores"] = round(median([x["worker_cores"] for x in runs]), 2)
        out[key]["pg_cores"] = round(median([x["pg_cores"] for x in runs]), 2)
        out[key]["rounds_points_per_s"] = [x["points_per_s"] for x in runs]
        out[key]["wal_bytes_per_point"] = median([x["wal_bytes_per_point"] for x in runs])
        out[key]["table_bytes_per_point"] = {
            t: median([x["table_bytes_per_point"][t] for x in runs])
            for t in runs[0]["table_bytes_per_point"]
        }
    drains = [d for r in rounds for d in r["drains"].values()]
    prod = [d["producer"] for d in drains]
    out["producer"] = {
        "points_per_s": round(median([p["points_per_s"] for p in prod])),
        "points_per_cpu_s": round(median([p["points_per_cpu_s"] for p in prod])),
        "points_per_nats_cpu_s": round(
            median([p["samples"] / max(p["nats_cpu_s"], 1e-6) for p in prod])
        ),
        "points_per_envelope": median([p["points_per_envelope"] for p in prod]),
        "bytes_per_point": round(
            median([d["stream"]["bytes"] / d["producer"]["samples"] for d in drains]), 1
        ),
        "runs": len(prod),
    }
    i1, i2, b1, b2 = (out[f"{k}_{w}"] for k, w in KINDS)
    out["ratio_1_worker"] = round(i1["points_per_s"] / max(b1["points_per_s"], 1), 3)
    out["ratio_2_workers"] = round(i2["points_per_s"] / max(b2["points_per_s"], 1), 3)
    out["cpu_ratio_1_worker"] = round(
        i1["points_per_worker_cpu_s"] / max(b1["points_per_worker_cpu_s"], 1), 3
    )
    out["scaling_2_over_1"] = round(i2["points_per_s"] / max(i1["points_per_s"], 1), 2)
    out["efficiency_added_worker"] = round(out["scaling_2_over_1"] - 1, 2)
    out["bare_scaling_2_over_1"] = round(b2["points_per_s"] / max(b1["points_per_s"], 1), 2)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument(
        "--database-url", default=os.environ.get("INDUNET_BENCH_DATABASE_URL", DEFAULT_PG)
    )
    ap.add_argument("--nats", default="nats://127.0.0.1:4222")
    ap.add_argument("--devices", type=int, default=2000, help="10 points each")
    ap.add_argument("--ticks", type=int, default=50, help="measured ticks of every device")
    ap.add_argument("--warm-ticks", type=int, default=3, help="ticks stored before measuring")
    ap.add_argument("--partitions", type=int, default=16)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--latency-seconds", type=float, default=20.0)
    ap.add_argument("--latency-warm", type=float, default=5.0, help="seconds left out first")
    ap.add_argument(
        "--latency-at",
        type=lambda v: [float(x) for x in v.split(",")],
        default=[0.5, 0.2],
        help="rates as shares of the measured maximum (default 0.5,0.2)",
    )
    ap.add_argument("--quick", action="store_true", help="small sizes: checks the script works")
    args = ap.parse_args()
    if args.quick:
        args.devices, args.ticks, args.rounds, args.latency_seconds = 1000, 20, 1, 8.0
        args.latency_at = [0.5]
        args.latency_warm = 3.0
    args.prefix = "bb" + uuid.uuid4().hex[:10]
    args.schema = f"bench_bus_{os.getpid()}"
    args.app = f"benchbus{os.getpid()}"
    args.t0 = int(time.time() * 1000) - 6 * 3_600_000  # six hours ago, one second a tick
    ticks = args.warm_ticks + args.ticks
    load_before = os.getloadavg()
    say(f"load average {load_before}; prefix {args.prefix}; schema {args.schema}")
    result: dict[str, Any] = {"rounds": [], "load_before": load_before}
    started = time.monotonic()
    with workspace("bus") as work:
        args.work = work
        args.letters = letters_db(work)
        try:
            for r in range(args.rounds):
                say(f"round {r + 1}")
                rnd: dict[str, Any] = {"drains": {}}
                order = KINDS if r % 2 == 0 else tuple(reversed(KINDS))
                for kind, workers in order:
                    d = drain(args, kind, workers, ticks)
                    rnd["drains"][f"{kind}_{workers}"] = d
                    prod, stream = d["producer"], d["stream"]
                    say(
                        f"  producer {prod['points_per_s']:,} points/s,"
                        f" {prod['points_per_envelope']} points/envelope,"
                        f" {stream['bytes'] / max(prod['samples'], 1):.1f} bytes/point on the"
                        f" stream, {stream['messages']:,} envelopes"
                    )
                    say(
                        f"  {kind} x{workers}: {d['points_per_s']:,} points/s,"
                        f" {d['points_per_worker_cpu_s']:,}/worker CPU s,"
                        f" {d['points_per_pg_cpu_s']:,}/PostgreSQL CPU s"
                        f" (worker {d['worker_cores']} cores, PostgreSQL {d['pg_cores']});"
                        f" cold start {d['cold_points_per_s']:,}/s; rows {d['rows']:,} of"
                        f" {d['expected']:,}; other processes {d['foreign_cores']} cores"
                    )
                    if d["rows"] != d["expected"]:
                        say(f"  !! {kind} x{workers} stored {d['rows']} rows, not {d['expected']}")
                result["rounds"].append(rnd)
            result["summary"] = s = summary(result["rounds"])
            top = min(s["producer"]["points_per_s"], s["indunet_1"]["points_per_s"])
            result["latency"] = lats = []
            for share_ in args.latency_at:
                say(f"latency at {share_} of the maximum ({top * share_:,.0f} points/s) ...")
                lats.append(latency(args, top * share_))
        finally:
            jetstream(args, "delete")
            drop_schema(args.database_url, args.schema)
    result["load_after"] = os.getloadavg()
    result["seconds"] = round(time.monotonic() - started)
    i1, i2, b1, b2 = (s[f"{k}_{w}"] for k, w in KINDS)
    say("")
    say(
        f"producer (Pipeline + BusWriter): {s['producer']['points_per_s']:,} points/s,"
        f" {s['producer']['points_per_cpu_s']:,} per CPU s,"
        f" {s['producer']['points_per_envelope']} points and"
        f" {s['producer']['bytes_per_point']} bytes a point per envelope"
    )
    for name, x in (("indunet x1", i1), ("indunet x2", i2), ("bare x1", b1), ("bare x2", b2)):
        say(
            f"{name}: {x['points_per_s']:,} points/s (rounds {x['rounds_points_per_s']});"
            f" per CPU s: worker {x['points_per_worker_cpu_s']:,},"
            f" PostgreSQL {x['points_per_pg_cpu_s']:,}, NATS {x['points_per_nats_cpu_s']:,};"
            f" cold start {x['cold_points_per_s']:,}/s; bytes a point: WAL"
            f" {x['wal_bytes_per_point']} (whole server), tables {x['table_bytes_per_point']}"
        )
    say(
        f"ratio Indunet / bare: 1 worker {s['ratio_1_worker']}, 2 workers {s['ratio_2_workers']};"
        f" per worker CPU s {s['cpu_ratio_1_worker']}"
    )
    say(
        f"scaling 2 workers / 1: {s['scaling_2_over_1']} (bare {s['bare_scaling_2_over_1']});"
        f" efficiency of the added worker {s['efficiency_added_worker']}"
    )
    for lat in lats:
        say(
            f"latency at {lat['rate_points_per_s']:,} points/s (submission due → committed):"
            f" p50 {lat['p50_ms']:.1f} ms, p99 {lat['p99_ms']:.1f} ms, max {lat['max_ms']:.1f} ms"
            f" ({lat['n']:,} figures; stored {lat['stored']:,} of {lat['expected']:,};"
            f" {lat['points_per_envelope']} points an envelope; the worker's writer busy"
            f" {lat['worker_store_write_s']} s of {lat['worker_wall_s']} s)"
        )
    say(f"load average before {load_before}, after {result['load_after']}; {result['seconds']} s")
    say(f"results: {save('bus_ingest', result)}")


if __name__ == "__main__":
    main()
