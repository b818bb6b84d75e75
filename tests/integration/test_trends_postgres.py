"""The fleet trend figures on PostgreSQL against the same references as on SQLite: devices
online from the deltas the triggers of migration d0003 keep (rows written in any order in
multi-row statements, rows and whole devices deleted), alarms per bucket and top devices."""

from __future__ import annotations

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

from indunet.core import Settings
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
