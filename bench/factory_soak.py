"""1,000 simulated devices (OPC UA, Modbus TCP, MQTT) at 1 Hz into one platform: no loss, flat RSS.

    python bench/factory_soak.py [--devices 1000] [--minutes 10] [--warmup 60]

Two processes on loopback: ``indunet up`` (embedded MQTT endpoint, SQLite store) and the
virtual factory (``indunet.sim``: CNC machines on one OPC UA server, compressors and power
meters behind Modbus TCP gateways, excavators and sensors as MQTT clients), which registers
its devices through the platform's API. After a warm-up, the factory's counters are taken
at the start and the end of the measured window, and the platform's RSS every 10 s.

Loss is judged per protocol by what each one promises:
- MQTT (QoS 1): every point value in a message the endpoint acknowledged is stored. Compared
  over the whole run: stored >= published (a message acknowledged while the factory stopped is
  stored but not counted as published).
- Modbus TCP (polled at 1 Hz): every poll is stored: stored points in the window ==
  seconds x points (a skipped or lost poll shows as a shortfall).
- OPC UA (subscriptions report changes): stored points in the window >= value changes the
  server made in it, less one step's worth of points at each edge of the window.
The pipeline's dead letters and overload counters must stay at zero.
RSS is flat when the median of the last two minutes is within 5 % of the median of the two
minutes around the middle of the window: the SQLite store's page cache (64 MB by default)
fills during the first minutes, which is a bound, not growth. The figure after warm-up is
printed too.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx

from common import (
    PYTHON,
    free_port,
    indunet_command,
    median,
    save,
    say,
    start_server,
    verdict,
    workspace,
)

USCC_FIRST16 = "91350200MA31XK07"
PREFIX = "88.100.77"


def rss_mb(pid: int) -> float:
    """Resident set size of a process, MB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def cpu_s(pid: int) -> float:
    """CPU seconds (user + system) used by a process so far."""
    import os

    parts = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(parts[11]) + int(parts[12])) / os.sysconf("SC_CLK_TCK")


# -- the factory, as a child process ---------------------------------------------------------
async def run_factory(args: argparse.Namespace) -> None:
    """Start the factory, register it, and write counter snapshots at the window's edges."""
    from indunet import devices, sim

    out = Path(args.out)
    plan = sim.make_plan(devices.library_models(), args.devices, seed=1)
    factory = sim.Factory(
        plan, mqtt_host="127.0.0.1", mqtt_port=args.mqtt_port, opcua_port=0, modbus_base_port=0
    )
    await factory.start(mqtt=False)
    t0 = time.monotonic()
    reg = await sim.register(factory.plan, args.url, args.token, enterprise=args.enterprise)
    if reg.failed:
        raise SystemExit(f"registration refused: {list(reg.failed.items())[:3]}")
    registered = time.monotonic() - t0
    factory.connect_mqtt()
    await asyncio.sleep(args.warmup)
    start = {"wall": time.time(), "counters": factory.counters()}
    await asyncio.sleep(args.seconds)
    end = {"wall": time.time(), "counters": factory.counters()}
    await factory.stop()
    final = factory.counters()
    plan_rows = {d.id: {"protocol": d.protocol, "model": d.model_id} for d in factory.plan.devices}
    await asyncio.to_thread(
        out.write_text,
        json.dumps(
            {
                "registered_s": registered,
                "start": start,
                "end": end,
                "final": final,
                "plan": plan_rows,
                "late_steps": factory.late_steps,
                "steps": factory.steps,
            }
        ),
    )


# -- the measurement -------------------------------------------------------------------------
def _setup(url: str, password: str) -> tuple[str, str]:
    """Admin token, and an enterprise with a prefix to own the devices (its USCC)."""
    from indunet.core import make_uscc

    with httpx.Client(base_url=url, timeout=30) as c:
        token = c.post(
            "/api/v1/auth/token", json={"username": "admin", "password": password}
        ).json()["token"]
        h = {"Authorization": f"Bearer {token}"}
        uscc = make_uscc(USCC_FIRST16)
        r = c.post("/api/v1/enterprises", json={"uscc": uscc, "name": "压测工厂"}, headers=h)
        r.raise_for_status()
        r = c.post("/api/v1/prefixes", json={"prefix": PREFIX, "enterprise_uscc": uscc}, headers=h)
        r.raise_for_status()
    return token, uscc


def _stored(db: Path, start_ms: int | None, end_ms: int | None) -> dict[str, int]:
    """Stored samples per device (all time, or in ``[start_ms, end_ms)``)."""
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=30)
    try:
        q = "SELECT s.device, count(*) FROM tel_samples t JOIN tel_series s ON s.id = t.series"
        params: tuple[int, ...] = ()
        if start_ms is not None and end_ms is not None:
            q += " WHERE t.ts >= ? AND t.ts < ?"
            params = (start_ms, end_ms)
        return dict(con.execute(q + " GROUP BY s.device", params).fetchall())
    finally:
        con.close()


def judge(report: dict[str, Any], db: Path, points: dict[str, int]) -> dict[str, Any]:
    """Compare what the factory made with what the platform stored, per protocol."""
    start, end = report["start"], report["end"]
    window_s = end["wall"] - start["wall"]
    # Sample timestamps are step times (whole seconds), so the window is cut on whole seconds.
    lo, hi = int(start["wall"]) * 1000, int(end["wall"]) * 1000
    in_window = _stored(db, lo, hi)
    all_time = _stored(db, None, None)
    seconds = (hi - lo) / 1000
    out: dict[str, Any] = {"window_s": round(window_s, 1)}
    short: dict[str, list[str]] = {"mqtt": [], "modbus": [], "opcua": []}
    totals = {k: [0, 0] for k in short}
    for dev, row in report["plan"].items():
        proto = row["protocol"]
        n_points = points[row["model"]]
        if proto == "mqtt":
            made = report["final"][dev]["published"]
            got = all_time.get(dev, 0)
            ok = got >= made  # more: a message stored while the factory stopped, not counted
        elif proto == "modbus":
            made = int(seconds) * n_points
            got = in_window.get(dev, 0)
            ok = got >= made
        else:
            made = end["counters"][dev]["changed"] - start["counters"][dev]["changed"]
            got = in_window.get(dev, 0)
            ok = got >= made - 2 * n_points  # a step at each edge of the window
        totals[proto][0] += made
        totals[proto][1] += got
        if not ok:
            short[proto].append(f"{dev}: made {made}, stored {got}")
    for proto, (made, got) in totals.items():
        out[proto] = {
            "expected": made,
            "stored": got,
            "devices_short": len(short[proto]),
            "examples": short[proto][:5],
        }
    out["lost"] = sum(len(v) for v in short.values())
    return out


def main() -> None:
    """Run the soak and print its verdicts."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--devices", type=int, default=1000)
    ap.add_argument("--minutes", type=float, default=10.0)
    ap.add_argument("--warmup", type=float, default=60.0)
    ap.add_argument("--child", action="store_true")
    ap.add_argument("--url")
    ap.add_argument("--token")
    ap.add_argument("--enterprise")
    ap.add_argument("--mqtt-port", type=int)
    ap.add_argument("--seconds", type=float)
    ap.add_argument("--out")
    args = ap.parse_args()
    if args.child:
        asyncio.run(run_factory(args))
        return

    from indunet import devices

    points = {m.id: len(m.points) for m in devices.library_models()}
    seconds = args.minutes * 60
    with workspace("soak") as dir_:
        port, mqtt_port = free_port(), free_port()
        data = dir_ / "data"
        server = start_server(
            "platform",
            indunet_command("up", "--port", str(port), "--data-dir", str(data)),
            port,
            dir_,
            ready_path="/api/v1/nodes",
            env={"INDUNET_MQTT_PORT": str(mqtt_port)},
        )
        try:
            password = ""
            for line in server.log.read_text().splitlines():
                if line.strip().startswith("password:"):
                    password = line.split(":", 1)[1].strip()
            token, uscc = _setup(server.url, password)
            out = dir_ / "factory.json"
            cmd = [PYTHON, __file__, "--child", "--url", server.url, "--token", token]
            cmd += ["--enterprise", uscc, "--mqtt-port", str(mqtt_port), "--devices"]
            cmd += [str(args.devices), "--warmup", str(args.warmup), "--seconds", str(seconds)]
            cmd += ["--out", str(out)]
            flog = (dir_ / "factory.log").open("wb")
            factory = subprocess.Popen(cmd, stdout=flog, stderr=subprocess.STDOUT)
            say(f"soak: {args.devices} devices, warm-up {args.warmup:g} s, window {seconds:g} s")
            samples: list[tuple[float, float]] = []
            t0 = time.monotonic()
            cpu0 = cpu_s(server.proc.pid)
            factory_cpu = 0.0
            while factory.poll() is None:
                time.sleep(10)
                t = time.monotonic() - t0
                samples.append((t, rss_mb(server.proc.pid)))
                with contextlib.suppress(OSError):
                    factory_cpu = cpu_s(factory.pid)
                if len(samples) % 6 == 0:
                    say(f"  {t / 60:5.1f} min  platform RSS {samples[-1][1]:.0f} MB")
                if t > args.warmup + seconds + 600:
                    factory.kill()
                    raise SystemExit("the factory did not finish in time")
            cpu = cpu_s(server.proc.pid) - cpu0
            wall = time.monotonic() - t0
            if factory.returncode != 0:
                raise SystemExit((dir_ / "factory.log").read_text()[-3000:])
            time.sleep(3)  # the last batches reach the store
            report = json.loads(out.read_text())
            stats = httpx.get(
                server.url + "/api/v1/telemetry/stats",
                headers={"Authorization": f"Bearer {token}"},
                timeout=30,
            ).json()
        finally:
            server.stop()
        verdicts = judge(report, data / "telemetry.db", points)
    after_warm = [m for t, m in samples if args.warmup <= t < args.warmup + 120]
    mid_t = args.warmup + seconds / 2
    middle = [m for t, m in samples if mid_t - 60 <= t < mid_t + 60]
    last = [m for t, m in samples if t >= samples[-1][0] - 120]
    rss_start, rss_mid, rss_end = (
        median(after_warm or [samples[0][1]]),
        median(middle or [samples[0][1]]),
        median(last),
    )
    growth = rss_end / rss_mid - 1
    flat = growth < 0.05
    no_loss = verdicts["lost"] == 0 and not stats["dead_lettered_total"] and not stats["overloaded"]
    say(f"registration of {args.devices} devices: {report['registered_s']:.1f} s")
    for proto in ("mqtt", "modbus", "opcua"):
        v = verdicts[proto]
        say(
            f"  {proto:7s} expected {v['expected']:>10,}  stored {v['stored']:>10,}  "
            f"devices short {v['devices_short']}"
        )
        for ex in v["examples"]:
            say(f"      {ex}")
    say(
        f"pipeline: stored {stats['stored']:,}, dead letters {stats['dead_lettered_total']}, "
        f"overloaded {stats['overloaded']}, buffered {stats['buffered_total']}"
    )
    say(
        f"platform CPU {cpu / wall:.2f} cores on average, factory {factory_cpu / wall:.2f}; "
        f"factory steps late {report['late_steps']}"
    )
    say(f"no lost samples: {verdict(no_loss)}")
    say(
        f"RSS after warm-up {rss_start:.0f} MB, mid-window {rss_mid:.0f} MB, at the end "
        f"{rss_end:.0f} MB ({growth:+.1%} in the second half): {verdict(flat)}"
    )
    path = save(
        "factory_soak",
        {
            "devices": args.devices,
            "minutes": args.minutes,
            "verdicts": verdicts,
            "pipeline": stats,
            "rss_mb": [[round(t), round(m, 1)] for t, m in samples],
            "rss_start_mb": round(rss_start, 1),
            "rss_mid_mb": round(rss_mid, 1),
            "rss_end_mb": round(rss_end, 1),
            "platform_cpu_cores": round(cpu / wall, 3),
            "factory_cpu_cores": round(factory_cpu / wall, 3),
            "no_loss": no_loss,
            "rss_flat": flat,
        },
    )
    say(f"results: {path}")


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).parent))
    main()
