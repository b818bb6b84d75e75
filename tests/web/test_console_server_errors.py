"""A console page that fails on the server (the database down, an unexpected exception)
answers a page in the reader's language with the same status, never raw JSON or a
traceback; API clients keep the JSON."""

# ruff: noqa: F401, F811  (fixtures imported from test_console_platform are parameters here)

from __future__ import annotations

import logging
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from tests.web.test_console_platform import HX, Fleet, app_client, fleet, login

from indunet.web.app import create_app
from indunet.web.console import ingest
from indunet.web.state import AppState

PAGE = {"Accept": "text/html,application/xhtml+xml,*/*;q=0.8"}  # what a browser sends


def database_down(state: AppState, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every new connection of the application's engine fails as a lost server does."""

    def refuse(*_args: Any, **_kwargs: Any) -> Any:
        raise sa.exc.OperationalError("SELECT 1", {}, ConnectionRefusedError("refused"))

    monkeypatch.setattr(state.engine, "connect", refuse)


async def test_a_database_outage_is_a_page_in_the_readers_language(
    app_client: httpx.AsyncClient, fleet: Fleet, state: AppState, monkeypatch: pytest.MonkeyPatch
) -> None:
    await login(app_client, "eu")
    database_down(state, monkeypatch)
    page = await app_client.get("/platform/ingest", headers=PAGE)
    assert page.status_code == 503
    assert page.headers["content-type"].startswith("text/html")
    assert page.headers["retry-after"] == "2"
    assert "服务暂时不可用" in page.text and "数据库暂时无法连接" in page.text
    assert "请在 2 秒后刷新本页" in page.text
    assert "database_unavailable" not in page.text and "retry in a moment" not in page.text
    assert '<span class="user">' not in page.text  # the sessions are in that database too
    app_client.cookies.set("lang", "en")
    english = await app_client.get("/platform/ingest", headers=PAGE)
    assert english.status_code == 503 and "Service unavailable" in english.text
    assert "The database cannot be reached" in english.text and "数据库" not in english.text
    app_client.cookies.set("lang", "zh-CN")
    api = await app_client.get("/api/v1/telemetry/dead-letters")
    assert api.status_code == 503 and api.headers["retry-after"] == "2"
    assert api.json()["code"] == "database_unavailable"  # scripts keep the JSON
    swap = await app_client.get("/platform/ingest", headers={**PAGE, **HX})
    assert swap.status_code == 503 and swap.headers["content-type"] == "application/json"


async def test_an_unexpected_exception_is_a_plain_page_without_a_traceback(
    state: AppState, fleet: Fleet, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def broken(*_args: Any) -> Any:
        raise RuntimeError("secret internals at /srv/indunet/ingest.py line 42")

    transport = httpx.ASGITransport(app=create_app(state), raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        await login(client, "eu")
        monkeypatch.setattr(ingest, "_letters_context", broken)
        with caplog.at_level(logging.ERROR, logger="indunet.web.console.failures"):
            page = await client.get("/platform/ingest", headers=PAGE)
        assert page.status_code == 500
        assert page.headers["content-type"].startswith("text/html")
        assert "服务器出错" in page.text and "已记录在日志中" in page.text
        assert "secret internals" not in page.text and "Traceback" not in page.text
        assert '<span class="user">eu ·' in page.text  # the header still says who is logged in
        logged = [r for r in caplog.records if r.name == "indunet.web.console.failures"]
        assert logged and logged[0].exc_info is not None
        assert "secret internals" in caplog.text  # the operator finds it in the log
        client.cookies.set("lang", "en")
        english = await client.get("/platform/ingest", headers=PAGE)
        assert english.status_code == 500 and "Server error" in english.text
        api = await client.get("/platform/ingest", headers={"Accept": "application/json"})
        assert api.status_code == 500 and api.text == "Internal Server Error"


async def test_another_unavailable_service_is_a_page_that_still_names_the_user(
    app_client: httpx.AsyncClient, fleet: Fleet, monkeypatch: pytest.MonkeyPatch
) -> None:
    from indunet.bus.backbone import BusUnavailable

    def down(*_args: Any) -> Any:
        raise BusUnavailable("the backbone cannot take a message now")

    await login(app_client, "eu")
    monkeypatch.setattr(ingest, "_letters_context", down)
    page = await app_client.get("/platform/ingest", headers=PAGE)
    assert page.status_code == 503 and page.headers["content-type"].startswith("text/html")
    assert "消息总线暂时不可用" in page.text and "backbone cannot" not in page.text
    assert '<span class="user">eu ·' in page.text  # the sessions could still be read
