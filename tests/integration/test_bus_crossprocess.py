"""Across processes on the real NATS: events, commands and cache invalidation.

Two "processes" here are two app states in one test process, each with its own NATS
connection, database engine and services, sharing one database file and one bus prefix, as
two ``indunet up`` processes of one installation would. Every test has a prefix of its own,
small streams, and deletes them at the end.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from tests.conftest import (
    NATS_URL,
    SMALL_STREAMS,
    bearer,
    bus_prefix,
    delete_streams,
    nats_connected,
    need_service,
    until,
)
from tests.integration import natsserver, servers

from indunet import bus, core, devices, ids
from indunet.connect import MemoryConnector
from indunet.core import Event, EventType, Role, Settings
from indunet.sim import Equipment, ModbusGateway
from indunet.sim.plan import SimDevice
from indunet.web import AppState, build_state, create_app, open_database
from indunet.web import platform as platform_module

pytestmark = pytest.mark.integration
PING = EventType("test.ping", 1, "tests", "a test event")


def _need_nats() -> None:
    host, _, port = NATS_URL.removeprefix("nats://").rpartition(":")
    need_service("NATS", host, int(port))


# -- events -----------------------------------------------------------------------------------


async def test_an_event_published_in_one_process_reaches_every_other_subscriber_once() -> None:
    _need_nats()
    prefix = bus_prefix()
    async with nats_connected(prefix, "a") as a, nats_connected(prefix, "b") as b:
        try:
            bus_a, bus_b = bus.NatsEventBus(a, heartbeat=1.0), bus.NatsEventBus(b, heartbeat=1.0)
            got_a: list[Event] = []
            got_b: list[Event] = []

            async def on_a(e: Event) -> None:
                got_a.append(e)

            async def on_b(e: Event) -> None:
                got_b.append(e)

            bus_a.subscribe("test.ping", on_a)
            await bus_a.start()
            await bus_b.start()
            bus_b.subscribe("test.ping", on_b)  # after start: opened at once
            await until(lambda: len(bus_a._feeds) == 1 and len(bus_b._feeds) == 1, 5)
            await until(
                lambda: all(f.consumer for f in [*bus_a._feeds.values(), *bus_b._feeds.values()]), 5
            )
            sent = [PING.make({"n": i}, enterprise_id=7) for i in range(5)]
            for e in sent:
                await bus_a.publish(e)
            await bus_a.publish(sent[0])  # the same id again: the stream drops it
            await until(lambda: len(got_a) >= 5 and len(got_b) >= 5, 10, "events delivered")
            await asyncio.sleep(0.5)  # nothing more arrives
            assert [e.id for e in got_b] == [e.id for e in sent]
            assert [e.id for e in got_a] == [e.id for e in sent]
            assert got_b[3].data == {"n": 3} and got_b[3].enterprise_id == 7
            assert bus_a.published == 6 and bus_b.errors == 0
            await bus_a.stop()
            await bus_b.stop()
        finally:
            await delete_streams(a)


async def test_a_feed_reopened_after_an_outage_delivers_what_was_published_meanwhile() -> None:
    """Even the first events of an empty stream: the feed starts again just after the last
    event it delivered (none: the stream's first), not at "new"."""
    _need_nats()
    prefix = bus_prefix()
    async with nats_connected(prefix, "a") as a:
        try:
            events = bus.NatsEventBus(a, heartbeat=1.0)
            got: list[int] = []

            async def on(e: Event) -> None:
                got.append(e.data["n"])

            events.subscribe("test.ping", on)
            await events.start()
            await until(lambda: any(f.consumer for f in events._feeds.values()), 5)
            feed = events._feeds["test.ping"]
            await feed.close()  # as if the server had lost the consumer
            await events.publish(PING.make({"n": 1}))
            await events.publish(PING.make({"n": 2}))
            await asyncio.sleep(0.2)
            assert got == []
            await feed.reopen()
            await until(lambda: got == [1, 2], 5, "the events published during the outage")
            await events.stop()
        finally:
            await delete_streams(a)


async def test_events_handled_once_go_to_the_lead_process_only_and_wait_for_it() -> None:
    _need_nats()
    prefix = bus_prefix()
    async with nats_connected(prefix, "api") as api, nats_connected(prefix, "lead") as lead_bb:
        try:
            everyone = bus.NatsEventBus(api)
            elsewhere = bus.HandledElsewhere(everyone)
            ignored: list[Event] = []

            async def never(e: Event) -> None:
                ignored.append(e)

            elsewhere.subscribe("test.ping", never)
            lead = bus.NatsEventBus(lead_bb, durable="notify")
            got: list[str] = []

            async def on(e: Event) -> None:
                got.append(e.data["n"])

            lead.subscribe("test.ping", on)
            await everyone.start()
            await lead.start()
            info = None
            for _ in range(100):
                with contextlib.suppress(Exception):
                    info = await lead_bb.jetstream().consumer_info(
                        lead_bb.names.events_stream, "evt-notify"
                    )
                    break
                await asyncio.sleep(0.05)
            assert info is not None, "the lead's durable consumer was not made"
            await elsewhere.publish(PING.make({"n": 1}))
            await until(lambda: got == [1], 10, "the lead handled the event")
            # the lead goes away; events published meanwhile wait for it
            await lead.stop()
            await elsewhere.publish(PING.make({"n": 2}))
            await elsewhere.publish(PING.make({"n": 3}))
            again = bus.NatsEventBus(lead_bb, durable="notify")
            await again.start()  # as the app starts the bus before the dispatcher subscribes
            await asyncio.sleep(0.3)
            again.subscribe("test.ping", on)
            await until(lambda: got == [1, 2, 3], 10, "the restarted lead caught up")
            await asyncio.sleep(0.3)
            assert got == [1, 2, 3] and ignored == []
            await again.stop()
            await everyone.stop()
        finally:
            await delete_streams(api)


async def test_events_published_while_the_server_restarts_arrive_once_in_order(
    tmp_path: Path,
) -> None:
    """A private server is killed (SIGKILL) and started again on its store: the publisher
    holds what it could not send, the subscriber's feed is opened again after the last event
    it delivered, and every event arrives once, in order."""
    if not natsserver.have_binary():
        pytest.skip("no nats-server binary")
    prefix = bus_prefix()
    with natsserver.nats_server(tmp_path / "nats", started=False) as server:
        await asyncio.to_thread(server.start)
        a = bus.Backbone([server.url], bus.Names(prefix, 2), SMALL_STREAMS, client_name="a")
        b = bus.Backbone([server.url], bus.Names(prefix, 2), SMALL_STREAMS, client_name="b")
        await a.start()
        await b.start()
        publisher, subscriber = bus.NatsEventBus(a), bus.NatsEventBus(b, heartbeat=0.5)
        got: list[int] = []

        async def on(e: Event) -> None:
            got.append(e.data["n"])

        subscriber.subscribe("test.ping", on)
        try:
            assert await a.wait_ready(10) and await b.wait_ready(10)
            await publisher.start()
            await subscriber.start()
            await until(lambda: any(f.consumer for f in subscriber._feeds.values()), 5)
            await publisher.publish(PING.make({"n": 1}))
            await until(lambda: got == [1], 5, "the first event")
            await asyncio.to_thread(server.kill)
            await until(lambda: not a.connected, 5, "the publisher saw the server go")
            await publisher.publish(PING.make({"n": 2}))  # held: nothing to send it to
            assert publisher.held == 1
            await asyncio.to_thread(server.start)
            await publisher.publish(PING.make({"n": 3}))
            await until(lambda: got == [1, 2, 3], 20, "the events after the restart")
            await publisher.publish(PING.make({"n": 4}))
            await until(lambda: got == [1, 2, 3, 4], 5, "an event on the reopened feed")
            await asyncio.sleep(1.5)  # a heartbeat or two: nothing is delivered twice
            assert got == [1, 2, 3, 4]
            assert subscriber.reopened >= 1 and publisher.dropped == 0
        finally:
            await publisher.stop()
            await subscriber.stop()
            await a.close()
            await b.close()


# -- two app states ----------------------------------------------------------------------------


@dataclass
class Proc:
    state: AppState
    app: FastAPI


def _proc(tmp: Path, name: str, db: str, prefix: str, role: str) -> Proc:
    settings = Settings(
        data_dir=tmp / name,
        database_url=db,
        port=8000,
        bus_url=NATS_URL,
        bus_prefix=prefix,
        bus_partitions=2,
        bus_max_bytes=64 * 1024**2,
        role=role,
        shard="0/1",
    )
    state = build_state(settings)
    assert state.backbone is not None
    state.backbone.limits = SMALL_STREAMS
    return Proc(state, create_app(state))


def _pair(tmp_path: Path) -> tuple[Proc, Proc]:
    """An api process and a connector process of one installation (one database, one
    prefix)."""
    _need_nats()
    db = f"sqlite:///{tmp_path / 'shared.db'}"
    tmp_path.joinpath("a").mkdir()
    open_database(Settings(data_dir=tmp_path / "a", database_url=db)).dispose()
    prefix = bus_prefix()
    return _proc(tmp_path, "a", db, prefix, "api"), _proc(tmp_path, "b", db, prefix, "connector")


@pytest.fixture
def pair(tmp_path: Path) -> Iterator[tuple[Proc, Proc]]:
    """``_pair``, the connector's Modbus devices served by an in-memory connector."""
    a, b = _pair(tmp_path)
    assert b.state.platform is not None
    b.state.platform.connectors.connectors["modbus"] = MemoryConnector("modbus")
    yield a, b
    a.state.engine.dispose()
    b.state.engine.dispose()


@pytest.fixture
def real_pair(tmp_path: Path) -> Iterator[tuple[Proc, Proc]]:
    """``_pair`` with the connector's own Modbus connector."""
    a, b = _pair(tmp_path)
    yield a, b
    a.state.engine.dispose()
    b.state.engine.dispose()


@contextlib.asynccontextmanager
async def running(*procs: Proc) -> AsyncIterator[None]:
    async with contextlib.AsyncExitStack() as stack:
        for p in procs:
            await stack.enter_async_context(p.app.router.lifespan_context(p.app))
        for p in procs:
            assert p.state.backbone is not None
            assert await p.state.backbone.wait_ready(15)
        try:
            yield
        finally:
            backbone = procs[0].state.backbone
            assert backbone is not None
            await delete_streams(backbone)


def _client(p: Proc) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=p.app), base_url="http://t")


def _enterprise(p: Proc) -> core.Enterprise:
    """An enterprise with the identifier prefix 88.100.1."""
    with p.state.engine.begin() as conn:
        ent = core.create_enterprise(
            conn, uscc="91350100M000100Y43", name="示例", actor="t", verified=True
        )
    ids.allocate(p.state.hierarchy.front, "88.100.1", ent, actor="t", secret="s3cret-key-for-tests")
    return ent


async def test_notifications_are_handled_by_the_lead_process_only(tmp_path: Path) -> None:
    """An alarm event published on an api process reaches the dispatcher of the lead (worker
    0) once, and not the api process's own dispatcher."""
    _need_nats()
    db = f"sqlite:///{tmp_path / 'shared.db'}"
    tmp_path.joinpath("a").mkdir()
    open_database(Settings(data_dir=tmp_path / "a", database_url=db)).dispose()
    prefix = bus_prefix()
    a = _proc(tmp_path, "a", db, prefix, "api")
    lead = _proc(tmp_path, "w", db, prefix, "worker")
    try:
        async with running(a, lead):
            here, there = a.state.services["notify"], lead.state.services["notify"]
            backbone = lead.state.backbone
            assert backbone is not None
            for _ in range(100):  # the lead's durable consumer is made (events from then on)
                with contextlib.suppress(Exception):
                    await backbone.jetstream().consumer_info(
                        backbone.names.events_stream, "evt-notify"
                    )
                    break
                await asyncio.sleep(0.05)
            event = EventType("alarm.raised", 1, "telemetry", "t").make(
                {"device_id": "press-1", "rule_name": "hot", "severity": "major"}, enterprise_id=1
            )
            await a.state.bus.publish(event)
            await until(lambda: event.id in there._seen, 10, "the lead's dispatcher")  # type: ignore[attr-defined]
            await asyncio.sleep(0.5)
            assert event.id not in here._seen  # type: ignore[attr-defined]
    finally:
        a.state.engine.dispose()
        lead.state.engine.dispose()


MODBUS = {"host": "127.0.0.1", "port": 1502, "unit": 1}


async def test_a_command_sent_on_the_api_process_is_carried_out_by_the_connector_process(
    pair: tuple[Proc, Proc], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The connector process learns of a device made on the api process at once (its
    2-second poll is off here), carries out its commands and answers them back."""
    monkeypatch.setattr(platform_module, "STATUS_FLUSH_S", 600.0)
    a, b = pair
    ent = _enterprise(a)
    admin = bearer(a.state.engine, "ops", Role.PLATFORM_ADMIN)
    memory = b.state.platform.connectors.connectors["modbus"]  # type: ignore[union-attr]
    assert isinstance(memory, MemoryConnector)
    async with running(a, b), _client(a) as api:
        made = await api.post(
            "/api/v1/devices",
            json={
                "id": "press-9",
                "name": "空压机",
                "enterprise_id": ent.id,
                "model": "indunet:air-compressor",
                "protocol": "modbus",
                "connection": MODBUS,
            },
            headers=admin,
        )
        assert made.status_code in (200, 201), made.text
        # the connector learns of the device at once (the api's registry told it)
        await until(lambda: "press-9" in memory.devices, 2, "the connector attached press-9")
        sent = await api.post(
            "/api/v1/devices/press-9/commands",
            json={"point": "pressure_setpoint", "value": 0.8},
            headers=admin,
        )
        assert sent.status_code == 200, sent.text
        assert sent.json()["state"] == "succeeded"
        assert memory.writes == [("press-9", "pressure_setpoint", 0.8)]
        memory.set_offline("press-9")
        failed = await api.post(
            "/api/v1/devices/press-9/commands",
            json={"point": "pressure_setpoint", "value": 0.6},
            headers=admin,
        )
        assert failed.status_code == 502, failed.text
        assert "press-9 is offline" in failed.text
        history = (await api.get("/api/v1/devices/press-9/commands", headers=admin)).json()
        assert [(c["state"], c["argument"]) for c in history] == [
            ("failed", 0.6),
            ("succeeded", 0.8),
        ]
        async with _client(b) as cb:
            metrics = (await cb.get("/metrics")).text
        for line in (
            'indunet_bus_commands_total{outcome="served"} 3',  # two checks, one write
            'indunet_bus_commands_total{outcome="failed"} 1',
            'indunet_bus_events_total{bus="every",outcome="undecodable"} 0',
            "indunet_bus_connected 1",
        ):
            assert line in metrics, line
        assert 'indunet_bus_invalidations_total{outcome="received"} 0' not in metrics  # nudged
        gone = await api.delete("/api/v1/devices/press-9", headers=admin)
        assert gone.status_code in (200, 204), gone.text
        await until(lambda: "press-9" not in memory.devices, 2, "the connector let press-9 go")


async def test_without_a_connector_a_command_fails_at_once_naming_the_device(
    pair: tuple[Proc, Proc],
) -> None:
    a, _b = pair
    ent = _enterprise(a)
    admin = bearer(a.state.engine, "ops", Role.PLATFORM_ADMIN)
    async with running(a), _client(a) as api:
        made = await api.post(
            "/api/v1/devices",
            json={
                "id": "press-7",
                "name": "空压机",
                "enterprise_id": ent.id,
                "model": "indunet:air-compressor",
                "protocol": "modbus",
                "connection": MODBUS,
            },
            headers=admin,
        )
        assert made.status_code in (200, 201), made.text
        loop = asyncio.get_running_loop()
        t0 = loop.time()
        sent = await api.post(
            "/api/v1/devices/press-7/commands",
            json={"point": "pressure_setpoint", "value": 0.8},
            headers=admin,
        )
        assert loop.time() - t0 < 3
        assert sent.status_code == 502, sent.text
        assert "no connector serves device press-7" in sent.text


async def test_a_handle_changed_on_one_process_is_not_served_stale_by_the_other(
    pair: tuple[Proc, Proc],
) -> None:
    """B's front node resolves ``88/PUMP-1`` (held by the top-level node) through its
    resolver, which caches the answer (a "not found" for 30 s, a record for its TTL); A's
    writes make B forget it at once."""
    a, b = pair
    handle, key = "88/pump-1", "88/PUMP-1"
    on_top = f"/nodes/88/api/handles/{handle}"
    resolver = b.state.hierarchy.resolver
    assert resolver is not None

    def url_value(answer: dict[str, Any]) -> Any:
        return next(v["data"]["value"] for v in answer["values"] if v["type"] == "URL")

    def record(url: str) -> dict[str, Any]:
        return {"values": [{"index": 1, "type": "URL", "data": {"format": "string", "value": url}}]}

    admin = bearer(a.state.engine, "ops", Role.PLATFORM_ADMIN)
    async with running(a, b), _client(a) as ca, _client(b) as cb:
        missing = await cb.get(f"/api/handles/{handle}")
        assert missing.status_code == 404, missing.text
        assert resolver.answers.get(key) is not None  # B caches "not found"
        put = await ca.put(on_top, json=record("https://one.example"), headers=admin)
        assert put.status_code in (200, 201), put.text
        await until(lambda: resolver.answers.get(key) is None, 2, "B forgot the not-found")
        first = await cb.get(f"/api/handles/{handle}")
        assert first.status_code == 200, first.text
        assert url_value(first.json()) == "https://one.example"
        assert resolver.cached_body(key) is not None  # B serves it from its cache now
        put = await ca.put(on_top, json=record("https://two.example"), headers=admin)
        assert put.status_code in (200, 201), put.text
        await until(lambda: resolver.cached_body(key) is None, 2, "B forgot the record")
        second = await cb.get(f"/api/handles/{handle}")
        assert url_value(second.json()) == "https://two.example"


async def test_a_write_on_the_api_process_reaches_a_real_modbus_device(
    real_pair: tuple[Proc, Proc],
) -> None:
    """The simulated air compressor behind a Modbus TCP gateway takes the new set-point from
    the connector process's Modbus connector, asked by the api process."""
    a, b = real_pair
    ent = _enterprise(a)
    admin = bearer(a.state.engine, "ops", Role.PLATFORM_ADMIN)
    model = next(m for m in devices.library_models() if m.id == "indunet:air-compressor")
    eq = Equipment(SimDevice("comp-1", model.id, "modbus"), model, seed=3)
    eq.tick(time.time())
    written: list[tuple[str, Any]] = []
    eq.on_write = lambda point, value: written.append((point, value))
    gateway = ModbusGateway([eq])
    await gateway.start()
    try:
        async with running(a, b), _client(a) as api:
            made = await api.post(
                "/api/v1/devices",
                json={
                    "id": "comp-1",
                    "name": "空压机",
                    "enterprise_id": ent.id,
                    "model": model.id,
                    "protocol": "modbus",
                    "connection": {"host": "127.0.0.1", "port": gateway.port, "unit": 1},
                },
                headers=admin,
            )
            assert made.status_code in (200, 201), made.text
            sent: httpx.Response | None = None
            for _ in range(50):  # until the connector has attached it and connected
                sent = await api.post(
                    "/api/v1/devices/comp-1/commands",
                    json={"point": "pressure_setpoint", "value": 0.75},
                    headers=admin,
                )
                if sent.status_code == 200:
                    break
                await asyncio.sleep(0.2)
            assert sent is not None and sent.status_code == 200, sent.text if sent else ""
            assert written and written[-1][0] == "pressure_setpoint"
            assert written[-1][1] == pytest.approx(0.75, abs=0.01)
            assert eq.values.get("pressure_setpoint", 0.75) == pytest.approx(0.75, abs=0.01)
    finally:
        await gateway.stop()


# -- two `indunet up` processes ---------------------------------------------------------------


def _bus_env(prefix: str, role: str) -> dict[str, str]:
    return {
        "INDUNET_BUS_URL": NATS_URL,
        "INDUNET_BUS_PREFIX": prefix,
        "INDUNET_BUS_PARTITIONS": "2",
        "INDUNET_BUS_MAX_BYTES": str(64 * 1024**2),
        "INDUNET_ROLE": role,
    }


async def test_a_command_crosses_from_an_api_process_to_a_connector_process(
    tmp_path: Path,
) -> None:
    """``indunet up --role api`` and ``--role connector`` on one database: a set-point sent
    to the api process is written to a real Modbus device by the connector process."""
    _need_nats()
    prefix = bus_prefix()
    model = next(m for m in devices.library_models() if m.id == "indunet:air-compressor")
    eq = Equipment(SimDevice("comp-2", model.id, "modbus"), model, seed=5)
    eq.tick(time.time())
    written: list[tuple[str, Any]] = []
    eq.on_write = lambda point, value: written.append((point, value))
    gateway = ModbusGateway([eq])
    await gateway.start()
    try:
        with servers.group(tmp_path) as g:
            api = await asyncio.to_thread(g.start, "api", "up", env=_bus_env(prefix, "api"))
            password = api.admin_password
            assert password, api.output
            env = _bus_env(prefix, "connector")
            await asyncio.to_thread(g.start, "conn", "up", data_dir=api.data_dir, env=env)
            async with httpx.AsyncClient(base_url=api.url, timeout=15.0) as c:
                token = await c.post(
                    "/api/v1/auth/token", json={"username": "admin", "password": password}
                )
                c.headers["Authorization"] = f"Bearer {token.json()['token']}"
                uscc = core.make_uscc("91350200MA3ABCDE")
                ent = await c.post("/api/v1/enterprises", json={"uscc": uscc, "name": "示例"})
                assert ent.status_code < 300, ent.text
                pre = await c.post(
                    "/api/v1/prefixes", json={"prefix": "88.100.1", "enterprise_uscc": uscc}
                )
                assert pre.status_code < 300, pre.text
                made = await c.post(
                    "/api/v1/devices",
                    json={
                        "id": "comp-2",
                        "name": "空压机",
                        "enterprise_id": ent.json()["id"],
                        "model": model.id,
                        "protocol": "modbus",
                        "connection": {"host": "127.0.0.1", "port": gateway.port, "unit": 1},
                    },
                )
                assert made.status_code < 300, made.text
                sent: httpx.Response | None = None
                for _ in range(50):  # until the connector has attached it and connected
                    sent = await c.post(
                        "/api/v1/devices/comp-2/commands",
                        json={"point": "pressure_setpoint", "value": 0.65},
                    )
                    if sent.status_code == 200:
                        break
                    await asyncio.sleep(0.2)
                assert sent is not None and sent.status_code == 200, sent.text if sent else ""
                assert written[-1][0] == "pressure_setpoint"
                assert written[-1][1] == pytest.approx(0.65, abs=0.01)
    finally:
        await gateway.stop()
        async with nats_connected(prefix, "cleanup") as backbone:
            await delete_streams(backbone)


class _Slow(MemoryConnector):
    """The in-memory connector, whose actions wait until the test lets them go."""

    def __init__(self) -> None:
        super().__init__("modbus")
        self.go = asyncio.Event()

    async def invoke(self, device_id: str, action: str, payload: Any) -> Any:
        await self.go.wait()
        return await super().invoke(device_id, action, payload)


async def test_a_connector_busy_with_its_limit_of_commands_refuses_more_at_once() -> None:
    from tests.telemetry.fleet import PRESS

    from indunet.connect import ConnectorManager, DeviceLink

    _need_nats()
    prefix = bus_prefix()
    async with nats_connected(prefix, "api") as api, nats_connected(prefix, "conn") as conn:
        try:
            slow = _Slow()
            manager = ConnectorManager({"modbus": slow})
            manager.attach("modbus", DeviceLink("press-1", PRESS))
            server = bus.CommandServer(conn, manager, 0, in_flight=2)
            await server.start()
            await until(lambda: server._sub is not None, 5, "the server subscribed")
            remote = bus.RemoteSender(api, 1, timeout=5)
            first = [asyncio.create_task(remote.invoke("press-1", "reset", None)) for _ in "ab"]
            await until(lambda: len(server._running) == 2, 5, "two commands under way")
            loop = asyncio.get_running_loop()
            t0 = loop.time()
            with pytest.raises(core.IndunetError, match="the connector is busy"):
                await remote.invoke("press-1", "reset", None)
            assert loop.time() - t0 < 1
            slow.go.set()
            assert await asyncio.gather(*first) == [None, None]
            assert (server.served, server.refused) == (2, 1)
            await server.stop()
        finally:
            await delete_streams(api)
