"""The record editor's admin groups (HS_VLIST) in the console: shown pre-filled as
``index:handle`` lines, added, changed and removed with the record's other values kept; each
mistake named in the page's language with nothing written; a group written in the console is
honoured when its member writes over the Handle REST API."""

from __future__ import annotations

import base64

import httpx
import pytest
from tests.web.test_console_handles import app_state, login, put, web  # noqa: F401

from indunet import ids
from indunet.ids.values import MAX_VLIST_MEMBERS
from indunet.web import AppState

EDIT = "/ids/handles/edit"
SEED = ids.Principal(actor="seed", prefixes=None)


def _group_record(state: AppState, handle: str) -> None:
    state.hierarchy.front.put(
        handle,
        [
            {"index": 1, "type": "DESC", "data": "泵业管理员组"},
            {"index": 200, "type": "HS_VLIST", "data": {"format": "vlist", "value": [
                {"index": 300, "handle": "88.100.1/admin-zhang"},
                {"index": 300, "handle": "88.100.1/admin-li"},
            ]}},
            {"index": 201, "type": "HS_VLIST", "data": {"format": "vlist", "value": [
                {"index": 0, "handle": "88.100.1/old-team"},
            ]}},
        ],
        SEED,
    )  # fmt: skip


def _groups(state: AppState, handle: str) -> dict[int, list[tuple[int, str]]]:
    rec = state.hierarchy.front.record(handle)
    assert rec is not None
    return {
        v.index: [(m["index"], m["handle"]) for m in v.value]
        for v in rec.values
        if v.type == "HS_VLIST" and isinstance(v.value, list)
    }


def _form(handle: str, groups: list[tuple[str, str]], remove: tuple[str, ...] = ()) -> dict:
    return {
        "handle": handle,
        "index": "1",
        "type": "DESC",
        "value": "泵业管理员组",
        "vlist_editor": "1",
        "vlist_index": [i for i, _ in groups],
        "vlist_members": [m for _, m in groups],
        "vlist_remove": list(remove),
    }


async def test_groups_are_pre_filled_added_changed_and_removed(
    web: httpx.AsyncClient,  # noqa: F811
    app_state: AppState,  # noqa: F811
) -> None:
    _group_record(app_state, "88.100.1/admins")
    await login(web, app_state, "admin")
    page = await web.get(EDIT, params={"handle": "88.100.1/admins"})
    assert page.status_code == 200
    assert "300:88.100.1/admin-zhang\n300:88.100.1/admin-li</textarea>" in page.text
    assert "0:88.100.1/old-team</textarea>" in page.text and "管理员组（HS_VLIST）" in page.text

    saved = await web.post(
        EDIT,
        data=_form(
            "88.100.1/admins",
            [
                ("200", "300:88.100.1/admin-zhang\n 301:88.100.1/admin-wang \n\n"),
                ("201", "0:88.100.1/old-team"),
                ("202", "300:88.100.1/admin-li"),
            ],
            remove=("2",),
        ),
    )
    assert saved.status_code == 303, saved.text
    assert _groups(app_state, "88.100.1/admins") == {
        200: [(300, "88.100.1/admin-zhang"), (301, "88.100.1/admin-wang")],
        202: [(300, "88.100.1/admin-li")],
    }
    rec = app_state.hierarchy.front.record("88.100.1/admins")
    assert rec is not None and any(v.type == "HS_ADMIN" for v in rec.values)  # kept
    record = await web.get("/ids/handles/record", params={"handle": "88.100.1/admins"})
    assert "301:88.100.1/admin-wang" in record.text

    # A form without the group editor (an older page, a script) leaves the groups alone.
    plain = {"handle": "88.100.1/admins", "index": "1", "type": "DESC", "value": "新说明"}
    assert (await web.post(EDIT, data=plain)).status_code == 303
    assert set(_groups(app_state, "88.100.1/admins")) == {200, 202}


async def test_a_group_record_may_hold_no_text_value(
    web: httpx.AsyncClient,  # noqa: F811
    app_state: AppState,  # noqa: F811
) -> None:
    _group_record(app_state, "88.100.1/only-groups")
    await login(web, app_state, "admin")
    form = _form("88.100.1/only-groups", [("200", "300:88.100.1/a")])
    form.update(index="", type="", value="")
    assert (await web.post(EDIT, data=form)).status_code == 303
    assert _groups(app_state, "88.100.1/only-groups") == {200: [(300, "88.100.1/a")]}


@pytest.mark.parametrize(
    ("groups", "zh", "en"),
    [
        ([("two", "300:88.100.1/a")], "第 1 个管理员组：索引“two”不是整数",
         "Admin group 1: the index “two” is not a whole number"),
        ([("200", "300:88.100.1/a\n88.100.1/b")], "第 1 个管理员组第 2 行“88.100.1/b”应写作 索引:标识",
         "Admin group 1, line 2: “88.100.1/b” should read index:handle"),
        ([("200", "x:88.100.1/a")], "第 1 个管理员组第 1 行“x:88.100.1/a”应写作",
         "should read index:handle"),
        ([("200", "-1:88.100.1/a")], "第 1 个管理员组第 1 行：索引应在 0 到 2147483647 之间",
         "Admin group 1, line 1: the index must be from 0 to 2147483647"),
        ([("200", "300:no-slash")], "“no-slash”不是有效的标识",
         "“no-slash” is not a valid handle"),
        ([("200", "300:88.100.1/" + "x" * 300)], "第 1 个管理员组第 1 行：“…”不是有效的标识",
         "is not a valid handle"),
        ([("200", "300:88.100.1/A\n300:88.100.1/a")], "第 1 个管理员组第 2 行：“300:88.100.1/a”已经列出过",
         "Admin group 1, line 2: “300:88.100.1/a” is listed already"),
        ([("200", " \n ")], "第 1 个管理员组没有成员", "Admin group 1 lists no member"),
        ([("200", "".join(f"1:88.100.1/m{i}\n" for i in range(MAX_VLIST_MEMBERS + 1)))],
         f"第 1 个管理员组的成员超过 {MAX_VLIST_MEMBERS} 个",
         f"Admin group 1 lists more than {MAX_VLIST_MEMBERS} members"),
        ([("200", "1:88.100.1/a"), ("1", "1:88.100.1/b")], "索引 1 出现了两次", "index 1"),
    ],
)  # fmt: skip
async def test_each_mistake_is_named_in_the_readers_language_and_nothing_is_written(
    web: httpx.AsyncClient,  # noqa: F811
    app_state: AppState,  # noqa: F811
    groups: list[tuple[str, str]],
    zh: str,
    en: str,
) -> None:
    _group_record(app_state, "88.100.1/g")
    before = _groups(app_state, "88.100.1/g")
    await login(web, app_state, "admin")
    for lang, expected in (("zh-CN", zh), ("en", en)):
        web.cookies.set("lang", lang)
        resp = await web.post(EDIT, data=_form("88.100.1/g", groups))
        assert resp.status_code in (400, 409), resp.text[:300]
        assert expected in resp.text, (lang, resp.text[resp.text.find("alert") :][:400])
        assert groups[0][1].strip()[:30] in resp.text  # what was typed is shown again
    assert _groups(app_state, "88.100.1/g") == before
    _, changes = app_state.hierarchy.front.history("88.100.1/g")
    assert [c.action for c in changes] == ["handle.create"]


async def test_a_member_added_in_the_console_may_write_through_the_group(
    web: httpx.AsyncClient,  # noqa: F811
    app_state: AppState,  # noqa: F811
) -> None:
    """88.100.1/PUMP-1's HS_ADMIN names the group 88.100.1/admins:200; the identity
    300:88.100.1/admin-wang (a secret key) may write PUMP-1 only once the console lists it."""
    front = app_state.hierarchy.front
    front.put(
        "88.100.1/admin-wang",
        [{"index": 300, "type": "HS_SECKEY", "data": "wang-secret-key"}],
        SEED,
    )
    _group_record(app_state, "88.100.1/admins")
    front.put(
        "88.100.1/PUMP-1",
        [
            {"index": 1, "type": "URL", "data": "https://x.example/p1"},
            {"index": 100, "type": "HS_ADMIN", "data": {"format": "admin", "value": {
                "handle": "88.100.1/admins", "index": 200, "permissions": "011111110011"}}},
        ],
        SEED,
    )  # fmt: skip
    token = base64.b64encode(b"300%3A88.100.1%2Fadmin-wang:wang-secret-key").decode()
    body = {"values": [{"index": 1, "type": "URL", "data": "https://x.example/new"}]}
    write = {"Authorization": f"Basic {token}"}
    url = "/api/handles/88.100.1/PUMP-1?index=1"

    async def put_as_wang() -> int:
        async with httpx.AsyncClient(
            transport=web._transport, base_url="https://testserver"
        ) as api:
            return (await api.put(url, json=body, headers=write)).status_code

    assert await put_as_wang() in (401, 403)
    await login(web, app_state, "admin")
    members = "300:88.100.1/admin-zhang\n300:88.100.1/admin-wang"
    saved = await web.post(EDIT, data=_form("88.100.1/admins", [("200", members)]))
    assert saved.status_code == 303, saved.text
    assert await put_as_wang() == 200
    rec = front.record("88.100.1/PUMP-1")
    assert rec is not None and {v.index: v.value for v in rec.values}[1] == "https://x.example/new"
