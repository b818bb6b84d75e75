"""NatsEventBus without a server: what it refuses, what it holds while NATS is away, and how
it delivers a message to handlers (the wire part runs in tests/integration)."""

from __future__ import annotations

import pytest

from indunet import bus
from indunet.bus.events import MAX_EVENT_BYTES, subject_token
from indunet.core import Event, EventType, InMemoryEventBus, InvalidInput

PING = EventType("test.ping", 1, "tests", "a test event")


def offline() -> bus.Backbone:
    """A backbone that never connected (no server is asked)."""
    return bus.Backbone(["nats://127.0.0.1:1"], bus.Names("toffline", 2))


@pytest.mark.parametrize("good", ["alarm.raised", "device.status", "bulk.finished", "a.b-c.d_e"])
def test_event_types_that_fit_a_subject_pass(good: str) -> None:
    assert subject_token(good) == good


@pytest.mark.parametrize("bad", ["", "Alarm", "alarm.*", "alarm.>", "a b", "a..b", ".a", "a." * 20])
def test_event_types_that_do_not_fit_a_subject_are_refused(bad: str) -> None:
    with pytest.raises(InvalidInput, match="event type"):
        subject_token(bad)


async def test_events_wait_in_a_bounded_outbox_while_nats_is_away() -> None:
    events = bus.NatsEventBus(offline(), outbox=3)
    sent = [PING.make({"n": i}) for i in range(5)]
    for e in sent:
        await events.publish(e)  # never raises for an unreachable backbone
    assert [eid for _, _, eid in events._outbox] == [e.id for e in sent[2:]]
    assert (events.held, events.dropped, events.published) == (5, 2, 0)
    assert events._outbox[0][0] == "toffline.evt.test.ping"


async def test_an_event_too_large_or_of_a_bad_type_is_refused_at_publish() -> None:
    events = bus.NatsEventBus(offline())
    with pytest.raises(InvalidInput, match="at most"):
        await events.publish(PING.make({"blob": "x" * MAX_EVENT_BYTES}))
    with pytest.raises(InvalidInput, match="event type"):
        await events.publish(Event("no such>type", 1, "t", {}))
    with pytest.raises(InvalidInput, match="event type"):
        events.subscribe("alarm.*", _ignore)
    assert events.held == 0


async def _ignore(_event: Event) -> None:
    return None


async def test_a_failing_handler_is_counted_and_the_others_still_run() -> None:
    events = bus.NatsEventBus(offline())
    got: list[int] = []

    async def broken(_e: Event) -> None:
        raise RuntimeError("boom")

    async def fine(e: Event) -> None:
        got.append(e.data["n"])

    events.subscribe("test.ping", broken)
    events.subscribe("test.ping", fine)
    await events.deliver(PING.make({"n": 1}).encode())
    await events.deliver(b"{not json")
    await events.deliver(b'{"envelope": "indunet.event/1", "id": 3}')
    await events.deliver(PING.make({"n": 2}).encode())
    assert got == [1, 2]
    assert (events.errors, events.undecodable, events.delivered) == (2, 2, 2)


async def test_events_handled_elsewhere_are_published_but_never_handled_here() -> None:
    inner = InMemoryEventBus()
    seen: list[Event] = []

    async def record(e: Event) -> None:
        seen.append(e)

    inner.subscribe("test.ping", record)
    elsewhere = bus.HandledElsewhere(inner)
    called: list[Event] = []

    async def never(e: Event) -> None:
        called.append(e)

    elsewhere.subscribe("test.ping", never)
    await elsewhere.publish(PING.make({"n": 1}))
    assert [e.data for e in seen] == [{"n": 1}] and called == []


def test_a_durable_name_must_fit_a_consumer_name() -> None:
    with pytest.raises(ValueError, match="durable"):
        bus.NatsEventBus(offline(), durable="no.dots")
