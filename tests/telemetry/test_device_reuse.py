"""A deleted device's id registered again by another enterprise shows none of the old data.

Enterprise A registers device ``x-1``, stores samples, commands it, gets a dead letter, a
rule and an alarm for it, and deletes it. Enterprise B registers ``x-1``: every route B can
read it through answers as for a brand-new device. A purge that failed keeps the id from
being registered at all, and reads of commands and dead letters are scoped by enterprise even
when rows were left behind.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime

import httpx
import pytest
from tests.conftest import USCC_B, bearer

from indunet import core, ids, telemetry
from indunet.core import Role
from indunet.telemetry import (
    Commands,
    DeadLetters,
    DiskBuffer,
    MemorySender,
    MemoryStore,
    Pipeline,
    Severity,
)
from indunet.web import AppState, create_app

NOW = int(time.time() * 1000)
DEVICE = {"id": "x-1", "name": "X", "model": "indunet:cnc-machine", "protocol": "http"}


@dataclass
class Tenants:
    client: httpx.AsyncClient
    state: AppState
    store: MemoryStore
    a: dict[str, str]  # admin of enterprise A
    b: dict[str, str]  # admin of enterprise B
    a_id: int
    b_id: int


@pytest.fixture
async def tenants(
    state: AppState, allocation: ids.Allocation, enterprise: core.Enterprise
) -> AsyncIterator[Tenants]:
    platform = state.platform
    assert platform is not None
    with state.engine.begin() as conn:
        other = core.create_enterprise(conn, uscc=USCC_B, name="乙", actor="test", verified=True)
    ids.allocate(state.hierarchy.front, "88.100.2", other, actor="test", secret="another-secret")
    store = MemoryStore()
    pipeline = Pipeline(
        store,
        platform.devices.model_of,
        DeadLetters(state.engine),
        DiskBuffer(state.settings.data_dir / "test-buffer.db", 1 << 24),
    )
    platform.store, platform.pipeline = store, pipeline
    platform.purger = telemetry.Purger(state.engine, store, platform.devices, state.bus)
    platform.commands = Commands(state.engine, MemorySender(), platform.devices)
    await pipeline.start()
    transport = httpx.ASGITransport(app=create_app(state))
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
            yield Tenants(
                c,
                state,
                store,
                bearer(state.engine, "a-admin", Role.ENTERPRISE_ADMIN, enterprise.id),
                bearer(state.engine, "b-admin", Role.ENTERPRISE_ADMIN, other.id),
                enterprise.id,
                other.id,
            )
    finally:
        await pipeline.stop()


async def _a_uses_x(t: Tenants) -> None:
    """Enterprise A registers x-1 and leaves samples, a command, a dead letter, a rule and an
    alarm under its id."""
    made = await t.client.post("/api/v1/devices", json=DEVICE, headers=t.a)
    assert made.status_code == 201, made.text
    body = {
        "samples": [
            {"device": "x-1", "point": "spindle_speed", "ts": NOW - 1000, "value": 1200},
            {"device": "x-1", "point": "no_such_point", "ts": NOW, "value": 1},
        ]
    }
    posted = await t.client.post("/api/v1/telemetry", json=body, headers=t.a)
    assert posted.json()["accepted"] == 1 and posted.json()["dead_lettered"] == 1
    cmd = await t.client.post(
        "/api/v1/devices/x-1/commands", json={"point": "feed_override", "value": 90}, headers=t.a
    )
    assert cmd.status_code == 200, cmd.text
    rule = await t.client.post(
        "/api/v1/rules",
        json={"name": "hot", "device_id": "x-1", "condition": "bearing_temp > 80"},
        headers=t.a,
    )
    assert rule.status_code == 201, rule.text
    platform = t.state.platform
    assert platform is not None
    await platform.alarms.raise_alarm(
        rule_id=rule.json()["id"],
        rule_name="hot",
        enterprise_id=t.a_id,
        device_id="x-1",
        severity=Severity.parse("major"),
        message="hot",
        value={"bearing_temp": 99},
        at=datetime.now(UTC),
    )
    seen = await t.client.get("/api/v1/devices/x-1/latest", headers=t.a)
    assert seen.json()["points"], "A reads its own samples"


async def _b_sees_nothing_of_a(t: Tenants) -> None:
    c, b = t.client, t.b
    latest = await c.get("/api/v1/devices/x-1/latest", headers=b)
    assert latest.status_code == 200 and latest.json()["points"] == {}
    samples = await c.get(
        f"/api/v1/devices/x-1/points/spindle_speed/samples?start={NOW - 60_000}", headers=b
    )
    assert samples.status_code == 200 and samples.json()["samples"] == []
    down = await c.get(
        f"/api/v1/devices/x-1/points/spindle_speed/downsample?start={NOW - 60_000}", headers=b
    )
    assert down.status_code == 200 and down.json()["buckets"] == []
    export = await c.get(
        f"/api/v1/devices/x-1/export?points=spindle_speed&start={NOW - 60_000}", headers=b
    )
    assert export.status_code == 200 and export.text.count("\n") == 1  # the header only
    commands = await c.get("/api/v1/devices/x-1/commands", headers=b)
    assert commands.status_code == 200 and commands.json() == []
    letters = await c.get("/api/v1/telemetry/dead-letters?device=x-1", headers=b)
    assert letters.status_code == 200
    assert (letters.json()["items"], letters.json()["total"]) == ([], 0)
    all_letters = await c.get("/api/v1/telemetry/dead-letters", headers=b)
    assert all_letters.json()["total"] == 0
    alarms = await c.get("/api/v1/alarms?device_id=x-1", headers=b)
    assert alarms.status_code == 200 and alarms.json() == []
    rules = await c.get("/api/v1/rules", headers=b)
    assert rules.status_code == 200 and rules.json() == []


async def test_a_reused_device_id_shows_nothing_of_the_previous_owner(t: Tenants) -> None:
    await _a_uses_x(t)
    platform = t.state.platform
    assert platform is not None
    platform.rules._active.add((999, "x-1"))  # as if a model rule's alarm were active on x-1
    gone = await t.client.delete("/api/v1/devices/x-1", headers=t.a)
    assert gone.status_code == 204, gone.text
    assert t.store.latest("x-1") == {}  # purged, not merely hidden
    own_rules = await t.client.get("/api/v1/rules", headers=t.a)
    assert own_rules.json() == []  # the rule engine dropped it on device.purged, not at restart
    assert all(key[1] != "x-1" for key in platform.rules._active)  # a new x-1 alarms afresh
    made = await t.client.post("/api/v1/devices", json=DEVICE, headers=t.b)
    assert made.status_code == 201, made.text
    await _b_sees_nothing_of_a(t)


class _FailingStore(MemoryStore):
    def delete_device(self, device: str) -> int:
        raise OSError("disk I/O error")


async def test_a_failed_purge_keeps_the_id_until_it_is_done(t: Tenants) -> None:
    await _a_uses_x(t)
    platform = t.state.platform
    assert platform is not None
    kept = t.store
    failing = _FailingStore()
    platform.store = failing
    platform.purger = telemetry.Purger(t.state.engine, failing, platform.devices, t.state.bus)
    gone = await t.client.delete("/api/v1/devices/x-1", headers=t.a)
    assert gone.status_code == 204, gone.text  # the device is gone; its purge waits
    refused = await t.client.post("/api/v1/devices", json=DEVICE, headers=t.b)
    assert refused.status_code == 409 and "still being purged" in refused.json()["message"]
    platform.store = kept
    purged = await telemetry.Purger(t.state.engine, kept, platform.devices).purge_pending()
    assert [p.device_id for p in purged] == ["x-1"] and purged[0].samples == 1
    made = await t.client.post("/api/v1/devices", json=DEVICE, headers=t.b)
    assert made.status_code == 201, made.text
    await _b_sees_nothing_of_a(t)


async def test_reads_are_scoped_by_enterprise_even_when_rows_are_left_behind(
    t: Tenants,
) -> None:
    """The purge of commands and dead letters skipped entirely: B still sees none of them."""
    await _a_uses_x(t)
    platform = t.state.platform
    assert platform is not None
    platform.devices.delete("x-1", actor="test")
    platform.devices.purge_done("x-1")  # as if the purge had run but missed these tables
    made = await t.client.post("/api/v1/devices", json=DEVICE, headers=t.b)
    assert made.status_code == 201, made.text
    t.store.delete_device("x-1")  # samples have no enterprise: only the purge protects them
    await _b_sees_nothing_of_a(t)
    # A's rows are still there for an overseer, under A's enterprise
    admin = bearer(t.state.engine, "root", Role.PLATFORM_ADMIN)
    letters = await t.client.get("/api/v1/telemetry/dead-letters?device=x-1", headers=admin)
    assert [x["enterprise_id"] for x in letters.json()["items"]] == [t.a_id]


@pytest.fixture
def t(tenants: Tenants) -> Tenants:
    return tenants


async def test_a_purge_waits_until_the_pipeline_has_stored_what_it_accepted(t: Tenants) -> None:
    """Samples accepted before the delete but not yet stored (queued, or in the disk buffer
    while the store is down) would land after the purge and show to the id's next owner."""
    await _a_uses_x(t)
    platform = t.state.platform
    assert platform is not None
    busy = [True]
    platform.purger = telemetry.Purger(
        t.state.engine, t.store, platform.devices, t.state.bus, settled=lambda: not busy[0]
    )
    gone = await t.client.delete("/api/v1/devices/x-1", headers=t.a)
    assert gone.status_code == 204
    assert t.store.latest("x-1") != {}  # not purged while the pipeline holds samples
    refused = await t.client.post("/api/v1/devices", json=DEVICE, headers=t.b)
    assert refused.status_code == 409 and "still being purged" in refused.json()["message"]
    busy[0] = False
    assert [p.device_id for p in await platform.purger.purge_pending()] == ["x-1"]
    made = await t.client.post("/api/v1/devices", json=DEVICE, headers=t.b)
    assert made.status_code == 201, made.text
    await _b_sees_nothing_of_a(t)


def test_the_pipeline_is_settled_only_with_nothing_queued_or_buffered(t: Tenants) -> None:
    pipeline = t.state.platform.pipeline if t.state.platform else None
    assert pipeline is not None and pipeline.settled()
