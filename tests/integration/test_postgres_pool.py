"""The PostgreSQL connection pool of ``core.make_engine`` on a real server.

What an operator of many processes notices: each process says who it is in
``pg_stat_activity``, holds ``db_pool_size`` connections when quiet and at most twice that
under a burst, and recovers by itself when its connections are cut (failover,
``pg_terminate_backend``) without a ping on every checkout: a busy connection fails the one
call that was using it, an idle one is replaced before anyone uses it.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path

import httpx
import psycopg
import pytest
import sqlalchemy as sa
from tests.conftest import bearer, need_service

from indunet import core
from indunet.core import Settings, db, make_engine
from indunet.telemetry import open_store
from indunet.web import AppState, build_state, create_app

DEFAULT_URL = "postgresql://postgres@127.0.0.1:5432/test"

pytestmark = pytest.mark.integration


def admin_url() -> str:
    return os.environ.get("INDUNET_TEST_DATABASE_URL") or DEFAULT_URL


@pytest.fixture
def pg_url() -> str:
    url = admin_url()
    info = psycopg.conninfo.conninfo_to_dict(url)
    need_service("PostgreSQL", str(info.get("host") or "127.0.0.1"), int(info.get("port") or 5432))
    return url


SHARD = f"{os.getpid() % 9973}/9973"  # unique per test process: our rows in pg_stat_activity
NAME = f"indunet-worker-{SHARD}"


def make(pg_url: str, tmp_path: Path, pool_size: int = 5) -> sa.Engine:
    settings = Settings(
        database_url=pg_url,
        data_dir=tmp_path / "data",
        role="worker",
        shard=SHARD,
        db_pool_size=pool_size,
    )
    assert db.application_name(settings) == NAME
    return make_engine(settings)


def backends() -> list[int]:
    """Pids of the server's connections that say they are this test's engine."""
    with psycopg.connect(admin_url(), autocommit=True) as conn:
        rows = conn.execute(
            "SELECT pid FROM pg_stat_activity WHERE application_name = %s", (NAME,)
        ).fetchall()
    return sorted(r[0] for r in rows)


def terminate(pids: list[int]) -> None:
    """Cut these backends and wait until they are gone."""
    with psycopg.connect(admin_url(), autocommit=True) as conn:
        for pid in pids:
            conn.execute("SELECT pg_terminate_backend(%s)", (pid,))
    deadline = time.monotonic() + 5
    while set(pids) & set(backends()):
        assert time.monotonic() < deadline, "the cut backends did not exit in 5 s"
        time.sleep(0.01)


def backend_pid(engine: sa.Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(sa.text("SELECT pg_backend_pid()")).scalar_one())


def calls(engine: sa.Engine, n: int) -> tuple[int, list[int]]:
    """Make ``n`` one-query calls; how many failed, and the backends that answered."""
    failed, pids = 0, []
    for _ in range(n):
        try:
            pids.append(backend_pid(engine))
        except sa.exc.OperationalError:
            failed += 1
    return failed, pids


@pytest.fixture
def engine(pg_url: str, tmp_path: Path) -> Iterator[sa.Engine]:
    eng = make(pg_url, tmp_path, pool_size=2)
    yield eng
    eng.dispose()


def test_a_process_is_named_in_pg_stat_activity_and_keeps_its_pool_size(
    engine: sa.Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    with ExitStack() as held:  # a burst: the pool size plus as many again
        conns = [held.enter_context(engine.connect()) for _ in range(4)]
        pids = [int(c.execute(sa.text("SELECT pg_backend_pid()")).scalar_one()) for c in conns]
        assert backends() == sorted(pids)
        monkeypatch.setattr(engine.pool, "_timeout", 0.3)
        with pytest.raises(sa.exc.TimeoutError):  # bounded: a fifth waits, then fails
            engine.connect()
    assert len(backends()) == 2  # quiet again: the overflow is closed, the pool size stays


def test_busy_connections_cut_by_the_server_fail_at_most_one_call(engine: sa.Engine) -> None:
    with engine.connect() as a, engine.connect() as b:  # two pooled, both just used
        cut = [int(c.execute(sa.text("SELECT pg_backend_pid()")).scalar_one()) for c in (a, b)]
    assert backends() == sorted(cut)
    terminate(cut)
    failed, pids = calls(engine, 5)
    assert failed <= 1, "the pool kept handing out cut connections"
    assert len(pids) == 5 - failed and not set(pids) & set(cut)  # fresh backends answer


def test_idle_connections_cut_by_the_server_are_replaced_before_use(
    engine: sa.Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = backend_pid(engine)
    monkeypatch.setattr(db, "IDLE_PING_S", 0.0)  # every pooled connection counts as idle
    terminate([before])
    failed, pids = calls(engine, 3)
    assert failed == 0  # the checkout's ping found it dead and connected afresh
    assert before not in pids


def test_a_pinged_connection_can_be_used_in_autocommit(
    engine: sa.Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The identifier store reads in autocommit: the idle ping must leave no transaction."""
    backend_pid(engine)
    monkeypatch.setattr(db, "IDLE_PING_S", 0.0)
    with engine.execution_options(isolation_level="AUTOCOMMIT").connect() as conn:
        assert conn.execute(sa.text("SELECT 2")).scalar_one() == 2


def test_statement_timeout_from_the_url(pg_url: str, tmp_path: Path) -> None:
    sep = "&" if "?" in pg_url else "?"
    eng = make(pg_url + sep + "options=-c%20statement_timeout%3D200", tmp_path)
    try:
        with (
            pytest.raises(sa.exc.OperationalError, match="statement timeout"),
            eng.connect() as conn,
        ):
            conn.execute(sa.text("SELECT pg_sleep(2)"))
        assert backend_pid(eng) > 0  # the pool goes on
    finally:
        eng.dispose()


def test_the_telemetry_store_names_its_connections(pg_schema_url: str, tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "data", role="worker", shard=SHARD)
    name = db.application_name(settings, "telemetry")
    store = open_store(pg_schema_url, application_name=name)
    try:
        store.latest("nothing")  # a reader too
        with psycopg.connect(admin_url(), autocommit=True) as conn:
            rows = conn.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE application_name = %s", (name,)
            ).fetchone()
        assert rows is not None and rows[0] == 2  # the writer and one reader
    finally:
        store.close()


@pytest.fixture
def api(pg_schema_url: str, tmp_path: Path) -> Iterator[tuple[AppState, dict[str, str]]]:
    settings = Settings(
        database_url=pg_schema_url, data_dir=tmp_path / "data", role="worker", shard=SHARD
    )
    state = build_state(settings, platform=False)
    try:
        yield state, bearer(state.engine, "root", core.Role.PLATFORM_ADMIN)
    finally:
        state.engine.dispose()


async def test_a_request_on_a_cut_connection_answers_503_and_the_next_one_works(
    api: tuple[AppState, dict[str, str]],
) -> None:
    state, headers = api
    transport = httpx.ASGITransport(app=create_app(state))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        assert (await client.get("/api/v1/enterprises", headers=headers)).status_code == 200
        await asyncio.to_thread(terminate, await asyncio.to_thread(backends))
        cut = await client.get("/api/v1/enterprises", headers=headers)
        assert cut.status_code == 503, cut.text
        assert cut.json() == {
            "code": "database_unavailable",
            "message": "the database lost its connection; retry in a moment",
        }
        assert cut.headers["retry-after"] == "2"
        for _ in range(3):
            assert (await client.get("/api/v1/enterprises", headers=headers)).status_code == 200
