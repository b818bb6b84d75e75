"""Benchmark: ``GET /api/handles/<id>`` answered authoritatively by ``indunet up``, against a
bare app.

Setup: N identifiers are registered on the secondary node 88.100 (under 88.100.1) before
``indunet up`` starts; its front node is that secondary, so every request is answered from
the node's own records (the path every user hits first), not through a resolver. One pass
over all identifiers before the measured rounds fills the node's answer cache, as any
traffic would. Load rotates over all of them, from a second process.

Baseline, measured in the same run with the same uvicorn settings and the same concurrency:
bench/baseline_app.py, a bare Starlette route returning the same JSON bytes from a dict.

Figures: requests/s at full load (median of interleaved rounds) and the ratio to the
baseline (target >= 0.7).

    python bench/authoritative_resolution.py [--ids 1000] [--rounds 5] [--seconds 5]
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path
from typing import Any

from common import (
    PYTHON,
    CpuMeter,
    free_port,
    have_wrk,
    indunet_command,
    max_throughput,
    measured,
    median,
    save,
    say,
    start_server,
    verdict,
    workspace,
)
from fixtures import handle_text, paths_file
from http_resolution import prepare, warm

RATIO_TARGET = 0.7


def run(args: argparse.Namespace) -> dict[str, Any]:
    """Set up, load, measure; return the result record."""
    tool = args.tool if args.tool != "auto" else ("wrk" if have_wrk() else "python")
    texts = [handle_text(i) for i in range(1, args.ids + 1)]
    with workspace("authoritative") as ws:
        up_dir = ws / "up"
        say(f"registering {args.ids} identifiers on 88.100 …")
        prepare(up_dir, args.ids)
        servers = []
        try:
            up_port, base_port = free_port(), free_port()
            up = start_server(
                "up",
                indunet_command("up", "--port", str(up_port), "--data-dir", str(up_dir)),
                up_port,
                ws,
                ready_path="/api/handles/0.NA/88.100",
            )
            servers.append(up)
            bodies = warm(up.url, texts)
            (ws / "bodies.json").write_text(json.dumps(bodies))
            base = start_server(
                "baseline",
                [
                    PYTHON,
                    str(Path(__file__).parent / "baseline_app.py"),
                    str(ws / "bodies.json"),
                    str(base_port),
                ],
                base_port,
                ws,
                ready_path=f"/api/handles/{texts[0]}",
            )
            servers.append(base)
            paths = paths_file(ws / "paths.txt", texts)
            targets = {"node": up.url, "baseline": base.url}
            say(f"load: {tool}, {args.connections} connections, {args.rounds} x {args.seconds} s")
            for url in targets.values():  # warm-up, not counted
                max_throughput(url, paths, connections=args.connections, seconds=1, tool=tool)
            meter = CpuMeter([s.proc.pid for s in servers])
            discarded: list[dict[str, Any]] = []
            rounds: dict[str, list[dict[str, Any]]] = {"node": [], "baseline": []}
            for r in range(args.rounds):
                for name in ["node", "baseline"] if r % 2 == 0 else ["baseline", "node"]:
                    res, dropped = measured(
                        meter,
                        lambda name=name: max_throughput(
                            targets[name],
                            paths,
                            connections=args.connections,
                            seconds=args.seconds,
                            tool=tool,
                        ),
                    )
                    rounds[name].append(res)
                    discarded += [{"target": name, **d} for d in dropped]
                ratio = rounds["node"][-1]["rps"] / rounds["baseline"][-1]["rps"]
                say(
                    f"  round {r + 1}: up {rounds['node'][-1]['rps']:8.0f} req/s, "
                    f"baseline {rounds['baseline'][-1]['rps']:8.0f} req/s, ratio {ratio:.3f} "
                    f"(others used {rounds['node'][-1]['foreign_cores']:.2f} / "
                    f"{rounds['baseline'][-1]['foreign_cores']:.2f} cores)"
                )
        finally:
            for s in reversed(servers):
                s.stop()
    ratios = [n["rps"] / b["rps"] for n, b in zip(rounds["node"], rounds["baseline"], strict=True)]
    return {
        "ids": args.ids,
        "load_tool": tool,
        "connections": args.connections,
        "node_rps": median([x["rps"] for x in rounds["node"]]),
        "baseline_rps": median([x["rps"] for x in rounds["baseline"]]),
        "ratio": median(ratios),
        "ratio_target": RATIO_TARGET,
        "ratio_pass": median(ratios) >= RATIO_TARGET,
        "load_average": [round(x, 2) for x in os.getloadavg()],
        "rounds": rounds,
        "discarded_noisy_runs": discarded,
    }


def main() -> None:
    """Run and print the figures with the ratio to the baseline."""
    ap = argparse.ArgumentParser(description="HTTP resolution, authoritative path of indunet up")
    ap.add_argument("--ids", type=int, default=1000)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--seconds", type=float, default=5)
    ap.add_argument("--connections", type=int, default=16)
    ap.add_argument("--tool", choices=["auto", "wrk", "python"], default="auto")
    res = run(ap.parse_args())
    path = save("authoritative_resolution", res)
    say(
        f"RESULT authoritative_resolution: up {res['node_rps']:.0f} req/s, baseline "
        f"{res['baseline_rps']:.0f} req/s, ratio {res['ratio']:.3f} "
        f"(target >= {RATIO_TARGET}) {verdict(res['ratio_pass'])}; load average "
        f"{res['load_average'][0]} on {os.cpu_count()} cores"
    )
    say(f"written {path}")


if __name__ == "__main__":
    main()
