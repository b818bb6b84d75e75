"""The overview's and the wall's trend figures at 100,000 devices and 100,000 alarms, cold.

    python bench/overview_trends.py [--runs 20] [--old-runs 5] [postgresql://…/test]

What the charts endpoint (``/platform/overview/charts``) and the wall display compute once
per ``Memo`` period: ``web.console.overview.figures`` (devices online per bucket, alarms
raised per bucket and severity, the ten devices with most alarms), timed with the memo
cleared before every call (after one call per process that compiles the statements), for an overseer (every enterprise) and for one enterprise of 50,
over 24 hours (15-minute buckets) and 7 days (3-hour buckets). Issue 9's target: p95 under
200 ms.

Seeded on a fresh SQLite database (and, given a URL, in a fresh PostgreSQL schema dropped at
the end), through the real schema and its triggers, in time order as the registry writes:
100,000 devices of 50 enterprises, each registered 30 to 90 days ago (online) with 2 to 8
changes before the last 7 days; a quarter of them change 2 to 4 times in the last 7 days
(offline, back online, some still offline): about 560,000 status changes, 72,000 of them in
the 7-day window. 100,000 alarms raised over the last 7 days, four severities, on 5,000
devices (a few devices raise most). The baseline, measured on the same data in the same run,
is the previous implementation kept below (``old_figures``: a replay of the whole history and
a CASE over the bucket edges); the ratio is its p95 over the new p95.

Then the identifier statistics page's counts over 90 days (``web.console.idsstats``: per day,
by prefix, by enterprise), its 5-second cache cleared before every call, on 100,000 hourly
rows of 2,000 prefixes of 100 enterprises; the baseline is the same calls on the same data
after dropping the indexes of migration is0001.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import sqlalchemy as sa

from indunet.core import Settings
from indunet.core.buckets import bucket_starts, within
from indunet.devices.tables import status_history
from indunet.ids.tables import daily_stats, prefixes
from indunet.telemetry import trends
from indunet.telemetry.alarms import Severity
from indunet.telemetry.alarmtables import alarms
from indunet.web import open_database
from indunet.web.console import idsstats, overview, zones

DEVICES = 100_000
ALARMS = 100_000
ENTERPRISES = 50
DAY = 86_400.0
HOUR_MS = 3_600_000
TARGET_P95_MS = 200.0


# -- seeding ---------------------------------------------------------------------------------
def seed(engine: sa.Engine) -> int:
    """Status history and alarms as described above; returns the number of status changes."""
    rnd = random.Random(7)
    now = time.time()
    rows: list[tuple[float, str, int, str]] = []
    for i in range(DEVICES):
        device, enterprise = f"dev-{i:06d}", 1 + i % ENTERPRISES
        at, status = now - rnd.uniform(30, 90) * DAY, "online"
        for _ in range(2 + i % 7):
            rows.append((at, device, enterprise, status))
            at += rnd.uniform(0.1, 10) * DAY
            if at > now - 7 * DAY:
                break
            status = "offline" if status == "online" else "online"
        if i % 4 == 0:
            at = now - rnd.uniform(0, 7) * DAY
            for _ in range(2 + i % 3):
                status = "offline" if status == "online" else "online"
                rows.append((at, device, enterprise, status))
                at += rnd.uniform(0, 0.5) * DAY
                if at > now:
                    break
    rows.sort()
    history = [{"device_id": d, "enterprise_id": e, "status": s, "at": at} for at, d, e, s in rows]
    severities = [s.value for s in Severity]
    nowd = datetime.now(UTC)
    raised = sorted(nowd - timedelta(seconds=rnd.uniform(0, 7 * DAY)) for _ in range(ALARMS))
    alarm_rows = [
        {
            "rule_id": i,
            "rule_name": "r",
            "enterprise_id": 1 + i % ENTERPRISES,
            "device_id": f"dev-{int(5000 * rnd.random() ** 2) * 20:06d}",
            "severity": severities[(i * 7) % 4],
            "state": "closed" if i < ALARMS - 3000 else "active",
            "message": "m",
            "value": {},
            "occurrences": 1,
            "raised_at": at,
        }
        for i, at in enumerate(raised)
    ]
    with engine.begin() as conn:
        for k in range(0, len(history), 10_000):
            conn.execute(status_history.insert(), history[k : k + 10_000])
        for k in range(0, len(alarm_rows), 10_000):
            conn.execute(alarms.insert(), alarm_rows[k : k + 10_000])
    if engine.dialect.name == "postgresql":
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.exec_driver_sql("VACUUM ANALYZE")
    return len(history)


# -- the previous implementation (the baseline) ----------------------------------------------
def bucket_index(column: Any, edges: list[Any]) -> Any:
    """The bucket ``column`` falls in, as a CASE over the bucket edges (core.buckets before)."""
    return sa.case(*((column < edge, i) for i, edge in enumerate(edges)), else_=len(edges))


def old_online_series(
    engine: sa.Engine, scope: list[int] | None, start: int, end: int, step: int
) -> list[list[int]]:
    """devices.online_series before migration d0003: the last change of every device before
    the window from the whole history, then the changes in the window per bucket."""
    c = status_history.c
    lo, hi = start / 1000, end / 1000
    mine = within(c.enterprise_id, scope)
    last = (
        sa.select(c.device_id, sa.func.max(c.at).label("at"))
        .where(c.at < lo, *mine)
        .group_by(c.device_id)
        .subquery()
    )
    at_start = (
        sa.select(sa.func.count(sa.distinct(c.device_id)))
        .select_from(
            status_history.join(last, sa.and_(c.device_id == last.c.device_id, c.at == last.c.at))
        )
        .where(c.status == "online", *mine)
    )
    starts = bucket_starts(start, end, step)
    edges = [min(b + step, end) / 1000 for b in starts]
    slot = bucket_index(c.at, edges).label("slot")
    moves = (
        sa.select(slot, c.status, sa.func.count())
        .where(c.at >= lo, c.at < hi, *mine)
        .group_by(slot, c.status)
    )
    delta = [0] * (len(starts) + 1)
    with engine.connect() as conn:
        online = int(conn.execute(at_start).scalar_one())
        for k, status, n in conn.execute(moves):
            delta[int(k)] += int(n) if status == "online" else -int(n)
    out: list[list[int]] = []
    for i, b in enumerate(starts):
        online = max(0, online + delta[i])
        out.append([b, online])
    return out


def old_alarm_series(
    engine: sa.Engine, scope: list[int] | None, start: int, end: int, step: int
) -> dict[str, list[list[int]]]:
    """telemetry.trends.alarm_series before: one pass with a CASE over the bucket edges."""
    c = alarms.c
    starts = bucket_starts(start, end, step)

    def when(ms: int) -> datetime:
        return datetime.fromtimestamp(ms / 1000, UTC)

    slot = bucket_index(c.raised_at, [when(min(b + step, end)) for b in starts]).label("slot")
    q = (
        sa.select(slot, c.severity, sa.func.count())
        .where(c.raised_at >= when(start), c.raised_at < when(end), *within(c.enterprise_id, scope))
        .group_by(slot, c.severity)
    )
    counts: dict[str, list[int]] = {s.value: [0] * len(starts) for s in Severity}
    with engine.connect() as conn:
        for k, severity, n in conn.execute(q):
            if severity in counts and 0 <= int(k) < len(starts):
                counts[severity][int(k)] += int(n)
    return {s: [[b, n] for b, n in zip(starts, ns, strict=True)] for s, ns in counts.items()}


def old_figures(
    engine: sa.Engine, scope: list[int] | None, start: int, end: int, step: int
) -> dict[str, Any]:
    """What overview.figures computed before."""
    return {
        "online": old_online_series(engine, scope, start, end, step),
        "alarms": old_alarm_series(engine, scope, start, end, step),
        "top": trends.top_devices(engine, scope, start, overview.TOP_DEVICES),
    }


# -- identifier statistics -------------------------------------------------------------------
PREFIXES = 2_000
STAT_ROWS = 100_000
NEW_STAT_INDEXES = ("ix_ids_daily_stats_hour_counts", "ix_ids_daily_stats_prefix_counts")


def seed_stats(engine: sa.Engine) -> None:
    """2,000 prefixes of 100 enterprises; 100,000 hourly rows of them over the last 90 days."""
    rnd = random.Random(3)
    hour = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    names = [f"88.{100 + i // 100}.{i % 100}" for i in range(PREFIXES)]
    keys: set[tuple[int, int]] = set()
    while len(keys) < STAT_ROWS:
        keys.add((rnd.randrange(90 * 24), rnd.randrange(PREFIXES)))
    with engine.begin() as conn:
        conn.execute(
            prefixes.insert(),
            [
                {"prefix": p, "node": "n", "enterprise_id": 1 + i % 100, "created_at": hour}
                for i, p in enumerate(names)
            ],
        )
        conn.execute(
            daily_stats.insert(),
            [
                {
                    "hour": hour - timedelta(hours=h),
                    "prefix": names[p],
                    "registrations": rnd.randrange(5),
                    "resolutions": rnd.randrange(50),
                }
                for h, p in sorted(keys)
            ],
        )
    if engine.dialect.name == "postgresql":
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.exec_driver_sql("VACUUM ANALYZE ids_daily_stats")


def time_stats(engine: sa.Engine, runs: int) -> dict[str, list[float]]:
    """The statistics page's counts over 90 days (``idsstats._counted``, its cache cleared)."""
    state = SimpleNamespace(engine=engine)
    zone = zones.zone("Asia/Shanghai")
    since = datetime.now(zone.info).date() - timedelta(days=89)
    out = {}
    for who, enterprise in (("overseer", None), ("one enterprise", 7)):

        def call(e: int | None = enterprise) -> Any:
            idsstats._cache.clear()
            return idsstats._counted(state, since, None, e, zone)  # type: ignore[arg-type]

        out[who] = timed(call, runs)[0]
    return out


def run_stats(engine: sa.Engine, runs: int) -> bool:
    seed_stats(engine)
    new = time_stats(engine, runs)
    with engine.begin() as conn:  # the baseline: the same data without migration is0001
        for name in NEW_STAT_INDEXES:
            conn.exec_driver_sql(f"DROP INDEX {name}")
    old = time_stats(engine, runs)
    for who, ms in new.items():
        print(
            f"  {'identifier statistics, 90 days, ' + who:44s} {statistics.median(ms):8.1f}"
            f" {p95(ms):8.1f} {statistics.median(old[who]):8.1f} {p95(old[who]):8.1f}"
            f" {p95(old[who]) / p95(ms):6.1f}  {os.getloadavg()[0]:.2f}",
            flush=True,
        )
    return all(p95(ms) < TARGET_P95_MS for ms in new.values())


# -- timing ----------------------------------------------------------------------------------
def window(span: str) -> tuple[int, int, int]:
    """start, end and step of the overview's window ``span``, as ``overview.charts`` cuts it."""
    width, step = overview.WINDOWS[span]
    end = int(time.time() * 1000)
    end += step - end % step
    return end - width, end, step


def timed(call: Callable[[], Any], runs: int) -> tuple[list[float], Any]:
    """Milliseconds of ``runs`` calls, the memo cleared before each, after one call that
    builds the process's statements (SQLAlchemy's compiled cache, once per process)."""
    call()
    ms, found = [], None
    for _ in range(runs):
        overview.MEMO._found.clear()  # cold: nothing memoised
        t = time.perf_counter()
        found = call()
        ms.append((time.perf_counter() - t) * 1000)
    return sorted(ms), found


def p95(ms: list[float]) -> float:
    return ms[max(0, round(0.95 * len(ms)) - 1)]


@contextmanager
def database(url: str | None) -> Iterator[sa.Engine]:
    """A fresh SQLite database, or a fresh schema of the PostgreSQL database ``url``."""
    tmp = Path(tempfile.mkdtemp())
    if url is None:
        engine = open_database(Settings(data_dir=tmp))
        try:
            yield engine
        finally:
            engine.dispose()
        return
    admin = sa.create_engine(url.replace("postgresql://", "postgresql+psycopg://", 1))
    schema = f"bench_trends_{os.getpid()}"
    with admin.begin() as conn:
        conn.exec_driver_sql(f'CREATE SCHEMA "{schema}"')
    sep = "&" if "?" in url else "?"
    try:
        scoped = f"{url}{sep}options=-csearch_path%3D{schema}"
        engine = open_database(Settings(data_dir=tmp, database_url=scoped))
        try:
            yield engine
        finally:
            engine.dispose()
    finally:
        with admin.begin() as conn:
            conn.exec_driver_sql(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        admin.dispose()


def run(url: str | None, runs: int, old_runs: int) -> bool:
    name = "postgresql" if url else "sqlite"
    ok = True
    with database(url) as engine:
        t = time.perf_counter()
        changes = seed(engine)
        print(
            f"{name}: seeded {changes:,} status changes and {ALARMS:,} alarms "
            f"in {time.perf_counter() - t:.0f} s",
            flush=True,
        )
        state = SimpleNamespace(engine=engine)
        print(
            f"  {'figures':44s} {'p50 ms':>8s} {'p95 ms':>8s} {'old p50':>8s} {'old p95':>8s}"
            f" {'ratio':>6s}  load"
        )
        for who, scope in (("overseer", None), ("one enterprise", [3])):
            for span in ("24h", "7d"):
                start, end, step = window(span)
                new, got = timed(
                    lambda s=scope, a=start, b=end, k=step: overview.figures(state, s, a, b, k),  # type: ignore[misc]
                    runs,
                )
                old, was = timed(
                    lambda s=scope, a=start, b=end, k=step: old_figures(engine, s, a, b, k),  # type: ignore[misc]
                    old_runs,
                )
                if got["alarms"] != was["alarms"] or got["top"] != was["top"]:
                    print("  alarm figures differ from the previous implementation!")
                    ok = False
                ok = ok and p95(new) < TARGET_P95_MS
                print(
                    f"  {who + ', ' + span:44s} {statistics.median(new):8.1f} {p95(new):8.1f}"
                    f" {statistics.median(old):8.1f} {p95(old):8.1f}"
                    f" {p95(old) / p95(new):6.1f}  {os.getloadavg()[0]:.2f}",
                    flush=True,
                )
        ok = run_stats(engine, runs) and ok
    return ok


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("database_url", nargs="?", help="PostgreSQL URL (an empty database)")
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--old-runs", type=int, default=5)
    args = parser.parse_args()
    ok = run(None, args.runs, args.old_runs)
    if args.database_url:
        ok = run(args.database_url, args.runs, args.old_runs) and ok
    print("PASS" if ok else "FAIL", f"(target p95 < {TARGET_P95_MS:.0f} ms)")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
