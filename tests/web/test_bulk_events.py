"""GET /api/v1/bulk/{job_id}/events: a bulk job's progress as Server-Sent Events, bounded in
time and in open streams per user, with the job's access rule (in-process; a real server's
stream read while the job runs is in tests/integration/test_bulk_events.py)."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest
from tests.web.test_bulk_api import CSV, client, token  # noqa: F401

from indunet import core, ids
from indunet.ids import bulk as ids_bulk
from indunet.web import AppState
from indunet.web.streams import StreamLimits, StreamSlots

QUICK = StreamLimits(per_user=2, total=3, max_s=0.6, poll_s=0.05, keepalive_s=0.2)


def parse(text: str) -> list[tuple[str, dict[str, object] | None]]:
    """The events of a stream as (name, data); comments as ("", None)."""
    out: list[tuple[str, dict[str, object] | None]] = []
    for block in text.split("\n\n"):
        if not block.strip() or block.startswith("retry:"):
            continue
        if block.startswith(":"):
            out.append(("", None))
            continue
        fields = dict(line.split(": ", 1) for line in block.splitlines())
        out.append((fields["event"], json.loads(fields["data"])))
    return out


@pytest.fixture
def waiting_job(state: AppState, tmp_path: Path) -> int:
    """A job started as the admin's and never run: its stream has nothing but waiting."""
    path = tmp_path / "idle.csv"
    path.write_text(CSV)
    with state.engine.begin() as conn:
        password = core.ensure_admin(conn)
    assert password
    job = ids_bulk.begin(state.hierarchy.front, path, ids.Principal(actor="user:admin"))
    return job.id


def _bearer(
    state: AppState, name: str, role: core.Role, enterprise_id: int | None = None
) -> dict[str, str]:
    with state.engine.begin() as conn:
        user = core.create_user(
            conn,
            username=name,
            password="a-long-password",
            role=role,
            actor="t",
            enterprise_id=enterprise_id,
        )
        return {"authorization": f"Bearer {core.issue_token(conn, user, name='t')}"}


@pytest.fixture
def quick(state: AppState) -> AppState:
    state.streams = StreamSlots(QUICK)
    return state


async def test_a_waiting_job_streams_its_progress_then_keeps_alive_then_times_out(
    client: httpx.AsyncClient,  # noqa: F811
    quick: AppState,
    waiting_job: int,
) -> None:
    reg = _bearer(quick, "reg", core.Role.REGULATOR)
    resp = await client.get(f"/api/v1/bulk/{waiting_job}/events", headers=reg)
    assert resp.status_code == 200
    assert resp.headers["content-type"].startswith("text/event-stream")
    assert resp.headers["cache-control"] == "no-store"
    assert resp.text.startswith("retry: 2000\n\n")
    events = parse(resp.text)
    assert events[0] == (
        "progress",
        {"job_id": waiting_job, "status": "running", "total": 3, "done": 0, "percent": 0,
         "registered": 0, "unchanged": 0, "failed": 0},
    )  # fmt: skip
    assert ("", None) in events  # kept alive while nothing moved
    assert events[-1][0] == "timeout" and [e for e, _ in events].count("progress") == 1
    assert quick.streams.open("user:reg") == 0  # the slot is given back


async def test_streams_are_limited_per_user_and_in_all(
    client: httpx.AsyncClient,  # noqa: F811
    quick: AppState,
    waiting_job: int,
) -> None:
    url = f"/api/v1/bulk/{waiting_job}/events"
    reg = _bearer(quick, "reg", core.Role.REGULATOR)
    for _ in range(QUICK.per_user):
        quick.streams.take("user:reg")
    refused = await client.get(url, headers=reg)
    assert refused.status_code == 429 and refused.headers["retry-after"] == "5"
    assert (refused.json()["reason"], refused.json()["params"]) == ("too_many_streams", {"max": 2})
    other = _bearer(quick, "reg2", core.Role.REGULATOR)
    assert (await client.get(url, headers=other)).status_code == 200  # another user's own
    quick.streams.take("user:reg2")  # three open in all: the process's limit
    third = _bearer(quick, "reg3", core.Role.REGULATOR)
    assert (await client.get(url, headers=third)).status_code == 429
    quick.streams.give_back("user:reg")
    quick.streams.give_back("user:reg")
    assert (await client.get(url, headers=reg)).status_code == 200
    assert quick.streams.open("user:reg") == 0 and quick.streams.open("user:reg3") == 0


async def test_another_tenants_or_a_missing_job_is_not_found_and_takes_no_slot(
    client: httpx.AsyncClient,  # noqa: F811
    quick: AppState,
    waiting_job: int,
) -> None:
    with quick.engine.begin() as conn:
        ent = core.create_enterprise(
            conn, uscc=core.make_uscc("91110108MA01ABCD"), name="Other", actor="t"
        )
    bob = _bearer(quick, "bob", core.Role.ENTERPRISE_ADMIN, ent.id)
    gone = await client.get(f"/api/v1/bulk/{waiting_job}/events", headers=bob)
    assert (gone.status_code, gone.json()["reason"]) == (404, "bulk_job_not_found")
    missing = await client.get("/api/v1/bulk/999999/events", headers=bob)
    assert missing.status_code == 404
    assert (await client.get("/api/v1/bulk/0/events", headers=bob)).status_code == 422
    assert (await client.get(f"/api/v1/bulk/{waiting_job}/events")).status_code == 401
    assert quick.streams.open("user:bob") == 0


async def test_a_job_streams_until_it_ends_at_its_row_count(
    client: httpx.AsyncClient,  # noqa: F811
    token: str,  # noqa: F811
    state: AppState,
) -> None:
    auth = {"authorization": f"Bearer {token}"}
    rows = 8000  # four batches of 2,000
    body = "handle,URL\n" + "".join(f"88.100.1/S-{i},https://up.example/{i}\n" for i in range(rows))
    started = await client.post(
        "/api/v1/bulk", files={"file": ("s.csv", body, "text/csv")}, headers=auth
    )
    assert started.status_code == 202, started.text
    job_id = started.json()["job_id"]
    resp = await client.get(f"/api/v1/bulk/{job_id}/events", headers=auth, timeout=60)
    events = [(e, d) for e, d in parse(resp.text) if e]
    assert events[-1][0] == "done" and [e for e, _ in events[:-1]] == ["progress"] * (
        len(events) - 1
    )
    done = [d["done"] for _, d in events if d is not None]
    assert done == sorted(done) and done[-1] == rows
    assert events[-1][1] is not None and events[-1][1]["percent"] == 100
    assert events[-1][1]["registered"] == rows
    again = parse((await client.get(f"/api/v1/bulk/{job_id}/events", headers=auth)).text)
    assert [e for e, _ in again] == ["done"]  # a finished job: one event, then the end
