"""Body size limits: over-limit bodies get 413 before (or while) they are read, per route."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import orjson
import pytest

from indunet.web import AppState, create_app
from indunet.web.guards import DEFAULT_LIMIT, limit_for

CHUNK = 64 * 1024


class Upload:
    """An ASGI ``receive`` that hands out ``chunks`` chunks of ``CHUNK`` bytes, counting reads."""

    def __init__(self, chunks: int) -> None:
        self.left = chunks
        self.reads = 0

    async def __call__(self) -> dict[str, Any]:
        self.reads += 1
        self.left -= 1
        return {"type": "http.request", "body": b"x" * CHUNK, "more_body": self.left > 0}


async def call(
    state: AppState, method: str, path: str, receive: Upload, headers: list[tuple[bytes, bytes]]
) -> tuple[int, dict[str, Any]]:
    """Run one request through the whole app; the status and the JSON body of the answer."""
    app = create_app(state)
    sent: list[dict[str, Any]] = []

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "root_path": "",
        "query_string": b"",
        "headers": [(b"host", b"testserver"), *headers],
        "client": ("127.0.0.1", 5000),
        "server": ("testserver", 80),
    }
    await app(scope, receive, send)
    status = sent[0]["status"]
    body = b"".join(m.get("body", b"") for m in sent[1:])
    return status, orjson.loads(body) if body else {}


JSON = (b"content-type", b"application/json")


async def test_a_declared_body_over_the_limit_is_refused_unread(state: AppState) -> None:
    upload = Upload(chunks=200 * 1024 * 1024 // CHUNK)  # the 200 MB login of the report
    length = (b"content-length", b"%d" % (200 * 1024 * 1024))
    status, body = await call(state, "POST", "/api/v1/auth/token", upload, [JSON, length])
    assert status == 413 and body["code"] == "payload_too_large"
    assert f"{DEFAULT_LIMIT:,}-byte limit" in body["message"]
    assert upload.reads == 0


async def test_a_chunked_body_is_cut_off_at_the_limit(state: AppState) -> None:
    upload = Upload(chunks=200 * 1024 * 1024 // CHUNK)  # no Content-Length: chunked
    status, body = await call(state, "POST", "/api/v1/auth/token", upload, [JSON])
    assert status == 413 and body["code"] == "payload_too_large"
    assert upload.reads == DEFAULT_LIMIT // CHUNK + 1  # stopped at the first chunk over


async def test_a_chunked_body_under_the_limit_goes_through(state: AppState) -> None:
    upload = Upload(chunks=2)  # 128 KiB of 'x': not JSON, but not too large
    status, body = await call(state, "POST", "/api/v1/auth/token", upload, [JSON])
    assert status == 422, body


@pytest.mark.parametrize(
    ("method", "path", "at_least"),
    [
        ("POST", "/api/v1/bulk", 64 * 1024 * 1024),
        ("POST", "/api/v1/telemetry", 32 * 1024 * 1024),
        ("POST", "/api/v1/models", 4 * 1024 * 1024),
        ("POST", "/api/v1/devices/import", 10 * 1024 * 1024),
        ("POST", "/platform/devices/import", 5 * 1024 * 1024),
        ("PUT", "/api/handles/88.100.1/BIG", 16 * 1024 * 1024),
        ("PUT", "/nodes/n1/api/handles/88.100.1/BIG", 16 * 1024 * 1024),
    ],
)
def test_upload_routes_have_larger_limits(method: str, path: str, at_least: int) -> None:
    assert limit_for(method, path) >= at_least > DEFAULT_LIMIT
    assert limit_for("POST", "/api/v1/auth/token") == DEFAULT_LIMIT


@pytest.fixture
async def client(state: AppState) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=create_app(state))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
        yield c


async def test_a_bulk_upload_over_the_default_limit_is_not_refused_for_size(
    client: httpx.AsyncClient,
) -> None:
    big = b"handle,URL:1\n" + b"88.100.1/A,https://a.example\n" * (2 * DEFAULT_LIMIT // 29)
    resp = await client.post("/api/v1/bulk", files={"file": ("ids.csv", big, "text/csv")})
    assert resp.status_code == 401, resp.text  # read in full, then refused for no login


async def test_a_bulk_upload_over_its_own_limit_is_refused(client: httpx.AsyncClient) -> None:
    limit = limit_for("POST", "/api/v1/bulk")
    resp = await client.post(
        "/api/v1/bulk", content=b"x" * (limit + 1), headers={"content-type": "text/csv"}
    )
    assert resp.status_code == 413 and resp.json()["code"] == "payload_too_large"
