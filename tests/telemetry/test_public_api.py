"""The telemetry public API is what ``indunet.telemetry`` exports; this list pins it."""

from __future__ import annotations

from indunet import telemetry

PINNED = [
    "Alarm",
    "AlarmFilter",
    "AlarmState",
    "Alarms",
    "BAD",
    "BatchWriter",
    "Bucket",
    "Command",
    "CommandFailed",
    "CommandSender",
    "CommandState",
    "CommandTimedOut",
    "Commands",
    "Comment",
    "Dashboard",
    "Dashboards",
    "DeadLetter",
    "DeadLetters",
    "DiskBuffer",
    "Display",
    "Displays",
    "Expression",
    "GOOD",
    "IngestRate",
    "InvalidExpression",
    "Letter",
    "MIGRATIONS",
    "MemorySender",
    "MemoryStore",
    "NotEvaluable",
    "Overloaded",
    "POISON",
    "Pipeline",
    "PostgresStore",
    "Purged",
    "Purger",
    "REASONS",
    "Receipt",
    "Rule",
    "RuleEngine",
    "RuleStats",
    "Sample",
    "SampleSink",
    "Severity",
    "SqliteStore",
    "StoreClosed",
    "TimeSeriesStore",
    "UNCERTAIN",
    "Value",
    "csv_chunks",
    "get_retention",
    "open_store",
    "parquet_chunks",
    "retention_pass",
    "set_retention",
    "store_samples",
    "trends",
    "write_csv",
    "write_parquet",
]


def test_public_api_is_pinned() -> None:
    assert sorted(telemetry.__all__) == PINNED


def test_every_exported_name_exists() -> None:
    missing = [n for n in telemetry.__all__ if not hasattr(telemetry, n)]
    assert missing == []
