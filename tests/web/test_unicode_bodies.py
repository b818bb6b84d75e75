"""JSON strings that are not Unicode text (lone UTF-16 surrogates) get a 4xx, never a 500,
and the 422 answer can echo any input back."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import FastAPI
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel

from indunet import core
from indunet.web import AppState, create_app
from indunet.web.guards import lone_surrogate, validation_error

from ..conftest import bearer

JSON = {"content-type": "application/json"}


class Login(BaseModel):
    username: str
    password: str


@pytest.fixture
async def client(state: AppState) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=create_app(state), raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
        c.headers.update(bearer(state.engine, "uni", core.Role.PLATFORM_ADMIN))
        yield c


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/api/v1/devices", r'{"id": "m1", "name": "\ud800", "model": "x"}'),  # was a 500
        ("/api/v1/auth/token", r'{"username": "\ud800"}'),  # the 422 answer was a 500
        ("/api/v1/enterprises", r'{"uscc": "x", "name": "a\udfffb"}'),
        ("/api/v1/models", r'{"\udc00": 1}'),  # in a key
    ],
)
async def test_lone_surrogates_in_json_are_refused(
    client: httpx.AsyncClient, path: str, body: str
) -> None:
    for content_type in ("application/json", "application/td+json", None):
        headers = {"content-type": content_type} if content_type else {}
        resp = await client.post(path, content=body, headers=headers)
        assert resp.status_code == 400, (content_type, resp.text)
        assert resp.json()["code"] == "invalid_input"
        assert "lone UTF-16 surrogate" in resp.json()["message"]


async def test_surrogate_pairs_and_escaped_backslashes_are_text(client: httpx.AsyncClient) -> None:
    emoji = await client.post(
        "/api/v1/auth/token", content=r'{"username": "\ud83d\ude00", "password": "x"}', headers=JSON
    )
    assert emoji.status_code == 401  # a real character: on to the route
    literal = await client.post(
        "/api/v1/auth/token", content=r'{"username": "\\ud800", "password": "x"}', headers=JSON
    )
    assert literal.status_code == 401  # a backslash, then the letters "ud800"


def test_lone_surrogate_finds_keys_values_and_nesting() -> None:
    assert lone_surrogate({"a": [1, {"b": "ok"}]}) is None
    assert lone_surrogate({"a": [1, {"b": "x\ud800"}]}) == "x\ud800"
    assert lone_surrogate({"\udfff": 1}) == "\udfff"


async def test_the_422_answer_echoes_unencodable_input_safely() -> None:
    app = FastAPI()

    @app.post("/login")
    def login(body: Login) -> dict[str, str]:
        return {}

    app.add_exception_handler(RequestValidationError, validation_error)
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as c:
        resp = await c.post("/login", content=r'{"username": "\ud800"}', headers=JSON)
    assert resp.status_code == 422
    body = resp.json()
    assert body["code"] == "invalid_input"
    assert body["message"] == "body.password: Field required"
    assert body["detail"][0]["input"] == {"username": "\ufffd"}
