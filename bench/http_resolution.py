"""Benchmark 1: HTTP resolution through a recursive node with a hot cache, against a bare app.

Setup: ``indunet up`` (root, 88, 88.100 in one process) is the upstream hierarchy; a separate
``indunet node --role recursive`` process resolves through it. N identifiers are registered on
the secondary before the servers start, and the recursive node's cache is warmed by resolving
each once. Load then rotates ``GET /api/handles/<id>`` over all of them, from a second process.

Baseline, measured in the same run with the same uvicorn settings and the same concurrency:
bench/baseline_app.py, a bare Starlette route returning the same JSON bytes from a dict.

Figures: requests/s at full load (median of interleaved rounds, and the ratio to the baseline;
target >= 0.6), then p50/p99 at a fixed rate of half the node's throughput, measured from each
request's due time (target p99 < 10 ms).

    python bench/http_resolution.py [--ids 1000] [--rounds 5] [--seconds 5]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import httpx

from common import (
    PYTHON,
    CpuMeter,
    fixed_rate,
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
from fixtures import (
    ENTERPRISE_PREFIX,
    SECRET,
    allocate,
    engine_for,
    handle_text,
    node,
    paths_file,
    register,
)
from indunet import ids

RATIO_TARGET = 0.6
P99_TARGET_MS = 10.0


def prepare(data_dir: Path, n: int) -> None:
    """Allocate the enterprise prefix on the secondary and register ``n`` identifiers."""
    engine = engine_for(data_dir)
    sec = node(engine, ids.NodeRole.SECONDARY, "88.100")
    allocate(sec, ENTERPRISE_PREFIX, SECRET)
    register(sec, 1, n + 1)
    engine.dispose()


def warm(url: str, texts: list[str]) -> dict[str, str]:
    """Resolve each identifier twice through ``url``: once to fill the cache, once to read it."""
    bodies: dict[str, str] = {}
    with httpx.Client(base_url=url, timeout=10) as client:
        for t in texts:
            r = client.get(f"/api/handles/{t}")
            if r.status_code != 200:
                raise RuntimeError(f"warming {t}: HTTP {r.status_code} {r.text}")
        for t in texts:
            bodies[t] = client.get(f"/api/handles/{t}").text
    return bodies


def run(args: argparse.Namespace) -> dict[str, Any]:
    """Set up, load, measure; return the result record."""
    tool = args.tool if args.tool != "auto" else ("wrk" if have_wrk() else "python")
    texts = [handle_text(i) for i in range(1, args.ids + 1)]
    with workspace("http") as ws:
        up_dir, rec_dir = ws / "up", ws / "recursive"
        say(f"registering {args.ids} identifiers on 88.100 …")
        prepare(up_dir, args.ids)
        servers = []
        try:
            up_port, rec_port, base_port = free_port(), free_port(), free_port()
            up = start_server(
                "up",
                indunet_command("up", "--port", str(up_port), "--data-dir", str(up_dir)),
                up_port,
                ws,
                ready_path="/api/handles/0.NA/88.100",
            )
            servers.append(up)
            rec = start_server(
                "recursive",
                indunet_command(
                    "node",
                    "--role",
                    "recursive",
                    "--parent",
                    f"{up.url}/nodes/root",
                    "--port",
                    str(rec_port),
                    "--data-dir",
                    str(rec_dir),
                ),
                rec_port,
                ws,
                ready_path="/api/handles/0.NA/88",
            )
            servers.append(rec)
            say("warming the recursive node's cache …")
            bodies = warm(rec.url, texts)
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
            same = httpx.get(f"{base.url}/api/handles/{texts[-1]}").text == bodies[texts[-1]]
            if not same:
                raise RuntimeError("the baseline does not return the node's bytes")
            paths = paths_file(ws / "paths.txt", texts)
            targets = {"node": rec.url, "baseline": base.url}
            say(f"load: {tool}, {args.connections} connections, {args.rounds} x {args.seconds} s")
            for url in targets.values():  # warm-up, not counted
                max_throughput(url, paths, connections=args.connections, seconds=1, tool=tool)
            meter = CpuMeter([s.proc.pid for s in servers])
            discarded: list[dict[str, Any]] = []
            rounds: dict[str, list[dict[str, Any]]] = {"node": [], "baseline": []}
            for r in range(args.rounds):
                order = ["node", "baseline"] if r % 2 == 0 else ["baseline", "node"]
                for name in order:
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
                    f"  round {r + 1}: node {rounds['node'][-1]['rps']:8.0f} req/s, "
                    f"baseline {rounds['baseline'][-1]['rps']:8.0f} req/s, ratio {ratio:.3f} "
                    f"(others used {rounds['node'][-1]['foreign_cores']:.2f} / "
                    f"{rounds['baseline'][-1]['foreign_cores']:.2f} cores)"
                )
            node_rps = median([x["rps"] for x in rounds["node"]])
            base_rps = median([x["rps"] for x in rounds["baseline"]])
            ratios = [
                n["rps"] / b["rps"] for n, b in zip(rounds["node"], rounds["baseline"], strict=True)
            ]
            rate = round(node_rps / 2)
            say(
                f"fixed rate {rate} req/s (half the node's throughput), {args.rate_rounds} x {args.rate_seconds} s"
            )
            fixed: dict[str, list[dict[str, Any]]] = {"node": [], "baseline": []}
            for r in range(args.rate_rounds):
                for name in ("node", "baseline") if r % 2 == 0 else ("baseline", "node"):
                    res, dropped = measured(
                        meter,
                        lambda name=name: fixed_rate(
                            targets[name],
                            paths,
                            rate=rate,
                            connections=args.connections,
                            seconds=args.rate_seconds,
                        ),
                    )
                    fixed[name].append(res)
                    discarded += [{"target": name, "fixed_rate": True, **d} for d in dropped]
                say(
                    f"  round {r + 1}: node p50 {fixed['node'][-1]['p50_ms']:.2f} ms "
                    f"p99 {fixed['node'][-1]['p99_ms']:.2f} ms; baseline p50 "
                    f"{fixed['baseline'][-1]['p50_ms']:.2f} ms p99 {fixed['baseline'][-1]['p99_ms']:.2f} ms"
                )
        finally:
            for s in reversed(servers):
                s.stop()
    p99 = median([x["p99_ms"] for x in fixed["node"]])
    result = {
        "ids": args.ids,
        "load_tool": tool,
        "rate_tool": "bench/loadgen.py rate (open loop, python)",
        "connections": args.connections,
        "node_rps": node_rps,
        "baseline_rps": base_rps,
        "ratio": median(ratios),
        "ratio_target": RATIO_TARGET,
        "ratio_pass": median(ratios) >= RATIO_TARGET,
        "fixed_rate_rps": rate,
        "node_p50_ms": median([x["p50_ms"] for x in fixed["node"]]),
        "node_p99_ms": p99,
        "baseline_p50_ms": median([x["p50_ms"] for x in fixed["baseline"]]),
        "baseline_p99_ms": median([x["p99_ms"] for x in fixed["baseline"]]),
        "p99_target_ms": P99_TARGET_MS,
        "p99_pass": p99 < P99_TARGET_MS,
        "rounds": rounds,
        "fixed_rate_rounds": fixed,
        "discarded_noisy_runs": discarded,
    }
    return result


def main() -> None:
    """Run and print the figures with their ratios to the baseline."""
    ap = argparse.ArgumentParser(description="HTTP resolution, recursive node, hot cache")
    ap.add_argument("--ids", type=int, default=1000)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--seconds", type=float, default=5)
    ap.add_argument("--rate-rounds", type=int, default=3)
    ap.add_argument("--rate-seconds", type=float, default=6)
    ap.add_argument("--connections", type=int, default=16)
    ap.add_argument("--tool", choices=["auto", "wrk", "python"], default="auto")
    res = run(ap.parse_args())
    path = save("http_resolution", res)
    say(
        f"RESULT http_resolution: node {res['node_rps']:.0f} req/s, baseline "
        f"{res['baseline_rps']:.0f} req/s, ratio {res['ratio']:.3f} "
        f"(target >= {RATIO_TARGET}) {verdict(res['ratio_pass'])}"
    )
    say(
        f"RESULT http_resolution at {res['fixed_rate_rps']} req/s: node p50 "
        f"{res['node_p50_ms']:.2f} ms p99 {res['node_p99_ms']:.2f} ms (target p99 < "
        f"{P99_TARGET_MS} ms) {verdict(res['p99_pass'])}; baseline p50 "
        f"{res['baseline_p50_ms']:.2f} ms p99 {res['baseline_p99_ms']:.2f} ms, p99 ratio "
        f"{res['node_p99_ms'] / max(res['baseline_p99_ms'], 1e-9):.2f}"
    )
    say(f"written {path}")


if __name__ == "__main__":
    main()
