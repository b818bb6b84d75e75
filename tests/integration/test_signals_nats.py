"""The platform's signals across processes on the real NATS JetStream: an identifier-serving
process publishes what its hot paths noticed, the lead process's once-per-installation bus
hands it to the security hub and detection, and nothing is lost while the lead is away.

Two "processes" are two backbones in this test process, each with its own NATS connection,
under one subject prefix of this test's own (its streams are deleted at the end)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Sequence

import pytest
from tests.conftest import bus_prefix, delete_streams, nats_connected, until

from indunet import bus
from indunet.core.signals import Signals
from indunet.ids.events import RESOLUTIONS as RESOLUTION_SIGNAL
from indunet.security import Hub, SecurityEvent
from indunet.security.alerts import Alert
from indunet.security.detect import Engine, MemorySink, builtin_files, load_ruleset
from indunet.security.ingest.gate import SourceStats
from indunet.security.ingest.signals import RESOLUTIONS, TYPES, PlatformSignals

pytestmark = pytest.mark.integration
SCANNER = "203.0.113.77"


class Lead:
    """The lead process's side: its durable bus, the signals subscriber, hub and detection."""

    def __init__(self, backbone: bus.Backbone) -> None:
        self.bus = bus.NatsEventBus(backbone, durable="notify")
        self.hub = Hub()
        self.stats = {t: SourceStats(f"platform {t}", "platform", "bus") for t in TYPES}
        self.part = PlatformSignals(self.bus, self.hub, self.stats)
        self.sink = MemorySink()
        self.engine = Engine(load_ruleset(builtin_files()), self.sink)
        self.events: list[SecurityEvent] = []

        async def collect(batch: Sequence[SecurityEvent]) -> None:
            self.events.extend(batch)

        self.hub.subscribe("detect", self.engine.handle)
        self.hub.subscribe("test", collect)

    async def start(self) -> None:
        await self.hub.start()
        await self.bus.start()
        await self.part.start()
        # the durable consumer reads from its making on: wait until it is made
        for _ in range(200):
            with contextlib.suppress(Exception):
                js = self.bus.backbone.jetstream()
                await js.consumer_info(self.bus.names.events_stream, "evt-notify")
                return
            await asyncio.sleep(0.05)
        raise AssertionError("the lead's durable consumer was not made in 10 s")

    async def stop(self) -> None:
        await self.part.stop()
        await self.bus.stop()
        await self.hub.stop()

    def alerts(self, rule: str) -> list[Alert]:
        return [a for a in self.sink.alerts if a.rule == rule]


async def test_resolution_signals_reach_the_lead_once_and_wait_for_it_while_it_is_away() -> None:
    prefix = bus_prefix()
    async with nats_connected(prefix, "api") as api, nats_connected(prefix, "lead") as lead_bb:
        published = bus.NatsEventBus(api)
        await published.start()
        signals = Signals()
        signals.bus = bus.HandledElsewhere(published)  # the api process publishes only
        lead = Lead(lead_bb)
        await lead.start()
        try:
            resolved = signals.of(RESOLUTION_SIGNAL)
            # a scanner asks for 40 identifiers that do not exist, and one that does
            for n in range(40):
                resolved.add((SCANNER, f"88.100.1/GUESS-{n}", 100, "http"))
            resolved.add(("198.51.100.8", "88.100.1/PUMP-7", 1, "udp"))
            assert await signals.flush() == 1  # one bus event for the second's records
            await until(lambda: len(lead.events) == 41, 15, "the lead got all 41 resolutions")
            await lead.hub.drained()
            assert {e.kind for e in lead.events} == {"ids.resolve"}
            assert sum(e.outcome == "failure" for e in lead.events) == 40
            assert lead.alerts("identifier.enumeration-not-found"), "the scan was not detected"
            assert lead.alerts("identifier.enumeration-not-found")[0].src_ip == SCANNER
            # the lead goes away; what is published meanwhile waits on the stream for it
            await lead.stop()
            for n in range(5):
                resolved.add((SCANNER, f"88.100.1/LATER-{n}", 100, "tcp"))
            assert await signals.flush() == 1
            lead2 = Lead(lead_bb)
            await lead2.start()
            try:
                await until(lambda: len(lead2.events) == 5, 15, "the restarted lead caught up")
                await asyncio.sleep(0.5)  # and nothing comes twice
                handles = sorted(e.fields["handle"] for e in lead2.events)
                assert handles == [f"88.100.1/LATER-{n}" for n in range(5)]
                stats = lead2.stats[RESOLUTIONS]
                assert (stats.read, stats.submitted, stats.bad, stats.dropped) == (5, 5, 0, 0)
            finally:
                await lead2.stop()
        finally:
            with contextlib.suppress(Exception):
                await lead.stop()
            await published.stop()
            await delete_streams(api)
