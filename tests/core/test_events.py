"""Events: the envelope round-trips and refuses what is not one; the in-process bus delivers
in order, through the wire form, and survives failing handlers (logged)."""

from __future__ import annotations

import logging

import pytest

from indunet import core
from indunet.core import Event, EventType, InvalidInput

PING = EventType("ping.sent", 2, "tests", "a test event")


async def test_subscribers_get_events_of_their_type_in_order() -> None:
    bus = core.InMemoryEventBus()
    got: list[tuple[str, str, int]] = []

    async def first(event: Event) -> None:
        got.append(("first", event.type, event.data["n"]))

    async def second(event: Event) -> None:
        got.append(("second", event.type, event.data["n"]))

    bus.subscribe("ping.sent", first)
    bus.subscribe("ping.sent", second)
    await bus.publish(PING.make({"n": 1}))
    await bus.publish(EventType("other", 1, "tests", "").make({"n": 2}))
    await bus.publish(PING.make({"n": 3}))
    assert got == [
        ("first", "ping.sent", 1),
        ("second", "ping.sent", 1),
        ("first", "ping.sent", 3),
        ("second", "ping.sent", 3),
    ]


async def test_handlers_get_the_envelope_as_it_crossed_the_wire() -> None:
    bus = core.InMemoryEventBus()
    got: list[Event] = []

    async def keep(event: Event) -> None:
        got.append(event)

    bus.subscribe("ping.sent", keep)
    sent = PING.make({"n": 1, "tags": ("a", "b")}, enterprise_id=7)
    await bus.publish(sent)
    (received,) = got
    assert received is not sent
    assert received.data == {"n": 1, "tags": ["a", "b"]}  # as JSON carries it
    assert (received.id, received.type, received.version, received.source) == (
        sent.id,
        "ping.sent",
        2,
        "tests",
    )
    assert received.enterprise_id == 7 and received.time_ms == sent.time_ms


async def test_an_event_that_cannot_leave_the_process_fails_at_publish() -> None:
    bus = core.InMemoryEventBus()
    with pytest.raises(TypeError):
        await bus.publish(PING.make({"when": object()}))
    assert bus.published == 0


def test_event_ids_are_unique_and_the_envelope_round_trips() -> None:
    a, b = PING.make({}), PING.make({})
    assert a.id != b.id and len(a.id) == 32
    assert Event.decode(a.encode()) == a


@pytest.mark.parametrize(
    ("raw", "problem"),
    [
        (b"not json", "JSON object"),
        (b"[]", "not an event envelope"),
        (b'{"envelope": "other/9"}', "not an event envelope"),
        (
            b'{"envelope": "indunet.event/1", "id": "x", "type": "t", "version": true,'
            b' "source": "s", "time_ms": 1, "data": {}}',
            "'version' must be a int",
        ),
        (
            b'{"envelope": "indunet.event/1", "id": "x", "type": "t", "version": 1,'
            b' "source": "s", "time_ms": 1, "enterprise_id": "7", "data": {}}',
            "enterprise_id",
        ),
        (
            b'{"envelope": "indunet.event/1", "id": "x", "type": "t", "version": 1,'
            b' "source": "s", "time_ms": 1, "data": []}',
            "'data' must be an object",
        ),
    ],
)
def test_what_is_not_an_envelope_is_refused_by_name(raw: bytes, problem: str) -> None:
    with pytest.raises(InvalidInput, match=problem):
        Event.decode(raw)


async def test_a_failing_handler_is_logged_and_does_not_stop_the_others(
    caplog: pytest.LogCaptureFixture,
) -> None:
    bus = core.InMemoryEventBus()
    got: list[int] = []

    async def broken(event: Event) -> None:
        raise ValueError("boom")

    async def fine(event: Event) -> None:
        got.append(event.data["n"])

    bus.subscribe("ping.sent", broken)
    bus.subscribe("ping.sent", fine)
    with caplog.at_level(logging.ERROR, logger="indunet.core.events"):
        await bus.publish(PING.make({"n": 1}))
    assert got == [1]
    assert bus.errors == 1
    assert "a handler of ping.sent event" in caplog.text and "boom" in caplog.text
