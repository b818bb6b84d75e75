"""Dead letters: group-committed, listed with filters, counted per reason, bounded."""

from __future__ import annotations

import asyncio

import sqlalchemy as sa

from indunet.telemetry import DeadLetters, Letter
from indunet.telemetry.deadletters import PAYLOAD_MAX


def letter(device: str | None, reason: str = "unknown_point", payload: str = "{}") -> Letter:
    return Letter(device, "temp", "mqtt", reason, f"{device} says no", payload)


async def test_letters_are_committed_when_record_returns(engine: sa.Engine) -> None:
    dead = DeadLetters(engine)
    await dead.record([letter("d1"), letter("d2", "wrong_type")])
    listed = dead.list()
    assert [x.device for x in listed] == ["d2", "d1"]  # newest first
    assert listed[1].to_dict()["reason"] == "unknown_point"
    assert dead.count() == 2
    assert dead.counts_by_reason() == {"unknown_point": 1, "wrong_type": 1}


async def test_concurrent_callers_share_transactions(engine: sa.Engine) -> None:
    dead = DeadLetters(engine)
    await asyncio.wait_for(
        asyncio.gather(*(dead.record([letter(f"d{i}")]) for i in range(300))), 20
    )
    assert dead.count() == 300
    assert dead.transactions < 60


async def test_filters_by_device_devices_reason_and_page(engine: sa.Engine) -> None:
    dead = DeadLetters(engine)
    await dead.record(
        [letter("a"), letter("b", "out_of_range"), letter("c"), letter(None, "undecodable")]
    )
    assert [x.device for x in dead.list(device="a")] == ["a"]
    assert {x.device for x in dead.list(devices={"a", "b"})} == {"a", "b"}
    assert [x.device for x in dead.list(reason="out_of_range")] == ["b"]
    assert dead.count(devices=["a", "c"]) == 2
    assert dead.counts_by_reason(devices=["b"]) == {"out_of_range": 1}
    first = dead.list(limit=2)
    more = dead.list(limit=2, before_id=first[-1].id)
    assert [x.device for x in first + more] == [None, "c", "b", "a"]


async def test_long_payloads_are_cut_to_4_kib(engine: sa.Engine) -> None:
    dead = DeadLetters(engine)
    await dead.record([letter("a", payload="x" * 100_000)])
    [got] = dead.list()
    assert len(got.payload) == PAYLOAD_MAX and got.payload.endswith("…")


async def test_only_the_newest_max_rows_are_kept(engine: sa.Engine) -> None:
    dead = DeadLetters(engine, max_rows=50)
    for k in range(12):
        await dead.record([letter(f"d{k}-{i}") for i in range(10)])
    assert 50 <= dead.count() <= 60
    assert dead.list(limit=1)[0].device == "d11-9"


async def test_one_devices_flood_keeps_the_other_devices_letters(engine: sa.Engine) -> None:
    dead = DeadLetters(engine, max_rows=1000, max_per_device=50)
    await dead.record([letter(f"quiet-{i}") for i in range(5)] + [letter(None, "undecodable")])
    for _ in range(30):
        await dead.record([letter("noisy") for _ in range(10)])
    assert 50 <= dead.count(device="noisy") <= 55  # its newest, pruned every tenth of the cap
    assert dead.count() - dead.count(device="noisy") == 6  # every other letter kept
    assert dead.list(limit=1)[0].device == "noisy"
