"""Telemetry (时序数据): samples, the ingest pipeline, time-series stores, rules, alarms, commands."""

from indunet.telemetry.samples import BAD, GOOD, UNCERTAIN, Bucket, Sample, Value
from indunet.telemetry.sink import Overloaded, SampleSink
from indunet.telemetry.store import TimeSeriesStore

__all__ = [
    "BAD",
    "GOOD",
    "UNCERTAIN",
    "Bucket",
    "Overloaded",
    "Sample",
    "SampleSink",
    "TimeSeriesStore",
    "Value",
]
