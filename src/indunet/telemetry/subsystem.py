"""Telemetry's descriptor: ingest, time series, rules, alarms and commands."""

from pathlib import Path

from indunet.core.plugins import Subsystem

SUBSYSTEM = Subsystem(
    name="telemetry",
    summary="samples, the ingest pipeline, time-series stores, rules, alarms and commands",
    migrations=Path(__file__).parent / "migrations" / "versions",
    tables=(
        "indunet.telemetry.tables",
        "indunet.telemetry.alarmtables",
        "indunet.telemetry.boardtables",
    ),
    api=(
        "indunet.web.api.ingest:router",
        "indunet.web.api.series:router",
        "indunet.web.api.alarms:router",
        "indunet.web.api.commands:router",
    ),
    console=(
        "indunet.web.console.device:router",
        "indunet.web.console.alarms:router",
        "indunet.web.console.rules:router",
        "indunet.web.console.explore:router",
        "indunet.web.console.ingest:router",
    ),
    role="platform",
)
