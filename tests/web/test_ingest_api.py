"""POST /api/v1/telemetry and the dead-letter, stats and retention routes, in-process."""

from __future__ import annotations

import gzip
import time
from collections.abc import AsyncIterator, Sequence
from typing import Any, ClassVar

import httpx
import orjson
import pytest
from tests.conftest import USCC_B, bearer

from indunet import core, ids, telemetry
from indunet.connect.events import AUTH_FAILURES, UNKNOWN_DEVICES
from indunet.telemetry import DeadLetters, DiskBuffer, MemoryStore, Pipeline, Sample
from indunet.web import AppState, create_app

NOW = int(time.time() * 1000)


class DownStore(MemoryStore):
    """A store that refuses every write (its disk is gone, say)."""

    def write_batch(self, samples: Sequence[Sample]) -> None:
        raise OSError("disk I/O error")


def start_pipeline(
    state: AppState, store: telemetry.TimeSeriesStore, max_bytes: int = 1 << 24
) -> Pipeline:
    platform = state.platform
    assert platform is not None
    pipeline = Pipeline(
        store,
        platform.devices.model_of,
        DeadLetters(state.engine),
        DiskBuffer(state.settings.data_dir / "test-buffer.db", max_bytes),
        retry_base=0.01,
        retry_cap=0.05,
    )
    platform.store, platform.pipeline = store, pipeline
    return pipeline


class World:
    """Two enterprises with one device each; users are made (one scrypt hash each) when asked."""

    ROLES: ClassVar[dict[str, tuple[str, core.Role, str | None]]] = {
        "admin": ("root", core.Role.PLATFORM_ADMIN, None),
        "user": ("alice", core.Role.ENTERPRISE_USER, "mine"),
        "boss": ("bob", core.Role.ENTERPRISE_ADMIN, "mine"),
        "stranger": ("eve", core.Role.ENTERPRISE_ADMIN, "other"),
        "regulator": ("rita", core.Role.REGULATOR, None),
    }

    def __init__(
        self, state: AppState, mine: core.Enterprise, other: core.Enterprise, secret: str
    ) -> None:
        self.state, self.secret = state, secret
        self.enterprises = {"mine": mine.id, "other": other.id}
        self.made: dict[str, dict[str, str]] = {
            "device": {"Authorization": f"Device env-0001:{secret}"}
        }

    def __getitem__(self, who: str) -> dict[str, str]:
        if who not in self.made:
            username, role, ent = self.ROLES[who]
            self.made[who] = bearer(
                self.state.engine, username, role, self.enterprises.get(ent or "")
            )
        return self.made[who]


@pytest.fixture
def world(state: AppState, allocation: ids.Allocation, enterprise: core.Enterprise) -> World:
    platform = state.platform
    assert platform is not None
    with state.engine.begin() as conn:
        other = core.create_enterprise(
            conn, uscc=USCC_B, name="另一家企业", actor="test", verified=True
        )
    ids.allocate(
        state.hierarchy.front, "88.100.2", other, actor="test", secret="another-secret-key"
    )
    _, secret = platform.devices.create(
        enterprise.id,
        {"id": "env-0001", "name": "车间温湿度", "model": "indunet:env-sensor"},
        actor="test",
    )
    platform.devices.create(
        other.id, {"id": "env-9001", "name": "x", "model": "indunet:env-sensor"}, actor="test"
    )
    return World(state, enterprise, other, secret)


@pytest.fixture
async def store(state: AppState, world: World) -> AsyncIterator[MemoryStore]:
    store = MemoryStore()
    pipeline = start_pipeline(state, store)
    await pipeline.start()
    yield store
    await pipeline.stop()


@pytest.fixture
async def client(state: AppState) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=create_app(state))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
        yield c


def rows(*samples: tuple[str, str, Any]) -> dict[str, Any]:
    return {
        "samples": [
            {"device": d, "point": p, "ts": NOW - i, "value": v}
            for i, (d, p, v) in enumerate(samples)
        ]
    }


async def test_rows_are_stored_before_the_200(
    client: httpx.AsyncClient, store: MemoryStore, world: World
) -> None:
    resp = await client.post(
        "/api/v1/telemetry",
        json=rows(("env-0001", "temperature", 21.5), ("env-0001", "humidity", 40)),
        headers=world["user"],
    )
    assert resp.status_code == 200, resp.text
    assert resp.json() == {"accepted": 2, "dead_lettered": 0, "errors": []}
    latest = store.latest("env-0001")
    assert latest["temperature"].value == 21.5 and latest["humidity"].value == 40


async def test_a_device_posts_columns_with_its_secret(
    client: httpx.AsyncClient, store: MemoryStore, world: World
) -> None:
    body = {
        "device": "env-0001",
        "ts": [NOW - 2000, NOW - 1000, NOW],
        "points": {"temperature": [20.1, 20.2, None], "pm25": [12, 13, 14]},
    }
    resp = await client.post(
        "/api/v1/telemetry", content=orjson.dumps(body), headers=world["device"]
    )
    assert resp.status_code == 200, resp.text
    assert resp.json()["accepted"] == 5
    assert [s.value for s in store.query("env-0001", "pm25", 0, NOW + 1)] == [12, 13, 14]


async def test_gzip_bodies_are_accepted(
    client: httpx.AsyncClient, store: MemoryStore, world: World
) -> None:
    raw = orjson.dumps({"device": "env-0001", "ts": [NOW], "points": {"noise": [55.0]}})
    resp = await client.post(
        "/api/v1/telemetry",
        content=gzip.compress(raw),
        headers={**world["device"], "Content-Encoding": "gzip"},
    )
    assert resp.status_code == 200, resp.text
    assert store.latest("env-0001")["noise"].value == 55.0


async def test_bad_samples_are_dead_lettered_and_listed(
    client: httpx.AsyncClient, store: MemoryStore, world: World
) -> None:
    resp = await client.post(
        "/api/v1/telemetry",
        json=rows(
            ("env-0001", "temperature", 21.0),
            ("env-0001", "temperature", 500.0),
            ("env-0001", "colour", "red"),
            ("env-0001", "humidity", "wet"),
            ("ghost-1", "temperature", 1.0),
        ),
        headers=world["admin"],
    )
    assert resp.status_code == 200, resp.text
    out = resp.json()
    assert (out["accepted"], out["dead_lettered"]) == (1, 4)
    assert [e.split(":")[0] for e in out["errors"]] == [
        "out_of_range",
        "unknown_point",
        "wrong_type",
        "unknown_device",
    ]
    listed = (await client.get("/api/v1/telemetry/dead-letters", headers=world["admin"])).json()
    assert listed["total"] == 4
    assert listed["by_reason"] == {
        "out_of_range": 1,
        "unknown_point": 1,
        "wrong_type": 1,
        "unknown_device": 1,
    }
    assert {x["source"] for x in listed["items"]} == {"http"}
    only = await client.get(
        "/api/v1/telemetry/dead-letters", params={"reason": "wrong_type"}, headers=world["admin"]
    )
    assert [x["point"] for x in only.json()["items"]] == ["humidity"]
    # an enterprise user sees the letters of their own devices only
    mine = (await client.get("/api/v1/telemetry/dead-letters", headers=world["user"])).json()
    assert mine["total"] == 3 and {x["device"] for x in mine["items"]} == {"env-0001"}
    hidden = await client.get(
        "/api/v1/telemetry/dead-letters", params={"device": "env-9001"}, headers=world["user"]
    )
    assert hidden.status_code == 404


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b'{"samples": [', "not JSON"),
        (
            b'{"samples": [{"device": 1, "point": "p", "value": 1}]}',
            "samples[0].device must be a string",
        ),
        (
            b'{"device": "env-0001", "ts": [1, 2], "points": {"noise": [1]}}',
            "points.noise must be an array of 2",
        ),
        (b"[1, 2]", "[0] must be an object"),
    ],
)
async def test_unreadable_bodies_are_400_and_kept_as_dead_letters(
    client: httpx.AsyncClient, store: MemoryStore, world: World, content: bytes, message: str
) -> None:
    resp = await client.post("/api/v1/telemetry", content=content, headers=world["device"])
    assert resp.status_code == 400
    assert resp.json()["code"] == "payload_invalid" and message in resp.json()["message"]
    [letter] = (await client.get("/api/v1/telemetry/dead-letters", headers=world["admin"])).json()[
        "items"
    ]
    assert letter["reason"] == "undecodable" and letter["device"] == "env-0001"
    assert letter["payload"] == content.decode() and message in letter["detail"]
    assert not store.latest("env-0001")


async def test_who_may_write(client: httpx.AsyncClient, store: MemoryStore, world: World) -> None:
    body = rows(("env-9001", "temperature", 20.0))
    assert (await client.post("/api/v1/telemetry", json=body)).status_code == 401
    assert (
        await client.post("/api/v1/telemetry", json=body, headers=world["regulator"])
    ).status_code == 403
    denied = await client.post("/api/v1/telemetry", json=body, headers=world["user"])
    assert denied.status_code == 404 and "env-9001" in denied.json()["message"]
    mixed = rows(("env-0001", "temperature", 20.0), ("env-9001", "temperature", 20.0))
    assert (
        await client.post("/api/v1/telemetry", json=mixed, headers=world["device"])
    ).status_code == 403
    wrong = {"Authorization": "Device env-0001:not-the-secret"}
    assert (await client.post("/api/v1/telemetry", json=mixed, headers=wrong)).status_code == 401
    assert not store.latest("env-0001") and not store.latest("env-9001")  # nothing stored
    ok = await client.post("/api/v1/telemetry", json=body, headers=world["stranger"])
    assert ok.status_code == 200 and store.latest("env-9001")["temperature"].value == 20.0


async def test_a_full_buffer_answers_503_with_retry_after(
    client: httpx.AsyncClient, state: AppState, world: World
) -> None:
    pipeline = start_pipeline(state, DownStore(), max_bytes=1024)
    await pipeline.start()
    try:
        body = {
            "device": "env-0001",
            "ts": list(range(NOW - 500, NOW)),
            "points": {"humidity": [50.0] * 500},
        }
        resp = await client.post("/api/v1/telemetry", json=body, headers=world["device"])
        assert resp.status_code == 503
        assert resp.headers["retry-after"] == "5"
        assert resp.json()["code"] == "ingest_overloaded"
        stats = (await client.get("/api/v1/telemetry/stats", headers=world["admin"])).json()
        assert stats["overloaded"] == 1 and stats["stored"] == 0
    finally:
        await pipeline.stop()


async def test_stats_are_for_overseers(
    client: httpx.AsyncClient, store: MemoryStore, world: World
) -> None:
    await client.post(
        "/api/v1/telemetry", json=rows(("env-0001", "noise", 50.0)), headers=world["user"]
    )
    stats = await client.get("/api/v1/telemetry/stats", headers=world["regulator"])
    assert stats.status_code == 200
    assert stats.json()["accepted"] == 1 and stats.json()["stored"] == 1
    assert (await client.get("/api/v1/telemetry/stats", headers=world["user"])).status_code == 403


async def test_retention_per_enterprise(
    client: httpx.AsyncClient, state: AppState, enterprise: core.Enterprise, world: World
) -> None:
    url = f"/api/v1/telemetry/retention/{enterprise.id}"
    got = await client.get(url, headers=world["user"])
    assert got.json() == {"enterprise_id": enterprise.id, "days": state.settings.retention_days}
    assert (await client.put(url, json={"days": 30}, headers=world["user"])).status_code == 403
    assert (await client.put(url, json={"days": 30}, headers=world["stranger"])).status_code == 404
    bad = await client.put(url, json={"days": 0}, headers=world["boss"])
    assert bad.status_code == 400 and "1 to 36500" in bad.json()["message"]
    assert (await client.put(url, json={"days": 30}, headers=world["boss"])).status_code == 200
    assert (await client.get(url, headers=world["admin"])).json()["days"] == 30
    assert (
        await client.get("/api/v1/telemetry/retention/9999", headers=world["admin"])
    ).status_code == 404


async def test_dead_letters_name_their_detail_with_params_besides_the_english_text(
    client: httpx.AsyncClient, store: MemoryStore, world: World
) -> None:
    now = int(time.time() * 1000)
    body = {"device": "env-0001", "ts": [now], "points": {"bogus": [1], "temperature": [999]}}
    resp = await client.post("/api/v1/telemetry", json=body, headers=world["admin"])
    assert resp.status_code == 200 and resp.json()["dead_lettered"] == 2
    listed = (await client.get("/api/v1/telemetry/dead-letters", headers=world["admin"])).json()
    by_point = {x["point"]: x for x in listed["items"]}
    hot = by_point["temperature"]
    assert hot["detail"].startswith("temperature value 999 is above the maximum")  # unchanged
    assert hot["detail_reason"] == "above_maximum"
    assert hot["detail_params"]["point"] == "temperature" and hot["detail_params"]["value"] == "999"
    assert by_point["bogus"]["detail_reason"] == "point_unknown"
    assert by_point["bogus"]["detail_params"]["device"] == "env-0001"
    bad = await client.post("/api/v1/telemetry", content=b"[1, 2]", headers=world["device"])
    assert bad.status_code == 400
    [payload] = [
        x
        for x in (
            await client.get("/api/v1/telemetry/dead-letters", headers=world["admin"])
        ).json()["items"]
        if x["reason"] == "undecodable"
    ]
    assert payload["detail_reason"] == "payload_block_not_object"
    assert payload["detail_params"] == {"where": "[0]"}


async def test_refused_device_credentials_and_unknown_devices_are_noted(
    client: httpx.AsyncClient, state: AppState, store: MemoryStore, world: World
) -> None:
    refused = state.signals.of(AUTH_FAILURES)
    unknown = state.signals.of(UNKNOWN_DEVICES)
    body = rows(("env-0001", "temperature", 20.0))
    for headers in (
        {"Authorization": "Device env-0001:not-the-secret"},
        {"Authorization": "Device ghost-7:guess"},
        {"Authorization": "Device only-a-secret"},  # no ':': nothing named
    ):
        assert (
            await client.post("/api/v1/telemetry", json=body, headers=headers)
        ).status_code == 401
    event = refused.take()
    assert event is not None
    address = "127.0.0.1"  # httpx's ASGI transport
    assert [(r["src"], r["user"], r["device"], r["target"]) for r in event.data["records"]] == [
        (address, "env-0001", "env-0001", "device"),
        (address, "ghost-7", "ghost-7", "device"),
        (address, None, None, "device"),
    ]
    mixed = rows(("env-0001", "temperature", 20.0), ("ghost-1", "x", 1.0), ("ghost-2", "x", 2.0))
    resp = await client.post("/api/v1/telemetry", json=mixed, headers=world["user"])
    assert resp.json()["dead_lettered"] == 2
    assert (await client.post("/api/v1/telemetry", json=body, headers=world["device"])).is_success
    event = unknown.take()
    assert event is not None
    assert sorted((r["device"], r["via"], r["enterprise_id"]) for r in event.data["records"]) == [
        ("ghost-1", "http", world.enterprises["mine"]),
        ("ghost-2", "http", world.enterprises["mine"]),
    ]
    assert refused.take() is None  # the good device credentials noted nothing
