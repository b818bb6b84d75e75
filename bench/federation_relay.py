"""Alert summaries relayed up a three-level federation (企业 → 省 → 国家), each instance its own
``indunet up`` process on loopback with its own data directory (embedded SQLite).

    python bench/federation_relay.py [--quick] [--messages N] [--catch-up M] [--rounds R]

Set-up as users do it: ``indunet federation init`` for each, a one-time token from the parent
(``indunet federation token``) and ``indunet federation join`` for the province (under the
national instance) and the enterprise (under the province); status reports once an hour so
they do not mix in.

1. **Relay throughput**: N ``security.alert`` summaries (default 20,000; ``--quick`` 2,000)
   put in the enterprise's outbox from this process (``federation.put`` in one transaction
   on its database, as the alert store's hook does while the server runs); timed from the
   commit until the national instance has applied all of them (its ``fed_received``, read
   every 50 ms): each signed by the enterprise, verified and applied at the province, queued
   there in the same transaction, signed again, verified and applied at the national.
   Baseline in the same round: the same messages, signed by the enterprise's key beforehand,
   in the same deliveries of 500, POSTed from this process to a route that does not exist
   (``POST /api/v1/federation/bench-discard``: 404; uvicorn receives the whole body, nothing
   parses it) on the province's server and then on the national's, one delivery after
   another over one keep-alive connection each: the two hops' HTTP alone. Rounds
   alternate (baseline first in odd rounds), medians quoted; target >= 1,000 messages/s.
   Each relay round also records the CPU time each server spent (``/proc``), which other
   processes on the machine do not change, and the rate two idle cores would allow.
2. **Catch-up**: the national instance stopped; M summaries (default 100,000; ``--quick``
   10,000) put at the enterprise and relayed to the province, where they wait in its outbox;
   then the national started and timed until it has applied every one (target < 5 min,
   including the province's back-off wait, which grows to a minute while its parent is
   down). Counts checked exactly at the end: every summary applied once at each level, in
   order, none missing, nothing pending anywhere.

Prints each figure, the baseline and the ratio, the load; writes
``bench/results/federation_relay.json``. No ``taskset``: the three servers and this
process share the machine's cores, as three instances on one host would.
"""

from __future__ import annotations

import argparse
import os
import signal
import sqlite3
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import orjson
import sqlalchemy as sa

from common import (
    HOST,
    CpuMeter,
    _pid_ticks,
    free_port,
    median,
    save,
    say,
    verdict,
    workspace,
)
from indunet.cli import context
from indunet.federation import Envelope, identity, put, seal
from indunet.federation.envelope import MAX_BATCH, new_id

KIND = "security.alert"
DISCARD = "/api/v1/federation/bench-discard"
TARGET_RATE = 1_000.0
TARGET_CATCH_UP_S = 300.0
POLL_S = 0.05


@dataclass
class Instance:
    """One ``indunet up`` process of the federation."""

    name: str
    level: str
    data: Path
    port: int = field(default_factory=free_port)
    proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}"

    @property
    def db(self) -> Path:
        return self.data / "indunet.db"

    def cli(self, *args: str) -> str:
        done = subprocess.run(
            [sys.executable, "-m", "indunet", "federation", *args, "--data-dir", str(self.data)],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        if done.returncode != 0:
            raise RuntimeError(f"federation {args[0]} at {self.name}: {done.stdout}{done.stderr}")
        return done.stdout.strip()

    def start(self) -> None:
        env = {k: v for k, v in os.environ.items() if not k.startswith("INDUNET_")}
        env |= {
            "INDUNET_MQTT_PORT": str(free_port()),
            "INDUNET_PLAIN_HTTP_AUTH": "loopback",
            "INDUNET_FEDERATION_STATUS_S": "3600",
        }
        log = (self.data.parent / f"{self.name}.log").open("ab")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "indunet", "up", "--host", HOST, "--port", str(self.port),
             "--data-dir", str(self.data)],
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env,
        )  # fmt: skip
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.name} exited with {self.proc.returncode}")
            try:
                if httpx.get(self.url + "/api/v1/nodes", timeout=1.0).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise RuntimeError(f"{self.name} did not answer within 90 s")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self.proc = None

    def scalar(self, sql: str, *args: Any) -> int:
        """One number from this instance's database, read-only (the server keeps writing)."""
        with sqlite3.connect(f"file:{self.db}?mode=ro", uri=True, timeout=30) as conn:
            row = conn.execute(sql, args).fetchone()
        return int(row[0] or 0) if row else 0


def federation(root: Path) -> tuple[Instance, Instance, Instance]:
    """enterprise ``acme`` → province ``gd`` → national ``cn``, initialised, joined, running."""
    cn = Instance("cn", "national", root / "cn")
    gd = Instance("gd", "province", root / "gd")
    acme = Instance("acme", "enterprise", root / "acme")
    for inst in (cn, gd, acme):
        inst.data.mkdir(parents=True)
        inst.cli("init", "--name", inst.name, "--level", inst.level, "--url", inst.url,
                 "--title", inst.name.upper())  # fmt: skip
    cn.start()
    gd.cli("join", "--parent", cn.url, "--token", cn.cli("token", "--level", "province"))
    gd.start()
    acme.cli("join", "--parent", gd.url, "--token", gd.cli("token", "--level", "enterprise"))
    acme.start()
    return acme, gd, cn


def summary(i: int) -> dict[str, Any]:
    """An alert summary as the alert store's hook queues it (``security.cases.alert_summary``)."""
    at = 1_733_560_000.0 + i
    return {
        "alert": f"{i:032x}",
        "rule": "modbus-write-unknown-master",
        "title": "Modbus write to a PLC from a station that is no known master",
        "level": 12 if i % 3 else 7,
        "techniques": ["T0855", "T0836"],
        "src_ip": f"192.168.9.{i % 200 + 10}",
        "dst_ip": f"10.10.1.{i % 40 + 1}",
        "first_seen": at - 30.0,
        "last_seen": at,
        "count": i % 50 + 1,
        "origin": "acme",
        "path": [],
    }


def queue(engine: sa.Engine, start: int, n: int) -> None:
    """``n`` summaries into the enterprise's outbox to its parent, in one transaction."""
    with engine.begin() as conn:
        for i in range(start, start + n):
            put(conn, "gd", KIND, summary(i))


def applied(inst: Instance, sender: str) -> int:
    return inst.scalar(
        "SELECT count(*) FROM fed_received WHERE sender = ? AND kind = ?", sender, KIND
    )


def wait_applied(inst: Instance, sender: str, target: int, timeout: float) -> float:
    """Seconds until ``inst`` has applied ``target`` summaries from ``sender``."""
    t0 = time.perf_counter()
    while applied(inst, sender) < target:
        if time.perf_counter() - t0 > timeout:
            raise RuntimeError(f"{inst.name}: {applied(inst, sender)} of {target} applied")
        time.sleep(POLL_S)
    return time.perf_counter() - t0


def cpu_s(insts: tuple[Instance, ...]) -> dict[str, float]:
    """CPU seconds each server process has used so far."""
    hz = os.sysconf("SC_CLK_TCK")
    return {i.name: _pid_ticks(i.proc.pid) / hz for i in insts if i.proc is not None}


def relay_round(
    acme_db: sa.Engine, servers: tuple[Instance, Instance, Instance], start: int, n: int
) -> dict[str, Any]:
    """One round: ``n`` summaries queued at the enterprise, timed until the national instance
    has applied them; with the CPU time each server spent on them (the figure the machine's
    other load does not change)."""
    cn = servers[2]
    before = applied(cn, "gd")
    t0 = time.perf_counter()
    queue(acme_db, start, n)
    put_s = time.perf_counter() - t0
    cpu0 = cpu_s(servers)
    took = wait_applied(cn, "gd", before + n, timeout=1200)
    spent = {k: round(v - cpu0[k], 2) for k, v in cpu_s(servers).items()}
    return {
        "messages": n,
        "put_s": round(put_s, 3),
        "seconds": round(took, 3),
        "rate": n / took,
        "cpu_s": spent,
        "cpu_ms_per_message": round(1000 * sum(spent.values()) / n, 3),
    }


def signed_batches(acme_db: sa.Engine, n: int) -> list[bytes]:
    """The same summaries as deliveries of ``MAX_BATCH``, signed by the enterprise's key."""
    me = identity.load(acme_db)
    assert me is not None
    parts = [
        orjson.dumps(
            seal(Envelope(new_id(), "acme", "gd", KIND, i + 1, time.time(), summary(i)), me.key)
        )
        for i in range(n)
    ]
    return [
        b'{"messages":[' + b",".join(parts[i : i + MAX_BATCH]) + b"]}"
        for i in range(0, n, MAX_BATCH)
    ]


def baseline_round(batches: list[bytes], gd: Instance, cn: Instance, n: int) -> dict[str, Any]:
    headers = {"Content-Type": "application/json"}
    with httpx.Client(base_url=gd.url) as hop1, httpx.Client(base_url=cn.url) as hop2:
        t0 = time.perf_counter()
        for body in batches:
            status = hop1.post(DISCARD, content=body, headers=headers).status_code
            hop2.post(DISCARD, content=body, headers=headers)
        took = time.perf_counter() - t0
    return {"messages": n, "seconds": round(took, 3), "rate": n / took, "status": status}


def catch_up(
    acme: Instance, gd: Instance, cn: Instance, acme_db: sa.Engine, start: int, m: int
) -> dict[str, Any]:
    cn.stop()
    before_gd = applied(gd, "acme")
    t0 = time.perf_counter()
    queue(acme_db, start, m)
    to_province = wait_applied(gd, "acme", before_gd + m, timeout=1800)
    waiting = gd.scalar(
        "SELECT count(*) FROM fed_outbox WHERE recipient = 'cn' AND acked = 0 AND kind = ?", KIND
    )
    say(f"  {m:,} at the province in {time.perf_counter() - t0:.1f} s; {waiting:,} wait for cn")
    before_cn = applied(cn, "gd")
    t1 = time.perf_counter()
    cn.start()
    started = time.perf_counter() - t1
    first = None
    while applied(cn, "gd") < before_cn + m:
        if first is None and applied(cn, "gd") > before_cn:
            first = time.perf_counter() - t1
        if time.perf_counter() - t1 > 1800:
            raise RuntimeError("the national instance did not catch up within 30 minutes")
        time.sleep(POLL_S)
    took = time.perf_counter() - t1
    return {
        "messages": m,
        "to_province_s": round(to_province, 1),
        "province_backlog": waiting,
        "national_start_s": round(started, 1),
        "first_applied_s": round(first or took, 1),
        "seconds": round(took, 1),
        "rate_after_first": round(m / max(took - (first or 0.0), 1e-3)),
    }


def exact(acme: Instance, gd: Instance, cn: Instance, total: int) -> dict[str, Any]:
    """Every summary applied once at each level, in order, nothing left pending."""
    counts: dict[str, Any] = {"queued": total}
    for inst, sender in ((gd, "acme"), (cn, "gd")):
        counts[inst.name] = {
            "applied": applied(inst, sender),
            "distinct_ids": inst.scalar(
                "SELECT count(DISTINCT id) FROM fed_received WHERE sender = ? AND kind = ?",
                sender,
                KIND,
            ),
            "last_seq": inst.scalar("SELECT last_seq FROM fed_inbox WHERE sender = ?", sender),
            "rows_seen": inst.scalar("SELECT count(*) FROM fed_received WHERE sender = ?", sender),
            "refused": inst.scalar(
                "SELECT count(*) FROM fed_received WHERE sender = ? AND outcome != 'applied'",
                sender,
            ),
            "kept": inst.scalar("SELECT count(*) FROM fed_alerts"),
        }
    for inst in (acme, gd):
        counts[f"{inst.name}_pending"] = inst.scalar(
            "SELECT count(*) FROM fed_outbox WHERE acked = 0"
        )
    ok = all(
        c["applied"] == c["distinct_ids"] == total
        and c["rows_seen"] == c["last_seq"]  # numbers 1..last, each once (with status reports)
        and c["refused"] == 0
        for c in (counts["gd"], counts["cn"])
    )
    counts["exact"] = ok and counts["acme_pending"] == counts["gd_pending"] == 0
    return counts


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="small sizes: does the script work")
    ap.add_argument("--messages", type=int, default=0, help="per throughput round")
    ap.add_argument("--catch-up", type=int, default=0, help="summaries queued while national down")
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # the servers stopped on the way out
    n = args.messages or (2_000 if args.quick else 20_000)
    m = args.catch_up or (10_000 if args.quick else 100_000)
    with workspace("federation-relay") as root:
        acme, gd, cn = federation(root)
        try:
            acme_db = context.database(context.settings(acme.data, HOST, acme.port))
            say(f"federation up: acme → gd → cn on {acme.url}, {gd.url}, {cn.url}")
            batches = signed_batches(acme_db, n)
            meter = CpuMeter([p.pid for p in (acme.proc, gd.proc, cn.proc) if p is not None])
            relays: list[dict[str, Any]] = []
            bases: list[dict[str, Any]] = []
            sent = 0
            for r in range(args.rounds):  # interleaved: baseline first in odd rounds
                order = ("base", "relay") if r % 2 == 0 else ("relay", "base")
                for what in order:
                    meter.quiet()
                    meter.start()
                    if what == "relay":
                        res = relay_round(acme_db, (acme, gd, cn), sent, n)
                        sent += n
                        relays.append(res)
                    else:
                        res = baseline_round(batches, gd, cn, n)
                        bases.append(res)
                    res["foreign_cores"] = round(meter.foreign_cores(), 2)
                    res["loadavg"] = list(os.getloadavg())
                    say(f"  round {r + 1} {what:5}: {res['rate']:9,.0f} messages/s "
                        f"({res['seconds']:.2f} s; other processes {res['foreign_cores']} cores)")  # fmt: skip
            relay_rate = median([x["rate"] for x in relays])
            base_rate = median([x["rate"] for x in bases])
            say(f"relayed enterprise → province → national: {relay_rate:9,.0f} messages/s (median)")
            say(f"baseline, the same deliveries POSTed to both hops: {base_rate:9,.0f} messages/s")
            per = median([x["cpu_ms_per_message"] for x in relays])
            busiest = median([max(x["cpu_s"].values()) / x["messages"] * 1000 for x in relays])
            cores = os.cpu_count() or 1
            capacity = 1000 / max(busiest, per / cores)
            say(f"CPU per message relayed: {per:.2f} ms over the three servers "
                f"(the busiest {busiest:.2f} ms); on {cores} idle cores that is at most "
                f"{capacity:,.0f} messages/s")  # fmt: skip
            say(f"ratio relayed/baseline: {relay_rate / base_rate:.3f}; "
                f"target >= {TARGET_RATE:,.0f}/s: {verdict(relay_rate >= TARGET_RATE)}")  # fmt: skip
            say(f"catch-up: the national instance down, {m:,} queued at the enterprise")
            caught = catch_up(acme, gd, cn, acme_db, sent, m)
            sent += m
            say(f"  the national instance applied all {m:,} in {caught['seconds']:.1f} s after "
                f"its start (the first after {caught['first_applied_s']:.1f} s, then "
                f"{caught['rate_after_first']:,}/s); target < {TARGET_CATCH_UP_S:.0f} s: "
                f"{verdict(caught['seconds'] < TARGET_CATCH_UP_S)}")  # fmt: skip
            counts = exact(acme, gd, cn, sent)
            say(f"  exactly once, none missing, nothing pending: {verdict(counts['exact'])} "
                f"({counts['cn']['applied']:,} applied at cn, {counts['cn']['kept']:,} kept)")  # fmt: skip
            load = " ".join(f"{x:.2f}" for x in os.getloadavg())
            say(f"load average: {load} on {os.cpu_count()} cores")
            path = save(
                "federation_relay",
                {
                    "messages_per_round": n,
                    "rounds": args.rounds,
                    "relay": {
                        "median_rate": relay_rate,
                        "cpu_ms_per_message": per,
                        "busiest_process_cpu_ms_per_message": busiest,
                        "cpu_bound_capacity_per_s": capacity,
                        "runs": relays,
                    },
                    "baseline": {"median_rate": base_rate, "runs": bases, "route": DISCARD},
                    "ratio": relay_rate / base_rate,
                    "target_rate": TARGET_RATE,
                    "rate_ok": relay_rate >= TARGET_RATE,
                    "catch_up": caught,
                    "catch_up_ok": caught["seconds"] < TARGET_CATCH_UP_S,
                    "counts": counts,
                    "loadavg_end": list(os.getloadavg()),
                },
            )
            say(f"wrote {path}")
            if not counts["exact"]:
                raise SystemExit("counts are not exact")
        finally:
            for inst in (acme, gd, cn):
                inst.stop()


if __name__ == "__main__":
    main()
