"""Dashboards, the overview's charts and the wall display in-process: layouts checked on save,
hostile layouts refused with nothing written, tenancy (another enterprise's dashboard or
device is not found), readers who cannot edit, and display tokens that open /wall only and
only to read, until they expire or are revoked."""

from __future__ import annotations

import json
import re
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from tests.web import test_console_platform as platform_pages
from tests.web.isolation import DISPLAY_ONLY, PUBLIC, operations
from tests.web.test_console_platform import Fleet, login

from indunet import ids, telemetry
from indunet.core import InvalidInput, Role, User
from indunet.telemetry.boardtables import dashboards as board_table
from indunet.telemetry.boardtables import display_tokens
from indunet.web import AppState, create_app
from indunet.web.auth import SESSION_COOKIE
from indunet.web.console.wall import DISPLAY_COOKIE

# The fixtures of the platform pages' tests: two enterprises with devices, samples and alarms.
fleet = platform_pages.fleet
app_client = platform_pages.app_client
admin_password = platform_pages.admin_password

EVERY_WIDGET = {
    "widgets": [
        {
            "type": "chart",
            "title": "主轴转速",
            "width": 8,
            "device": "cnc-0001",
            "points": ["spindle_speed"],
            "range": "1h",
        },
        {
            "type": "gauge",
            "title": "轴承温度",
            "width": 4,
            "device": "cnc-0001",
            "point": "bearing_temp",
            "min": 0,
            "max": 120,
        },
        {
            "type": "latest",
            "title": "",
            "width": 6,
            "device": "cnc-0001",
            "points": ["bearing_temp", "program"],
        },
        {"type": "alarms", "title": "告警", "width": 6, "rows": 5},
        {"type": "locations", "title": "位置", "width": 6, "devices": ["cnc-0001", "env-0001"]},
        {"type": "text", "title": "说明", "width": 6, "text": "一号车间 <b>早班</b>"},
    ]
}


def chart(device: str = "cnc-0001", **extra: Any) -> dict[str, Any]:
    w = {"type": "chart", "width": 6, "device": device, "points": ["spindle_speed"]}
    return w | extra


#: Layouts that must be refused (400) with the reason the console shows.
HOSTILE: list[tuple[Any, str]] = [
    ("not json", "layout_json"),
    ("[" * 5000 + "]" * 5000, "layout_json"),
    ("x" * 70_000, "layout_size"),
    ([], "layout_shape"),
    ({"widgets": {}}, "layout_shape"),
    ({"widgets": [], "script": "x"}, "layout_shape"),
    ({"widgets": [chart()] * 25}, "layout_widgets"),
    ({"widgets": ["chart"]}, "widget_shape"),
    ({"widgets": [{"type": "iframe", "src": "https://evil.example"}]}, "widget_type"),
    ({"widgets": [{"type": "__proto__"}]}, "widget_type"),
    ({"widgets": [chart(onclick="alert(1)")]}, "widget_field"),
    ({"widgets": [chart(width=5)]}, "widget_width"),
    ({"widgets": [chart(width=True)]}, "widget_width"),
    ({"widgets": [chart(width="12")]}, "widget_width"),
    ({"widgets": [chart(title="x" * 101)]}, "widget_text"),
    ({"widgets": [chart(title=["a"])]}, "widget_text"),
    ({"widgets": [chart(range="10y")]}, "widget_range"),
    ({"widgets": [chart(points=[])]}, "widget_points"),
    ({"widgets": [chart(points=["a", "b", "c", "d", "e"])]}, "widget_points"),
    ({"widgets": [chart(points=["program"])]}, "widget_point"),  # a string point
    ({"widgets": [chart(points=["no_such_point"])]}, "widget_point"),
    ({"widgets": [chart(device="")]}, "widget_device"),
    ({"widgets": [chart(device=["cnc-0001"])]}, "widget_device"),
    (
        {"widgets": [{"type": "gauge", "device": "cnc-0001", "point": "bearing_temp"}]},
        "widget_number",
    ),
    (
        {
            "widgets": [
                {"type": "gauge", "device": "cnc-0001", "point": "bearing_temp", "min": 9, "max": 1}
            ]
        },
        "widget_bounds",
    ),
    (
        {
            "widgets": [
                {"type": "gauge", "device": "cnc-0001", "point": "bearing_temp"}
                | {"min": 0, "max": float("inf")}
            ]
        },
        "widget_number",
    ),
    ({"widgets": [{"type": "alarms", "rows": 0}]}, "widget_rows"),
    ({"widgets": [{"type": "alarms", "rows": 10**9}]}, "widget_rows"),
    ({"widgets": [{"type": "locations", "devices": []}]}, "widget_devices"),
    ({"widgets": [{"type": "locations", "devices": ["cnc-0001"] * 51}]}, "widget_devices"),
    ({"widgets": [{"type": "text", "text": ""}]}, "widget_text"),
    ({"widgets": [{"type": "text", "text": "x" * 2001}]}, "widget_text"),
]


def _layout_text(layout: Any) -> str:
    return layout if isinstance(layout, str) else json.dumps(layout)


async def _new_board(client: httpx.AsyncClient, name: str = "一号车间") -> int:
    resp = await client.post("/platform/dashboards", data={"name": name})
    assert resp.status_code == 303, resp.text
    found = re.fullmatch(r"/platform/dashboards/(\d+)/edit", resp.headers["location"])
    assert found, resp.headers["location"]
    return int(found.group(1))


def _layout_in_db(state: AppState, board_id: int) -> Any:
    with state.engine.connect() as conn:
        return conn.execute(
            sa.select(board_table.c.layout).where(board_table.c.id == board_id)
        ).scalar_one()


# -- composing and viewing --------------------------------------------------------------------


async def test_an_admin_composes_every_widget_type_and_a_reader_views_it(
    app_client: httpx.AsyncClient, fleet: Fleet, state: AppState
) -> None:
    await login(app_client, "ea")
    board_id = await _new_board(app_client)
    editor = await app_client.get(f"/platform/dashboards/{board_id}/edit")
    assert editor.status_code == 200 and 'id="widget-editor"' in editor.text
    devices = (await app_client.get(f"/platform/dashboards/{board_id}/devices?q=cnc")).json()
    assert [d["id"] for d in devices["devices"]] == ["cnc-0001"]
    numeric = {p["name"] for p in devices["devices"][0]["points"] if p["numeric"]}
    assert "spindle_speed" in numeric and "program" not in numeric

    form = {"name": "一号车间（早班）", "layout": json.dumps(EVERY_WIDGET)}
    saved = await app_client.post(f"/platform/dashboards/{board_id}", data=form)
    assert saved.status_code == 303, saved.text
    layout = _layout_in_db(state, board_id)
    assert [w["type"] for w in layout["widgets"]] == [w["type"] for w in EVERY_WIDGET["widgets"]]
    assert layout["widgets"][1]["min"] == 0.0 and layout["widgets"][0]["width"] == 8

    await login(app_client, "eu")  # a reader of the same enterprise
    listing = await app_client.get("/platform/dashboards", params={"q": "早班"})
    assert f'data-board="{board_id}"' in listing.text and 'id="new-board"' not in listing.text
    page = await app_client.get(f"/platform/dashboards/{board_id}")
    assert page.status_code == 200
    assert "一号车间（早班）" in page.text and 'id="edit-board"' not in page.text
    assert "一号车间 &lt;b&gt;早班&lt;/b&gt;" in page.text  # text widgets are text
    data = (await app_client.get(f"/platform/dashboards/{board_id}/data")).json()["widgets"]
    chart_data, gauge, latest, alarms, places, text = data
    assert len(chart_data["series"][0]["data"]) > 10  # 180 samples, 10 s apart, in 1 min buckets
    assert gauge["value"] == 61.25 and gauge["unit"] == "°C"
    assert [r[1] for r in latest["rows"]] == ["61.25", "O1234"]
    assert [a[1] for a in alarms["alarms"]] == ["cnc-0001"]  # A's alarm only
    assert [p[0] for p in places["devices"]] == ["cnc-0001", "env-0001"]
    assert text == {}


async def test_readers_cannot_edit_and_nothing_changes(
    app_client: httpx.AsyncClient, fleet: Fleet, state: AppState
) -> None:
    await login(app_client, "ea")
    board_id = await _new_board(app_client)
    for who in ("eu", "reg"):
        await login(app_client, who)
        assert (await app_client.get(f"/platform/dashboards/{board_id}")).status_code == 200
        edit = await app_client.get(f"/platform/dashboards/{board_id}/edit")
        assert edit.status_code == 403, who
        layout = json.dumps({"widgets": [{"type": "text", "text": "mine now"}]})
        save = await app_client.post(
            f"/platform/dashboards/{board_id}", data={"name": "taken", "layout": layout}
        )
        assert save.status_code == 403, who
        gone = await app_client.post(f"/platform/dashboards/{board_id}/delete")
        assert gone.status_code == 403, who
        made = await app_client.post("/platform/dashboards", data={"name": "x"})
        assert made.status_code == 403, who
        matches = await app_client.get(f"/platform/dashboards/{board_id}/devices")
        assert matches.status_code == 403, who
    assert _layout_in_db(state, board_id) == {"widgets": []}


async def test_another_enterprises_dashboards_and_devices_are_not_found(
    app_client: httpx.AsyncClient, fleet: Fleet, state: AppState, admin_password: str
) -> None:
    await login(app_client, "ea")
    board_id = await _new_board(app_client)
    # A's admin binding B's device gets the answer of a device that does not exist.
    for device in ("meter-b1", "no-such-device"):
        for layout in (
            {"widgets": [chart(device)]},
            {"widgets": [{"type": "alarms", "rows": 5, "device": device}]},
            {"widgets": [{"type": "locations", "devices": ["cnc-0001", device]}]},
        ):
            resp = await app_client.post(
                f"/platform/dashboards/{board_id}", data={"name": "n", "layout": json.dumps(layout)}
            )
            assert resp.status_code == 404, (device, layout)
            assert f"本企业没有设备 {device}" in resp.text
    assert _layout_in_db(state, board_id) == {"widgets": []}
    # The platform admin cannot bind B's device to A's dashboard either.
    await login(app_client, "admin", admin_password)
    cross = await app_client.post(
        f"/platform/dashboards/{board_id}",
        data={"name": "n", "layout": json.dumps({"widgets": [chart("meter-b1")]})},
    )
    assert cross.status_code == 404
    # A's admin naming B's enterprise for a new dashboard: not found.
    await login(app_client, "ea")
    other = await app_client.post(
        "/platform/dashboards", data={"name": "x", "enterprise_id": str(fleet.b.id)}
    )
    assert other.status_code == 404
    # B's user sees nothing of A's dashboard, exactly as for one that does not exist.
    await login(app_client, "eb")
    for path in ("", "/edit", "/data", "/devices"):
        theirs = await app_client.get(f"/platform/dashboards/{board_id}{path}")
        missing = await app_client.get(f"/platform/dashboards/987654{path}")
        assert theirs.status_code == missing.status_code == 404, path
        assert "一号车间" not in theirs.text
    for path in ("", "/delete"):
        resp = await app_client.post(
            f"/platform/dashboards/{board_id}{path}", data={"name": "x", "layout": "{}"}
        )
        assert resp.status_code == 404, path
    listing = await app_client.get("/platform/dashboards")
    assert "一号车间" not in listing.text


@pytest.mark.parametrize(("layout", "reason"), HOSTILE, ids=[r for _, r in HOSTILE])
async def test_hostile_layouts_are_refused_and_write_nothing(
    fleet: Fleet, state: AppState, layout: Any, reason: str
) -> None:
    boards = telemetry.Dashboards(
        state.engine, fleet.platform.devices.lookup, fleet.platform.devices.model_of
    )
    admin = User(id=1, username="ea", role=Role.ENTERPRISE_ADMIN, enterprise_id=fleet.a.id)
    board = boards.create(admin, "看板", fleet.a.id)
    with pytest.raises(InvalidInput) as caught:
        boards.save(admin, board.id, "changed", _layout_text(layout))
    assert caught.value.reason == reason, caught.value.message
    assert caught.value.status == 400
    after = boards.get(admin, board.id)
    assert after.name == "看板" and after.layout == {"widgets": []}


async def test_a_hostile_layout_reads_in_the_users_language_and_keeps_what_was_typed(
    app_client: httpx.AsyncClient, fleet: Fleet
) -> None:
    await login(app_client, "ea")
    board_id = await _new_board(app_client)
    typed = json.dumps({"widgets": [chart(width=7)]})
    resp = await app_client.post(
        f"/platform/dashboards/{board_id}", data={"name": "n", "layout": typed}
    )
    assert resp.status_code == 400
    assert "第 1 个组件：宽度只能是 3, 4, 6, 8, 12" in resp.text
    assert "&#34;width&#34;: 7" in resp.text or '"width": 7' in resp.text
    app_client.cookies.set("lang", "en")
    resp = await app_client.post(
        f"/platform/dashboards/{board_id}", data={"name": "", "layout": '{"widgets": []}'}
    )
    assert resp.status_code == 400 and "A dashboard name has 1 to 100 characters" in resp.text


async def test_dashboard_list_searches_and_pages_on_the_server(
    app_client: httpx.AsyncClient, fleet: Fleet, state: AppState
) -> None:
    boards = telemetry.Dashboards(
        state.engine, fleet.platform.devices.lookup, fleet.platform.devices.model_of
    )
    admin = User(id=1, username="ea", role=Role.ENTERPRISE_ADMIN, enterprise_id=fleet.a.id)
    for i in range(25):
        boards.create(admin, f"产线 {i:02d}", fleet.a.id)
    boards.create(admin, "100%_special", fleet.a.id)
    await login(app_client, "eu")
    first = await app_client.get("/platform/dashboards")
    assert first.text.count("data-board=") == 20 and "产线 00" in first.text
    second = await app_client.get("/platform/dashboards", params={"page": 2})
    assert second.text.count("data-board=") == 6
    found = await app_client.get("/platform/dashboards", params={"q": "%_"})
    assert found.text.count("data-board=") == 1 and "100%_special" in found.text
    odd = await app_client.get("/platform/dashboards", params={"page": "x", "size": "-1"})
    assert odd.status_code == 200
    theirs = await app_client.get("/platform/dashboards", params={"enterprise_id": fleet.b.id})
    nothing = await app_client.get("/platform/dashboards", params={"enterprise_id": "987654"})
    assert theirs.status_code == nothing.status_code == 404
    mine = await app_client.get("/platform/dashboards", params={"enterprise_id": fleet.a.id})
    assert mine.status_code == 200 and "26" in mine.text  # rows 1-20 of 26
    assert (await app_client.get("/platform/dashboards?enterprise_id=x")).status_code == 404


# -- the overview -------------------------------------------------------------------------------


async def test_overview_charts_are_scoped_to_what_the_user_may_see(
    app_client: httpx.AsyncClient, fleet: Fleet, state: AppState, admin_password: str
) -> None:
    fleet.platform.devices.flush_status()
    tally = ids.daily.DailyTally()
    for prefix in ("88.100.1", "88.100.1", "88.100.2"):  # A's twice, B's once
        tally.resolved(prefix)
    ids.daily.flush(state.engine, [tally])
    fleet.platform.ingest_rate.observe(int(time.time() * 1000), 40, 38)
    await login(app_client, "eu")
    page = await app_client.get("/platform")
    assert 'id="chart-online"' in page.text and 'id="chart-ingest-none"' in page.text
    mine = (await app_client.get("/platform/overview/charts")).json()
    assert mine["online"][-1][1] == 1  # cnc-0001 online; B's meter is none of A's business
    assert mine["top"] == [["cnc-0001", 1]] and mine["ingest"] is None
    assert sum(n for _, n in mine["alarms"]["critical"]) == 1
    assert sum(n for _, n in mine["alarms"]["minor"]) == 0  # B's alarm
    assert len(mine["resolutions"]) == 14 and mine["resolutions"][-1][2] == 2
    await login(app_client, "admin", admin_password)
    every = (await app_client.get("/platform/overview/charts", params={"range": "7d"})).json()
    assert every["range"] == "7d" and {d for d, _ in every["top"]} == {"cnc-0001", "meter-b1"}
    assert [m[1:] for m in every["ingest"]] == [[40, 38]]
    assert every["resolutions"][-1][2] == 3
    odd = await app_client.get("/platform/overview/charts", params={"range": "<script>"})
    assert odd.status_code == 200 and odd.json()["range"] == "24h"


def test_ingest_rate_is_bounded_per_minute_and_survives_a_counter_reset() -> None:
    rate = telemetry.IngestRate(minutes=3)
    t0 = 1_700_000_000_000 - 1_700_000_000_000 % 60_000
    rate.observe(t0, 100, 100)  # counted since the process started: this minute's
    rate.observe(t0 + 2_000, 130, 120)
    rate.observe(t0 + 4_000, 150, 150)
    rate.observe(t0 + 60_000, 160, 160)
    rate.observe(t0 + 61_000, 5, 5)  # a new pipeline: a new baseline, not -155
    rate.observe(t0 + 62_000, 9, 8)
    assert [(m.start - t0, m.accepted, m.stored) for m in rate.series()] == [
        (0, 150, 150),
        (60_000, 14, 13),
    ]
    for k in range(2, 8):
        rate.observe(t0 + k * 60_000, 9 + k, 8 + k)
    assert len(rate.series()) == 3  # only the newest minutes are kept


# -- the wall display ---------------------------------------------------------------------------


async def _display(client: httpx.AsyncClient, **form: str) -> str:
    resp = await client.post("/platform/displays", data={"name": "车间大屏", "days": "7"} | form)
    assert resp.status_code == 200, resp.text
    assert resp.headers["cache-control"] == "no-store"
    url = re.search(r'id="display-url">([^<]+)<', resp.text)
    assert url, resp.text
    token = url.group(1).split("display=", 1)[1]
    again = await client.get("/platform/displays")
    assert token not in again.text  # shown once
    return token


async def _open_wall(client: httpx.AsyncClient, token: str) -> httpx.Response:
    client.cookies.clear()
    opened = await client.get("/wall", params={"display": token})
    assert opened.status_code == 303 and opened.headers["location"] == "/wall"
    cookie = opened.headers["set-cookie"]
    assert f"{DISPLAY_COOKIE}=" in cookie and "Path=/wall" in cookie and "HttpOnly" in cookie
    return await client.get("/wall")


async def test_a_display_token_opens_the_wall_of_its_enterprise_and_nothing_else(
    app_client: httpx.AsyncClient, fleet: Fleet, state: AppState
) -> None:
    await login(app_client, "ea")
    token = await _display(app_client)
    wall = await _open_wall(app_client, token)
    assert wall.status_code == 200 and SESSION_COOKIE not in app_client.cookies
    assert "厦门示例机床有限公司" in wall.text and "login" not in wall.text
    data = (await app_client.get("/wall/data")).json()
    assert data["devices"]["total"] == 2 and data["alarm_counts"]["critical"] == 1
    assert data["alarm_counts"]["minor"] == 0 and data["ingest"] is None
    assert "meter-b1" not in json.dumps(data) and "乙厂电表" not in wall.text

    # The token is a credential for /wall only: as a cookie, a session, a bearer or a query
    # parameter, every other route answers as to a stranger.
    ops, _ = operations(create_app(state))
    tried = walls = 0
    for op in ops:
        if op.method != "GET" or op.path_params or op.key in PUBLIC:
            continue
        if op.key in DISPLAY_ONLY:
            walls += 1
            continue
        for headers in (
            {"Cookie": f"{DISPLAY_COOKIE}={token}"},
            {"Cookie": f"{SESSION_COOKIE}={token}"},
            {"Authorization": f"Bearer {token}"},
        ):
            app_client.cookies.clear()
            resp = await app_client.get(op.path, params={"display": token}, headers=headers)
            tried += 1
            assert resp.status_code in (303, 401, 403), (str(op), headers, resp.status_code)
            assert "cnc-0001" not in resp.text, str(op)
    assert tried > 60 and walls == len(DISPLAY_ONLY)  # the wall's routes are the ones listed
    # Only reading: a change sent with the display cookie is refused.
    app_client.cookies.clear()
    change = await app_client.post(
        "/platform/dashboards",
        data={"name": "x"},
        headers={"Cookie": f"{DISPLAY_COOKIE}={token}", "Origin": "http://testserver"},
    )
    assert change.status_code in (
        303,
        401,
        403,
    ) and "/platform/dashboards/" not in change.headers.get("location", "")
    for method in ("POST", "PUT", "DELETE"):
        resp = await app_client.request(
            method, "/wall", headers={"Cookie": f"{DISPLAY_COOKIE}={token}"}
        )
        assert resp.status_code == 405, method


async def test_region_and_platform_wide_displays_show_their_enterprises(
    app_client: httpx.AsyncClient, fleet: Fleet, state: AppState, admin_password: str
) -> None:
    from indunet.core.tables import enterprises

    with state.engine.begin() as conn:
        conn.execute(
            enterprises.update().where(enterprises.c.id == fleet.b.id).values(region="北京市")
        )
    await login(app_client, "admin", admin_password)
    region = await _display(app_client, scope="region", region="北京市")
    everything = await _display(app_client, scope="all")
    wall = await _open_wall(app_client, region)
    assert "北京市" in wall.text
    data = (await app_client.get("/wall/data")).json()
    assert data["scope"] == "region" and data["devices"]["total"] == 1
    assert data["alarm_counts"]["minor"] == 1 and data["alarm_counts"]["critical"] == 0
    await _open_wall(app_client, everything)
    data = (await app_client.get("/wall/data")).json()
    assert data["scope"] == "all" and data["devices"]["total"] == 3 and data["ingest"] == []
    # An enterprise admin makes displays of their own enterprise only.
    await login(app_client, "ea")
    for form in ({"scope": "region", "region": "北京市"}, {"enterprise_id": str(fleet.b.id)}):
        resp = await app_client.post("/platform/displays", data={"name": "x", "days": "1"} | form)
        assert resp.status_code in (403, 404), form
    await login(app_client, "eu")
    resp = await app_client.post("/platform/displays", data={"name": "x", "days": "1"})
    assert resp.status_code == 403


async def test_revoked_and_expired_tokens_close_the_wall_without_a_login_prompt(
    app_client: httpx.AsyncClient, fleet: Fleet, state: AppState
) -> None:
    await login(app_client, "ea")
    token = await _display(app_client)
    listing = await app_client.get("/platform/displays")
    display_id = int(re.findall(r'data-display="(\d+)"', listing.text)[0])
    await login(app_client, "eb")  # B's admin-less user cannot revoke A's display
    assert (await app_client.post(f"/platform/displays/{display_id}/revoke")).status_code == 404
    assert (await _open_wall(app_client, token)).status_code == 200

    await login(app_client, "ea")
    revoked = await app_client.post(f"/platform/displays/{display_id}/revoke")
    assert revoked.status_code == 303
    app_client.cookies.clear()
    closed = await app_client.get("/wall", headers={"Cookie": f"{DISPLAY_COOKIE}={token}"})
    assert closed.status_code == 401 and 'id="wall-closed"' in closed.text
    assert "/login" not in closed.text and 'type="password"' not in closed.text
    data = await app_client.get("/wall/data", headers={"Cookie": f"{DISPLAY_COOKIE}={token}"})
    assert data.status_code == 401
    assert (await app_client.get("/wall", params={"display": token})).status_code == 401

    await login(app_client, "ea")
    late = await _display(app_client)
    with state.engine.begin() as conn:
        conn.execute(
            display_tokens.update()
            .where(display_tokens.c.revoked_at.is_(None))
            .values(expires_at=datetime.now(UTC) - timedelta(seconds=1))
        )
    app_client.cookies.clear()
    expired = await app_client.get("/wall", headers={"Cookie": f"{DISPLAY_COOKIE}={late}"})
    assert expired.status_code == 401
    for bad in ("", "dsp_", "dsp_" + "x" * 500, "\x00", late.upper()):
        assert (await app_client.get("/wall", params={"display": bad})).status_code == 401


async def test_display_forms_refuse_hostile_input(
    app_client: httpx.AsyncClient, fleet: Fleet, admin_password: str
) -> None:
    await login(app_client, "admin", admin_password)
    for form, status in (
        ({"name": "", "days": "7"}, 400),
        ({"name": "x" * 101, "days": "7"}, 400),
        ({"name": "x", "days": "0"}, 400),
        ({"name": "x", "days": "99999999999"}, 400),
        ({"name": "x", "days": "7", "scope": "region", "region": ""}, 400),
        ({"name": "x", "days": "7", "scope": "enterprise"}, 400),
        ({"name": "x", "days": "7", "scope": "enterprise", "enterprise_id": "abc"}, 404),
        ({"name": "x", "days": "7", "scope": "enterprise", "enterprise_id": "987654"}, 404),
    ):
        resp = await app_client.post("/platform/displays", data=form)
        assert resp.status_code == status, (form, resp.status_code)
        assert 'id="display-url"' not in resp.text
    assert (await app_client.post("/platform/displays/987654/revoke")).status_code == 404


@pytest.mark.parametrize("locale", ["zh-CN", "en"])
async def test_every_page_reads_in_both_languages(
    app_client: httpx.AsyncClient, fleet: Fleet, locale: str
) -> None:
    await login(app_client, "ea")
    board_id = await _new_board(app_client, "看板")
    layout = json.dumps(EVERY_WIDGET)
    await app_client.post(
        f"/platform/dashboards/{board_id}", data={"name": "看板", "layout": layout}
    )
    token = await _display(app_client)
    app_client.cookies.set("lang", locale)
    pages = [
        "/platform",
        "/platform/dashboards",
        f"/platform/dashboards/{board_id}",
        f"/platform/dashboards/{board_id}/edit",
        "/platform/displays",
    ]
    seen = [await app_client.get(path) for path in pages]
    await _open_wall(app_client, token)
    app_client.cookies.set("lang", locale)
    seen.append(await app_client.get("/wall"))
    app_client.cookies.clear()
    app_client.cookies.set("lang", locale)
    seen.append(await app_client.get("/wall"))  # closed: no token
    data = {
        "看板",
        "厦门示例机床有限公司",
        "主轴转速",
        "轴承温度",
        "告警",
        "位置",
        "说明",
        "车间大屏",
    }
    data |= {"一号车间", "早班", "主轴轴承过热", "五轴加工中心", "车间温湿度", "中文"}
    for resp in seen:
        assert resp.status_code in (200, 401), resp.url
        text = platform_pages.text_of(resp.text)
        keys = re.findall(r"\b(?:overview|board|display|wall)\.[a-z_.]+\b", text)
        assert keys == [], (resp.url, keys)
        if locale == "en":
            assert set(platform_pages.CJK.findall(text)) - data == set(), resp.url
