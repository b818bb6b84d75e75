"""Telemetry (时序数据): samples, the ingest pipeline, time-series stores, rules, alarms, commands."""

from pathlib import Path

from indunet.telemetry import trends
from indunet.telemetry.alarms import Alarm, AlarmFilter, Alarms, AlarmState, Comment, Severity
from indunet.telemetry.buffer import DiskBuffer
from indunet.telemetry.checks import POISON, REASONS, Letter
from indunet.telemetry.commands import (
    Command,
    CommandFailed,
    Commands,
    CommandSender,
    CommandState,
    CommandTimedOut,
    MemorySender,
)
from indunet.telemetry.dashboards import Dashboard, Dashboards
from indunet.telemetry.deadletters import DeadLetter, DeadLetters
from indunet.telemetry.displays import Display, Displays
from indunet.telemetry.export import (
    csv_chunks,
    parquet_chunks,
    store_samples,
    write_csv,
    write_parquet,
)
from indunet.telemetry.expr import Expression, InvalidExpression, NotEvaluable
from indunet.telemetry.ingest_rate import IngestRate
from indunet.telemetry.memory_store import MemoryStore
from indunet.telemetry.opening import open_store
from indunet.telemetry.pipeline import Pipeline, Receipt
from indunet.telemetry.postgres_store import PostgresStore
from indunet.telemetry.purge import Purged, Purger
from indunet.telemetry.retention import get_retention, retention_pass, set_retention
from indunet.telemetry.ruleengine import RuleEngine, RuleStats
from indunet.telemetry.rules import Rule
from indunet.telemetry.samples import BAD, GOOD, UNCERTAIN, Bucket, Sample, Value
from indunet.telemetry.sink import Overloaded, SampleSink
from indunet.telemetry.sqlite_store import SqliteStore, StoreClosed
from indunet.telemetry.store import BatchWriter, TimeSeriesStore

MIGRATIONS = Path(__file__).parent / "migrations" / "versions"

__all__ = [
    "BAD",
    "GOOD",
    "MIGRATIONS",
    "POISON",
    "REASONS",
    "UNCERTAIN",
    "Alarm",
    "AlarmFilter",
    "AlarmState",
    "Alarms",
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
    "IngestRate",
    "InvalidExpression",
    "Letter",
    "MemorySender",
    "MemoryStore",
    "NotEvaluable",
    "Overloaded",
    "Pipeline",
    "PostgresStore",
    "Purged",
    "Purger",
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
