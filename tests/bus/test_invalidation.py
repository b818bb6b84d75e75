"""Cache invalidation without a server: which messages a process takes, and what the
identifier resolver forgets when another process wrote (the wire part runs in
tests/integration/test_bus_crossprocess.py)."""

from __future__ import annotations

from typing import Any

import orjson
import pytest
from nats.aio.msg import Msg

from indunet import bus
from indunet.bus.invalidation import MAX_KEYS
from indunet.web import AppState


def offline() -> bus.Backbone:
    return bus.Backbone(["nats://127.0.0.1:1"], bus.Names("toffline", 2))


def message(kind: str, doc: Any) -> Msg:
    raw = doc if isinstance(doc, bytes) else orjson.dumps(doc)
    return Msg(_client=None, subject=f"toffline.inval.{kind}", data=raw)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "raw",
    [b"", b"nope", b"[]", b'{"keys": "a"}', b'{"origin": "x", "keys": [1, ""]}', b"{" * 600_000],
)
def test_an_unreadable_message_is_ignored_and_counted(raw: bytes) -> None:
    inval = bus.Invalidation(offline(), origin="here")
    assert inval.keys_of(raw) is None
    assert inval.ignored == 1


def test_a_process_ignores_its_own_messages_and_takes_at_most_max_keys() -> None:
    inval = bus.Invalidation(offline(), origin="here")
    assert inval.keys_of(orjson.dumps({"origin": "here", "keys": ["a"]})) is None
    keys = [f"k{i}" for i in range(MAX_KEYS + 5)] + [7, "x" * 600]
    assert inval.keys_of(orjson.dumps({"origin": "there", "keys": keys})) == keys[:MAX_KEYS]
    assert inval.ignored == 0


def test_telling_before_start_is_a_no_op() -> None:
    inval = bus.Invalidation(offline())
    inval.tell("devices", ["press-1"])
    assert inval._pending == {}


async def test_a_record_written_elsewhere_is_dropped_from_this_resolver(state: AppState) -> None:
    resolver, front = state.hierarchy.resolver, state.hierarchy.front
    assert resolver is not None
    inval = bus.Invalidation(offline(), origin="here")
    bus.share_resolver(inval, resolver, list(state.hierarchy.nodes.values()))
    answer = await front.resolve("0.NA/88", recurse=True)  # held by the root: cached
    assert answer.rc == 1 and resolver.cached_body("0.NA/88") is not None
    await front.resolve("88/NOPE", recurse=True)  # the root refers 88 to its node: kept
    assert resolver.referrals.get("88") is not None
    others: list[list[str]] = []

    async def other(keys: list[str]) -> None:
        others.append(keys)

    inval.on("devices", other)
    await inval._receive(message("ids", {"origin": "here", "keys": ["0.NA/88"]}))
    assert resolver.cached_body("0.NA/88") is not None  # this process's own message
    await inval._receive(message("ids", {"origin": "there", "keys": ["0.NA/88"]}))
    assert resolver.cached_body("0.NA/88") is None
    assert resolver.referrals.get("88") is None  # a prefix record: its referral too
    assert others == [] and inval.received == 1
    await inval._receive(message("devices", {"origin": "there", "keys": ["press-1"]}))
    assert others == [["press-1"]]


async def test_a_local_write_is_told_to_the_others(state: AppState) -> None:
    """The resolver's forget (every write on a node of this process) reaches ``tell``;
    without a connection the message is lost and counted (the TTL bounds staleness)."""
    resolver = state.hierarchy.resolver
    assert resolver is not None
    inval = bus.Invalidation(offline(), origin="here")
    bus.share_resolver(inval, resolver, list(state.hierarchy.nodes.values()))
    await inval.start()
    try:
        resolver.forget("88/PUMP-1")
        assert inval._pending["ids"] == {"88/PUMP-1"}
        assert inval._flushing is not None
        await inval._flushing
        assert (inval.sent, inval.failures) == (0, 1)
    finally:
        await inval.stop()
