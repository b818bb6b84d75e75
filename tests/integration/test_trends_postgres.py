"""The fleet trend figures on PostgreSQL against the same references as on SQLite: devices
online from the deltas the triggers of migration d0003 keep (rows written in any order in
multi-row statements, rows and whole devices deleted, two transactions writing one device at
once), alarms per bucket and top devices."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest
from tests.devices.test_online_series import (
    test_a_device_back_online_inside_the_window_counts_again as back_online,
)
from tests.devices.test_online_series import (
    test_online_series_matches_a_replay_of_the_history as matches_replay,
)
from tests.integration.test_postgres import pg_url  # noqa: F401 - the fixture, by name
from tests.telemetry.test_trends import test_alarm_figures_match_counting_each_alarm as alarms

from indunet import devices
from indunet.core import Settings
from indunet.devices.lifecycle import StatusChange, record_changes
from indunet.web import open_database

pytestmark = pytest.mark.integration


def test_trend_figures_match_their_references_on_postgres(
    pg_url: str,  # noqa: F811
    tmp_path: Path,
) -> None:
    engine = open_database(Settings(database_url=pg_url, data_dir=tmp_path, port=8000))
    try:
        matches_replay(engine)
        alarms(engine)
        with engine.begin() as conn:
            conn.exec_driver_sql("DELETE FROM dev_status_history")
        back_online(engine)
    finally:
        engine.dispose()


def test_two_writers_of_one_device_at_once_count_it_once(
    pg_url: str,  # noqa: F811
    tmp_path: Path,
) -> None:
    """The second writer's older change arrives while the first, newer one is uncommitted:
    without the writers' lock each would count the device as coming online."""
    engine = open_database(Settings(database_url=pg_url, data_dir=tmp_path, port=8000))
    t0 = 1_714_550_400
    try:
        first = engine.connect()
        first.begin()
        record_changes(first, [StatusChange("m1", 1, "online", t0 + 20)])

        def second() -> None:
            with engine.begin() as conn:
                record_changes(conn, [StatusChange("m1", 1, "online", t0 + 10)])

        writer = threading.Thread(target=second)
        writer.start()
        time.sleep(0.5)  # the second writer waits for the first
        first.commit()
        first.close()
        writer.join(10)
        got = devices.online_series(engine, None, t0 * 1000, (t0 + 60) * 1000, 15_000)
        assert [n for _, n in got] == [1, 1, 1, 1]  # online from t0 + 10 s
    finally:
        engine.dispose()
