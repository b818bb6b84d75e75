"""Shared fixtures: an embedded hierarchy on a temporary SQLite file, and service discovery."""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import socket
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from indunet import bus, core, ids
from indunet.core import Settings
from indunet.core.db import make_engine
from indunet.web import AppState, build_state, open_database

REQUIRE_SERVICES = os.environ.get("INDUNET_REQUIRE_SERVICES") == "1"
# Tests talk to their servers over plain HTTP on loopback, with credentials: the development
# allowance, explicitly (the default refuses; tests of the rule set it themselves).
os.environ.setdefault("INDUNET_PLAIN_HTTP_AUTH", "loopback")
# Under pytest-xdist each worker's in-process apps get their own embedded MQTT port, so two
# workers never fight over the default 11883 (worker gw0 keeps it; servers.py picks free ones).
_WORKER = os.environ.get("PYTEST_XDIST_WORKER", "gw0")
if _WORKER != "gw0" and _WORKER[2:].isdigit():
    os.environ.setdefault("INDUNET_MQTT_PORT", str(11883 + 1000 * int(_WORKER[2:])))
USCC_A = "91350100M000100Y43"
USCC_B = core.make_uscc("91110108MA01ABCD")
NATS_URL = os.environ.get("INDUNET_TEST_NATS_URL") or "nats://127.0.0.1:4222"
PG_URL = os.environ.get("INDUNET_TEST_DATABASE_URL") or "postgresql://postgres@127.0.0.1:5432/test"
#: Streams a test may make on the shared NATS: JetStream reserves max_bytes per stream.
SMALL_STREAMS = bus.StreamLimits(
    max_bytes=64 * 1024**2, max_age_s=3600, duplicate_window_s=60, events_max_bytes=8 * 1024**2
)


def need_service(name: str, host: str, port: int) -> None:
    """Skip (or, under INDUNET_REQUIRE_SERVICES=1, fail) when a service is not reachable."""
    try:
        with socket.create_connection((host, port), timeout=1):
            return
    except OSError as exc:
        msg = f"{name} is not reachable on {host}:{port} ({exc})"
        if REQUIRE_SERVICES:
            pytest.fail(msg + " and INDUNET_REQUIRE_SERVICES=1")
        pytest.skip(msg)


def api_token(
    engine: sa.Engine, username: str, role: core.Role, enterprise_id: int | None = None
) -> str:
    """An API token of a new user."""
    with engine.begin() as conn:
        user = core.create_user(
            conn,
            username=username,
            password="a-long-password",
            role=role,
            actor="test",
            enterprise_id=enterprise_id,
        )
        return core.issue_token(conn, user, name="t")


def bearer(
    engine: sa.Engine, username: str, role: core.Role, enterprise_id: int | None = None
) -> dict[str, str]:
    """Headers of a new user with an API token (for the route tests)."""
    return {"Authorization": f"Bearer {api_token(engine, username, role, enterprise_id)}"}


async def until(check: Callable[[], object], within: float = 10.0, what: str = "condition") -> None:
    """Wait until ``check()`` is truthy (polling every 20 ms), or fail after ``within`` s."""
    deadline = time.monotonic() + within
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {within:g} s waiting for {what}")
        await asyncio.sleep(0.02)


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(data_dir=tmp_path / "data", port=8000)


@pytest.fixture(scope="session")
def migrated_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A SQLite database with every subsystem's migrations applied, made once per worker
    (the migrations take ~0.3 s; copying the file takes a millisecond)."""
    settings = Settings(data_dir=tmp_path_factory.mktemp("template") / "data", port=8000)
    eng = open_database(settings)
    with eng.connect() as conn:
        conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    eng.dispose()
    return _sqlite_path(settings)


def _sqlite_path(settings: Settings) -> Path:
    url = sa.engine.make_url(settings.resolved_database_url())
    assert url.get_backend_name() == "sqlite" and url.database
    return Path(url.database)


@pytest.fixture
def engine(settings: Settings, migrated_template: Path) -> Iterator[sa.Engine]:
    """The test's database: a copy of the migrated template when it is a new SQLite file
    (what ``open_database`` would make, without applying the migrations again)."""
    url = sa.engine.make_url(settings.resolved_database_url())
    if url.get_backend_name() == "sqlite" and url.database and not Path(url.database).exists():
        target = Path(url.database)
        target.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        shutil.copyfile(migrated_template, target)
        target.chmod(0o600)
        eng = make_engine(settings)
    else:
        eng = open_database(settings)
    yield eng
    eng.dispose()


@pytest.fixture
def state(settings: Settings, engine: sa.Engine) -> AppState:
    return build_state(settings, engine=engine)


@pytest.fixture
def enterprise(engine: sa.Engine) -> core.Enterprise:
    with engine.begin() as conn:
        return core.create_enterprise(
            conn, uscc=USCC_A, name="厦门示例机床有限公司", actor="test", verified=True
        )


@pytest.fixture
def allocation(state: AppState, enterprise: core.Enterprise) -> ids.Allocation:
    return ids.allocate(
        state.hierarchy.front, "88.100.1", enterprise, actor="test", secret="s3cret-key-for-tests"
    )


def bus_prefix() -> str:
    """A prefix of subjects and streams no other test uses."""
    return "t" + uuid.uuid4().hex[:10]


@contextlib.asynccontextmanager
async def nats_connected(prefix: str, name: str = "") -> AsyncIterator[bus.Backbone]:
    """A backbone on the shared NATS (``NATS_URL``) under ``prefix``, two partitions, small
    streams, ready (JetStream answered) — one "process" of a test; closed afterwards."""
    host, _, port = NATS_URL.removeprefix("nats://").rpartition(":")
    need_service("NATS", host, int(port))
    backbone = bus.Backbone(
        [NATS_URL],
        bus.Names(prefix, 2),
        SMALL_STREAMS,
        client_name=f"indunet-test-{name}" if name else "indunet-test",
    )
    await backbone.start()
    try:
        assert await backbone.wait_ready(15), "NATS JetStream did not become ready in 15 s"
        yield backbone
    finally:
        await backbone.close()


async def delete_streams(backbone: bus.Backbone) -> None:
    """Delete the streams of ``backbone``'s prefix (a test's own, at its end)."""
    if backbone.js is not None:
        for name in (backbone.names.telemetry_stream, backbone.names.events_stream):
            with contextlib.suppress(Exception):
                await backbone.js.delete_stream(name)


@pytest.fixture
async def nats_backbone() -> AsyncIterator[bus.Backbone]:
    """A connected backbone on the shared NATS (``NATS_URL``) under a prefix of its own, with
    two partitions and small streams, which are deleted afterwards."""
    async with nats_connected(bus_prefix()) as backbone:
        try:
            yield backbone
        finally:
            await delete_streams(backbone)


@pytest.fixture
def pg_schema_url(request: pytest.FixtureRequest) -> Iterator[str]:
    """``PG_URL`` with a fresh schema of this test first on its search path, dropped after."""
    import psycopg

    info = psycopg.conninfo.conninfo_to_dict(PG_URL)
    need_service("PostgreSQL", str(info.get("host") or "127.0.0.1"), int(info.get("port") or 5432))
    schema = "t_" + uuid.uuid4().hex[:12]
    with psycopg.connect(PG_URL, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    sep = "&" if "?" in PG_URL else "?"
    try:
        yield f"{PG_URL}{sep}options=-csearch_path%3D{schema}"
    finally:
        with psycopg.connect(PG_URL, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


# Asyncio debug mode for every test, failing a test whose code blocks the loop (see the module).
from tests.slow_callbacks import pytest_configure, slow_callbacks  # noqa: E402, F401
