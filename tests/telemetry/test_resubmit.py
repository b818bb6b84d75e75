"""Retrying dead letters: one page of letters by filter, and re-submitting them after a fix
(stored and removed when they pass, a new reason when not, payloads and an earlier owner's
letters left alone, only for those who may change the device)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from indunet.core import InvalidInput, NotFound, PermissionDenied, Role, User
from indunet.devices import Device, ThingModel, parse_model
from indunet.telemetry import DeadLetters, DiskBuffer, MemoryStore, Pipeline, Sample
from indunet.telemetry.deadletters import LetterFilter
from indunet.telemetry.resubmit import MAX_RETRY, retry_letters, sample_of

NOW = int(datetime.now(UTC).timestamp() * 1000)
ADMIN = User(1, "root", Role.PLATFORM_ADMIN, None)
BOSS = User(2, "boss", Role.ENTERPRISE_ADMIN, 7)
CLERK = User(3, "clerk", Role.ENTERPRISE_USER, 7)
STRANGER = User(4, "eve", Role.ENTERPRISE_ADMIN, 8)


def model(*points: str, version: str = "1.0.0") -> ThingModel:
    props = {p: {"type": "number", "title": p} for p in points}
    doc = {
        "@context": ["https://www.w3.org/2022/wot/td/v1.1"],
        "@type": "tm:ThingModel",
        "indunet:modelId": "acme:press",
        "title": "Press",
        "version": {"model": version},
        "properties": props,
    }
    return parse_model(doc)


@dataclass
class Fleet:
    """Devices and their models, changeable as a fix would change them."""

    models: dict[str, ThingModel] = field(default_factory=dict)
    owners: dict[str, int] = field(default_factory=dict)

    def device(self, device_id: str) -> Device | None:
        if device_id not in self.owners:
            return None
        return Device(
            id=device_id,
            enterprise_id=self.owners[device_id],
            name=device_id,
            model_id="acme:press",
            model_version="1.0.0",
            protocol="http",
        )

    def model_of(self, device_id: str) -> ThingModel | None:
        return self.models.get(device_id) if device_id in self.owners else None


@pytest.fixture
async def world(engine: sa.Engine, tmp_path: Path) -> AsyncIterator[tuple[Pipeline, Fleet]]:
    fleet = Fleet({"press-1": model("force")}, {"press-1": 7})
    pipeline = Pipeline(
        MemoryStore(),
        fleet.model_of,
        DeadLetters(engine),
        DiskBuffer(tmp_path / "buffer.db", 1 << 20),
    )
    await pipeline.start()
    try:
        yield pipeline, fleet
    finally:
        await pipeline.stop()


async def letters_of(pipeline: Pipeline, device: str = "press-1") -> list[tuple[str, Any]]:
    page, _ = await asyncio.to_thread(
        pipeline.dead_letters.page, LetterFilter(device=device), limit=100
    )
    return sorted((x.reason, x.point) for x in page)


def set_owner(engine: sa.Engine, device: str, enterprise_id: int) -> None:
    with engine.begin() as conn:
        conn.execute(
            sa.text("UPDATE tel_dead_letters SET enterprise_id = :e WHERE device = :d"),
            {"e": enterprise_id, "d": device},
        )


async def run(fn: Any, *args: Any) -> Any:
    return await asyncio.to_thread(fn, *args)


async def test_letters_that_pass_after_a_fix_are_stored_and_removed(
    world: tuple[Pipeline, Fleet], engine: sa.Engine
) -> None:
    pipeline, fleet = world
    await pipeline.ingest(
        [Sample("press-1", "stroke", NOW - i, 1.0 + i) for i in range(3)]
        + [Sample("press-1", "force", NOW, "heavy")],
        source="http",
    )
    await pipeline.reject("press-1", source="mqtt", reason="not JSON", payload=b"{")
    set_owner(engine, "press-1", 7)  # no registry here: as the pipeline would have written
    fleet.models["press-1"] = model("force", "stroke", version="1.1.0")
    report = await retry_letters(pipeline, BOSS, fleet.device, device="press-1", run=run)
    assert (report.stored, report.failed, report.skipped) == (3, 1, 1)
    assert report.reasons == {"wrong_type": 1}
    assert await letters_of(pipeline) == [("undecodable", None), ("wrong_type", "force")]
    stored = pipeline.store.query("press-1", "stroke", 0, NOW + 1)
    assert [s.value for s in stored] == [3.0, 2.0, 1.0]
    again = await retry_letters(pipeline, BOSS, fleet.device, device="press-1", run=run)
    assert (again.stored, again.failed, again.skipped) == (0, 1, 1)  # idempotent


async def test_a_letter_that_fails_again_gets_its_new_reason(
    world: tuple[Pipeline, Fleet], engine: sa.Engine
) -> None:
    pipeline, fleet = world
    await pipeline.ingest([Sample("press-1", "stroke", NOW, 1.0)], source="http")
    set_owner(engine, "press-1", 7)
    fixed = model("force", "stroke", version="1.1.0")
    fleet.models["press-1"] = parse_model(
        fixed.document | {"properties": {"stroke": {"type": "boolean", "title": "s"}}}
    )
    (letter,), _ = pipeline.dead_letters.page(LetterFilter(device="press-1"))
    report = await retry_letters(pipeline, ADMIN, fleet.device, ids=[letter.id], run=run)
    assert (report.stored, report.failed) == (0, 1)
    (after,), _ = pipeline.dead_letters.page(LetterFilter(device="press-1"))
    assert (after.id, after.reason) == (letter.id, "wrong_type")
    assert "boolean" in after.detail


async def test_only_those_who_may_change_the_device_retry_and_no_tenant_reaches_another(
    world: tuple[Pipeline, Fleet], engine: sa.Engine
) -> None:
    pipeline, fleet = world
    await pipeline.ingest([Sample("press-1", "stroke", NOW, 1.0)], source="http")
    set_owner(engine, "press-1", 7)
    with pytest.raises(PermissionDenied):
        await retry_letters(pipeline, CLERK, fleet.device, device="press-1", run=run)
    with pytest.raises(NotFound):  # enterprise 8 sees no letter of enterprise 7
        await retry_letters(pipeline, STRANGER, fleet.device, device="press-1", run=run)
    with pytest.raises(InvalidInput):
        await retry_letters(pipeline, BOSS, fleet.device, run=run)
    with pytest.raises(InvalidInput):
        ids = list(range(MAX_RETRY + 1))
        await retry_letters(pipeline, BOSS, fleet.device, ids=ids, run=run)
    assert await letters_of(pipeline) == [("unknown_point", "stroke")]


async def test_an_earlier_owners_letter_is_never_written_into_the_new_owners_device(
    world: tuple[Pipeline, Fleet], engine: sa.Engine
) -> None:
    pipeline, fleet = world
    await pipeline.ingest([Sample("press-1", "stroke", NOW, 1.0)], source="http")
    set_owner(engine, "press-1", 8)  # written while enterprise 8 held the id
    fleet.models["press-1"] = model("force", "stroke", version="1.1.0")
    report = await retry_letters(pipeline, ADMIN, fleet.device, device="press-1", run=run)
    assert (report.stored, report.skipped) == (0, 1)
    assert pipeline.store.query("press-1", "stroke", 0, NOW + 1) == []


async def test_pages_filter_by_time_reason_and_escaped_search(
    world: tuple[Pipeline, Fleet],
) -> None:
    pipeline, _ = world
    await pipeline.ingest(
        [Sample("press-1", "str_oke", NOW, 1.0), Sample("press-1", "force", NOW, "x")],
        source="http",
    )
    dead = pipeline.dead_letters
    assert dead.page(LetterFilter(search="%str\\_oke%"))[1] == 1
    assert dead.page(LetterFilter(search="%str\\%oke%"))[1] == 0
    assert dead.page(LetterFilter(reason="wrong_type"))[1] == 1
    soon = datetime.now(UTC) + timedelta(minutes=1)
    assert dead.page(LetterFilter(since=soon))[1] == 0
    assert dead.page(LetterFilter(until=soon))[1] == 2
    items, total = dead.page(LetterFilter(), offset=1, limit=1)
    assert total == 2 and len(items) == 1


def test_a_payload_letter_holds_no_sample() -> None:
    from indunet.telemetry.deadletters import DeadLetter

    at = datetime.now(UTC)
    assert sample_of(DeadLetter(1, at, "d", None, "mqtt", "undecodable", "", "{")) is None
    assert sample_of(DeadLetter(1, at, "d", "p", "http", "wrong_type", "", "nope")) is None
    held = DeadLetter(1, at, "d", "p", "http", "x", "", '{"ts": 5, "value": 1.5, "quality": 1}')
    assert sample_of(held) == Sample("d", "p", 5, 1.5, 1)
