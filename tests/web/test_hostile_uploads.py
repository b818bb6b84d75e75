"""Hostile uploads get a 4xx naming what is wrong: bulk file names that name no file or are too
long for one, and CSV files with a bare CR (a line break of old Macs) in device imports."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from indunet import core, ids
from indunet.web import AppState, create_app

from ..conftest import bearer

CSV = b"handle,URL:1\n88.100.1/UP-1,https://a.example/1\n"


@pytest.fixture
async def client(state: AppState, allocation: ids.Allocation) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=create_app(state), raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
        c.headers.update(bearer(state.engine, "uploader", core.Role.PLATFORM_ADMIN))
        yield c


@pytest.mark.parametrize(
    ("filename", "says"),
    [
        (".", "names no file"),
        ("..", "names no file"),
        ("dir/..", "names no file"),
        ("a" * 252 + ".csv", "256 bytes long; the limit is 255"),
        ("标识" * 42 + ".csv", "256 bytes long; the limit is 255"),
    ],
)
async def test_bulk_file_names_that_cannot_name_a_file_are_refused(
    client: httpx.AsyncClient, filename: str, says: str
) -> None:
    resp = await client.post("/api/v1/bulk", files={"file": (filename, CSV, "text/csv")})
    assert resp.status_code == 400, resp.text
    assert resp.json()["code"] == "invalid_input" and says in resp.json()["message"]


@pytest.mark.parametrize("filename", ["ids.csv", "C:\\exports\\ids.csv", "a" * 251 + ".csv"])
async def test_bulk_file_names_keep_their_last_part(
    client: httpx.AsyncClient, filename: str
) -> None:
    resp = await client.post(
        "/api/v1/bulk", files={"file": (filename, CSV, "text/csv")}, data={"wait": "true"}
    )
    assert resp.status_code == 200, resp.text
    assert resp.json()["registered"] == 1


@pytest.mark.parametrize(
    "body",
    [
        b"id,name,model\rm1,a,indunet:smart-meter\r",  # bare CRs as line ends
        b"id,name,model\nm1,a\rb,indunet:smart-meter\n",  # a bare CR inside a line
    ],
)
async def test_device_csv_with_a_bare_cr_is_read_not_a_500(
    client: httpx.AsyncClient, enterprise: core.Enterprise, body: bytes
) -> None:
    resp = await client.post(
        "/api/v1/devices/import",
        params={"enterprise_id": enterprise.id},
        content=body,
        headers={"content-type": "text/csv"},
    )
    assert resp.status_code < 500, resp.text
    assert resp.status_code in (200, 400)


async def test_device_csv_that_is_not_csv_names_its_line(
    client: httpx.AsyncClient, enterprise: core.Enterprise
) -> None:
    big = b"id,name,model\nm1," + b"x" * 200_000 + b",indunet:smart-meter\n"  # over csv's field cap
    resp = await client.post(
        "/api/v1/devices/import",
        params={"enterprise_id": enterprise.id},
        content=big,
        headers={"content-type": "text/csv"},
    )
    assert resp.status_code == 400, resp.text
    assert resp.json()["message"].startswith("line 2: not valid CSV")
