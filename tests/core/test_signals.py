"""Signals: records gathered on a hot path and published as one bus event per type and
interval, at most 1,000 records each, the rest counted in the event and in the process."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any

import pytest

from indunet.core import Event, EventType, InMemoryEventBus
from indunet.core.signals import (
    BYTES_MAX,
    RECORDS_MAX,
    Record,
    Signal,
    Signals,
    SignalType,
    metric_lines,
)

SEEN = EventType("tests.seen", 1, "tests", "something a hot path saw")
OTHER = EventType("tests.other", 1, "tests", "something else")


def shape(record: Record) -> Mapping[str, Any]:
    who, n = record
    return {"who": who, "n": n}


SEEN_SIGNAL = SignalType(SEEN, shape)
OTHER_SIGNAL = SignalType(OTHER, lambda r: {"what": r[0]})


def collect(bus: InMemoryEventBus, name: str) -> list[Event]:
    got: list[Event] = []

    async def handler(event: Event) -> None:
        got.append(event)

    bus.subscribe(name, handler)
    return got


def test_a_signal_keeps_1000_records_and_counts_the_rest() -> None:
    signal = Signal(SEEN_SIGNAL)
    for n in range(RECORDS_MAX + 234):
        signal.add(("10.0.0.1", n))
    event = signal.take()
    assert event is not None and event.type == "tests.seen" and event.version == 1
    records = event.data["records"]
    assert len(records) == RECORDS_MAX == 1_000
    assert records[0] == {"who": "10.0.0.1", "n": 0}
    assert records[-1] == {"who": "10.0.0.1", "n": 999}  # the first ones, in order
    assert event.data["left_out"] == 234
    assert signal.lost == 234
    assert signal.take() is None  # taken: nothing new
    signal.add(("10.0.0.2", 1))
    again = signal.take()
    assert again is not None
    assert again.data == {"records": [{"who": "10.0.0.2", "n": 1}], "left_out": 0}


def test_records_added_past_the_bound_by_another_thread_are_cut_and_counted() -> None:
    signal = Signal(SEEN_SIGNAL, limit=3)
    signal.records.extend(("x", n) for n in range(5))  # as a racing thread could leave it
    event = signal.take()
    assert event is not None
    assert [r["n"] for r in event.data["records"]] == [0, 1, 2]
    assert event.data["left_out"] == 2


async def test_flush_publishes_one_event_per_type_through_the_wire_form() -> None:
    bus = InMemoryEventBus()
    seen, other = collect(bus, "tests.seen"), collect(bus, "tests.other")
    signals = Signals()
    signals.bus = bus
    a, b = signals.of(SEEN_SIGNAL), signals.of(OTHER_SIGNAL)
    assert signals.of(SEEN_SIGNAL) is a  # one signal per type name
    for n in range(3):
        a.add(("192.0.2.7", n))
    b.add(("x",))
    assert await signals.flush() == 2
    assert len(seen) == len(other) == 1
    assert seen[0].data == {
        "records": [{"who": "192.0.2.7", "n": n} for n in range(3)],
        "left_out": 0,
    }
    assert await signals.flush() == 0  # nothing new: no event
    assert (a.published, b.published) == (3, 1)


async def test_the_task_publishes_every_interval_and_what_is_left_at_stop() -> None:
    bus = InMemoryEventBus()
    seen = collect(bus, "tests.seen")
    signals = Signals(interval_s=0.05)
    signals.bus = bus
    signal = signals.of(SEEN_SIGNAL)
    await signals.start()
    try:
        signal.add(("a", 1))
        for _ in range(100):
            if seen:
                break
            await asyncio.sleep(0.02)
        assert [e.data["records"] for e in seen] == [[{"who": "a", "n": 1}]]
        signal.add(("b", 2))
    finally:
        await signals.stop()
    assert seen[-1].data["records"] == [{"who": "b", "n": 2}]


async def test_a_bus_that_fails_loses_the_records_counted_and_the_next_flush_goes_on(
    caplog: pytest.LogCaptureFixture,
) -> None:
    class Broken:
        async def publish(self, event: Event) -> None:
            raise ConnectionError("bus away")

        def subscribe(self, event_type: str, handler: Any) -> None:
            pass

    signals = Signals()
    signals.bus = Broken()
    signal = signals.of(SEEN_SIGNAL)
    signal.add(("a", 1))
    signal.add(("a", 2))
    assert await signals.flush() == 0
    assert (signal.lost, signal.published, signals.failed) == (2, 0, 1)
    assert "publishing tests.seen signals failed" in caplog.text
    bus = InMemoryEventBus()
    seen = collect(bus, "tests.seen")
    signals.bus = bus
    signal.add(("a", 3))
    assert await signals.flush() == 1 and len(seen) == 1


async def test_a_shape_that_fails_counts_its_batch_lost() -> None:
    def broken(record: Record) -> Mapping[str, Any]:
        raise ValueError("no shape")

    signals = Signals()
    signals.bus = InMemoryEventBus()
    signal = signals.of(SignalType(SEEN, broken))
    signal.add(("a", 1))
    assert await signals.flush() == 0
    assert signal.lost == 1 and signals.failed == 1


def test_metric_lines_name_each_type() -> None:
    class State:
        signals = Signals(limit=1)
        bus = InMemoryEventBus()

    signal = State.signals.of(SEEN_SIGNAL)
    signal.add(("a", 1))
    signal.add(("a", 2))
    signal.take()
    lines = metric_lines(State())
    assert 'indunet_signal_records_total{type="tests.seen",result="lost"} 1' in lines
    assert 'indunet_signal_records_total{type="tests.seen",result="published"} 0' in lines


def test_records_of_long_text_are_cut_by_bytes_and_counted() -> None:
    signal = Signal(SignalType(SEEN, lambda r: {"who": r[0], "n": r[1]}))
    long = "泵" * 2_000  # 6,000 bytes of UTF-8: a client chose it
    for n in range(RECORDS_MAX):
        signal.add((long, n))
    event = signal.take()
    assert event is not None
    kept = event.data["records"]
    assert 0 < len(kept) < RECORDS_MAX
    assert len(event.encode()) <= BYTES_MAX + 1024  # the envelope's own fields beside
    assert event.data["left_out"] == RECORDS_MAX - len(kept) == signal.lost
    assert [r["n"] for r in kept] == list(range(len(kept)))  # the first ones, in order
