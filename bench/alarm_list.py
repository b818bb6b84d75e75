"""The alarm list at 100,000 alarms: service time of what one console page asks for.

    python bench/alarm_list.py [postgresql://postgres@127.0.0.1:5432/<empty database>]

Seeds 100,000 alarms of five enterprises (3,000 still open, the rest closed, raised over the
last 30 days, two models, 2,000 devices) straight into ``tel_alarms`` on a fresh SQLite
database (and, given a URL, an empty PostgreSQL one), then times what the console's alarm page
asks ``Alarms`` for: one page (``page``), its total (``total``) and the tiles (``counts``),
15 times per filter. Issue 9's target is p95 under 200 ms.
"""

import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from indunet import core
from indunet.core import InMemoryEventBus, Role, Settings
from indunet.telemetry import AlarmFilter, Alarms
from indunet.telemetry.alarmquery import search_text
from indunet.telemetry.alarmtables import alarms as table
from indunet.web import open_database

N = 100_000
SEVERITIES = ("critical", "major", "minor", "warning")
MODELS = ("indunet:cnc-machine", "indunet:env-sensor")


def seed(engine, enterprises: list[int]) -> None:
    now = datetime.now(UTC)
    rows = []
    for i in range(N):
        device, rule = f"dev-{i % 2000:05d}", f"rule-{i % 500}"
        message = f"轴承过热 #{i} on {device}"
        rows.append(
            dict(
                rule_id=i + 1,
                rule_name=rule,
                enterprise_id=enterprises[i % len(enterprises)],
                device_id=device,
                severity=SEVERITIES[(i * 7) % 4],
                state="closed" if i < N - 3000 else "active",
                message=message,
                value={"bearing_temp": 80 + i % 20},
                occurrences=1,
                raised_at=now - timedelta(seconds=(N - i) * 26),
                model_id=MODELS[i % 2],
                search=search_text(message, device, rule),
            )
        )
    with engine.begin() as conn:
        for k in range(0, N, 10_000):
            conn.execute(table.insert(), rows[k : k + 10_000])


def run(url: str | None) -> None:
    tmp = Path(tempfile.mkdtemp())
    settings = Settings(data_dir=tmp, database_url=url) if url else Settings(data_dir=tmp)
    engine = open_database(settings)
    with engine.begin() as conn:
        ids = [
            core.create_enterprise(
                conn, uscc=core.make_uscc(f"9135010{n}MA0010AB"), name=f"e{n}", actor="t"
            ).id
            for n in range(5)
        ]
    seed(engine, ids)
    alarms = Alarms(engine, InMemoryEventBus())
    root = core.User(1, "root", Role.PLATFORM_ADMIN, None)
    user = core.User(2, "operator", Role.ENTERPRISE_USER, ids[2])
    now = datetime.now(UTC)
    cases = [
        ("enterprise, open (the default)", user, AlarmFilter(state="open"), 0),
        ("enterprise, all states", user, AlarmFilter(), 0),
        ("enterprise, all, page 900", user, AlarmFilter(), 18_000),
        ("enterprise, search", user, AlarmFilter(text="#4217"), 0),
        ("enterprise, device", user, AlarmFilter(device_id="dev-00012"), 0),
        (
            "enterprise, model, 7 days",
            user,
            AlarmFilter(model_id=MODELS[1], since=now - timedelta(days=7)),
            0,
        ),
        ("platform admin, open", root, AlarmFilter(state="open"), 0),
        ("platform admin, all", root, AlarmFilter(), 0),
        (
            "platform admin, 24 h, critical",
            root,
            AlarmFilter(since=now - timedelta(days=1), severity="critical"),
            0,
        ),
        ("platform admin, search", root, AlarmFilter(text="rule-42"), 0),
    ]
    print("database:", url or "sqlite")
    for name, who, f, offset in cases:
        ms = []
        for _ in range(15):
            t = time.perf_counter()
            alarms.page(who, f, offset=offset, limit=20)
            alarms.total(who, f)
            alarms.counts(who, where=f)
            ms.append((time.perf_counter() - t) * 1000)
        ms.sort()
        print(
            f"  {name:34s} p50 {statistics.median(ms):7.1f} ms  p95 {ms[int(0.95 * len(ms)) - 1]:7.1f} ms"
        )
    engine.dispose()


run(None)
if len(sys.argv) > 1:
    run(sys.argv[1])
