"""Console lists at 100,000 rows: server time per page, against the same pages with one row.

    python bench/console_lists.py [--rows 100000] [--requests 40]

Issue 9's target: every console list (devices, alarms, rules, dead letters, identifiers,
enterprises, users, the audit log, notification deliveries) answers in under 200 ms at the
95th percentile with 100,000 rows.

How: an ``indunet up`` process is seeded through its public API with one row of each kind
(an enterprise, a prefix, a device fed over HTTP until its rule raises an alarm, a rejected
sample, an identifier, a user, audit entries). The server is stopped, and each of those rows
is copied ``--rows`` times in its SQLite database with a distinct name and a time spread over
30 days (the copies go through no service: this measures reading, not writing). The server
is started again on that data and on an untouched copy of the one-row data (the baseline);
each page is asked for ``--requests`` times, one after another, logged in as the platform
administrator, first page, a search, and a deep page. The figure is the time until the whole
answer arrived on loopback; the ratio is p95 at ``--rows`` over p95 at one row, measured in
the same run.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import (
    free_port,
    indunet_command,
    latency_summary,
    machine,
    save,
    say,
    start_server,
    verdict,
    workspace,
)

TARGET_P95_MS = 200.0
DAY_S = 86_400
USCC_BASE = "91350200MA3BENCH"  # 16 characters; the copies get their own check digit


def make_uscc(body16: str) -> str:
    from indunet import core

    return core.make_uscc(body16)


def uscc_body(i: int) -> str:
    """Six characters of the GB 32100 alphabet numbering copy ``i`` (31**6, about 887 million)."""
    from indunet.core.uscc import ALPHABET

    return "".join(ALPHABET[(i // 31**k) % 31] for k in reversed(range(6)))


# -- seeding through the API -----------------------------------------------------------------
def seed(url: str, password: str) -> None:
    """One row of each kind, made the way users make them."""
    api = httpx.Client(base_url=url, timeout=30.0)
    token = api.post("/api/v1/auth/token", json={"username": "admin", "password": password})
    token.raise_for_status()
    api.headers["Authorization"] = f"Bearer {token.json()['token']}"

    def ok(resp: httpx.Response) -> Any:
        assert resp.status_code < 300, f"{resp.request.url}: {resp.status_code} {resp.text}"
        return resp.json() if resp.content else None

    ent = ok(
        api.post(
            "/api/v1/enterprises",
            json={"uscc": make_uscc("91350200MA3BENCH"), "name": "基准企业 seedent"},
        )
    )
    ok(api.post("/api/v1/prefixes", json={"prefix": "88.100.1", "enterprise_uscc": ent["uscc"]}))
    device = {"id": "seeddev", "name": "基准设备 seeddev", "model": "indunet:cnc-machine"}
    device |= {"protocol": "http", "enterprise_id": ent["id"], "tags": ["line-1"]}
    ok(api.post("/api/v1/devices", json=device))
    rule = {"name": "seedrule 轴承过热", "device_id": "seeddev", "condition": "bearing_temp > 80"}
    rule |= {"severity": "critical", "duration_s": 0, "enterprise_id": ent["id"]}
    rule |= {"message": "seedalarm 轴承温度 {bearing_temp} °C"}
    ok(api.post("/api/v1/rules", json=rule))
    now = int(time.time() * 1000)
    body = {
        "device": "seeddev",
        "ts": [now - 2000, now - 1000],
        "points": {"bearing_temp": [70, 90]},
    }
    ok(api.post("/api/v1/telemetry", json=body))
    bad = {"samples": [{"device": "seeddev", "point": "no_such_point", "value": 1}]}
    api.post("/api/v1/telemetry", json=bad)  # a dead letter, whatever the answer says
    values = {"values": [{"index": 1, "type": "URL", "data": "https://example.com/seedhandle"}]}
    ok(api.put("/api/handles/88.100.1/seedhandle", json=values))
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if api.get("/api/v1/alarms", params={"device_id": "seeddev"}).json():
            break
        time.sleep(0.3)


# -- copying rows ----------------------------------------------------------------------------
#: table -> (the template row's WHERE clause, the names each copy makes distinct: a copy's
#: alarm belongs to a copied device, so the one-open-alarm-per-rule-and-device rule holds)
CLONES: dict[str, tuple[str, str]] = {
    "dev_devices": ("id = 'seeddev'", "seeddev"),
    "tel_alarms": ("device_id = 'seeddev'", "seedalarm|seeddev"),
    "tel_rules": ("name LIKE 'seedrule%'", "seedrule|seeddev"),
    "tel_dead_letters": ("1 = 1", "seeddev"),
    "core_audit_log": ("1 = 1", "seeddev"),
    "ids_handles": ("handle LIKE '%seedhandle'", "seedhandle"),
    "core_enterprises": ("name LIKE '%seedent'", "seedent"),
    "core_users": ("username = 'seeduser'", "seeduser"),
}
TIME_COLUMNS = ("at", "raised_at", "created_at", "received_at", "ts_ms", "time_ms")


def clone(db: Path, rows: int) -> dict[str, int]:
    """Copy each template row ``rows`` times; returns the rows per table afterwards."""
    con = sqlite3.connect(db)
    con.row_factory = sqlite3.Row
    counts = {}
    now = time.time()
    try:
        for table, (where, token) in CLONES.items():
            exists = con.execute("SELECT 1 FROM sqlite_master WHERE name = ?", (table,)).fetchone()
            template = (
                con.execute(f"SELECT * FROM {table} WHERE {where} LIMIT 1").fetchone()
                if exists
                else None
            )
            if template is None:
                say(f"  {table}: no template row, not seeded")
                continue
            info = con.execute(f"PRAGMA table_info({table})").fetchall()
            pk = [c["name"] for c in info if c["pk"]]
            auto = (
                pk[0]
                if len(pk) == 1
                and info[[c["name"] for c in info].index(pk[0])]["type"].upper() == "INTEGER"
                else None
            )
            cols = [c["name"] for c in info if c["name"] != auto]
            make = _maker(dict(template), cols, token, now, table)
            con.executemany(
                f"INSERT INTO {table} ({', '.join(cols)}) VALUES ({', '.join('?' * len(cols))})",
                (make(i) for i in range(1, rows + 1)),
            )
            con.commit()
            counts[table] = con.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0]
            say(f"  {table}: {counts[table]:,} rows")
    finally:
        con.close()
    return counts


def _maker(
    row: dict[str, Any], cols: list[str], token: str, now: float, table: str
) -> Callable[[int], tuple[Any, ...]]:
    pattern = re.compile("|".join(re.escape(t) for t in token.split("|")), re.IGNORECASE)

    def make(i: int) -> tuple[Any, ...]:
        out = []
        for c in cols:
            v = row[c]
            if table == "core_enterprises" and c == "uscc":
                v = make_uscc("91350200MA" + uscc_body(i))
            elif isinstance(v, str) and pattern.search(v):
                v = pattern.sub(lambda m: f"{m.group(0)}{i:06d}", v)
            elif c in TIME_COLUMNS and v is not None:
                back = (i * 7919) % (30 * DAY_S)
                if isinstance(v, int | float):
                    v = (now - back) * (1000 if v > 1e11 else 1)
                    v = int(v) if isinstance(row[c], int) else v
                elif isinstance(v, str):
                    from datetime import UTC, datetime

                    v = datetime.fromtimestamp(now - back, UTC).isoformat(sep=" ")
            out.append(v)
        return tuple(out)

    return make


# -- measuring -------------------------------------------------------------------------------
PAGES = [
    ("devices", "/platform/devices"),
    ("devices search", "/platform/devices?q=seeddev04"),
    ("devices deep page", "/platform/devices?page=2000"),
    ("alarms", "/platform/alarms"),
    ("alarms search", "/platform/alarms?q=seedalarm04"),
    ("alarms deep page", "/platform/alarms?page=2000"),
    ("rules", "/platform/rules"),
    ("dead letters", "/platform/ingest"),
    ("dead letters search", "/platform/ingest?q=seeddev04"),
    ("dead letters deep page", "/platform/ingest?page=2000"),
    ("identifiers", "/ids/handles?prefix=88.100.1"),
    ("identifiers search", "/ids/handles?prefix=88.100.1&q=seedhandle04"),
    ("identifiers deep page", "/ids/handles?prefix=88.100.1&page=2000"),
    ("enterprises", "/ids/enterprises"),
    ("enterprises search", "/ids/enterprises?q=seedent04"),
    ("users", "/admin/users"),
    ("users search", "/admin/users?q=seeduser04"),
    ("audit log", "/admin/audit"),
    ("audit log deep page", "/admin/audit?page=2000"),
    ("notification deliveries", "/platform/notifications/log"),
]


def measure(url: str, password: str, requests: int) -> dict[str, dict[str, float]]:
    """p50/p95 of each page, logged in through the console's form."""
    client = httpx.Client(base_url=url, timeout=30.0)
    client.post("/login", data={"username": "admin", "password": password, "next": "/"})
    out = {}
    for name, path in PAGES:
        first = client.get(path)
        if first.status_code != 200:
            say(f"  {name}: {path} answered {first.status_code}; skipped")
            continue
        for _ in range(2):
            client.get(path)
        ms = []
        for _ in range(requests):
            t0 = time.perf_counter()
            resp = client.get(path)
            ms.append((time.perf_counter() - t0) * 1000)
            assert resp.status_code == 200, (path, resp.status_code)
        s = latency_summary(ms)
        s["p95_ms"] = sorted(ms)[max(0, int(0.95 * len(ms) + 0.999999) - 1)]
        out[name] = s
    return out


def run(rows: int, requests: int) -> dict[str, Any]:
    with workspace("lists") as ws:
        small, big = ws / "small", ws / "big"
        port = free_port()
        env = {"INDUNET_MQTT_PORT": str(free_port())}
        server = start_server(
            "seed",
            indunet_command("up", "--port", str(port), "--data-dir", str(small)),
            port,
            ws,
            env=env,
        )
        try:
            m = re.search(r"password:\s*(\S+)", server.log.read_text())
            assert m, server.log.read_text()
            password = m.group(1)
            seed(server.url, password)
        finally:
            server.stop()
        pw_file = ws / "seeduser.pw"
        pw_file.write_text("Correct-Horse-Battery-9\n")
        pw_file.chmod(0o600)
        add_user = indunet_command("user", "add", "seeduser", "--role", "enterprise_user")
        add_user += ["--password-file", str(pw_file), "--data-dir", str(small)]
        add_user += ["--enterprise", make_uscc("91350200MA3BENCH")]
        subprocess.run(add_user, check=True, capture_output=True, cwd=ws)
        shutil.copytree(small, big)
        say(f"copying each row {rows:,} times")
        t0 = time.perf_counter()
        counts = clone(big / "indunet.db", rows)
        say(f"  copied in {time.perf_counter() - t0:.0f} s")
        results: dict[str, Any] = {}
        for label, data in (("one_row", small), ("many_rows", big)):
            port = free_port()
            cmd = indunet_command("up", "--port", str(port), "--data-dir", str(data))
            server = start_server(
                label, cmd, port, ws, env={"INDUNET_MQTT_PORT": str(free_port())}, timeout=180
            )
            try:
                results[label] = measure(server.url, password, requests)
            finally:
                server.stop()
        return {"rows": rows, "counts": counts, "load_1m": os.getloadavg()[0], **results}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--requests", type=int, default=40)
    args = parser.parse_args()
    say(f"machine: {machine()}")
    result = run(args.rows, args.requests)
    say(
        f"\n{'page':28} {'p50 ms':>8} {'p95 ms':>8} {'1-row p95':>10} {'ratio':>6}  target p95 < {TARGET_P95_MS:.0f} ms"
    )
    ok = True
    for name, s in result["many_rows"].items():
        base = result["one_row"].get(name, {}).get("p95_ms", 0.0)
        ratio = s["p95_ms"] / base if base else float("nan")
        good = s["p95_ms"] < TARGET_P95_MS
        ok &= good
        say(
            f"{name:28} {s['p50_ms']:8.1f} {s['p95_ms']:8.1f} {base:10.1f} {ratio:6.2f}  {verdict(good)}"
        )
    say(f"load average (1 min) at the end: {result['load_1m']:.2f}")
    path = save("console_lists", result)
    say(f"saved {path}")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
