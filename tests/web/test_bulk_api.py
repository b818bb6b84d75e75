"""POST /api/v1/bulk and GET /api/v1/bulk/{job_id}: uploads checked with the uploader's rights."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import httpx
import pytest

from indunet import core, ids
from indunet.web import AppState, create_app

CSV = (
    "handle,URL\n"
    "88.100.1/UP-1,https://up.example/1\n"
    "88.100.2/NOT-MINE,https://up.example/2\n"
    "88.100.1/UP-3,https://up.example/3\n"
)


@pytest.fixture
async def client(state: AppState, allocation: ids.Allocation) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=create_app(state))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
        yield c


@pytest.fixture
def token(state: AppState, enterprise: core.Enterprise) -> str:
    with state.engine.begin() as conn:
        user = core.create_user(
            conn,
            username="alice",
            password="a-long-password",
            role=core.Role.ENTERPRISE_ADMIN,
            actor="test",
            enterprise_id=enterprise.id,
        )
        return core.issue_token(conn, user, name="test")


async def test_upload_registers_own_rows_and_reports_the_rest(
    client: httpx.AsyncClient, token: str, state: AppState
):
    auth = {"authorization": f"Bearer {token}"}
    r = await client.post(
        "/api/v1/bulk",
        files={"file": ("ids.csv", CSV, "text/csv")},
        data={"wait": "true"},
        headers=auth,
    )
    assert r.status_code == 200, r.text
    report = r.json()
    assert (report["total"], report["registered"], report["failed"]) == (3, 2, 1)
    assert report["errors"][0]["line"] == 3
    assert "does not belong to its enterprise" in report["errors"][0]["message"]
    assert state.hierarchy.front.store.get("88.100.1/UP-3") is not None
    job = await client.get(f"/api/v1/bulk/{report['job_id']}", headers=auth)
    assert job.json()["status"] == "done" and job.json()["source"] == "ids.csv"
    assert (await client.get("/api/v1/bulk/999", headers=auth)).status_code == 404


async def test_upload_needs_a_user_and_a_known_format(client: httpx.AsyncClient, token: str):
    anonymous = await client.post("/api/v1/bulk", files={"file": ("ids.csv", CSV, "text/csv")})
    assert anonymous.status_code == 401
    wrong = await client.post(
        "/api/v1/bulk",
        files={"file": ("ids.xlsx", b"PK...", "application/octet-stream")},
        headers={"authorization": f"Bearer {token}"},
    )
    assert wrong.status_code == 400 and ".csv, .jsonl or .ndjson" in wrong.json()["message"]


async def test_a_job_is_shown_to_its_starter_and_overseers_only(
    client: httpx.AsyncClient, token: str, state: AppState
):
    r = await client.post(
        "/api/v1/bulk",
        files={"file": ("ids.csv", CSV, "text/csv")},
        data={"wait": "true"},
        headers={"authorization": f"Bearer {token}"},
    )
    job_id = r.json()["job_id"]
    with state.engine.begin() as conn:
        other = core.create_enterprise(
            conn, uscc=core.make_uscc("91110108MA01ABCD"), name="Other", actor="t"
        )
        bob = core.create_user(
            conn,
            username="bob",
            password="another-password",
            actor="t",
            role=core.Role.ENTERPRISE_ADMIN,
            enterprise_id=other.id,
        )
        regulator = core.create_user(
            conn, username="reg", password="regulator-pass", actor="t", role=core.Role.REGULATOR
        )
        bob_token = core.issue_token(conn, bob, name="t")
        reg_token = core.issue_token(conn, regulator, name="t")
    denied = await client.get(
        f"/api/v1/bulk/{job_id}", headers={"authorization": f"Bearer {bob_token}"}
    )
    assert denied.status_code == 404 and f"no bulk job {job_id}" in denied.json()["message"]
    seen = await client.get(
        f"/api/v1/bulk/{job_id}", headers={"authorization": f"Bearer {reg_token}"}
    )
    assert seen.status_code == 200 and seen.json()["actor"] == "user:alice"


async def test_a_job_answers_at_once_and_its_progress_is_polled(
    client: httpx.AsyncClient, token: str, state: AppState
):
    auth = {"authorization": f"Bearer {token}"}
    rows = 6000  # three batches of 2,000: the progress moves batch by batch
    body = "handle,URL\n" + "".join(f"88.100.1/P-{i},https://up.example/{i}\n" for i in range(rows))
    t0 = time.monotonic()
    r = await client.post(
        "/api/v1/bulk", files={"file": ("many.csv", body, "text/csv")}, headers=auth
    )
    assert r.status_code == 202, r.text
    started = r.json()
    assert (started["status"], started["total"], started["done"]) == ("running", rows, 0)
    assert r.headers["location"] == f"/api/v1/bulk/{started['job_id']}" == started["job"]
    seen: list[tuple[str, int, int]] = []
    while time.monotonic() - t0 < 30:
        job = (await client.get(r.headers["location"], headers=auth)).json()
        seen.append((job["status"], job["done"], job["percent"]))
        if job["status"] == "done":
            break
        await asyncio.sleep(0.02)
    assert seen[-1] == ("done", rows, 100)
    assert all(0 <= done <= rows and 0 <= pct <= 100 for _, done, pct in seen)
    assert [d for _, d, _ in seen] == sorted(d for _, d, _ in seen)  # never goes back
    assert job["registered"] == rows
    assert state.hierarchy.front.store.get(f"88.100.1/P-{rows - 1}") is not None
