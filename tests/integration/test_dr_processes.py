"""A disaster-recovery node in its own process and database: it copies the primary, takes over
when the primary is killed with SIGKILL under load, and catches up when it returns.

Processes on 127.0.0.1: root, top-level 88, the primary of secondary 88.100, its DR copy
(``indunet node --role dr``, announced at the top-level node as a further site) and a
recursive resolver. The figures of the take-over are printed (run with ``-s`` to see them;
docs/ids/running-a-node.md records a run).
"""

from __future__ import annotations

import asyncio
import os
import signal
import time
from collections.abc import Iterator
from dataclasses import dataclass, field

import httpx
import pytest
from tests.integration.servers import Server, ServerGroup, group
from tests.integration.test_hierarchy_processes import (
    ALLOW_LOOPBACK,
    ENTERPRISE_AUTH,
    ENTERPRISE_KEY,
    ROOT_KEY,
    TOP_KEY,
    allocate_in,
    sites_of,
)

pytestmark = pytest.mark.integration

#: How long a record written at the primary may take to reach the copy.
COPY_BOUND_S = 5.0
LOAD_BEFORE_S = 2.0
LOAD_AFTER_S = 6.0
CONCURRENCY = 8
RECORDS = 40


@dataclass
class DrSetup:
    group: ServerGroup
    top: Server
    primary: Server
    dr: Server
    recursive: Server


def _token(primary: Server) -> str:
    password = primary.admin_password
    assert password, primary.output
    resp = httpx.post(
        f"{primary.url}/api/v1/auth/token",
        json={"username": "admin", "password": password, "name": "dr"},
        timeout=10,
    )
    assert resp.status_code == 200, resp.text
    return str(resp.json()["token"])


@pytest.fixture(scope="module")
def dr_setup(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DrSetup]:
    with group(tmp_path_factory.mktemp("dr")) as g:
        root = g.prepare("root", "node", "--role", "root", env=ALLOW_LOOPBACK)
        top = g.prepare("top", "node", "--role", "top-level", "--prefix", "88", env=ALLOW_LOOPBACK)
        allocate_in(root.data_dir, "", "88", ROOT_KEY)
        allocate_in(top.data_dir, "88", "88.100", TOP_KEY)
        (g.base / "k1").write_text(ROOT_KEY + "\n")
        (g.base / "k2").write_text(TOP_KEY + "\n")
        root.start()
        top.args += ["--parent", root.url, "--parent-key-file", str(g.base / "k1")]
        top.start()
        announce = ["--parent", top.url, "--parent-key-file", str(g.base / "k2")]
        primary = g.prepare(
            "primary", "node", "--role", "secondary", "--prefix", "88.100", *announce,
            env=ALLOW_LOOPBACK,
        )  # fmt: skip
        allocate_in(primary.data_dir, "88.100", "88.100.1", ENTERPRISE_KEY)
        primary.start()
        (g.base / "token").write_text(_token(primary) + "\n")
        dr = g.start(
            "dr", "node", "--role", "dr", "--prefix", "88.100", "--primary", primary.url,
            "--primary-token-file", str(g.base / "token"), *announce,
            env=ALLOW_LOOPBACK,
        )  # fmt: skip
        recursive = g.start(
            "recursive", "node", "--role", "recursive", "--parent", root.url,
            env={**ALLOW_LOOPBACK, "INDUNET_CACHE_MAX_TTL": "0"},
        )  # fmt: skip
        yield DrSetup(g, top, primary, dr, recursive)


def register(site: Server, handle: str, url: str) -> httpx.Response:
    return httpx.put(
        f"{site.url}/api/handles/{handle}",
        json={"values": [{"index": 1, "type": "URL", "data": url}]},
        auth=ENTERPRISE_AUTH,
        timeout=10,
    )


def wait_for(site: Server, handle: str, url: str, within: float) -> float:
    """Seconds until ``site`` answers ``handle`` with ``url``; fails after ``within``."""
    t0 = time.monotonic()
    while True:
        resp = httpx.get(f"{site.url}/api/handles/{handle}", timeout=5)
        if resp.status_code == 200 and any(
            v["data"]["value"] == url for v in resp.json()["values"] if v["type"] == "URL"
        ):
            return time.monotonic() - t0
        if time.monotonic() - t0 > within:
            raise AssertionError(f"{site.url} did not answer {handle} with {url} in {within}s")
        time.sleep(0.05)


def test_records_written_at_the_primary_reach_the_copy(dr_setup: DrSetup) -> None:
    lags = []
    for i in range(RECORDS):
        resp = register(dr_setup.primary, f"88.100.1/DR-{i}", f"https://dr.example/{i}")
        assert resp.status_code == 201, resp.text
    for i in range(RECORDS):
        lags.append(
            wait_for(dr_setup.dr, f"88.100.1/DR-{i}", f"https://dr.example/{i}", COPY_BOUND_S)
        )
    print(f"\nDR copy lag after {RECORDS} writes: max {max(lags):.2f} s")
    # the delegation record of the enterprise prefix came along: the copy answers for it too
    assert httpx.get(f"{dr_setup.dr.url}/api/handles/0.NA/88.100.1", timeout=5).status_code == 200
    # a deletion is copied too
    gone = httpx.delete(
        f"{dr_setup.primary.url}/api/handles/88.100.1/DR-0", auth=ENTERPRISE_AUTH, timeout=10
    )
    assert gone.status_code == 200, gone.text
    deadline = time.monotonic() + COPY_BOUND_S
    while httpx.get(f"{dr_setup.dr.url}/api/handles/88.100.1/DR-0", timeout=5).status_code != 404:
        assert time.monotonic() < deadline, "the deletion did not reach the copy"
        time.sleep(0.05)


def test_the_copy_refuses_writes_and_is_a_further_site(dr_setup: DrSetup) -> None:
    resp = register(dr_setup.dr, "88.100.1/ON-THE-COPY", "https://x.example")
    assert resp.status_code == 403, resp.text
    body = resp.json()
    assert body["responseCode"] == 7
    assert "disaster-recovery copy" in body["message"] and dr_setup.primary.url in body["message"]
    gone = httpx.delete(f"{dr_setup.dr.url}/api/handles/88.100.1/DR-1", auth=ENTERPRISE_AUTH)
    assert gone.status_code == 403 and gone.json()["responseCode"] == 7
    assert httpx.get(f"{dr_setup.dr.url}/api/handles/88.100.1/DR-1").status_code == 200
    status = httpx.get(f"{dr_setup.dr.url}/api/v1/nodes/88.100", timeout=5).json()
    assert status["role"] == "dr" and status["records"] >= RECORDS
    copy = status["copy"]
    assert copy["primary"] == dr_setup.primary.url and copy["reaching_primary"] is True
    assert copy["applied"] == copy["primary_head"] and copy["applied"] > RECORDS
    sites = sites_of(dr_setup.top, "88.100")
    assert [(s["url"], s["primary"]) for s in sites] == [
        (dr_setup.primary.url, True),
        (dr_setup.dr.url, False),
    ]


@dataclass
class Load:
    kill_at: float = 0.0
    results: list[tuple[float, float, bool, str]] = field(default_factory=list)  # t, s, ok, site


async def _load(setup: DrSetup, load: Load, stop_at: float) -> None:
    async with httpx.AsyncClient(timeout=15) as client:

        async def worker(w: int) -> None:
            i = w
            while time.monotonic() < stop_at:
                handle = f"88.100.1/DR-{1 + i % (RECORDS - 1)}"
                t0 = time.monotonic()
                try:
                    resp = await client.get(
                        f"{setup.recursive.url}/api/v1/resolve/{handle}",
                        params={"fresh": "true"},
                    )
                    body = resp.json()
                    ok = resp.status_code == 200 and body.get("responseCode") == 1
                    site = body["path"][-1]["site"] if ok else ""
                except (httpx.HTTPError, ValueError, KeyError):
                    ok, site = False, ""
                load.results.append((t0, time.monotonic() - t0, ok, site))
                i += CONCURRENCY

        await asyncio.gather(*(worker(w) for w in range(CONCURRENCY)))


def test_kill_9_under_load_then_the_copy_answers_and_catches_up(dr_setup: DrSetup) -> None:
    load = Load()

    async def run() -> None:
        start = time.monotonic()
        task = asyncio.create_task(_load(dr_setup, load, start + LOAD_BEFORE_S + LOAD_AFTER_S))
        await asyncio.sleep(LOAD_BEFORE_S)
        load.kill_at = time.monotonic()
        await asyncio.to_thread(dr_setup.primary.kill)
        await task

    asyncio.run(run())
    before = [r for r in load.results if r[0] < load.kill_at]
    after = [r for r in load.results if r[0] >= load.kill_at]
    failed = [r for r in load.results if not r[2]]
    by_dr = [r for r in after if r[2] and r[3] == dr_setup.dr.url]
    assert before and all(r[2] and r[3] == dr_setup.primary.url for r in before[:5])
    assert by_dr, "the copy never answered after the primary was killed"
    takeover = by_dr[0][0] + by_dr[0][1] - load.kill_at
    worst = max(r[1] for r in after)
    print(
        f"\nDR take-over: {len(load.results)} resolutions ({len(before)} before the kill, "
        f"{len(after)} after), {len(failed)} failed; first answer from the copy "
        f"{takeover:.2f} s after kill -9; slowest request after the kill {worst:.2f} s"
    )
    assert len(failed) <= CONCURRENCY  # at most the requests in flight at the kill
    assert takeover < 5.0
    assert sum(1 for r in after if r[2]) >= len(after) - CONCURRENCY

    # the primary returns (same data and port), takes writes, and the copy catches up
    dr_setup.primary.start()
    for i in range(5):
        resp = register(dr_setup.primary, f"88.100.1/BACK-{i}", f"https://back.example/{i}")
        assert resp.status_code == 201, resp.text
    lag = max(
        wait_for(dr_setup.dr, f"88.100.1/BACK-{i}", f"https://back.example/{i}", 35.0)
        for i in range(5)
    )
    print(f"DR caught up with writes made after the primary's restart within {lag:.2f} s")


def test_a_restarted_copy_resumes_without_copying_everything_again(dr_setup: DrSetup) -> None:
    dr_setup.dr.stop()
    resp = register(dr_setup.primary, "88.100.1/WHILE-DOWN", "https://down.example")
    assert resp.status_code == 201, resp.text
    dr_setup.dr.start()
    wait_for(dr_setup.dr, "88.100.1/WHILE-DOWN", "https://down.example", COPY_BOUND_S + 5)
    assert dr_setup.dr.output.count("copied ") == 1, dr_setup.dr.output  # the first start only


def test_a_primary_on_postgresql_is_copied_to_sqlite(
    pg_schema_url: str, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """The change log's PostgreSQL path (numbers under the head row's lock, bulk by COPY)
    read by a copy in SQLite, both real processes."""
    with group(tmp_path_factory.mktemp("dr-pg")) as g:
        primary = g.start(
            "primary", "node", "--role", "secondary", "--prefix", "88.100",
            env={**ALLOW_LOOPBACK, "INDUNET_DATABASE_URL": pg_schema_url},
        )  # fmt: skip
        token = _token(primary)
        (g.base / "token").write_text(token + "\n")
        admin = {"Authorization": f"Bearer {token}"}
        for i in range(5):
            resp = httpx.put(
                f"{primary.url}/api/handles/88.100/PG-{i}",
                json={"values": [{"index": 1, "type": "URL", "data": f"https://pg.example/{i}"}]},
                headers=admin,
                timeout=10,
            )
            assert resp.status_code == 201, resp.text
        dr = g.start(
            "dr", "node", "--role", "dr", "--prefix", "88.100", "--primary", primary.url,
            "--primary-token-file", str(g.base / "token"), env=ALLOW_LOOPBACK,
        )  # fmt: skip
        for i in range(5):
            wait_for(dr, f"88.100/PG-{i}", f"https://pg.example/{i}", COPY_BOUND_S)
        resp = httpx.delete(f"{primary.url}/api/handles/88.100/PG-0", headers=admin, timeout=10)
        assert resp.status_code == 200, resp.text
        deadline = time.monotonic() + COPY_BOUND_S
        while httpx.get(f"{dr.url}/api/handles/88.100/PG-0", timeout=5).status_code != 404:
            assert time.monotonic() < deadline, "the deletion did not reach the copy"
            time.sleep(0.05)


def test_a_stalled_primary_costs_the_site_timeout_until_its_breaker_opens(
    dr_setup: DrSetup,
) -> None:
    """SIGSTOP instead of SIGKILL: the primary's port still accepts connections and answers
    nothing, so each resolution waits for the site timeout (2 s) until the site guard's
    breaker opens, then goes to the copy at once."""
    load = Load()
    proc = dr_setup.primary.proc
    assert proc is not None

    async def run() -> None:
        start = time.monotonic()
        task = asyncio.create_task(_load(dr_setup, load, start + LOAD_BEFORE_S + LOAD_AFTER_S))
        await asyncio.sleep(LOAD_BEFORE_S)
        load.kill_at = time.monotonic()
        os.killpg(proc.pid, signal.SIGSTOP)
        await task

    try:
        asyncio.run(run())
    finally:
        os.killpg(proc.pid, signal.SIGCONT)
    after = [r for r in load.results if r[0] >= load.kill_at]
    failed = [r for r in after if not r[2]]
    by_dr = [r for r in after if r[2] and r[3] == dr_setup.dr.url]
    assert by_dr, "the copy never answered while the primary was stopped"
    first = by_dr[0][0] + by_dr[0][1] - load.kill_at
    late = sorted(r[1] for r in after if r[0] >= load.kill_at + 4.0)
    print(
        f"\nDR with the primary stopped (SIGSTOP): {len(after)} resolutions after the stop, "
        f"{len(failed)} failed; first answer from the copy {first:.2f} s after; slowest "
        f"{max(r[1] for r in after):.2f} s; from 4 s on the slowest {late[-1] if late else 0:.2f} s"
    )
    assert len(failed) <= CONCURRENCY
    assert late and late[-1] < 1.9  # under the 2 s site timeout: the breaker is open
