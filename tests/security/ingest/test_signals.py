"""The platform's signals from the bus as security events: each mapping, the counters (records
read, events made, bad records, records the producer left out, duplicates), and malformed bus
data counted and skipped without ever raising out of the subscriber."""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from typing import Any

import pytest

from indunet.connect.events import AUTH_FAILURES as AUTH_SIGNAL
from indunet.connect.events import UNKNOWN_DEVICES as UNKNOWN_SIGNAL
from indunet.core import Event, EventType, InMemoryEventBus
from indunet.core.signals import Signals
from indunet.ids.events import RESOLUTIONS as RESOLUTION_SIGNAL
from indunet.security import Hub, SecurityEvent
from indunet.security.ingest.gate import SourceStats
from indunet.security.ingest.signals import (
    AUTH_FAILURES,
    RESOLUTIONS,
    TYPES,
    UNKNOWN_DEVICES,
    PlatformSignals,
)


class Wired:
    """Producers' signals published on a bus the subscriber reads, into a hub."""

    def __init__(self, enterprises: Mapping[str, int] | None = None) -> None:
        self.bus = InMemoryEventBus()
        self.signals = Signals()
        self.signals.bus = self.bus
        self.hub = Hub()
        self.got: list[SecurityEvent] = []
        self.stats = {t: SourceStats(f"platform {t}", "platform", "bus") for t in TYPES}
        self.looked_up: list[set[str]] = []

        def enterprise_of(devices: Collection[str]) -> Mapping[str, int]:
            self.looked_up.append(set(devices))
            return {d: e for d, e in (enterprises or {}).items() if d in devices}

        self.part = PlatformSignals(self.bus, self.hub, self.stats, enterprise_of)

        async def collect(batch: Sequence[SecurityEvent]) -> None:
            self.got.extend(batch)

        self.hub.subscribe("t", collect)

    async def __aenter__(self) -> Wired:
        await self.hub.start()
        await self.part.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.part.stop()
        await self.hub.stop()

    async def deliver(self) -> list[SecurityEvent]:
        await self.signals.flush()
        await self.hub.drained()
        out, self.got = self.got, []
        return out

    async def publish(self, event_type: str, data: Any, version: int = 1, **kw: Any) -> None:
        await self.bus.publish(Event(event_type, version, "tests", data, **kw))
        await self.hub.drained()


async def test_resolutions_become_ids_resolve_events() -> None:
    async with Wired() as w:
        signal = w.signals.of(RESOLUTION_SIGNAL)
        signal.add(("203.0.113.9", "88.100.1/PUMP-7", 1, "http"))
        signal.add(("203.0.113.9", b"88.100.1/NOPE", 100, "udp"))
        signal.add((None, "88.100.1/x", 302, "tcp"))
        found, missing, referred = await w.deliver()
    assert (found.kind, found.source, found.observer, found.action) == (
        "ids.resolve",
        "platform",
        "ids",
        "resolve",
    )
    assert (found.src_ip, found.outcome, found.protocol) == ("203.0.113.9", "success", "http")
    assert found.fields == {"handle": "88.100.1/PUMP-7", "via": "http", "rc": 1}
    assert found.enterprise_id is None  # the resolver is the installation's own service
    assert (missing.outcome, missing.protocol, missing.fields["handle"]) == (
        "failure",
        "handle",
        "88.100.1/NOPE",
    )
    assert (referred.outcome, referred.src_ip) == ("unknown", None)
    stats = w.stats[RESOLUTIONS]
    assert (stats.read, stats.parsed, stats.submitted, stats.bad, stats.dropped) == (3, 3, 3, 0, 0)


async def test_refused_credentials_become_auth_failures_in_the_devices_enterprise() -> None:
    async with Wired({"meter-1": 7}) as w:
        signal = w.signals.of(AUTH_SIGNAL)
        signal.add(("198.51.100.4", "meter-1", "meter-1", "mqtt", None))
        signal.add(("198.51.100.4", "ghost", "ghost", "device", None))
        signal.add((None, "operator", "cnc-1", "opcua", "opc.tcp://10.0.0.5:4840/ua"))
        mqtt, http, opcua = await w.deliver()
    assert w.looked_up == [{"meter-1", "ghost"}]  # OPC UA names the platform's own login
    assert (mqtt.kind, mqtt.outcome, mqtt.action, mqtt.severity) == (
        "auth.failure",
        "failure",
        "login",
        5,
    )
    assert (mqtt.src_ip, mqtt.user, mqtt.observer, mqtt.protocol) == (
        "198.51.100.4",
        "meter-1",
        "mqtt",
        "mqtt",
    )
    assert mqtt.fields["target"] == "mqtt" and mqtt.enterprise_id == 7
    assert (http.fields["target"], http.protocol, http.enterprise_id) == ("device", "http", None)
    assert (opcua.fields["target"], opcua.src_ip, opcua.user) == ("opcua", None, "operator")
    assert (opcua.dst_ip, opcua.dst_port) == ("10.0.0.5", 4840)
    assert opcua.fields["endpoint"] == "opc.tcp://10.0.0.5:4840/ua"
    assert opcua.enterprise_id is None


async def test_unknown_devices_become_device_unknown_events() -> None:
    async with Wired() as w:
        signal = w.signals.of(UNKNOWN_SIGNAL)
        signal.add(("192.0.2.50", "rogue-9", "http", 3))
        signal.add((None, "deleted-2", "mqtt", None))
        http, mqtt = await w.deliver()
    assert (http.kind, http.outcome, http.src_ip, http.enterprise_id) == (
        "device.unknown",
        "failure",
        "192.0.2.50",
        3,
    )
    assert http.fields == {"device": "rogue-9", "via": "http"}
    assert (mqtt.observer, mqtt.protocol, mqtt.src_ip, mqtt.enterprise_id) == (
        "mqtt",
        "mqtt",
        None,
        None,
    )


async def test_records_left_out_by_the_producer_are_counted_dropped() -> None:
    async with Wired() as w:
        signals = Signals(limit=5)
        signals.bus = w.bus
        signal = signals.of(RESOLUTION_SIGNAL)
        for n in range(12):
            signal.add(("192.0.2.1", f"88/{n}", 100, "http"))
        await signals.flush()
        await w.hub.drained()
    stats = w.stats[RESOLUTIONS]
    assert (stats.read, stats.parsed, stats.submitted, stats.dropped) == (5, 5, 5, 7)
    assert len(w.got) == 5


async def test_an_event_delivered_twice_is_handled_once() -> None:
    async with Wired() as w:
        data = {"records": [{"src": None, "device": "d", "via": "mqtt"}], "left_out": 0}
        await w.publish(UNKNOWN_DEVICES, data, id="same-event")
        await w.publish(UNKNOWN_DEVICES, data, id="same-event")
    assert len(w.got) == 1 and w.got[0].id == "sig-same-event-0"
    assert w.stats[UNKNOWN_DEVICES].duplicates == 1


GOOD = {"src": "192.0.2.1", "handle": "88/1", "outcome": "success", "rc": 1, "via": "http"}


@pytest.mark.parametrize(
    ("record", "why"),
    [
        ("not an object", "a record must be a JSON object"),
        ({**GOOD, "src": "not-an-address"}, "is not an IP address"),
        ({**GOOD, "src": 17}, "is not an IP address"),
        ({**GOOD, "handle": ""}, "handle must be text"),
        ({**GOOD, "handle": "x" * 1001}, "handle must be text"),
        ({**GOOD, "handle": ["88/1"]}, "handle must be text"),
        ({**GOOD, "outcome": "maybe"}, "outcome must be"),
        ({**GOOD, "via": "HTTP!"}, "via must be"),
        ({**GOOD, "rc": True}, "rc must be a whole number"),
        ({**GOOD, "rc": "1"}, "rc must be a whole number"),
    ],
)
async def test_a_malformed_record_is_counted_bad_and_the_others_go_on(
    record: Any, why: str
) -> None:
    async with Wired() as w:
        await w.publish(RESOLUTIONS, {"records": [GOOD, record, GOOD], "left_out": 0})
    stats = w.stats[RESOLUTIONS]
    assert (stats.read, stats.parsed, stats.bad, stats.submitted) == (3, 2, 1, 2)
    assert why in stats.last_error and "record 1" in stats.last_error
    assert [e.id[-2:] for e in w.got] == ["-0", "-2"]


@pytest.mark.parametrize(
    ("event_type", "record"),
    [
        (AUTH_FAILURES, {"src": None, "user": "u", "device": None, "target": None}),
        (AUTH_FAILURES, {"src": None, "user": "u" * 201, "target": "mqtt"}),
        (AUTH_FAILURES, {"src": None, "user": "u", "target": "mqtt", "endpoint": 5}),
        (UNKNOWN_DEVICES, {"src": None, "device": None, "via": "http"}),
        (UNKNOWN_DEVICES, {"src": None, "device": "d", "via": "http", "enterprise_id": 0}),
        (UNKNOWN_DEVICES, {"src": None, "device": "d", "via": "http", "enterprise_id": "7"}),
    ],
)
async def test_malformed_auth_and_device_records_are_counted_bad(
    event_type: str, record: dict[str, Any]
) -> None:
    async with Wired() as w:
        await w.publish(event_type, {"records": [record], "left_out": 0})
    stats = w.stats[event_type]
    assert (stats.read, stats.parsed, stats.bad) == (1, 0, 1)
    assert w.got == []


@pytest.mark.parametrize(
    ("data", "version", "why"),
    [
        ({"records": "all of them", "left_out": 0}, 1, "records must be a list"),
        ({"records": [GOOD] * 1001, "left_out": 0}, 1, "records must be a list of at most 1,000"),
        ({"left_out": 0}, 1, "records must be a list"),
        ({"records": [GOOD], "left_out": -1}, 1, "left_out must be"),
        ({"records": [GOOD], "left_out": True}, 1, "left_out must be"),
        ({"records": [GOOD]}, 1, "left_out must be"),
        ({"records": [GOOD], "left_out": 0}, 2, "version 2 is not understood"),
    ],
)
async def test_a_malformed_bus_event_is_counted_once_and_skipped(
    data: dict[str, Any], version: int, why: str
) -> None:
    async with Wired() as w:
        await w.publish(RESOLUTIONS, data, version=version)
        await w.publish(RESOLUTIONS, {"records": [GOOD], "left_out": 0})  # the next one goes on
    stats = w.stats[RESOLUTIONS]
    assert stats.bad == 1 and why in stats.last_error
    assert stats.parsed == 1 and len(w.got) == 1
    assert w.bus.errors == 0  # nothing raised out of the subscriber


async def test_a_bad_envelope_id_or_time_is_refused() -> None:
    async with Wired() as w:
        data = {"records": [GOOD], "left_out": 0}
        await w.publish(RESOLUTIONS, data, id="x" * 65)
        await w.publish(RESOLUTIONS, data, id="a b")
        await w.publish(RESOLUTIONS, data, time_ms=-5)
        await w.publish(RESOLUTIONS, data, time_ms=5_000_000_000_000)
    assert w.stats[RESOLUTIONS].bad == 4 and w.got == []
    assert w.bus.errors == 0


async def test_a_failing_enterprise_lookup_is_counted_and_does_not_raise() -> None:
    bus = InMemoryEventBus()
    stats = {AUTH_FAILURES: SourceStats("platform a", "platform", "bus")}

    def broken(devices: Collection[str]) -> Mapping[str, int]:
        raise RuntimeError("database away")

    part = PlatformSignals(bus, Hub(), stats, broken)
    await part.start()
    record = {"src": None, "user": "d", "device": "d", "target": "mqtt", "endpoint": None}
    await bus.publish(Event(AUTH_FAILURES, 1, "tests", {"records": [record], "left_out": 0}))
    assert stats[AUTH_FAILURES].bad == 1 and "database away" in stats[AUTH_FAILURES].last_error
    assert bus.errors == 0


async def test_signals_after_stop_and_of_other_types_are_ignored() -> None:
    async with Wired() as w:
        await w.part.stop()
        await w.publish(RESOLUTIONS, {"records": [GOOD], "left_out": 0})
        await w.publish("ids.other", {"records": [GOOD], "left_out": 0})
    assert w.got == [] and w.stats[RESOLUTIONS].read == 0


def test_only_known_types_can_be_read() -> None:
    with pytest.raises(ValueError, match="no signal mapping"):
        PlatformSignals(InMemoryEventBus(), Hub(), {"ids.other": SourceStats("x", "p", "bus")})


def test_the_producers_types_are_the_ones_read() -> None:
    produced = {RESOLUTION_SIGNAL.event, AUTH_SIGNAL.event, UNKNOWN_SIGNAL.event}
    assert {(t.name, t.version) for t in produced} == set(TYPES.items())
    assert all(isinstance(t, EventType) for t in produced)
