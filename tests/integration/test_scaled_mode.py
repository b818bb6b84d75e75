# ruff: noqa: F401, F811  (tests and fixtures imported from the embedded modules run here scaled)
"""The platform API tests of ingest, series, alarms from rules and dead letters, scaled.

The same test functions run embedded in their own modules (``tests/web/test_ingest_api.py``,
``test_series_api.py``, ``test_alarms_api.py``, ``test_console_ingest.py``) and here again
in the scaled configuration: role ``all`` on the real NATS (``NATS_URL``, a prefix of its own
per test, two partitions, small streams deleted afterwards) with telemetry on PostgreSQL (a
schema of its own per test, the main database in another). The platform is built by ``build_platform(..., backbone=)``: the
ingest pipeline publishes to JetStream (``bus.BusWriter``) and a ``bus.BusWorker`` stores
through a second pipeline into PostgreSQL and runs the rules. The fixtures below replace the
embedded ones of the same name; the tests are unchanged.

One thing differs by design: in the scaled mode an ingest answer means "on the stream", and
the worker stores a moment later. The client here therefore waits, after each request that
changes something, until the worker has stored (and the rules have seen) everything
published, before handing the answer to the test, which then reads the store as it does
embedded. A lost or unstored sample still fails the test: the wait gives up after 15 s.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa
from tests.conftest import NATS_URL, PG_URL, SMALL_STREAMS, bearer, bus_prefix, need_service, until
from tests.telemetry.fleet import Fleet as StandIn
from tests.telemetry.fleet import other_enterprise
from tests.web import test_alarms_api as alarms_api
from tests.web import test_console_ingest as console_ingest
from tests.web import test_ingest_api as ingest_api
from tests.web import test_series_api as series_api
from tests.web.test_console_platform import admin_password, fleet
from tests.web.test_series_api import who

from indunet import bus, core, ids, telemetry
from indunet.core import Role, Settings
from indunet.core.db import BUFFER_FILE
from indunet.telemetry import BAD, PostgresStore, Sample, TimeSeriesStore
from indunet.web import AppState, build_state, create_app, open_database
from indunet.web.backbone import BackboneService
from indunet.web.platform import Platform, build_platform

pytestmark = pytest.mark.integration
SETTLE_S = 15.0
STOP_S = 45.0  # a pipeline's own stop waits up to 30 s for a hanging store


# -- the scaled configuration ------------------------------------------------------------------
@pytest.fixture
def settings(tmp_path: Path, pg_schema_url: str) -> Settings:
    """Role all on the shared NATS under a prefix of this test, telemetry in PostgreSQL."""
    host, _, port = NATS_URL.removeprefix("nats://").rpartition(":")
    need_service("NATS", host, int(port))
    return Settings(
        data_dir=tmp_path / "data",
        port=8000,
        telemetry_url=pg_schema_url,
        bus_url=NATS_URL,
        bus_prefix=bus_prefix(),
        bus_partitions=2,
        bus_max_bytes=SMALL_STREAMS.max_bytes,
    )


@pytest.fixture
def engine(settings: Settings) -> Iterator[sa.Engine]:
    """The main database on PostgreSQL too (processes of a scaled installation share it), in a
    schema of this test."""
    import psycopg

    schema = "t_" + uuid.uuid4().hex[:12]
    with psycopg.connect(PG_URL, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    sep = "&" if "?" in PG_URL else "?"
    url = f"{PG_URL}{sep}options=-csearch_path%3D{schema}"
    eng = open_database(settings.model_copy(update={"database_url": url}))
    try:
        yield eng
    finally:
        eng.dispose()
        with psycopg.connect(PG_URL, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


@pytest.fixture
def state(settings: Settings, engine: sa.Engine) -> Iterator[AppState]:
    """The app state of a scaled process: its backbone (small streams) and the platform
    ``build_platform`` wires on it."""
    made = build_state(settings, engine=engine)
    assert made.platform is not None and made.platform.worker is not None  # scaled already
    made.platform.store.close()  # rebuilt below on a backbone with small streams
    names = bus.Names(settings.bus_prefix, settings.bus_partitions)
    backbone = bus.Backbone([NATS_URL], names, SMALL_STREAMS, client_name="indunet-all-0/1")
    made.services["bus"] = BackboneService(backbone)
    made.platform = build_platform(settings, engine, made.bus, made.hierarchy, backbone=backbone)
    assert isinstance(made.platform.store, PostgresStore)
    yield made
    made.platform.store.close()


class Counted:
    """A stored-batch subscriber that counts what it was given (the rules have seen it)."""

    def __init__(self, on_stored: Callable[[list[Sample]], Awaitable[None]]) -> None:
        self.on_stored = on_stored
        self.samples = 0

    async def __call__(self, samples: list[Sample]) -> None:
        try:
            await self.on_stored(samples)
        finally:
            self.samples += len(samples)


@dataclass
class Scaled:
    """The running scaled parts of one platform: backbone, worker and both pipelines."""

    platform: Platform
    backbone: bus.Backbone
    seen: Counted | None = None

    @property
    def worker(self) -> bus.BusWorker:
        assert self.platform.worker is not None
        return self.platform.worker

    def drained(self) -> bool:
        """Everything published is stored (and given to the rules, when counted)."""
        p, w, writer = self.platform, self.worker, self.platform.writer
        assert writer is not None
        return (
            p.pipeline.settled()
            and w.pipeline.settled()
            and w.stats.samples >= writer.stats.samples
            and (self.seen is None or self.seen.samples >= w.pipeline.counts.stored)
        )

    async def settle(self) -> None:
        await until(self.drained, SETTLE_S, "the worker to store what was published")


@contextlib.asynccontextmanager
async def running(state: AppState) -> AsyncIterator[Scaled]:
    """Start what ``Platform.start`` starts of the telemetry path (no connectors: the
    devices here are not connected), stop it and delete the test's streams afterwards."""
    platform = state.platform
    assert platform is not None and platform.writer is not None and platform.worker is not None
    svc = state.services["bus"]
    assert isinstance(svc, BackboneService)
    backbone = svc.backbone
    worker = platform.worker
    await backbone.start()
    try:
        assert await backbone.wait_ready(15), "NATS JetStream did not become ready in 15 s"
        platform.writer.bind(asyncio.get_running_loop())
        await platform.pipeline.start()
        await worker.pipeline.start()
        await worker.start()
        yield Scaled(platform, backbone)
    finally:
        # Each step does nothing if it did not start, and is bounded: a hang names itself
        # and the later steps still run (the streams are deleted).
        hung = []
        for step, stop in (
            ("worker", worker.stop),
            ("ingest pipeline", platform.pipeline.stop),
            ("worker pipeline", worker.pipeline.stop),
            ("streams", lambda: delete_streams(backbone)),
            ("backbone", backbone.close),
        ):
            try:
                async with asyncio.timeout(STOP_S):
                    await stop()
            except TimeoutError:
                hung.append(step)
        assert not hung, f"stopping took over {STOP_S} s: {', '.join(hung)}"


async def delete_streams(backbone: bus.Backbone) -> None:
    if backbone.js is not None:
        for name in (backbone.names.telemetry_stream, backbone.names.events_stream):
            with contextlib.suppress(Exception):
                await backbone.js.delete_stream(name)


@pytest.fixture
async def scaled(state: AppState) -> AsyncIterator[Scaled]:
    async with running(state) as parts:
        yield parts


class Settling(httpx.AsyncBaseTransport):
    """The app, answering a request that changes something once the worker has stored."""

    def __init__(self, inner: httpx.ASGITransport, parts: Scaled) -> None:
        self.inner = inner
        self.app = inner.app  # where the console tests' login helper finds the app state
        self.parts = parts

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        response = await self.inner.handle_async_request(request)
        if request.method not in ("GET", "HEAD"):
            await self.parts.settle()
        return response


def settling_client(state: AppState, parts: Scaled) -> httpx.AsyncClient:
    transport = Settling(httpx.ASGITransport(app=create_app(state)), parts)
    return httpx.AsyncClient(transport=transport, base_url="http://testserver")


def scaled_tests(module: object, *names: str) -> dict[str, object]:
    """The named test functions of an embedded module, to run in a class with scaled fixtures."""
    return {name: staticmethod(getattr(module, name)) for name in names}


class TestIngestApi:
    """``tests/web/test_ingest_api.py``: HTTP ingest, its checks and dead letters, stats.

    Left out: the full-buffer 503 (its own pipeline over a failing store: the embedded
    buffer) and retention settings (no telemetry path).
    """

    @pytest.fixture
    async def store(self, scaled: Scaled) -> AsyncIterator[TimeSeriesStore]:
        """The platform's PostgreSQL store, written by the worker (the embedded module's is
        a MemoryStore behind a pipeline of its own); afterwards, every envelope published
        was stored and acknowledged."""
        yield scaled.platform.store
        writer = scaled.platform.writer
        assert writer is not None
        assert (scaled.worker.stats.samples, scaled.worker.stats.acked) == (
            writer.stats.samples,
            writer.stats.batches,
        )

    @pytest.fixture
    async def client(self, state: AppState, scaled: Scaled) -> AsyncIterator[httpx.AsyncClient]:
        async with settling_client(state, scaled) as c:
            yield c

    @pytest.fixture
    def world(
        self, state: AppState, allocation: ids.Allocation, enterprise: core.Enterprise
    ) -> ingest_api.World:
        return ingest_api.world.__wrapped__(state, allocation, enterprise)  # type: ignore[attr-defined,no-any-return]

    locals().update(
        scaled_tests(
            ingest_api,
            "test_rows_are_stored_before_the_200",
            "test_a_device_posts_columns_with_its_secret",
            "test_gzip_bodies_are_accepted",
            "test_bad_samples_are_dead_lettered_and_listed",
            "test_unreadable_bodies_are_400_and_kept_as_dead_letters",
            "test_who_may_write",
            "test_stats_are_for_overseers",
        )
    )


class TestSeriesApi:
    """``tests/web/test_series_api.py``: latest, samples, downsample and export, read from
    PostgreSQL by a scaled process (the samples are written to the store directly, as the
    embedded module does: they are not of the device's model)."""

    @pytest.fixture
    async def store(
        self, state: AppState, allocation: ids.Allocation, scaled: Scaled
    ) -> TimeSeriesStore:
        platform = scaled.platform
        await asyncio.to_thread(
            platform.devices.create, allocation.enterprise_id, series_api.METER, actor="test"
        )
        t0 = series_api.T0
        # Written straight to the store, as the embedded module does: these samples are not
        # the power meter model's (power_kw), so ingest would dead-letter them.
        await asyncio.to_thread(
            platform.store.write_batch,
            [Sample("meter-1", "power_kw", t0 + i * 10_000, float(i)) for i in range(60)]
            + [
                Sample("meter-1", "breaker_on", t0, True),
                Sample("meter-1", "status", t0, "正常"),
                Sample("meter-1", "power_kw", t0 + 600_000, -1.0, BAD),
            ],
        )
        return platform.store

    @pytest.fixture
    async def client(
        self, state: AppState, scaled: Scaled, store: TimeSeriesStore
    ) -> AsyncIterator[httpx.AsyncClient]:
        async with settling_client(state, scaled) as c:
            yield c

    locals().update(
        scaled_tests(
            series_api,
            "test_latest_for_readers_of_the_device",
            "test_other_enterprises_and_unknown_devices_are_not_found",
            "test_samples_in_a_window_with_paging",
            "test_bad_sample_windows_are_400_naming_the_parameter",
            "test_downsample_buckets",
            "test_export_csv_and_parquet",
        )
    )


@dataclass
class ScaledSite(alarms_api.Site):
    """The alarm tests' site, whose heat travels: pipeline, NATS, worker, PostgreSQL, rules."""

    parts: Scaled | None = None

    async def heat(self, seconds: range, temp: float = 90.0) -> None:
        assert self.parts is not None
        t0 = alarms_api.T0
        samples = [Sample("press-1", "bearing_temp", t0 + s * 1000, temp) for s in seconds]
        receipt = await self.parts.platform.pipeline.ingest(samples, source="test")
        assert receipt.dead_lettered == 0, receipt.errors
        await self.parts.settle()


class TestAlarmsFromRules:
    """``tests/web/test_alarms_api.py``, the tests where samples raise and clear alarms.

    The embedded module hands samples to the rule engine directly; here they are ingested
    and reach the rules through the worker. Rule CRUD and its refusals do not touch
    telemetry and are left out.
    """

    @pytest.fixture
    async def site(self, state: AppState, enterprise: core.Enterprise) -> AsyncIterator[ScaledSite]:
        platform = state.platform
        assert platform is not None and platform.writer is not None
        other = other_enterprise(state.engine)
        stand_in = StandIn()
        stand_in.add("press-1", enterprise.id)
        stand_in.add("press-x", other.id)
        platform.alarms = telemetry.Alarms(state.engine, state.bus)
        platform.rules = telemetry.RuleEngine(
            state.engine, stand_in, platform.alarms, state.bus, find_model=stand_in.model
        )
        # The wiring of build_platform over the stand-in device directory and rule engine.
        seen = Counted(platform.rules.on_stored)
        platform.pipeline = telemetry.Pipeline(
            platform.writer,
            stand_in.model_of,
            platform.dead_letters,
            telemetry.DiskBuffer(state.settings.data_dir / BUFFER_FILE, 1 << 24),
        )
        stored = telemetry.Pipeline(
            platform.store, stand_in.model_of, platform.dead_letters, None, on_stored=seen
        )
        assert platform.worker is not None
        platform.worker = bus.BusWorker(
            platform.worker.backbone, stored, platform.worker.partitions
        )
        engine = state.engine
        async with running(state) as parts:
            parts.seen = seen
            async with settling_client(state, parts) as client:
                yield ScaledSite(
                    client,
                    state,
                    platform.rules,
                    bearer(engine, "ent-admin", Role.ENTERPRISE_ADMIN, enterprise.id),
                    bearer(engine, "operator", Role.ENTERPRISE_USER, enterprise.id),
                    bearer(engine, "watcher", Role.REGULATOR),
                    bearer(engine, "outsider", Role.ENTERPRISE_ADMIN, other.id),
                    parts,
                )

    locals().update(
        scaled_tests(
            alarms_api,
            "test_alarm_is_raised_listed_counted_and_acknowledged",
            "test_alarm_filters_paging_and_total",
            "test_clear_by_hand_and_comments_over_the_api",
        )
    )


class TestDeadLettersConsole:
    """``tests/web/test_console_ingest.py``: dead letters in the console, and retrying them
    after a model fix, which now stores through NATS and the worker."""

    @pytest.fixture
    async def world(self, fleet: object, scaled: Scaled) -> AsyncIterator[object]:
        made = console_ingest.world.__wrapped__(fleet)  # type: ignore[attr-defined]
        yield await made.__anext__()
        with contextlib.suppress(StopAsyncIteration):
            await made.__anext__()

    @pytest.fixture
    async def app_client(
        self, state: AppState, fleet: object, scaled: Scaled
    ) -> AsyncIterator[httpx.AsyncClient]:
        async with settling_client(state, scaled) as c:
            yield c

    locals().update(
        scaled_tests(
            console_ingest,
            "test_tenants_see_their_letters_only_and_another_tenants_device_is_404",
            "test_filters_search_and_paging_run_on_the_server",
            "test_retry_after_a_model_fix_stores_what_passes_and_keeps_the_rest",
            "test_retrying_never_reaches_another_tenant_and_bad_input_is_refused",
            "test_a_letter_of_an_earlier_owner_is_never_written_into_the_new_device",
        )
    )
