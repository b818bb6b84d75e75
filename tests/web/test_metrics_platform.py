"""GET /metrics on a platform node: devices, connectors, ingest, rules and open alarms."""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import AsyncIterator

import httpx
import pytest
from tests.conftest import bearer

from indunet import core, ids
from indunet.core import Settings
from indunet.web import AppState, build_state, create_app
from indunet.web.platform import Platform

NOW = int(time.time() * 1000)
_SAMPLE = re.compile(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})? (\S+)$")


def parse(text: str) -> dict[str, float]:
    """Series → value of a Prometheus exposition; every series belongs to a TYPEd family."""
    typed: set[str] = set()
    series: dict[str, float] = {}
    for line in text.splitlines():
        if line.startswith("# TYPE "):
            typed.add(line.split()[2])
            continue
        if not line or line.startswith("#"):
            continue
        m = _SAMPLE.match(line)
        assert m, f"not a Prometheus sample line: {line!r}"
        name, labels, value = m.groups()
        family = re.sub(r"_(bucket|sum|count)$", "", name)
        assert name in typed or family in typed, f"{name} has no TYPE line"
        assert (name + (labels or "")) not in series, f"{line!r} repeats a series"
        series[name + (labels or "")] = float(value)
    return series


def platform_of(state: AppState) -> Platform:
    assert state.platform is not None
    return state.platform


@pytest.fixture
async def client(state: AppState) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=create_app(state))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
        yield c


@pytest.fixture
async def running(
    state: AppState, allocation: ids.Allocation, enterprise: core.Enterprise
) -> AsyncIterator[Platform]:
    """The platform's own pipeline running, two devices attached to their connectors."""
    platform = platform_of(state)
    platform.devices.create(
        enterprise.id,
        {"id": "env-0001", "name": "车间温湿度", "model": "indunet:env-sensor"},
        actor="test",
    )
    platform.devices.create(
        enterprise.id,
        {
            "id": "meter-0001",
            "name": "总电表",
            "model": "indunet:power-meter",
            "connection": {"host": "127.0.0.1", "port": 1502},
        },
        actor="test",
    )
    platform.sync_devices()
    await platform.pipeline.start()
    yield platform
    await platform.pipeline.stop()


@pytest.fixture
def admin(state: AppState) -> dict[str, str]:
    return bearer(state.engine, "root", core.Role.PLATFORM_ADMIN)


async def scrape(client: httpx.AsyncClient) -> dict[str, float]:
    resp = await client.get("/metrics")
    assert resp.status_code == 200, resp.text
    assert resp.headers["content-type"].startswith("text/plain")
    return parse(resp.text)


async def test_devices_by_protocol_and_status_and_connector_health(
    client: httpx.AsyncClient, running: Platform
) -> None:
    m = await scrape(client)
    assert m['indunet_devices{protocol="mqtt",status="unknown"}'] == 1
    assert m['indunet_devices{protocol="modbus",status="unknown"}'] == 1
    assert m['indunet_devices{protocol="opcua",status="online"}'] == 0
    assert m['indunet_connector_devices{protocol="mqtt"}'] == 1
    assert m['indunet_connector_devices{protocol="modbus"}'] == 1
    assert m['indunet_connector_devices{protocol="opcua"}'] == 0
    for family in ("connected", "reconnects_total", "errors_total"):
        assert f'indunet_connector_{family}{{protocol="modbus"}}' in m

    running.devices.set_status("env-0001", True, time.time())
    m = await scrape(client)
    assert m['indunet_devices{protocol="mqtt",status="online"}'] == 1
    assert m['indunet_devices{protocol="mqtt",status="unknown"}'] == 0


async def test_ingest_counters_show_stored_samples_and_dead_letters(
    client: httpx.AsyncClient, running: Platform, admin: dict[str, str]
) -> None:
    before = await scrape(client)
    assert before["indunet_ingest_samples_stored_total"] == 0
    assert before['indunet_ingest_dead_letters_total{reason="out_of_range"}'] == 0

    rows = [
        ("env-0001", "temperature", 21.5),
        ("env-0001", "humidity", 40),
        ("env-0001", "temperature", 500.0),  # the model says at most 80 °C
        ("ghost-1", "temperature", 1.0),
    ]
    body = {"samples": [{"device": d, "point": p, "ts": NOW - i, "value": v} for i, (d, p, v) in enumerate(rows)]}  # fmt: skip
    resp = await client.post("/api/v1/telemetry", json=body, headers=admin)
    assert resp.status_code == 200, resp.text
    assert (resp.json()["accepted"], resp.json()["dead_lettered"]) == (2, 2)
    await running.pipeline.reject("env-0001", source="mqtt", reason="not JSON", payload=b"\xff")

    m = await scrape(client)
    assert m["indunet_ingest_samples_accepted_total"] == 2
    assert m["indunet_ingest_samples_stored_total"] == 2
    assert m['indunet_ingest_dead_letters_total{reason="out_of_range"}'] == 1
    assert m['indunet_ingest_dead_letters_total{reason="unknown_device"}'] == 1
    assert m['indunet_ingest_dead_letters_total{reason="undecodable"}'] == 1
    assert m['indunet_ingest_dead_letters_total{reason="wrong_type"}'] == 0
    assert m["indunet_ingest_batches_total"] >= 1
    assert m["indunet_ingest_write_seconds_total"] > 0
    assert m["indunet_ingest_overloaded_total"] == 0
    assert m["indunet_ingest_buffer_bytes"] >= 0 and m["indunet_ingest_buffer_max_bytes"] > 0
    assert m["indunet_ingest_queued_samples"] == 0


async def test_open_alarms_by_severity_and_rules_not_evaluable(
    client: httpx.AsyncClient,
    running: Platform,
    admin: dict[str, str],
    enterprise: core.Enterprise,
) -> None:
    rule = {"device_id": "env-0001", "duration_s": 0, "enterprise_id": enterprise.id}
    hot = rule | {"name": "车间过热", "condition": "temperature > 30", "severity": "critical"}
    both = rule | {"name": "闷热", "condition": "temperature > 30 and humidity > 70"}
    for spec in (hot, both | {"severity": "minor"}):
        resp = await client.post("/api/v1/rules", json=spec, headers=admin)
        assert resp.status_code < 300, resp.text
    m = await scrape(client)
    assert m['indunet_alarms_open{severity="critical"}'] == 0
    assert m["indunet_rules_not_evaluable_total"] == 0

    # Only a temperature: the first rule fires; the second cannot tell without a humidity.
    body = {"samples": [{"device": "env-0001", "point": "temperature", "ts": NOW, "value": 35.0}]}
    resp = await client.post("/api/v1/telemetry", json=body, headers=admin)
    assert resp.status_code == 200, resp.text
    deadline = time.monotonic() + 5.0
    while time.monotonic() < deadline:
        m = await scrape(client)
        # The alarm row commits (in a thread) before the engine counts the raise: wait for both.
        if (
            m['indunet_alarms_open{severity="critical"}'] == 1
            and m["indunet_rules_alarms_raised_total"] == 1
        ):
            break
        await asyncio.sleep(0.05)
    assert m['indunet_alarms_open{severity="critical"}'] == 1
    assert m['indunet_alarms_open{severity="minor"}'] == 0
    assert m["indunet_rules_alarms_raised_total"] == 1
    assert m["indunet_rules_not_evaluable_total"] == 1
    assert m["indunet_rules_evaluations_total"] == 2


async def test_a_node_without_the_platform_still_serves_metrics(settings: Settings) -> None:
    state = build_state(settings, platform=False)
    assert state.platform is None
    transport = httpx.ASGITransport(app=create_app(state))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
        m = await scrape(c)
    state.engine.dispose()
    assert any(k.startswith("indunet_ids_resolutions_total{") for k in m)
    assert not any(k.startswith(("indunet_devices", "indunet_ingest", "indunet_alarms")) for k in m)
