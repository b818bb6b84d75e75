"""A bulk job's progress streamed as Server-Sent Events by a real ``indunet up``, read with
httpx while the job runs: events arrive as the rows are registered (not all at the end), the
numbers only grow and end at the file's row count; streams are limited per user and a slot
comes back when its client goes away."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from contextlib import ExitStack
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from tests.integration.servers import Server, group
from tests.integration.test_bulk_progress_browser import _admin_headers

from indunet.core import Settings
from indunet.ids.tables import bulk_jobs
from indunet.web import open_database
from indunet.web.streams import StreamLimits

pytestmark = pytest.mark.integration
ROWS = 40_000  # 20 API batches of 2,000: several seconds of progress


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    with group(tmp_path) as g:
        yield g.start("sse", "up")


def _events(resp: httpx.Response) -> Iterator[tuple[float, str, dict[str, object]]]:
    """Each event of a stream as it arrives: (arrival time, name, data)."""
    name = ""
    for line in resp.iter_lines():
        if line.startswith("event: "):
            name = line[7:]
        elif line.startswith("data: "):
            yield time.monotonic(), name, json.loads(line[6:])


def test_the_progress_streams_while_the_job_runs_and_ends_at_the_row_count(
    server: Server,
) -> None:
    password = server.admin_password
    assert password, server.output
    body = "handle,URL:1\n" + "".join(
        f"88.100.1/E-{i:06d},https://example.com/e/{i}\n" for i in range(ROWS)
    )
    with httpx.Client(base_url=server.url, timeout=60) as api:
        headers = _admin_headers(api, password)
        started = api.post(
            "/api/v1/bulk", files={"file": ("e.csv", body, "text/csv")}, headers=headers
        )
        assert started.status_code == 202, started.text
        job_id = started.json()["job_id"]
        url = f"/api/v1/bulk/{job_id}/events"
        with api.stream("GET", url, headers=headers) as resp:
            assert resp.status_code == 200
            assert resp.headers["content-type"].startswith("text/event-stream")
            seen = list(_events(resp))
    names = [name for _, name, _ in seen]
    assert names[-1] == "done" and set(names[:-1]) == {"progress"}, names
    done = [int(str(data["done"])) for _, _, data in seen]
    assert done == sorted(done), done  # never goes back
    assert done[-1] == ROWS and seen[-1][2]["registered"] == ROWS
    assert seen[-1][2]["percent"] == 100
    moving = sorted({d for d in done if 0 < d < ROWS})
    assert len(moving) >= 3, done  # seen part-way, several times
    first_moving = next(at for at, _, data in seen if 0 < int(str(data["done"])) < ROWS)
    assert seen[-1][0] - first_moving > 0.3  # delivered as it happened, not all at the end


def _waiting_job(server: Server) -> int:
    """A job row that is running and never moves (as a job interrupted by a restart)."""
    engine = open_database(Settings(data_dir=server.data_dir))
    now = datetime.now(UTC)
    try:
        with engine.begin() as conn:
            return int(
                conn.execute(
                    bulk_jobs.insert()
                    .values(
                        node="secondary",
                        digest="0" * 64,
                        source="idle.csv",
                        actor="user:admin",
                        status="running",
                        total=10,
                        registered=0,
                        unchanged=0,
                        failed=0,
                        next_line=1,
                        errors=[],
                        created_at=now,
                        updated_at=now,
                    )
                    .returning(bulk_jobs.c.id)
                ).scalar_one()
            )
    finally:
        engine.dispose()


def test_streams_are_limited_per_user_and_freed_when_clients_go(server: Server) -> None:
    password = server.admin_password
    assert password, server.output
    job_id = _waiting_job(server)
    limit = StreamLimits().per_user
    with httpx.Client(base_url=server.url, timeout=30) as api:
        token = api.post("/api/v1/auth/token", json={"username": "admin", "password": password})
        headers = {"Authorization": f"Bearer {token.json()['token']}"}
        url = f"/api/v1/bulk/{job_id}/events"
        with ExitStack() as streams:
            opened = []  # each stream with its reader, kept alive (dropping one closes it)
            for _ in range(limit):
                resp = streams.enter_context(api.stream("GET", url, headers=headers))
                assert resp.status_code == 200
                reader = _events(resp)
                first = next(reader)
                assert (first[1], first[2]["done"]) == ("progress", 0)
                opened.append((resp, reader))
            with api.stream("GET", url, headers=headers) as refused:
                assert refused.status_code == 429
                assert json.loads(refused.read())["reason"] == "too_many_streams"
                assert refused.headers["retry-after"] == "5"
            opened[0][0].close()  # the client goes away: the server gives its slot back
            deadline = time.monotonic() + 10
            while True:
                with api.stream("GET", url, headers=headers) as again:
                    if again.status_code == 200:
                        break
                    assert again.status_code == 429
                assert time.monotonic() < deadline, "the closed stream's slot never came back"
                time.sleep(0.2)
