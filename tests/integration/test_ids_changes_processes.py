"""A write made by the CLI, a separate process on a running ``indunet up``'s database, reaches
the server's answer cache within a second (ids.changes), on SQLite and on PostgreSQL."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from tests.integration.servers import Server, group

from indunet.core import Settings
from indunet.web import build_state

pytestmark = pytest.mark.integration

HANDLE = "88.100/CHANGED-1"
WITHIN_S = 1.0


def cli(server: Server, *args: str) -> float:
    """Run ``indunet id …`` on the server's data directory and database; when it ended."""
    env = {k: v for k, v in server.env.items() if k.startswith("INDUNET_DATABASE")}
    done = subprocess.run(
        [sys.executable, "-m", "indunet", "id", *args, "--data-dir", str(server.data_dir)],
        env={**_base_env(), **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return time.monotonic()


def _base_env() -> dict[str, str]:
    import os

    return {k: v for k, v in os.environ.items() if not k.startswith("INDUNET_")}


def value_of(server: Server, asked: str = HANDLE) -> str | int:
    """The URL the server answers for the handle (its HTTP status when not 200)."""
    resp = httpx.get(f"{server.url}/api/handles/{asked}", timeout=5)
    if resp.status_code != 200:
        return resp.status_code
    return str(resp.json()["values"][0]["data"]["value"])


def seen_within(server: Server, wanted: str | int, since: float) -> float:
    """Seconds from ``since`` until the server answers ``wanted`` (fails after a second)."""
    while True:
        got = value_of(server)
        if got == wanted:
            return time.monotonic() - since
        assert time.monotonic() - since < WITHIN_S, f"still {got!r}, wanted {wanted!r}"
        time.sleep(0.02)


def run_the_story(server: Server) -> None:
    since = cli(
        server, "register", HANDLE, "--value", "URL=https://example.com/v1", "--node", "88.100"
    )
    seen_within(server, "https://example.com/v1", since)
    for _ in range(3):  # cached now: the node answers from memory
        assert value_of(server, HANDLE.lower()) == "https://example.com/v1"
    since = cli(
        server, "register", HANDLE, "--value", "URL=https://example.com/v2",
        "--overwrite", "--node", "88.100",
    )  # fmt: skip
    took = seen_within(server, "https://example.com/v2", since)
    assert took < WITHIN_S
    since = cli(server, "delete", HANDLE, "--node", "88.100")
    seen_within(server, 404, since)


@pytest.fixture
def sqlite_up(tmp_path: Path) -> Iterator[Server]:
    with group(tmp_path) as g:
        yield g.start("up", "up")


@pytest.fixture
def postgres_up(tmp_path: Path, pg_schema_url: str) -> Iterator[Server]:
    with group(tmp_path) as g:
        srv = g.prepare("up", "up", env={"INDUNET_DATABASE_URL": pg_schema_url})
        build_state(Settings(data_dir=srv.data_dir, database_url=pg_schema_url)).engine.dispose()
        yield srv.start()


def test_a_cli_write_reaches_the_servers_cache_on_sqlite(sqlite_up: Server) -> None:
    run_the_story(sqlite_up)


def test_a_cli_write_reaches_the_servers_cache_on_postgresql(postgres_up: Server) -> None:
    run_the_story(postgres_up)
