"""What every console page shares: one time zone, server-side paging, errors in the reader's
language, a page for unknown addresses, the favicon."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import httpx
import pytest
from starlette.requests import Request

from indunet import core, ids
from indunet.core import InvalidInput
from indunet.web import AppState, create_app
from indunet.web.console.forms import FormError
from indunet.web.console.pages import error_text
from indunet.web.console.paging import Paging, PastLastPage, link, page_of, paging_of, sort_link
from indunet.web.console.zones import valid_zone, zone, zone_of


def request(query: str = "", cookies: str = "", path: str = "/platform/devices") -> Request:
    headers = [(b"cookie", cookies.encode())] if cookies else []
    scope = {"type": "http", "method": "GET", "path": path, "query_string": query.encode()}
    return Request(scope | {"headers": headers})


@pytest.fixture
async def client(state: AppState, allocation: ids.Allocation) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=create_app(state))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
        yield c


# -- time zones ---------------------------------------------------------------------------


def test_zone_prints_epoch_seconds_milliseconds_and_datetimes_alike() -> None:
    shanghai = zone("Asia/Shanghai")
    at = datetime(2026, 12, 6, 5, 50, 50, tzinfo=UTC)
    assert shanghai.clock(at) == "2026-12-06 13:50:50"
    assert shanghai.clock(at.timestamp()) == "2026-12-06 13:50:50"
    assert shanghai.clock(int(at.timestamp() * 1000)) == "2026-12-06 13:50:50"
    assert shanghai.clock(at.replace(tzinfo=None)) == "2026-12-06 13:50:50"  # naive = UTC
    assert shanghai.clock(None) == ""
    assert shanghai.label == "Asia/Shanghai (UTC+08:00)"
    assert zone("UTC").clock(at, seconds=False) == "2026-12-06 05:50"


def test_zone_comes_from_the_cookie_else_the_locale() -> None:
    assert zone_of(request(), "zh-CN").name == "Asia/Shanghai"
    assert zone_of(request(), "en").name == "UTC"
    assert zone_of(request(cookies="tz=Europe/Berlin"), "zh-CN").name == "Europe/Berlin"
    assert zone_of(request(cookies="tz=Europe%2FBerlin"), "zh-CN").name == "Europe/Berlin"
    for bad in ("Mars/Olympus", "../../etc/passwd", "x" * 500, ""):
        assert valid_zone(bad) is None
        assert zone_of(request(cookies=f"tz={bad}"), "zh-CN").name == "Asia/Shanghai"


async def test_the_zone_is_named_on_the_page_and_chosen_with_tz(
    client: httpx.AsyncClient,
) -> None:
    page = await client.get("/login")
    assert 'data-tz="Asia/Shanghai"' in page.text
    assert "时区：Asia/Shanghai (UTC+08:00)" in re.sub(r"<[^>]+>", "", page.text)
    chosen = await client.get("/tz", params={"zone": "Europe/London", "next": "/login"})
    assert chosen.status_code == 303 and chosen.headers["location"] == "/login"
    assert client.cookies["tz"].strip('"') == "Europe/London"
    assert 'data-tz="Europe/London"' in (await client.get("/login")).text
    bad = await client.get("/tz", params={"zone": "Nowhere/Land"})
    assert bad.status_code == 400
    assert "未知的时区：Nowhere/Land" in bad.text
    assert client.cookies["tz"].strip('"') == "Europe/London"  # unchanged
    away = await client.get("/tz", params={"zone": "UTC", "next": "//evil.example"})
    assert away.headers["location"] == "/"


# -- paging -------------------------------------------------------------------------------


def test_paging_reads_clamps_and_never_fails() -> None:
    p = paging_of(request("q=%20pump%20&page=3&size=50&sort=name&desc=1"), sorts=("name", "id"))
    assert (p.q, p.page, p.size, p.sort, p.desc, p.offset, p.limit) == (
        "pump",
        3,
        50,
        "name",
        True,
        100,
        50,
    )
    hostile = paging_of(
        request("q=" + "x" * 5000 + "&page=-7&size=100000&sort=password&desc=maybe"),
        sorts=("name",),
        default_sort="name",
    )
    assert len(hostile.q) == 100 and hostile.page == 1 and hostile.size == 100
    assert hostile.sort == "name" and hostile.desc is False
    assert paging_of(request("page=abc&size=zz"), sorts=()).page == 1
    assert paging_of(request("size=33"), sorts=()).size == 20  # nearest offered size
    assert Paging(q="50%_off\\").like == "%50\\%\\_off\\\\%"


def test_page_of_counts_rows_and_pages() -> None:
    rows = list(range(45))
    first = page_of(rows, Paging(size=20))
    assert (first.items[0], first.total, first.pages, first.first, first.last) == (0, 45, 3, 1, 20)
    assert not first.has_prev and first.has_next
    last = page_of(rows, Paging(size=20, page=3))
    assert last.items == [40, 41, 42, 43, 44] and last.has_prev and not last.has_next
    empty = page_of([], Paging())
    assert (empty.first, empty.last, empty.pages) == (0, 0, 1)
    with pytest.raises(PastLastPage) as past:  # the console redirects it to the last page
        page_of(rows, Paging(size=20, page=9))
    assert past.value.last == 3


def test_links_keep_filters_and_go_back_to_page_one() -> None:
    req = request("status=online&page=4&q=cnc")
    assert link(req, page=5) == "/platform/devices?status=online&page=5&q=cnc"
    assert link(req, q="lathe") == "/platform/devices?status=online&q=lathe"
    assert link(req, status=None) == "/platform/devices?q=cnc"
    p = Paging(sort="name", desc=False)
    assert "sort=name&desc=1" in sort_link(req, p, "name")
    assert "sort=id&desc=0" in sort_link(req, p, "id")


# -- errors in the reader's language ------------------------------------------------------


def test_errors_with_a_reason_read_from_the_catalogue() -> None:
    zh = request(cookies="lang=zh-CN")
    en = request(cookies="lang=en")
    err = InvalidInput("unknown zone", reason="test_zone", params={"zone": "X"})
    assert err.to_dict() == {
        "code": "invalid_input",
        "message": "unknown zone",
        "reason": "test_zone",
        "params": {"zone": "X"},
    }
    assert InvalidInput("plain").to_dict() == {"code": "invalid_input", "message": "plain"}
    # A reason with no catalogue text, or text naming a field the error lacks: the message.
    assert error_text(zh, err) == "unknown zone"
    assert error_text(zh, FormError("zone.unknown", zone="Mars")) == (
        "未知的时区：Mars。请输入 IANA 时区名称，例如 Asia/Shanghai。"
    )
    assert error_text(en, FormError("zone.unknown")) == "zone.unknown"  # lacks {zone}
    assert error_text(en, FormError("zone.unknown", zone="Mars")).startswith("Unknown time zone")


# -- unknown addresses and the icon -------------------------------------------------------


async def test_unknown_addresses_get_a_page_in_the_browser_and_json_in_the_api(
    client: httpx.AsyncClient,
) -> None:
    page = await client.get("/no/such/page", headers={"accept": "text/html"})
    assert page.status_code == 404
    assert page.headers["content-type"].startswith("text/html")
    assert "页面不存在" in page.text and "/no/such/page" in page.text
    api = await client.get("/api/v1/nope", headers={"accept": "text/html"})
    assert api.status_code == 404 and api.json() == {"detail": "Not Found"}
    plain = await client.get("/no/such/page")
    assert plain.status_code == 404 and plain.json() == {"detail": "Not Found"}
    icon = await client.get("/favicon.ico")
    assert icon.status_code == 301
    svg = await client.get(icon.headers["location"])
    assert svg.status_code == 200 and svg.text.startswith("<svg")


async def test_the_unknown_address_page_shows_who_is_logged_in(
    client: httpx.AsyncClient, state: AppState
) -> None:
    # The audit found the 404 page offering "登录" to a logged-in admin: no route had run
    # to read the session.
    with state.engine.begin() as conn:
        password = core.ensure_admin(conn)
    login = await client.post("/login", data={"username": "admin", "password": password})
    assert login.status_code == 303, login.text
    page = await client.get("/no/such/page", headers={"accept": "text/html"})
    assert page.status_code == 404
    assert "admin · 平台管理员" in page.text and 'action="/logout"' in page.text
    assert 'href="/login' not in page.text


async def test_an_address_wrong_in_its_path_is_an_unknown_page_in_the_browser(
    client: httpx.AsyncClient, state: AppState
) -> None:
    # The audit found /platform/dashboards/abc answering FastAPI's 422 JSON to a browser.
    with state.engine.begin() as conn:
        password = core.ensure_admin(conn)
    await client.post("/login", data={"username": "admin", "password": password})
    for path in ("/platform/dashboards/abc", "/platform/alarms/x1", "/admin/users/-"):
        page = await client.get(path, headers={"accept": "text/html"})
        assert page.status_code == 404, path
        assert "页面不存在" in page.text and "admin · 平台管理员" in page.text
    api = await client.get("/platform/dashboards/abc")  # no HTML asked for: the JSON stays
    assert api.status_code == 422 and api.json()["code"] == "invalid_input"
    query = await client.get(
        "/api/v1/devices", params={"limit": "x"}, headers={"accept": "text/html"}
    )
    assert query.status_code in (401, 422) and query.headers["content-type"] == "application/json"
