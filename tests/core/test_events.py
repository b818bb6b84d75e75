"""The in-process event bus delivers in order and survives failing handlers."""

from __future__ import annotations

from typing import Any

from indunet import core


async def test_subscribers_get_events_of_their_topic_in_order() -> None:
    bus = core.InMemoryEventBus()
    got: list[tuple[str, str, Any]] = []

    async def first(topic: str, event: dict[str, Any]) -> None:
        got.append(("first", topic, event["n"]))

    async def second(topic: str, event: dict[str, Any]) -> None:
        got.append(("second", topic, event["n"]))

    bus.subscribe("alarm", first)
    bus.subscribe("alarm", second)
    await bus.publish("alarm", {"n": 1})
    await bus.publish("other", {"n": 2})
    await bus.publish("alarm", {"n": 3})
    assert got == [
        ("first", "alarm", 1),
        ("second", "alarm", 1),
        ("first", "alarm", 3),
        ("second", "alarm", 3),
    ]


async def test_a_failing_handler_does_not_stop_the_others() -> None:
    bus = core.InMemoryEventBus()
    got: list[int] = []

    async def broken(topic: str, event: dict[str, Any]) -> None:
        raise ValueError("boom")

    async def fine(topic: str, event: dict[str, Any]) -> None:
        got.append(event["n"])

    bus.subscribe("t", broken)
    bus.subscribe("t", fine)
    await bus.publish("t", {"n": 1})
    assert got == [1]
    assert bus.errors == 1
