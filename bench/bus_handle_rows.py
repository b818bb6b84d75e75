"""How many bytes one identifier takes in PostgreSQL (``ids_handles``: heap, TOAST, indexes).

    python bench/bus_handle_rows.py [--count 100000] [--database-url postgresql://…]

Registers ``--count`` identifiers (``88.100.1/BENCH-0000001`` …, a URL and a DESC value
each, the records of bench/bulk_registration.py) with ``ids.import_file`` into a fresh
schema, runs ``VACUUM ANALYZE``, and reads ``pg_total_relation_size`` and its parts; the
schema is dropped afterwards. docs/scale.md sizes 100 billion identifiers from these bytes.
Baseline, same run: the same rows ``COPY``-ed into a bare table of the same columns and
primary key (what the rows cost without Indunet's extra index and record format).
"""

from __future__ import annotations

import argparse
import os
import random
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bulk_registration import pg_schemas, raw_rows, write_csv
from common import latency_summary, save, say, workspace
from fixtures import ENTERPRISE_PREFIX, SECRET, USERNAME, allocate, engine_for, handle_text, node
from indunet import ids

DEFAULT_PG = "postgresql://postgres@127.0.0.1:5432/test"
BARE_GET = "SELECT handle, record FROM ids_handles WHERE node = %s AND hkey = %s"
SIZES = (
    "SELECT pg_total_relation_size(%(t)s), pg_relation_size(%(t)s),"
    " pg_indexes_size(%(t)s), pg_table_size(%(t)s) - pg_relation_size(%(t)s)"
)


def sizes(conn: Any, table: str, rows: int) -> dict[str, Any]:
    """Bytes of ``table`` in all and per row: heap, TOAST (and maps), indexes."""
    conn.execute(f"VACUUM ANALYZE {table}")
    total, heap, index, toast = conn.execute(SIZES, {"t": table}).fetchone()
    return {
        "rows": rows,
        "total_bytes": total,
        "bytes_per_row": round(total / rows, 1),
        "heap_per_row": round(heap / rows, 1),
        "index_per_row": round(index / rows, 1),
        "toast_and_maps_per_row": round(toast / rows, 1),
    }


def cpu_of(pid: int) -> float:
    """CPU seconds of a PostgreSQL backend so far."""
    parts = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(parts[11]) + int(parts[12])) / os.sysconf("SC_CLK_TCK")


def pid_of(engine: Any) -> int:
    """The backend of the store's pooled connection (the pool keeps one while idle)."""
    with engine.connect() as c:
        return int(c.exec_driver_sql("SELECT pg_backend_pid()").scalar())


def timed_lookups(get: Callable[[str], Any], keys: list[str], backend: int) -> dict[str, Any]:
    """One primary-key lookup after another: p50/p99, per second, per backend CPU second."""
    for k in keys[:200]:  # warm the connection and the cache
        get(k)
    ms, c0, b0, t0 = [], time.process_time(), cpu_of(backend), time.perf_counter()
    for k in keys:
        t = time.perf_counter()
        if get(k) is None:
            raise SystemExit(f"{k} not found")
        ms.append((time.perf_counter() - t) * 1000)
    wall = time.perf_counter() - t0
    pg = max(cpu_of(backend) - b0, 1e-6)
    return {
        **latency_summary(ms),
        "per_s": round(len(keys) / wall),
        "per_client_cpu_s": round(len(keys) / max(time.process_time() - c0, 1e-6)),
        "per_pg_cpu_s": round(len(keys) / pg),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--count", type=int, default=100_000)
    ap.add_argument("--lookups", type=int, default=5000, help="random identifiers looked up")
    ap.add_argument(
        "--database-url", default=os.environ.get("INDUNET_BENCH_DATABASE_URL", DEFAULT_PG)
    )
    args = ap.parse_args()
    import psycopg

    with workspace("handles") as ws, pg_schemas(args.database_url, ["ids"]) as urls:
        engine = engine_for(ws / "ids", urls["ids"])
        secondary = node(engine, ids.NodeRole.SECONDARY, "88.100")
        allocate(secondary, ENTERPRISE_PREFIX, SECRET)
        principal = secondary.authenticate(USERNAME, SECRET)
        path = write_csv(ws / "ids.csv", 1, args.count + 1)
        t0 = time.perf_counter()
        report = ids.import_file(secondary, path, principal)
        took = time.perf_counter() - t0
        if report.failed:
            raise SystemExit(f"{report.failed} rows failed: {report.errors[:3]}")
        rec = secondary.store.get(handle_text(1).upper())
        assert rec is not None
        keys = [handle_text(random.randint(1, args.count)).upper() for _ in range(args.lookups)]
        with psycopg.connect(urls["ids"], autocommit=True) as conn:
            pid = conn.info.backend_pid
            lookups = {
                "indunet": timed_lookups(lambda k: secondary.store.get(k), keys, pid_of(engine)),
                "bare": timed_lookups(
                    lambda k: conn.execute(BARE_GET, ("88.100", k)).fetchone(), keys, pid
                ),
            }
        engine.dispose()
        with psycopg.connect(urls["ids"], autocommit=True) as conn:
            stored = conn.execute("SELECT count(*) FROM ids_handles").fetchone()[0]
            avg = conn.execute(
                "SELECT avg(pg_column_size(h.*)), avg(length(record)), avg(length(handle))"
                " FROM ids_handles h"
            ).fetchone()
            indunet = sizes(conn, "ids_handles", stored)
            indexes = conn.execute(
                "SELECT indexname, pg_relation_size(indexname::regclass) FROM pg_indexes"
                " WHERE tablename = 'ids_handles'"
            ).fetchall()
            conn.execute(
                "CREATE TABLE bare_handles (node varchar(64), hkey varchar(400),"
                " handle varchar(400) NOT NULL, prefix varchar(128) NOT NULL, record text NOT NULL,"
                " created_at timestamptz NOT NULL, updated_at timestamptz NOT NULL,"
                " PRIMARY KEY (node, hkey))"
            )
            with conn.cursor() as cur, cur.copy("COPY bare_handles FROM STDIN") as cp:
                for row in raw_rows(rec.values, 1, args.count + 1):
                    cp.write_row(row)
            bare = sizes(conn, "bare_handles", args.count)
    result = {
        "count": stored,
        "import_ids_per_s": round(stored / took),
        "avg_row_bytes_pg_column_size": round(float(avg[0]), 1),
        "avg_record_chars": round(float(avg[1]), 1),
        "avg_handle_chars": round(float(avg[2]), 1),
        "ids_handles": indunet,
        "indexes": {name: round(size / stored, 1) for name, size in indexes},
        "bare_same_rows": bare,
        "ratio": round(indunet["bytes_per_row"] / bare["bytes_per_row"], 2),
        "lookups": lookups,
        "load": os.getloadavg(),
    }
    say(
        f"ids_handles: {stored:,} identifiers, {indunet['bytes_per_row']} bytes each in all"
        f" (heap {indunet['heap_per_row']}, indexes {indunet['index_per_row']},"
        f" TOAST and maps {indunet['toast_and_maps_per_row']}); row {result['avg_row_bytes_pg_column_size']}"
        f" bytes, record {result['avg_record_chars']} characters; indexes {result['indexes']}"
    )
    say(
        f"bare table, same rows and primary key: {bare['bytes_per_row']} bytes each;"
        f" ratio {result['ratio']}; load average {result['load']}"
    )
    for name, x in lookups.items():
        say(
            f"lookups ({name}): p50 {x['p50_ms']:.3f} ms, p99 {x['p99_ms']:.3f} ms,"
            f" {x['per_s']:,}/s on one connection, {x['per_pg_cpu_s']:,} per PostgreSQL CPU s,"
            f" {x['per_client_cpu_s']:,} per client CPU s"
        )
    say(f"results: {save('bus_handle_rows', result)}")


if __name__ == "__main__":
    main()
