"""The normalised event schema and the hub: checks, deduplication, back-pressure, drops."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import pytest

from indunet.core import InvalidInput
from indunet.security import Hub, HubFull, SecurityEvent, event_from_dict
from indunet.security.sensor import Transaction


def ev(i: int, source: str = "sensor") -> SecurityEvent:
    return SecurityEvent(ts=1_700_000_000 + i, source=source, kind="net.connection", id=f"e{i}")


def test_an_event_reads_back_from_its_own_dict() -> None:
    t = Transaction(
        ts=1.5,
        protocol="modbus",
        src_ip="10.0.0.9",
        src_port=50211,
        dst_ip="10.0.0.2",
        dst_port=502,
        function=5,
        function_name="write_single_coil",
        write=True,
        unit=1,
        address=7,
        count=1,
        values=[True],
        src_mac="00:1B:1B:AA:BB:CC".lower(),
    )
    e = t.to_event("span-1", enterprise_id=3)
    back = event_from_dict(e.to_dict())
    assert back == e
    assert back.fields == {
        "function": 5,
        "write": True,
        "unit": 1,
        "address": 7,
        "count": 1,
        "values": [True],
    }
    assert back.action == "write_single_coil" and back.outcome == "success"


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"source": "sensor", "kind": "x", "src_ip": "10.0.0.300"}, "src_ip"),
        ({"source": "sensor", "kind": "x", "dst_port": 70000}, "dst_port"),
        ({"source": "sensor", "kind": "x", "severity": 16}, "severity"),
        ({"source": "sensor", "kind": "x", "ts": "yesterday"}, "ts"),
        ({"source": "sensor", "kind": "x", "src_mac": "00:1b:1b"}, "src_mac"),
        ({"source": "nmap", "kind": "x"}, "source"),
        ({"source": "sensor"}, "kind"),
        ({"source": "sensor", "kind": "x", "fields": {"a": "b" * 20_000}}, "fields"),
        ({"source": "sensor", "kind": "x", "enterprise_id": "3"}, "enterprise_id"),
    ],
)
def test_a_wrong_field_is_named(data: dict[str, object], field: str) -> None:
    with pytest.raises(InvalidInput) as err:
        event_from_dict(data, where="event 4")
    assert err.value.reason == "security_event_value"
    assert err.value.params == {"where": "event 4", "field": field}
    assert err.value.message.startswith(f"event 4: {field} ")


def test_unknown_fields_and_non_objects_are_refused() -> None:
    with pytest.raises(InvalidInput, match="unknown field 'colour'"):
        event_from_dict({"source": "sensor", "kind": "x", "colour": "red"})
    with pytest.raises(InvalidInput, match="JSON object"):
        event_from_dict(["sensor"])


def test_a_long_message_is_cut_and_marked() -> None:
    e = event_from_dict({"source": "syslog", "kind": "x", "message": "m" * 5000})
    assert len(e.message) == 2000 and e.message.endswith("…")


class Handled:
    def __init__(self) -> None:
        self.events: list[SecurityEvent] = []
        self.gate = asyncio.Event()
        self.gate.set()

    async def __call__(self, batch: Sequence[SecurityEvent]) -> None:
        await self.gate.wait()
        self.events.extend(batch)


async def test_each_event_reaches_every_subscriber_once_in_order() -> None:
    hub = Hub()
    first, second = Handled(), Handled()
    hub.subscribe("first", first)
    hub.subscribe("second", second)
    await hub.start()
    try:
        r = await hub.submit([ev(i) for i in range(10)])
        assert (r.accepted, r.duplicates, r.dropped) == (10, 0, 0)
        again = await hub.submit([ev(i) for i in range(5, 15)])  # 5 seen before
        assert (again.accepted, again.duplicates) == (5, 5)
        await hub.drained()
        assert [e.id for e in first.events] == [f"e{i}" for i in range(15)]
        assert second.events == first.events
        assert hub.stats.duplicates == 5 and hub.stats.handled == 15
    finally:
        await hub.stop()


async def test_a_failing_subscriber_is_counted_and_the_others_go_on() -> None:
    hub = Hub()

    async def broken(_batch: Sequence[SecurityEvent]) -> None:
        raise RuntimeError("bug")

    good = Handled()
    hub.subscribe("broken", broken)
    hub.subscribe("good", good)
    await hub.start()
    try:
        await hub.submit([ev(1)])
        await hub.drained()
        await hub.submit([ev(2)])
        await hub.drained()
        assert [e.id for e in good.events] == ["e1", "e2"]
        assert hub.stats.handler_errors == {"broken": 2}
    finally:
        await hub.stop()


async def test_a_full_queue_pushes_back_then_refuses_whole_batches_and_drops_only_offers() -> None:
    hub = Hub(max_queued=10)
    slow = Handled()
    slow.gate.clear()  # the subscriber hangs: the queue fills
    hub.subscribe("slow", slow)
    await hub.start()
    try:
        await hub.submit([ev(i) for i in range(2)])  # taken by the subscriber, which hangs
        await asyncio.sleep(0.05)
        assert (await hub.submit([ev(i) for i in range(2, 10)])).accepted == 8
        with pytest.raises(HubFull) as err:
            await hub.submit([ev(i) for i in range(10, 15)], wait=0.1)
        assert err.value.status == 503 and err.value.headers() == {"Retry-After": "5"}
        assert hub.queued == 8  # nothing of the refused batch
        offered = hub.offer([ev(i) for i in range(10, 15)])
        assert (offered.accepted, offered.dropped) == (2, 3)
        assert hub.stats.dropped == 3
        # back-pressure: a sender that waits gets in once the subscriber moves
        waiting = asyncio.create_task(hub.submit([ev(i) for i in range(20, 25)], wait=5))
        await asyncio.sleep(0.05)
        assert not waiting.done()
        slow.gate.set()
        assert (await waiting).accepted == 5
        await hub.drained()
        assert len(slow.events) == 2 + 8 + 2 + 5
    finally:
        await hub.stop()


async def test_events_dropped_for_want_of_room_are_not_remembered() -> None:
    hub = Hub(max_queued=2)  # not started: nothing leaves the queue
    first = hub.offer([ev(1), ev(2), ev(3)])
    assert (first.accepted, first.dropped) == (2, 1)
    hub._queue.clear()  # the subscribers took them
    again = hub.offer([ev(3)])  # the dropped one, sent again, is no duplicate
    assert (again.accepted, again.duplicates) == (1, 0)


def test_ids_are_remembered_for_at_least_half_the_bound() -> None:
    hub = Hub(max_queued=1_000_000, seen_ids=100)
    hub.offer([ev(i) for i in range(150)])
    assert hub.offer([ev(i) for i in range(100, 150)]).duplicates == 50  # the newest 50+
    assert hub.offer([ev(0)]).duplicates == 0  # the oldest generation was forgotten


def test_twins_within_one_batch_and_a_full_generation_take_the_careful_path() -> None:
    hub = Hub(max_queued=1_000_000, seen_ids=20)
    r = hub.offer([ev(1), ev(2), ev(1), ev(3)])  # all new to the hub, but one twice
    assert (r.accepted, r.duplicates) == (3, 1)
    assert [e.id for e in hub._queue] == ["e1", "e2", "e3"]
    # a batch that would overfill the generation: the generation turns inside it
    r = hub.offer([ev(i) for i in range(10, 22)])
    assert (r.accepted, r.duplicates) == (12, 0)
    assert hub.offer([ev(21), ev(3)]).duplicates == 2  # both generations are remembered
    hub.offer([ev(i) for i in range(30, 40)])  # ten more: the one holding e3 goes
    assert hub.offer([ev(3)]).duplicates == 0


def test_the_gate_counts_twins_within_one_batch() -> None:
    from indunet.security.ingest.gate import Gate, SourceStats

    stats = SourceStats("s", "file", "eve")
    gate = Gate(stats)
    assert [e.id for e in gate.fresh([ev(1), ev(2), ev(1)])] == ["e1", "e2"]
    assert [e.id for e in gate.fresh([ev(3), ev(2)])] == ["e3"]
    assert [e.id for e in gate.fresh([ev(4), ev(5)])] == ["e4", "e5"]
    assert stats.duplicates == 2
