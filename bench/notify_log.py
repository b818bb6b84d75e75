"""The notification delivery log at 100,000 rows: service time of one page per filter.

    python bench/notify_log.py [postgresql://postgres@127.0.0.1:5432/<empty database>]

Seeds 100,000 delivery rows (half of one enterprise, half the platform's) straight into
``notify_deliveries`` on a fresh SQLite database (and, given a URL, an empty PostgreSQL one),
then times ``Notifications.deliveries`` (the console log page's query: one page and its count)
15 times per case. Issue 9's target is p95 under 200 ms.
"""

import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from indunet import core
from indunet.core import Role, Settings
from indunet.notify import Notifications
from indunet.notify.tables import deliveries
from indunet.web import open_database


def run(url: str | None):
    tmp = Path(tempfile.mkdtemp())
    settings = Settings(data_dir=tmp, database_url=url) if url else Settings(data_dir=tmp)
    engine = open_database(settings)
    with engine.begin() as conn:
        e1 = core.create_enterprise(
            conn, uscc="91350100M000100Y43", name="a", actor="t", verified=True
        )
        admin = core.create_user(
            conn,
            username="ea",
            password="a-long-password",
            role=Role.ENTERPRISE_ADMIN,
            actor="t",
            enterprise_id=e1.id,
        )
        root = core.create_user(
            conn, username="root", password="a-long-password", role=Role.PLATFORM_ADMIN, actor="t"
        )
    store = Notifications(engine)
    now = datetime.now(UTC)
    kinds = ("alarm.raised", "alarm.cleared", "device.offline", "command.failed")
    rows = [
        dict(
            enterprise_id=e1.id if i % 2 else None,
            rule_id=1,
            channel_id=1 + i % 5,
            channel_name=f"ch{i % 5}",
            kind=kinds[i % 4],
            device_id=f"pump-{i:06d}",
            subject=f"告警：pump-{i:06d} · 轴承过热",
            search=f"告警：pump-{i:06d} · 轴承过热 pump-{i:06d} ch{i % 5}",
            events=1 + i % 7,
            attempts=1,
            status=("sent", "failed", "quiet")[i % 3],
            error=None,
            created_at=now - timedelta(seconds=i),
            finished_at=now,
        )
        for i in range(100_000)
    ]
    with engine.begin() as conn:
        for k in range(0, len(rows), 10_000):
            conn.execute(deliveries.insert(), rows[k : k + 10_000])
    cases = [
        ("enterprise, first page", admin, {}),
        ("enterprise, deep page", admin, {"offset": 40_000}),
        ("enterprise, status", admin, {"status": "failed"}),
        ("enterprise, kind", admin, {"kind": "device.offline"}),
        ("enterprise, channel", admin, {"channel_id": 2}),
        ("enterprise, search", admin, {"q": "pump-04217"}),
        ("platform admin, first page", root, {}),
        ("platform admin, search", root, {"q": "pump-04217"}),
        ("platform admin, deep page", root, {"offset": 90_000}),
    ]
    print("database:", url or "sqlite")
    for name, who, kw in cases:
        ms = []
        for _ in range(15):
            t = time.perf_counter()
            store.deliveries(who, limit=20, **kw)
            ms.append((time.perf_counter() - t) * 1000)
        ms.sort()
        print(
            f"  {name:32s} p50 {statistics.median(ms):7.1f} ms  p95 {ms[int(0.95 * len(ms)) - 1]:7.1f} ms"
        )
    engine.dispose()


run(None)
if len(sys.argv) > 1:
    run(sys.argv[1])
