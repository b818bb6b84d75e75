"""Dashboards, display tokens and the fleet trends on PostgreSQL: migration b0001 applies, the
JSON layout round-trips, and the per-bucket counting (a CASE over the bucket edges, on floats
and on times with zones) gives what it gives on SQLite."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from tests.integration.test_postgres import pg_url  # noqa: F401 - the fixture, by name

from indunet import core, telemetry
from indunet.core import Role, Settings, User
from indunet.devices.tables import status_history
from indunet.telemetry.alarmtables import alarms
from indunet.web import open_database

pytestmark = pytest.mark.integration
HOUR = 3_600_000
T0 = 1_700_000_000_000 - 1_700_000_000_000 % HOUR


def test_boards_displays_and_trends_on_postgres(pg_url: str, tmp_path: Path) -> None:  # noqa: F811
    engine = open_database(Settings(database_url=pg_url, data_dir=tmp_path, port=8000))
    try:
        with engine.begin() as conn:
            ent = core.create_enterprise(
                conn, uscc=core.make_uscc("91350100M0001000"), name="a", actor="t"
            )
        admin = User(1, "ea", Role.ENTERPRISE_ADMIN, ent.id)
        boards = telemetry.Dashboards(engine, lambda _: None, lambda _: None)
        board = boards.create(admin, "看板 100%", ent.id)
        text = {"type": "text", "title": "说明", "width": 12, "text": "早班"}
        saved = boards.save(admin, board.id, "看板 100%", {"widgets": [text]})
        assert saved.layout == {"widgets": [text]}
        found, total = boards.page(admin, q="100%", like="%100\\%%")
        assert total == 1 and found[0].id == board.id
        made, token = telemetry.Displays(engine).create(admin, name="大屏")
        assert telemetry.Displays(engine).opened_by(token) == made

        with engine.begin() as conn:
            conn.execute(
                status_history.insert(),
                [
                    {"device_id": "p1", "enterprise_id": ent.id, "status": "online"}
                    | {"at": (T0 - HOUR) / 1000},
                    {"device_id": "p1", "enterprise_id": ent.id, "status": "offline"}
                    | {"at": (T0 + HOUR + 1) / 1000},
                ],
            )
            conn.execute(
                alarms.insert(),
                [
                    {
                        "rule_id": i,
                        "rule_name": "r",
                        "enterprise_id": ent.id,
                        "device_id": "p1",
                        "severity": "major",
                        "state": "closed",
                        "message": "m",
                        "value": {},
                        "occurrences": 1,
                        "raised_at": datetime.fromtimestamp((T0 + i * HOUR + 5) / 1000, UTC),
                    }
                    for i in range(2)
                ],
            )
        trends = telemetry.trends
        online = trends.online_series(engine, [ent.id], T0, T0 + 2 * HOUR, HOUR)
        assert online == [[T0, 1], [T0 + HOUR, 0]]
        assert trends.alarm_series(engine, None, T0, T0 + 2 * HOUR, HOUR)["major"] == [
            [T0, 1],
            [T0 + HOUR, 1],
        ]
        assert trends.top_devices(engine, [ent.id], T0) == [["p1", 2]]
        assert trends.open_alarm_counts(engine, [ent.id])["major"] == 0
    finally:
        engine.dispose()
