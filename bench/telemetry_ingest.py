"""Benchmark: HTTP batch ingest into SQLite, end to end, against a bare app in the same run.

Setup: a data directory with one enterprise, ``--devices`` power meters (10 points each) and
an admin token, made with Indunet's own API before any server starts. The server under test
is ``indunet up`` in its own process (uvicorn with uvloop and httptools; the MQTT endpoint
off), its ingest pipeline writing to the SQLite store ``telemetry.db``. A client process
posts ``POST /api/v1/telemetry`` bodies of ``--batch`` points (default 10,000: 1,000
timestamps x 10 points, the columnar gateway form; ``--form rows`` for the row form) over
``--connections`` keep-alive connections; each answer comes once the points are stored.

Baseline, same run, same bodies, same client, same uvicorn settings: a bare Starlette route
that parses the body with orjson and writes the same rows ``(device, point, ts, value,
quality)`` with ``sqlite3.executemany`` into a plain WITHOUT ROWID table keyed (device,
point, ts), one transaction per request, WAL and synchronous=NORMAL like the store.

Figures: points/s (median of interleaved rounds) and its ratio to the baseline. Target:
>= 300,000 points/s. After the rounds the script checks that the store holds every point.

Sequential case, same rounds: one client on one connection posting ``--seq-batch`` points
(default 1,000) and waiting for each answer before the next, like one gateway; against the
same bare baseline. This is where a batching delay shows: each post would wait for it.

    python bench/telemetry_ingest.py [--devices 100] [--rounds 3] [--seconds 6] [--form columns]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import orjson

from common import (
    PYTHON,
    CpuMeter,
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

TARGET = 300_000
DAY_MS = 86_400_000
POINTS_PER_TS = 10  # the power meter's points
SCRIPT = str(Path(__file__).resolve())


# -- data --------------------------------------------------------------------------------------
def prepare(data_dir: Path, devices: int) -> str:
    """Register ``devices`` power meters of one enterprise; return an admin API token."""
    from indunet import core, ids
    from indunet.core import Settings
    from indunet.web import build_state

    state = build_state(Settings(data_dir=data_dir))
    platform = state.platform
    assert platform is not None
    with state.engine.begin() as conn:
        ent = core.create_enterprise(
            conn,
            uscc=core.make_uscc("91350100MA00BENC"),
            name="Bench",
            actor="bench",
            verified=True,
        )
        admin = core.create_user(
            conn,
            username="bench",
            password="bench-password-1",
            role=core.Role.PLATFORM_ADMIN,
            actor="bench",
        )
        token = core.issue_token(conn, admin, name="bench")
    ids.allocate(state.hierarchy.front, "88.100.1", ent, actor="bench", secret="bench-secret-key")
    for i in range(devices):
        platform.devices.create(
            ent.id,
            {
                "id": f"pm-{i:04d}",
                "name": f"meter {i}",
                "model": "indunet:power-meter",
                "protocol": "http",
            },
            actor="bench",
        )
    platform.store.close()
    state.engine.dispose()
    return token


def meter_values() -> dict[str, float]:
    """A value inside each power-meter point's range."""
    return {
        "voltage_a": 230.1,
        "voltage_b": 229.8,
        "voltage_c": 230.4,
        "current_a": 12.5,
        "current_b": 12.1,
        "current_c": 12.9,
        "active_power": 8.4,
        "power_factor": 0.93,
        "frequency": 50.01,
        "energy_kwh": 123456.7,
    }


def make_body(form: str, device: str, t0: int, n_ts: int) -> bytes:
    """One request body: ``n_ts`` timestamps one second apart, every point of a meter."""
    stamps = list(range(t0, t0 + n_ts * 1000, 1000))
    base = meter_values()
    cols = {p: [v + (i % 97) * 0.0001 for i in range(n_ts)] for p, v in base.items()}
    if form == "columns":
        return orjson.dumps({"device": device, "ts": stamps, "points": cols})
    rows = [
        {"device": device, "point": p, "ts": t, "value": vals[i]}
        for p, vals in cols.items()
        for i, t in enumerate(stamps)
    ]
    return orjson.dumps({"samples": rows})


# -- server processes --------------------------------------------------------------------------
def _run_loop(main: Any) -> None:
    try:
        import uvloop

        uvloop.run(main)
    except ImportError:
        asyncio.run(main)


def serve_baseline(db_path: Path, port: int) -> None:
    """The baseline: parse with orjson, executemany the same rows, one transaction each."""
    import uvicorn
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import Response
    from starlette.routing import Route

    conn = sqlite3.connect(db_path, isolation_level=None, check_same_thread=False)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    conn.execute(
        "CREATE TABLE IF NOT EXISTS samples (device TEXT, point TEXT, ts INTEGER, value, "
        "quality INTEGER, PRIMARY KEY (device, point, ts)) WITHOUT ROWID"
    )
    insert = "INSERT OR IGNORE INTO samples VALUES (?, ?, ?, ?, ?)"

    async def ingest(request: Request) -> Response:
        doc = orjson.loads(await request.body())
        if "samples" in doc:
            rows = [
                (r["device"], r["point"], r["ts"], r["value"], r.get("quality", 0))
                for r in doc["samples"]
            ]
        else:
            dev, stamps = doc["device"], doc["ts"]
            rows = [
                (dev, p, t, v, 0)
                for p, vals in doc["points"].items()
                for t, v in zip(stamps, vals, strict=True)
            ]
        conn.execute("BEGIN")
        conn.executemany(insert, rows)
        conn.execute("COMMIT")
        return Response(orjson.dumps({"accepted": len(rows)}), media_type="application/json")

    async def ready(_request: Request) -> Response:
        return Response(b"{}", media_type="application/json")

    app = Starlette(
        routes=[Route("/api/v1/telemetry", ingest, methods=["POST"]), Route("/", ready)]
    )
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)
    )
    _run_loop(server.serve())


# -- the load ----------------------------------------------------------------------------------
def client(url: str, token: str, spec: dict[str, Any]) -> dict[str, Any]:
    """Post pre-made bodies for ``seconds`` over ``connections``; points/s of 200 answers."""
    import httpx

    n_ts = spec["batch"] // POINTS_PER_TS
    bodies = [
        make_body(
            spec["form"],
            f"pm-{j % spec['devices']:04d}",
            spec["t0"] + (j // spec["devices"]) * n_ts * 1000,
            n_ts,
        )
        for j in range(spec["max_requests"])
    ]
    points = n_ts * POINTS_PER_TS
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}

    async def run() -> dict[str, Any]:
        limits = httpx.Limits(max_connections=spec["connections"])
        async with httpx.AsyncClient(base_url=url, limits=limits, timeout=60) as http:
            await http.post("/api/v1/telemetry", content=bodies[0], headers=headers)  # warm
            nxt = 1
            ok = errors = 0
            lat: list[float] = []
            t0 = time.perf_counter()
            deadline = t0 + spec["seconds"]

            async def worker() -> None:
                nonlocal nxt, ok, errors
                while time.perf_counter() < deadline and nxt < len(bodies):
                    body = bodies[nxt]
                    nxt += 1
                    s = time.perf_counter()
                    resp = await http.post("/api/v1/telemetry", content=body, headers=headers)
                    lat.append((time.perf_counter() - s) * 1000)
                    if resp.status_code == 200 and resp.json()["accepted"] == points:
                        ok += 1
                    else:
                        errors += 1
                        if errors == 1:
                            print(resp.status_code, resp.text[:300], file=sys.stderr)

            await asyncio.gather(*(worker() for _ in range(spec["connections"])))
            elapsed = time.perf_counter() - t0
        return {
            "points": ok * points,
            "requests": ok,
            "errors": errors,
            "seconds": elapsed,
            "points_per_s": ok * points / elapsed,
            "exhausted": nxt >= len(bodies),
            **latency_summary(lat),
        }

    return asyncio.run(run())


def load(url: str, token: str, spec: dict[str, Any]) -> dict[str, Any]:
    """Run ``client`` in its own process and return its result."""
    out = subprocess.run(
        [PYTHON, SCRIPT, "client", url, token, json.dumps(spec)],
        capture_output=True,
        text=True,
        timeout=spec["seconds"] + 300,
        check=False,
    )
    if out.returncode != 0:
        raise RuntimeError(f"client failed: {out.stderr[-3000:]}")
    result: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def writer_stats(url: str, token: str) -> dict[str, Any]:
    """The server's pipeline counters (batches written, seconds spent writing them)."""
    import httpx

    resp = httpx.get(
        f"{url}/api/v1/telemetry/stats", headers={"Authorization": f"Bearer {token}"}, timeout=30
    )
    resp.raise_for_status()
    stats: dict[str, Any] = resp.json()
    return stats


def with_writer(url: str, token: str, spec: dict[str, Any]) -> dict[str, Any]:
    """``load`` plus how busy the store's writer thread was and its mean batch."""
    before = writer_stats(url, token)
    res = load(url, token, spec)
    after = writer_stats(url, token)
    batches = after["batches"] - before["batches"]
    seconds = after["write_seconds"] - before["write_seconds"]
    res["writer_busy"] = round(seconds / res["seconds"], 3)
    res["write_ms_per_batch"] = round(1000 * seconds / max(batches, 1), 2)
    res["points_per_batch"] = round((after["stored"] - before["stored"]) / max(batches, 1))
    return res


def stored_points(data_dir: Path) -> int:
    """Samples in the store's file (read after the server stopped)."""
    conn = sqlite3.connect(data_dir / "telemetry.db")
    try:
        return int(conn.execute("SELECT count(*) FROM tel_samples").fetchone()[0])
    finally:
        conn.close()


def run(args: argparse.Namespace) -> dict[str, Any]:
    """Set up, load, measure; return the result record."""
    with workspace("ingest") as ws:
        data_dir = ws / "indunet"
        say(f"registering {args.devices} power meters …")
        token = prepare(data_dir, args.devices)
        servers = []
        rounds: dict[str, list[dict[str, Any]]] = {
            "indunet": [],
            "baseline": [],
            "indunet_seq": [],
            "baseline_seq": [],
        }
        discarded: list[dict[str, Any]] = []
        try:
            port, base_port = free_port(), free_port()
            servers.append(
                start_server(
                    "indunet",
                    indunet_command("up", "--port", str(port), "--data-dir", str(data_dir)),
                    port,
                    ws,
                    ready_path="/api/v1/nodes",
                    env={"INDUNET_MQTT_PORT": "0"},  # no MQTT endpoint: HTTP only
                )
            )
            servers.append(
                start_server(
                    "baseline",
                    [PYTHON, SCRIPT, "baseline", str(ws / "baseline.db"), str(base_port)],
                    base_port,
                    ws,
                )
            )
            targets = {"indunet": servers[0].url, "baseline": servers[1].url}
            meter = CpuMeter([s.proc.pid for s in servers])
            start = int(time.time() * 1000) - 30 * DAY_MS
            say(
                f"load: {args.connections} connections, {args.batch:,} points per request "
                f"({args.form}), {args.rounds} x {args.seconds} s"
            )
            for r in range(args.rounds):
                spec = {
                    "form": args.form,
                    "batch": args.batch,
                    "devices": args.devices,
                    "connections": args.connections,
                    "seconds": args.seconds,
                    "max_requests": args.max_requests or (400 if args.form == "columns" else 120),
                    "t0": start + r * DAY_MS,
                }
                for name in ("indunet", "baseline") if r % 2 == 0 else ("baseline", "indunet"):
                    run_one = with_writer if name == "indunet" else load
                    res, dropped = measured(
                        meter,
                        lambda name=name, spec=spec, run_one=run_one: run_one(
                            targets[name], token, spec
                        ),
                    )
                    rounds[name].append(res)
                    discarded += [{"target": name, **d} for d in dropped]
                seq = {
                    **spec,
                    "batch": args.seq_batch,
                    "connections": 1,
                    "max_requests": 4000,
                    "t0": start + r * DAY_MS + DAY_MS // 2,
                }
                for name in ("indunet", "baseline") if r % 2 == 0 else ("baseline", "indunet"):
                    res, dropped = measured(
                        meter, lambda name=name, seq=seq: load(targets[name], token, seq)
                    )
                    rounds[f"{name}_seq"].append(res)
                    discarded += [{"target": f"{name}_seq", **d} for d in dropped]
                a, b = rounds["indunet_seq"][-1], rounds["baseline_seq"][-1]
                say(
                    f"  round {r + 1} sequential ({args.seq_batch:,} points per post, one "
                    f"client): indunet {a['points_per_s']:>9,.0f} points/s "
                    f"(p50 {a['p50_ms']:.1f} ms), baseline {b['points_per_s']:>9,.0f} points/s "
                    f"(p50 {b['p50_ms']:.1f} ms), ratio {a['points_per_s'] / b['points_per_s']:.3f}"
                )
                a, b = rounds["indunet"][-1], rounds["baseline"][-1]
                say(
                    f"  round {r + 1}: indunet {a['points_per_s']:>9,.0f} points/s "
                    f"(p50 {a['p50_ms']:.0f} ms, writer busy {a['writer_busy']:.0%}, "
                    f"{a['write_ms_per_batch']:.1f} ms per batch of {a['points_per_batch']:,}), "
                    f"baseline {b['points_per_s']:>9,.0f} points/s, "
                    f"ratio {a['points_per_s'] / b['points_per_s']:.3f} "
                    f"(others used {a['foreign_cores']:.2f} / {b['foreign_cores']:.2f} cores)"
                )
        finally:
            for s in reversed(servers):
                s.stop()
        held = stored_points(data_dir)
    answered = sum(x["points"] for x in rounds["indunet"] + rounds["indunet_seq"])
    ours = median([x["points_per_s"] for x in rounds["indunet"]])
    base = median([x["points_per_s"] for x in rounds["baseline"]])
    ratios = [
        a["points_per_s"] / b["points_per_s"]
        for a, b in zip(rounds["indunet"], rounds["baseline"], strict=True)
    ]
    seq_ours = median([x["points_per_s"] for x in rounds["indunet_seq"]])
    seq_base = median([x["points_per_s"] for x in rounds["baseline_seq"]])
    seq_ratios = [
        a["points_per_s"] / b["points_per_s"]
        for a, b in zip(rounds["indunet_seq"], rounds["baseline_seq"], strict=True)
    ]
    return {
        "devices": args.devices,
        "form": args.form,
        "points_per_request": args.batch,
        "connections": args.connections,
        "indunet_points_per_s": ours,
        "baseline_points_per_s": base,
        "ratio": median(ratios),
        "target_points_per_s": TARGET,
        "pass": ours >= TARGET,
        "errors": sum(x["errors"] for x in rounds["indunet"]),
        "answered_200_points": answered,
        "stored_in_sqlite": held,
        "all_stored": held >= answered,
        "sequential": {
            "points_per_request": args.seq_batch,
            "indunet_points_per_s": seq_ours,
            "baseline_points_per_s": seq_base,
            "ratio": median(seq_ratios),
            "indunet_p50_ms": median([x["p50_ms"] for x in rounds["indunet_seq"]]),
            "baseline_p50_ms": median([x["p50_ms"] for x in rounds["baseline_seq"]]),
        },
        "rounds": rounds,
        "discarded_noisy_runs": discarded,
    }


def main() -> None:
    """Run the benchmark, or one of its processes (serve, baseline, client)."""
    if len(sys.argv) > 1 and sys.argv[1] == "baseline":
        return serve_baseline(Path(sys.argv[2]), int(sys.argv[3]))
    if len(sys.argv) > 1 and sys.argv[1] == "client":
        print(json.dumps(client(sys.argv[2], sys.argv[3], json.loads(sys.argv[4]))))
        return None
    ap = argparse.ArgumentParser(description="HTTP batch ingest into SQLite, end to end")
    ap.add_argument("--devices", type=int, default=100)
    ap.add_argument("--batch", type=int, default=10_000, help="points per request")
    ap.add_argument("--form", choices=["columns", "rows"], default="columns")
    ap.add_argument("--connections", type=int, default=4)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--seconds", type=float, default=6)
    ap.add_argument(
        "--max-requests", type=int, help="bodies made per round (400 columns, 120 rows)"
    )
    ap.add_argument(
        "--seq-batch", type=int, default=1000, help="points per post of the sequential client"
    )
    args = ap.parse_args()
    res = run(args)
    path = save(f"telemetry_ingest_{args.form}", res)
    say(
        f"RESULT telemetry_ingest ({args.form}): indunet {res['indunet_points_per_s']:,.0f} points/s, "
        f"baseline {res['baseline_points_per_s']:,.0f} points/s, ratio {res['ratio']:.3f}; "
        f"target >= {TARGET:,} points/s {verdict(res['pass'])}; {res['errors']} errors; "
        f"{res['stored_in_sqlite']:,} points in telemetry.db for {res['answered_200_points']:,} answered"
    )
    q = res["sequential"]
    say(
        f"RESULT telemetry_ingest sequential ({q['points_per_request']:,} points per post, one "
        f"client): indunet {q['indunet_points_per_s']:,.0f} points/s (p50 "
        f"{q['indunet_p50_ms']:.1f} ms), baseline {q['baseline_points_per_s']:,.0f} points/s "
        f"(p50 {q['baseline_p50_ms']:.1f} ms), ratio {q['ratio']:.3f}"
    )
    say(f"written {path}")
    return None


if __name__ == "__main__":
    main()
