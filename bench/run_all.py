"""Runs every benchmark in turn and writes bench/results/*.json and bench/results/summary.md.

    python bench/run_all.py            # everything; PostgreSQL if it answers on 127.0.0.1:5432
    python bench/run_all.py --quick    # small sizes, a smoke test of the scripts (~2 minutes)
    python bench/run_all.py --no-pg    # skip PostgreSQL
    python bench/run_all.py --soak     # also the 10-minute, 1,000-device soak

PostgreSQL is taken from INDUNET_BENCH_DATABASE_URL, else postgresql://postgres@127.0.0.1:5432/test.
"""

from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
import time
from urllib.parse import urlsplit

from common import BENCH, PYTHON, say

DEFAULT_PG = "postgresql://postgres@127.0.0.1:5432/test"


def _reachable(url: str) -> bool:
    u = urlsplit(url)
    try:
        with socket.create_connection((u.hostname or "127.0.0.1", u.port or 5432), timeout=1):
            return True
    except OSError:
        return False


def main() -> None:
    """Run the benchmarks; exit non-zero if one of them could not run."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="small sizes, to check the scripts")
    ap.add_argument("--no-pg", action="store_true", help="skip the PostgreSQL benchmarks")
    ap.add_argument(
        "--soak", action="store_true", help="also 1,000 simulated devices for 10 minutes (~13 min)"
    )
    ap.add_argument("--pg-total", type=int, default=1_000_000, help="identifiers for PostgreSQL")
    args = ap.parse_args()
    quick_http = ["--rounds", "2", "--seconds", "2", "--rate-rounds", "1", "--rate-seconds", "3"]
    quick_bulk = ["--total", "50000", "--chunk", "25000", "--rounds", "2", "--samples", "500"]
    runs = [
        ["http_resolution.py", *(quick_http if args.quick else [])],
        ["cold_resolution.py", *(["--rounds", "2"] if args.quick else [])],
        ["bulk_registration.py", "--sqlite", *(quick_bulk if args.quick else [])],
        ["mqtt_ingest.py", *(["--messages", "20000", "--rounds", "1"] if args.quick else [])],
        ["telemetry_ingest.py", *(["--rounds", "1", "--seconds", "3"] if args.quick else [])],
    ]
    if args.soak:
        runs.append(["factory_soak.py", "--minutes", "10"])
    store = ["telemetry_store.py", *(["--quick"] if args.quick else [])]
    pg = os.environ.get("INDUNET_BENCH_DATABASE_URL", DEFAULT_PG)
    if args.no_pg:
        say("PostgreSQL: skipped (--no-pg)")
    elif not _reachable(pg):
        say(f"PostgreSQL: skipped, nothing answers at {urlsplit(pg).netloc}")
    else:
        chunk = str(max(1, min(200_000, args.pg_total // 4)))
        sizes = quick_bulk if args.quick else ["--total", str(args.pg_total), "--chunk", chunk]
        runs.append(["bulk_registration.py", "--database-url", pg, *sizes])
        store += ["--database-url", pg]
    runs.append(store)
    failed = []
    t0 = time.monotonic()
    for cmd in runs:
        say(f"\n=== python bench/{' '.join(cmd)}")
        started = time.monotonic()
        rc = subprocess.run([PYTHON, str(BENCH / cmd[0]), *cmd[1:]], check=False).returncode
        say(f"=== {cmd[0]} took {time.monotonic() - started:.0f} s, exit {rc}")
        if rc != 0:
            failed.append(cmd[0])
    subprocess.run([PYTHON, str(BENCH / "report.py")], check=False)
    say(f"\nall benchmarks took {time.monotonic() - t0:.0f} s")
    if failed:
        say(f"could not run: {', '.join(failed)}")
        sys.exit(1)


if __name__ == "__main__":
    main()
