"""Identifier records in the console: browse and search a prefix's identifiers a page at a
time, open one, edit it pre-filled, delete it after a confirmation, see its history; other
tenants' prefixes are not found; the template editor takes enum choices and number ranges and
pre-fills a new version from a published one; HS_ADMIN values read as rights."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import httpx
import pytest
import sqlalchemy as sa
from tests.conftest import USCC_B

from indunet import core, ids
from indunet.ids.tables import handle_history
from indunet.ids.values import TEMPLATE_INDEX
from indunet.web import AppState, create_app
from indunet.web.auth import SESSION_COOKIE
from indunet.web.csrf import HEADER, csrf_token

PASSWORD = "a-long-password"


@pytest.fixture
def app_state(state: AppState, allocation: ids.Allocation) -> AppState:
    other = _enterprise(state, USCC_B, "北京示例泵业")
    ids.allocate(
        state.hierarchy.front, "88.100.2", other, actor="test", secret="another-secret-key"
    )
    with state.engine.begin() as conn:
        core.create_user(
            conn, username="b-admin", password=PASSWORD, role=core.Role.ENTERPRISE_ADMIN,
            actor="test", enterprise_id=other.id,
        )  # fmt: skip
        core.create_user(
            conn, username="a-user", password=PASSWORD, role=core.Role.ENTERPRISE_USER,
            actor="test", enterprise_id=allocation.enterprise_id,
        )  # fmt: skip
        core.create_user(
            conn, username="reg", password=PASSWORD, role=core.Role.REGULATOR, actor="test"
        )
    return state


def _enterprise(state: AppState, uscc: str, name: str) -> core.Enterprise:
    with state.engine.begin() as conn:
        return core.create_enterprise(conn, uscc=uscc, name=name, actor="test", verified=True)


def put(state: AppState, handle: str, **values: str) -> None:
    rows = [{"index": i, "type": t, "data": v} for i, (t, v) in enumerate(values.items(), start=1)]
    state.hierarchy.front.put(handle, rows, ids.Principal(actor="seed", prefixes=None))


@pytest.fixture
async def web(app_state: AppState) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=create_app(app_state))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
        yield c


async def login(c: httpx.AsyncClient, state: AppState, username: str) -> httpx.AsyncClient:
    if username == "admin":
        with state.engine.begin() as conn:
            password = core.ensure_admin(conn)
    else:
        password = PASSWORD
    resp = await c.post("/login", data={"username": username, "password": password, "next": "/"})
    assert resp.status_code == 303, resp.text
    c.headers[HEADER] = csrf_token(c.cookies[SESSION_COOKIE])
    return c


def listed(html: str) -> list[str]:
    return re.findall(r'<a href="/ids/handles/record\?handle=[^"]+">([^<]+)</a>', html)


async def test_a_prefix_is_browsed_and_searched_a_page_at_a_time(
    web: httpx.AsyncClient, app_state: AppState
) -> None:
    for n in range(1, 26):
        put(app_state, f"88.100.1/CNC-{n:04d}", URL=f"https://x.example/{n}")
    put(app_state, "88.100.1/PUMP-1", DESC="泵")
    await login(web, app_state, "admin")
    first = await web.get("/ids/handles", params={"prefix": "88.100.1"})
    assert first.status_code == 200
    assert listed(first.text)[:2] == ["88.100.1/CNC-0001", "88.100.1/CNC-0002"]
    assert len(listed(first.text)) == 20 and "共 26 条" in first.text
    second = await web.get("/ids/handles", params={"prefix": "88.100.1", "page": "2"})
    assert listed(second.text)[-1] == "88.100.1/PUMP-1"
    found = await web.get("/ids/handles", params={"prefix": "88.100.1", "q": "cnc-002"})
    assert listed(found.text) == [f"88.100.1/CNC-{n:04d}" for n in range(20, 26)]
    wild = await web.get("/ids/handles", params={"prefix": "88.100.1", "q": "%_"})
    assert wild.status_code == 200 and listed(wild.text) == []
    back = await web.get(
        "/ids/handles", params={"prefix": "88.100.1", "sort": "handle", "desc": "1"}
    )
    assert listed(back.text)[0] == "88.100.1/PUMP-1"
    # the selector offers the node's prefix and every allocated one to a platform admin
    assert 'value="88.100.2"' in first.text and 'value="88.100"' in first.text


async def test_another_tenants_prefix_and_identifiers_are_not_found(
    web: httpx.AsyncClient, app_state: AppState
) -> None:
    put(app_state, "88.100.1/CNC-1", URL="https://x.example/1")
    await login(web, app_state, "b-admin")
    page = await web.get("/ids/handles", follow_redirects=True)
    assert page.status_code == 200 and 'value="88.100.2"' in page.text
    assert 'value="88.100.1"' not in page.text
    for path in ("/ids/handles/record", "/ids/handles/edit", "/ids/handles/delete"):
        resp = await web.get(path, params={"handle": "88.100.1/CNC-1"})
        assert resp.status_code == 404, path
        assert "x.example" not in resp.text  # nothing of it is shown
    assert (await web.get("/ids/handles", params={"prefix": "88.100.1"})).status_code == 404
    assert (await web.get("/ids/handles", params={"prefix": "88.100"})).status_code == 404
    for path, data in (
        ("/ids/handles/edit", {"handle": "88.100.1/CNC-1", "index": "1", "type": "URL", "value": "https://evil.example"}),
        ("/ids/handles/delete", {"handle": "88.100.1/CNC-1"}),
    ):  # fmt: skip
        assert (await web.post(path, data=data)).status_code == 404, path
    rec = app_state.hierarchy.front.record("88.100.1/CNC-1")
    assert rec is not None and rec.values[0].value == "https://x.example/1"


@pytest.mark.parametrize(
    "handle", ["", "no-slash", "88.100.1/" + "x" * 5000, "88.100.1/\x00", "88.100.1/MISSING"]
)
async def test_hostile_or_unknown_identifiers_are_not_found(
    web: httpx.AsyncClient, app_state: AppState, handle: str
) -> None:
    await login(web, app_state, "admin")
    resp = await web.get("/ids/handles/record", params={"handle": handle})
    assert resp.status_code == 404
    resp = await web.post("/ids/handles/delete", data={"handle": handle})
    assert resp.status_code == 404


async def test_edit_is_pre_filled_saves_keeps_admin_and_is_in_the_history(
    web: httpx.AsyncClient, app_state: AppState
) -> None:
    put(app_state, "88.100.1/CNC-7", URL="https://x.example/7", DESC="旧说明")
    await login(web, app_state, "admin")
    web.cookies.set("tz", "Asia/Shanghai")
    record = await web.get("/ids/handles/record", params={"handle": "88.100.1/CNC-7"})
    assert record.status_code == 200
    assert "0:0.NA/88.100.1" in record.text and "添加值" in record.text  # HS_ADMIN, readable
    assert "011111110011" not in record.text
    form = await web.get("/ids/handles/edit", params={"handle": "88.100.1/CNC-7"})
    assert 'value="旧说明"' in form.text and 'value="https://x.example/7"' in form.text
    assert "HS_ADMIN" in form.text  # listed among the values kept as they are

    saved = await web.post(
        "/ids/handles/edit",
        follow_redirects=True,
        data={"handle": "88.100.1/CNC-7", "index": ["1", "2"], "type": ["URL", "DESC"],
              "value": ["https://x.example/7", "新说明"]},
    )  # fmt: skip
    assert saved.status_code == 200, saved.text
    assert "已保存标识 88.100.1/CNC-7" in saved.text
    rec = app_state.hierarchy.front.record("88.100.1/CNC-7")
    assert rec is not None
    assert {v.type: v.value for v in rec.values}["DESC"] == "新说明"
    assert any(v.type == "HS_ADMIN" for v in rec.values)
    assert "修改" in saved.text and "旧说明" in saved.text  # the history keeps the values before
    with app_state.engine.connect() as conn:
        (at,) = conn.execute(
            sa.select(handle_history.c.at).where(handle_history.c.action == "handle.modify")
        ).one()
    shown = (at if at.tzinfo else at.replace(tzinfo=UTC)).astimezone(ZoneInfo("Asia/Shanghai"))
    assert shown.strftime("%Y-%m-%d %H:%M") in saved.text  # in the page's zone


async def test_a_bad_edit_is_refused_and_changes_nothing(
    web: httpx.AsyncClient, app_state: AppState
) -> None:
    put(app_state, "88.100.1/CNC-8", URL="https://x.example/8")
    await login(web, app_state, "admin")
    for data, status, shown in (
        ({"index": "one", "type": "URL", "value": "https://y.example"}, 400, "第 1 行的索引“one”不是整数"),
        # an index twice is Handle.Net's "value already exists" (201), a conflict
        ({"index": ["1", "1"], "type": ["URL", "DESC"], "value": ["a", "b"]}, 409, "索引 1 出现了两次"),
        ({"index": "1", "type": "COLOUR", "value": "red"}, 400, "第 1 个值的类型“COLOUR”未知"),
    ):  # fmt: skip
        resp = await web.post("/ids/handles/edit", data={"handle": "88.100.1/CNC-8", **data})
        assert resp.status_code == status and shown in resp.text
    _, changes = app_state.hierarchy.front.history("88.100.1/CNC-8")
    assert [c.action for c in changes] == ["handle.create"]  # no change, no history


async def test_delete_asks_first_then_deletes_and_the_history_stays(
    web: httpx.AsyncClient, app_state: AppState
) -> None:
    put(app_state, "88.100.1/CNC-9", URL="https://x.example/9")
    put(app_state, "88.100.1/KEEP", URL="https://x.example/keep")
    await login(web, app_state, "admin")
    ask = await web.get("/ids/handles/delete", params={"handle": "88.100.1/CNC-9"})
    assert ask.status_code == 200 and "确认删除 88.100.1/CNC-9" in ask.text
    assert 'method="post" action="/ids/handles/delete"' in ask.text
    assert app_state.hierarchy.front.record("88.100.1/CNC-9") is not None  # asking deletes nothing
    gone = await web.post("/ids/handles/delete", data={"handle": "88.100.1/CNC-9"})
    assert gone.status_code == 303
    assert gone.headers["location"] == "/ids/handles?prefix=88.100.1&deleted=88.100.1%2FCNC-9"
    listed_after = await web.get(gone.headers["location"])
    assert "已删除标识 88.100.1/CNC-9" in listed_after.text
    still = await web.get("/ids/handles", params={"prefix": "88.100.1", "deleted": "88.100.1/KEEP"})
    assert "已删除" not in still.text  # only an identifier that is really gone is said to be
    assert app_state.hierarchy.front.record("88.100.1/CNC-9") is None
    history = await web.get("/ids/handles/record", params={"handle": "88.100.1/CNC-9"})
    assert history.status_code == 200 and "删除" in history.text and "创建" in history.text
    again = await web.post("/ids/handles/delete", data={"handle": "88.100.1/CNC-9"})
    assert again.status_code == 404 and "标识 88.100.1/CNC-9 未注册" in again.text


async def test_readers_see_but_may_not_change(web: httpx.AsyncClient, app_state: AppState) -> None:
    put(app_state, "88.100.1/CNC-5", URL="https://x.example/5")
    await login(web, app_state, "reg")
    page = await web.get("/ids/handles/record", params={"handle": "88.100.1/CNC-5"})
    assert page.status_code == 200 and "/ids/handles/edit?" not in page.text
    assert (
        await web.get("/ids/handles/edit", params={"handle": "88.100.1/CNC-5"})
    ).status_code == 403
    edit = await web.post(
        "/ids/handles/edit",
        data={
            "handle": "88.100.1/CNC-5",
            "index": "1",
            "type": "URL",
            "value": "https://y.example",
        },
    )
    assert edit.status_code == 403
    assert (
        await web.post("/ids/handles/delete", data={"handle": "88.100.1/CNC-5"})
    ).status_code == 403
    assert app_state.hierarchy.front.record("88.100.1/CNC-5") is not None


async def test_enterprise_users_manage_their_own_identifiers(
    web: httpx.AsyncClient, app_state: AppState
) -> None:
    put(app_state, "88.100.1/CNC-6", URL="https://x.example/6")
    await login(web, app_state, "a-user")
    page = await web.get("/ids/handles", follow_redirects=True)
    assert listed(page.text) == ["88.100.1/CNC-6"]
    assert 'value="88.100.2"' not in page.text
    resp = await web.post(
        "/ids/handles/edit",
        data={
            "handle": "88.100.1/CNC-6",
            "index": "1",
            "type": "URL",
            "value": "https://y.example",
        },
    )
    assert resp.status_code == 303, resp.text


async def test_history_is_written_with_the_change_or_not_at_all(app_state: AppState) -> None:
    node = app_state.hierarchy.front
    put(app_state, "88.100.1/H-1", URL="https://x.example/1")
    put(app_state, "88.100.1/H-1", URL="https://x.example/2")
    with pytest.raises(ids.HandleExists):
        node.put("88.100.1/H-1", [], ids.Principal(actor="seed", prefixes=None), overwrite=False)
    node.delete("88.100.1/H-1", ids.Principal(actor="ops", prefixes=None))
    total, changes = node.history("88.100.1/H-1")
    assert total == 3
    assert [c.action for c in changes] == ["handle.delete", "handle.modify", "handle.create"]
    assert changes[0].actor == "ops" and changes[2].before is None
    assert changes[1].before is not None
    assert {v["type"]: v["data"]["value"] for v in changes[1].before}[
        "URL"
    ] == "https://x.example/1"
    assert all(v["type"] != "HS_SECKEY" for c in changes for v in c.before or [])


# -- the template editor ----------------------------------------------------------------------


SPINDLE = {
    "prefix": "88.100.1",
    "name": "spindle",
    "version": "1.0",
    "industry_code": "C3484",
    "item_name": ["max_rpm", "bearing"],
    "item_title": ["最高转速", "轴承"],
    "item_type": ["integer", "enum"],
    "item_index": ["2101", "2102"],
    "item_required": ["1", "0"],
    "item_min": ["", ""],
    "item_max": ["", ""],
    "item_pattern": ["", ""],
    "item_minimum": ["1000", ""],
    "item_maximum": ["60000", ""],
    "item_choices": ["", "ceramic\nsteel"],
}


async def test_the_readme_spindle_template_is_built_in_the_form_and_edited_again(
    web: httpx.AsyncClient, app_state: AppState
) -> None:
    await login(web, app_state, "admin")
    resp = await web.post("/ids/templates", data=SPINDLE)
    assert resp.status_code == 200, resp.text
    (t,) = app_state.hierarchy.front.templates.for_prefix("88.100.1")
    rpm, bearing = t.items
    assert (rpm.minimum, rpm.maximum, rpm.required) == (1000, 60000, True)
    assert bearing.choices == ("ceramic", "steel") and bearing.type == "enum"
    edit = await web.get("/ids/templates", params={"prefix": "88.100.1", "edit": "spindle@1.0"})
    assert edit.status_code == 200
    assert 'name="version" value="1.1"' in edit.text
    assert 'name="item_minimum" value="1000"' in edit.text
    assert 'name="item_maximum" value="60000"' in edit.text
    assert ">ceramic\nsteel</textarea>" in edit.text and 'value="最高转速"' in edit.text
    comma = {**SPINDLE, "version": "1.1", "item_choices": ["", "ceramic, steel，hybrid"]}
    assert (await web.post("/ids/templates", data=comma)).status_code == 200
    newest = [
        x for x in app_state.hierarchy.front.templates.for_prefix("88.100.1") if x.version == "1.1"
    ]
    assert newest[0].items[1].choices == ("ceramic", "steel", "hybrid")
    missing = await web.get("/ids/templates", params={"prefix": "88.100.1", "edit": "nope@9"})
    assert missing.status_code == 404


@pytest.mark.parametrize(
    ("change", "shown"),
    [
        ({"item_choices": ["", ""]}, "字段「bearing」是枚举类型，需要填写可选值"),
        ({"item_minimum": ["fast", ""]}, "第 1 项的最小值“fast”不是数字"),
        ({"item_minimum": ["70000", ""]}, "字段「max_rpm」的最小值 70000 大于最大值 60000"),
        ({"item_choices": ["", "\n".join(str(n) for n in range(101))]}, "最多 100 个可选值"),
        ({"item_choices": ["", "x" * 13_000]}, "第 2 项的可选值超过 12000 个字符"),
        ({"item_choices": ["", "a, a"]}, "字段「bearing」的可选值有重复"),
        ({"item_minimum": ["nan", ""]}, "第 1 项的最小值“nan”不是数字"),
    ],
)
async def test_bad_choices_and_ranges_are_refused_and_nothing_is_published(
    web: httpx.AsyncClient, app_state: AppState, change: dict[str, list[str]], shown: str
) -> None:
    await login(web, app_state, "admin")
    resp = await web.post("/ids/templates", data={**SPINDLE, **change})
    assert resp.status_code == 400 and shown in resp.text
    assert app_state.hierarchy.front.templates.for_prefix("88.100.1") == []


async def test_template_index_is_one_constant_written_by_the_console(
    web: httpx.AsyncClient, app_state: AppState
) -> None:
    await login(web, app_state, "admin")
    assert (await web.post("/ids/templates", data=SPINDLE)).status_code == 200
    rows = await web.get("/ids/register/rows", params={"template": "spindle@1.0"})
    assert '<option value="ceramic">ceramic</option>' in rows.text  # the enum offers its choices
    assert 'placeholder="必填 · 最高转速 · 1000–60000"' in rows.text  # the range is shown
    resp = await web.post(
        "/ids/register",
        data={"handle": "88.100.1/SP-1", "template": "spindle@1.0", "index": ["2101", "2102"],
              "type": ["max_rpm", "bearing"], "value": ["12000", "steel"]},
    )  # fmt: skip
    assert resp.status_code == 200, resp.text
    rec = app_state.hierarchy.front.record("88.100.1/SP-1")
    assert rec is not None
    assert {v.type: v.index for v in rec.values}["TEMPLATE"] == TEMPLATE_INDEX == 3


async def test_resolve_shows_hs_admin_as_rights_and_times_in_the_page_zone(
    web: httpx.AsyncClient, app_state: AppState
) -> None:
    put(app_state, "88.100.1/R-1", URL="https://x.example/r")
    web.cookies.set("tz", "Asia/Shanghai")
    page = await web.get("/ids/resolve", params={"handle": "88.100.1/R-1"})
    # Handle.Net's default 011111110011 read from its last character: add handle first, and
    # neither the derived-prefix rights nor listing
    assert "0:0.NA/88.100.1" in page.text and "可：添加标识、删除标识、修改值" in page.text
    assert "下级前缀" not in page.text and "列出标识" not in page.text
    assert "011111110011" not in page.text
    rec = app_state.hierarchy.front.record("88.100.1/R-1")
    assert rec is not None
    stamp = datetime.fromisoformat(rec.values[0].timestamp.replace("Z", "+00:00"))
    assert stamp.astimezone(ZoneInfo("Asia/Shanghai")).strftime("%Y-%m-%d %H:%M:%S") in page.text
    web.cookies.set("lang", "en")
    page = await web.get("/ids/resolve", params={"handle": "88.100.1/R-1"})
    assert "may: add handle, delete handle, modify value" in page.text
    assert "derived prefix" not in page.text and "list handles" not in page.text


@pytest.mark.parametrize(
    ("indexes", "expected"),
    [(["", ""], (2000, 2001)), (["", "2000"], (2001, 2000)), (["2005", ""], (2005, 2000))],
)
async def test_an_empty_item_index_takes_the_next_unused_one_from_2000(
    web: httpx.AsyncClient,
    app_state: AppState,
    indexes: list[str],
    expected: tuple[int, int],
) -> None:
    # The index field shows 2000 as its placeholder; leaving it empty used to be refused
    # with "第 1 行的索引“”不是整数" (issue 9's acceptance audit).
    await login(web, app_state, "admin")
    resp = await web.post("/ids/templates", data={**SPINDLE, "item_index": indexes})
    assert resp.status_code == 200, resp.text
    (t,) = app_state.hierarchy.front.templates.for_prefix("88.100.1")
    assert tuple(item.index for item in t.items) == expected


async def test_optional_template_items_left_empty_are_left_out_and_required_ones_are_named(
    web: httpx.AsyncClient, app_state: AppState
) -> None:
    # The register form lists every item of the chosen template; an optional enum or number
    # left empty used to be refused as "“” 不是可选值之一" (issue 9's acceptance audit).
    await login(web, app_state, "admin")
    assert (await web.post("/ids/templates", data=SPINDLE)).status_code == 200
    form = {
        "handle": "88.100.1/SP-1",
        "template": "spindle@1.0",
        "index": ["1", "2101", "2102"],
        "type": ["URL", "max_rpm", "bearing"],
        "value": ["", "24000", ""],
    }
    resp = await web.post("/ids/register", data=form)
    assert resp.status_code == 200, resp.text
    answer = await app_state.hierarchy.front.resolve("88.100.1/SP-1")
    types = {v.type: v.value for v in answer.public_values()}
    assert types["max_rpm"] == "24000" and "bearing" not in types and "URL" not in types
    missing = {**form, "handle": "88.100.1/SP-2", "value": ["", "", "steel"]}
    resp = await web.post("/ids/register", data=missing)
    assert resp.status_code == 400
    assert "缺少模板 spindle@1.0 的必填字段「最高转速」（索引 2101）" in resp.text
    assert await app_state.hierarchy.front.store.aget("88.100.1/SP-2") is None


async def test_a_page_past_the_end_shows_the_last_page(
    web: httpx.AsyncClient, app_state: AppState
) -> None:
    for n in range(1, 26):
        put(app_state, f"88.100.1/CNC-{n:04d}", URL=f"https://x.example/{n}")
    await login(web, app_state, "admin")
    for page in ("3", "999999999999"):
        resp = await web.get(
            "/ids/handles", params={"prefix": "88.100.1", "q": "cnc", "page": page}
        )
        assert resp.status_code == 303
        assert resp.headers["location"] == "/ids/handles?prefix=88.100.1&q=cnc&page=2"
        last = await web.get(resp.headers["location"])
        assert "第 2 / 2 页" in last.text
        assert listed(last.text)[-1] == "88.100.1/CNC-0025"
    # nothing found: page 1 of 1, not page 5
    resp = await web.get("/ids/handles", params={"prefix": "88.100.1", "q": "zz", "page": "5"})
    assert resp.headers["location"] == "/ids/handles?prefix=88.100.1&q=zz&page=1"
    # other lists do the same
    for path in ("/ids/enterprises", "/admin/users"):
        resp = await web.get(path, params={"page": "40"})
        assert resp.status_code == 303 and resp.headers["location"] == f"{path}?page=1", path


async def test_a_platform_admins_edits_are_in_the_owning_enterprises_audit_log(
    web: httpx.AsyncClient, app_state: AppState, allocation: ids.Allocation
) -> None:
    with app_state.engine.begin() as conn:
        core.create_user(
            conn, username="a-admin", password=PASSWORD, role=core.Role.ENTERPRISE_ADMIN,
            actor="test", enterprise_id=allocation.enterprise_id,
        )  # fmt: skip
    put(app_state, "88.100.1/CNC-0002", DESC="旧")
    put(app_state, "88.100.2/OTHER-1", DESC="乙")
    await login(web, app_state, "admin")
    saved = await web.post(
        "/ids/handles/edit",
        data={"handle": "88.100.1/CNC-0002", "index": "1", "type": "DESC", "value": "新"},
    )
    assert saved.status_code == 303, saved.text
    platform = app_state.platform
    assert platform is not None
    spec = {"id": "cnc-9", "name": "9号机床", "model": "indunet:air-compressor",
            "connection": {"host": "127.0.0.1", "port": 1502}}  # fmt: skip
    platform.devices.create(allocation.enterprise_id, spec, actor="user:admin")
    platform.devices.update("cnc-9", {"name": "九号机床"}, actor="user:admin")

    await login(web, app_state, "a-admin")
    mine = (await web.get("/admin/audit", params={"actor": "user:admin", "size": "100"})).text
    assert "88.100.1/CNC-0002" in mine and 'data-action="handle.modify"' in mine
    assert "device:cnc-9" in mine and 'data-action="device.update"' in mine
    assert "88.100.2/OTHER-1" not in mine  # the seed of another enterprise's prefix
    await login(web, app_state, "b-admin")
    theirs = (await web.get("/admin/audit", params={"size": "100"})).text
    assert "88.100.1/CNC-0002" not in theirs and "device:cnc-9" not in theirs
    assert "88.100.2/OTHER-1" in theirs  # done by `seed` to their prefix: theirs


async def test_an_edit_keeps_absolute_ttls_and_references_of_unchanged_rows(
    web: httpx.AsyncClient, app_state: AppState
) -> None:
    refs = [{"handle": "88.100.1/OTHER", "index": 1}]
    app_state.hierarchy.front.put(
        "88.100.1/CNC-TTL",
        [
            {
                "index": 1,
                "type": "URL",
                "data": "https://x.example/t",
                "ttl": "2030-01-01T00:00:00Z",
            },
            {"index": 2, "type": "DESC", "data": "旧", "references": refs},
        ],
        ids.Principal(actor="seed", prefixes=None),
    )
    await login(web, app_state, "admin")
    saved = await web.post(
        "/ids/handles/edit",
        data={"handle": "88.100.1/CNC-TTL", "index": ["1", "2"], "type": ["URL", "DESC"],
              "value": ["https://x.example/t", "旧"]},
    )  # fmt: skip
    assert saved.status_code in (200, 303), saved.text
    rec = app_state.hierarchy.front.record("88.100.1/CNC-TTL")
    assert rec is not None
    by_index = {v.index: v.to_json() for v in rec.values}
    assert by_index[1]["ttl"] == "2030-01-01T00:00:00Z"  # still an absolute time, not seconds
    assert by_index[2]["references"] == refs
    page = await web.get("/ids/handles/record", params={"handle": "88.100.1/CNC-TTL"})
    assert "2030-01-01" in page.text and "1893456000" not in page.text  # a time, not seconds
