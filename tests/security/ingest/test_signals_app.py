"""The platform's signals end to end, in the running app: the producers' hot paths, the core
signals task, the bus, the security subscriber, the hub, detection and the alert store.

- an HTTP client scanning 60 identifiers that do not exist raises both identifier rules;
- a real MQTT client guessing a device's password against the embedded endpoint raises
  ``auth.device-bruteforce`` in the device's enterprise;
- telemetry of an unknown device through the connectors' sink becomes ``device.unknown``."""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import AsyncIterator, Sequence
from pathlib import Path

import aiomqtt
import httpx
import pytest
from fastapi import FastAPI
from tests.conftest import until

from indunet import core, ids
from indunet.core import Role, Settings, User
from indunet.security import SecurityEvent
from indunet.security.cases import AlertFilter, find_alerts
from indunet.security.cases.model import StoredAlert
from indunet.security.ingest.service import Ingest
from indunet.security.service import Security
from indunet.telemetry import Sample
from indunet.web import AppState, create_app

ADMIN = User(id=1, username="root", role=Role.PLATFORM_ADMIN, enterprise_id=None)
SCANNER = "203.0.113.66"
WAIT_S = 20.0


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    """The app's settings: its embedded MQTT endpoint on a port of its own."""
    return Settings(data_dir=tmp_path / "data", port=8000, mqtt_port=_free_port())


@pytest.fixture
async def running(state: AppState) -> AsyncIterator[tuple[FastAPI, list[SecurityEvent]]]:
    """The app with every service started, and every event the hub handles."""
    seen: list[SecurityEvent] = []

    async def collect(batch: Sequence[SecurityEvent]) -> None:
        seen.extend(batch)

    security(state).hub.subscribe("test", collect)
    app = create_app(state)
    async with app.router.lifespan_context(app):
        yield app, seen


def security(state: AppState) -> Security:
    svc = state.services["security"]
    assert isinstance(svc, Security)
    return svc


def alerts(state: AppState, rule: str) -> list[StoredAlert]:
    return [
        a for a in find_alerts(state.engine, ADMIN, AlertFilter(), limit=100)[0] if a.rule == rule
    ]


async def test_a_handle_api_scan_raises_the_identifier_rules(
    state: AppState,
    allocation: ids.Allocation,
    running: tuple[FastAPI, list[SecurityEvent]],
) -> None:
    app, seen = running
    transport = httpx.ASGITransport(app=app, client=(SCANNER, 40_000))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
        for n in range(60):
            resp = await c.get(f"/api/handles/88.100.1/NO-SUCH-{n:03d}")
            assert resp.status_code == 404, resp.text

    def raised() -> bool:
        return bool(
            alerts(state, "identifier.enumeration")
            and alerts(state, "identifier.enumeration-not-found")
        )

    await until(raised, WAIT_S, "both identifier rules to fire")
    await security(state).hub.drained()  # every subscriber had the events (``seen`` last)
    [enumeration] = alerts(state, "identifier.enumeration")
    assert enumeration.src_ip == SCANNER and enumeration.count == 50
    assert enumeration.techniques == ("T0846",)
    [not_found] = alerts(state, "identifier.enumeration-not-found")
    assert not_found.src_ip == SCANNER and not_found.count == 30
    resolves = [e for e in seen if e.kind == "ids.resolve"]
    assert len(resolves) == 60
    assert {(e.src_ip, e.outcome, e.fields["via"]) for e in resolves} == {
        (SCANNER, "failure", "http")
    }
    assert len({e.fields["handle"] for e in resolves}) == 60
    ingest = security(state).part("ingest")
    assert isinstance(ingest, Ingest)
    stats = ingest.sources["platform ids.resolutions"]
    assert (stats.read, stats.parsed, stats.submitted, stats.bad, stats.dropped) == (
        60,
        60,
        60,
        0,
        0,
    )


async def test_guessing_a_device_password_over_mqtt_raises_device_bruteforce(
    state: AppState,
    settings: Settings,
    allocation: ids.Allocation,
    enterprise: core.Enterprise,
    running: tuple[FastAPI, list[SecurityEvent]],
) -> None:
    platform = state.platform
    assert platform is not None
    await asyncio.to_thread(
        platform.devices.create,
        enterprise.id,
        {"id": "env-0042", "name": "车间温湿度", "model": "indunet:env-sensor"},
        actor="test",
    )
    for n in range(6):
        client = aiomqtt.Client(
            "127.0.0.1",
            settings.mqtt_port,
            identifier=f"guess-{n}",
            username="env-0042",
            password=f"guess-{n}",
        )
        with pytest.raises(aiomqtt.MqttError, match=r"[Nn]ot authori[sz]ed"):
            async with client:
                pass

    await until(lambda: alerts(state, "auth.device-bruteforce"), WAIT_S, "the brute-force alert")
    await security(state).hub.drained()
    [alert] = alerts(state, "auth.device-bruteforce")
    assert alert.src_ip == "127.0.0.1" and alert.enterprise_id == enterprise.id
    assert set(alert.techniques) == {"T0812", "T0859"}
    _app, seen = running
    failures = [e for e in seen if e.kind == "auth.failure"]
    assert len(failures) == 6
    assert {(e.user, e.fields["target"], e.enterprise_id) for e in failures} == {
        ("env-0042", "mqtt", enterprise.id)
    }


async def test_telemetry_of_an_unknown_device_through_a_connector_becomes_an_event(
    state: AppState, running: tuple[FastAPI, list[SecurityEvent]]
) -> None:
    platform = state.platform
    assert platform is not None
    mqtt = platform.connectors.connectors["mqtt"]
    sink = mqtt.router.sink  # type: ignore[attr-defined]  # the platform's connector sink
    samples = [Sample("ghost-3", "temperature", int(time.time() * 1000), 20.0)]
    # the pipeline reads an unknown device's model through from the database (then caches
    # it): read it off the loop first, as the other ingest tests do
    await asyncio.to_thread(platform.pipeline.checks.split, samples, "mqtt")
    await sink.submit(samples, source="mqtt")
    _app, seen = running

    def unknown() -> list[SecurityEvent]:
        return [e for e in seen if e.kind == "device.unknown"]

    await until(unknown, WAIT_S, "the device.unknown event")
    [event] = unknown()
    assert (event.fields["device"], event.observer, event.src_ip) == ("ghost-3", "mqtt", None)
