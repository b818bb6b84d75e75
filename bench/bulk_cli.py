"""Benchmark: bulk registration as a new user runs it, ``indunet id import FILE``, against a
bare table.

Each round imports a fresh CSV of ``--rows`` identifiers (``handle,URL:1,DESC:2``, as
docs/ids/bulk.md describes) into a fresh data directory with the CLI, in its own process:
the figure is rows over the command's whole wall time (interpreter start, migrations of the
new database, the file's scan and the import), and the CLI's own figure (import only) is
printed beside it. Baseline, interleaved round by round: the same rows, with the record JSON
the import stored, put into a bare SQLite table by ``sqlite3.executemany`` with a commit per
5,000 rows (bench/bulk_registration.py's ``RawTable``).

    python bench/bulk_cli.py [--rows 200000] [--rounds 3]
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import time
from typing import Any

from bulk_registration import RawTable, raw_rows, write_csv
from common import indunet_command, median, save, say, workspace
from fixtures import engine_for, handle_text
from indunet import ids

CLI_RATE = re.compile(r"\(([\d.]+) s, ([\d,]+) rows/s\)")


def cli_import(data_dir: Any, path: Any, rows: int) -> tuple[float, float]:
    """Run ``indunet id import``; return (rows/s over the wall time, the CLI's own rows/s)."""
    t0 = time.perf_counter()
    done = subprocess.run(
        indunet_command("id", "import", str(path), "--data-dir", str(data_dir)),
        capture_output=True,
        text=True,
        timeout=1800,
        check=False,
    )
    wall = time.perf_counter() - t0
    if done.returncode != 0 or f"{rows} registered" not in done.stdout:
        raise RuntimeError(f"indunet id import failed: {done.stdout[-800:]} {done.stderr[-800:]}")
    own = CLI_RATE.search(done.stdout)
    return rows / wall, float(own.group(2).replace(",", "")) if own else 0.0


def run(args: argparse.Namespace) -> dict[str, Any]:
    """Interleave CLI imports and baseline inserts; return the result record."""
    out: dict[str, list[float]] = {"cli": [], "cli_own": [], "baseline": []}
    with workspace("bulk-cli") as ws:
        path = write_csv(ws / "ids.csv", 1, args.rows + 1)
        template: list[ids.HandleValue] | None = None
        for r in range(args.rounds):
            data_dir = ws / f"cli-{r}"
            wall_rate, own_rate = cli_import(data_dir, path, args.rows)
            out["cli"].append(wall_rate)
            out["cli_own"].append(own_rate)
            if template is None:
                engine = engine_for(data_dir)
                rec = ids.Node(
                    "88.100", ids.NodeRole.SECONDARY, "88.100", engine, ids.TemplateRegistry(engine)
                ).record(handle_text(1))
                engine.dispose()
                assert rec is not None
                template = rec.values
                rows = raw_rows(template, 1, args.rows + 1)
            shutil.rmtree(data_dir)
            raw = RawTable(ws / f"raw-{r}", None)
            t0 = time.perf_counter()
            raw.insert(rows)
            out["baseline"].append(args.rows / (time.perf_counter() - t0))
            raw.close()
            shutil.rmtree(ws / f"raw-{r}")
            say(
                f"  round {r + 1}: indunet id import {wall_rate:,.0f} rows/s "
                f"(the CLI says {own_rate:,.0f}), bare table {out['baseline'][-1]:,.0f} rows/s, "
                f"ratio {wall_rate / out['baseline'][-1]:.3f}, load {os.getloadavg()[0]:.1f}"
            )
    ratios = [c / b for c, b in zip(out["cli"], out["baseline"], strict=True)]
    return {
        "rows": args.rows,
        "cli_rate": median(out["cli"]),
        "cli_own_rate": median(out["cli_own"]),
        "baseline_rate": median(out["baseline"]),
        "ratio": median(ratios),
        "load_average": [round(x, 2) for x in os.getloadavg()],
        "rounds": out,
    }


def main() -> None:
    """Run and print the figures with the ratio to the baseline."""
    ap = argparse.ArgumentParser(description="bulk registration with the CLI, as a new user")
    ap.add_argument("--rows", type=int, default=200_000)
    ap.add_argument("--rounds", type=int, default=3)
    res = run(ap.parse_args())
    path = save("bulk_cli", res)
    say(
        f"RESULT bulk_cli: indunet id import {res['cli_rate']:,.0f} rows/s over the command's "
        f"wall time (the CLI's own figure {res['cli_own_rate']:,.0f}), bare table "
        f"{res['baseline_rate']:,.0f} rows/s, ratio {res['ratio']:.3f}; load average "
        f"{res['load_average'][0]} on {os.cpu_count()} cores"
    )
    say(f"written {path}")


if __name__ == "__main__":
    main()
