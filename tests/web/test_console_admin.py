"""The administration pages in-process: users and access, my account, the audit log.

Roles matrix (platform admin, regulator, enterprise admin, enterprise user), another
enterprise's user not found, invitations and resets with one-time temporary passwords that
must be replaced, disabling that stops tokens and sessions at once, API tokens and sessions
of my own, the audit log's filters, paging and export, and hostile inputs.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import httpx
import pytest
import sqlalchemy as sa
from tests.conftest import USCC_A, USCC_B

from indunet import core
from indunet.core import Role
from indunet.core.tables import audit_log
from indunet.web import AppState, create_app
from indunet.web.auth import SESSION_COOKIE
from indunet.web.csrf import HEADER, csrf_token

PASSWORD = "a-long-password"
ROLES = {
    "root": (Role.PLATFORM_ADMIN, None),
    "rita": (Role.REGULATOR, None),
    "a-admin": (Role.ENTERPRISE_ADMIN, "A"),
    "a-user": (Role.ENTERPRISE_USER, "A"),
    "b-admin": (Role.ENTERPRISE_ADMIN, "B"),
    "b-user": (Role.ENTERPRISE_USER, "B"),
}
RAW_KEY = re.compile(r">[^<]*\badmin\.[a-z_]+\.[a-z_.]+")


@dataclass
class World:
    client: httpx.AsyncClient
    state: AppState
    ids: dict[str, int]  # username -> user id
    a: int
    b: int

    async def login(self, username: str, password: str = PASSWORD) -> dict[str, str]:
        """The headers of a console session of ``username`` (cookie and CSRF token)."""
        resp = await self.client.post("/login", data={"username": username, "password": password})
        assert resp.status_code == 303, resp.text
        token = resp.cookies[SESSION_COOKIE]
        self.client.cookies.clear()
        return session_headers(token)

    def bearer(self, username: str, password: str = PASSWORD) -> dict[str, str]:
        with self.state.engine.begin() as conn:
            user = core.authenticate(conn, username, password)
            return {"Authorization": f"Bearer {core.issue_token(conn, user, name='t')}"}


def session_headers(token: str) -> dict[str, str]:
    return {"Cookie": f"{SESSION_COOKIE}={token}", HEADER: csrf_token(token)}


@pytest.fixture
async def world(state: AppState) -> AsyncIterator[World]:
    with state.engine.begin() as conn:
        a = core.create_enterprise(conn, uscc=USCC_A, name="甲方机床", actor="t", verified=True)
        b = core.create_enterprise(conn, uscc=USCC_B, name="乙方精密", actor="t", verified=True)
        eid = {"A": a.id, "B": b.id}
        ids = {}
        for name, (role, ent) in ROLES.items():
            user = core.create_user(
                conn,
                username=name,
                password=PASSWORD,
                role=role,
                actor="t",
                enterprise_id=eid.get(ent or ""),
            )
            ids[name] = user.id
    transport = httpx.ASGITransport(app=create_app(state))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        yield World(client, state, ids, a.id, b.id)


def audit_actions(state: AppState, target: str) -> list[str]:
    with state.engine.connect() as conn:
        return [e.action for e in core.audit.entries(conn, target=target, limit=50)]


# -- the pages and the roles matrix --------------------------------------------------------


@pytest.mark.parametrize("lang", ["zh-CN", "en"])
async def test_every_role_gets_the_pages_it_may_read_in_both_languages(
    world: World, lang: str
) -> None:
    expected = {
        "root": (200, 200, 200),
        "rita": (200, 200, 200),
        "a-admin": (200, 200, 200),
        "a-user": (200, 200, 403),
    }
    for name, statuses in expected.items():
        headers = await world.login(name)
        headers["Cookie"] += f"; lang={lang}"
        for path, status in zip(
            ("/admin/account", "/admin/users", "/admin/audit"), statuses, strict=True
        ):
            resp = await world.client.get(path, headers=headers)
            assert resp.status_code == status, (name, path, resp.text[:300])
            if status == 200:
                assert not RAW_KEY.search(resp.text), (name, path, RAW_KEY.search(resp.text))
    home = await world.client.get("/admin", headers=await world.login("a-user"))
    assert home.status_code == 303 and home.headers["location"] == "/admin/account"


async def test_enterprise_admins_see_their_own_users_and_never_another_enterprises(
    world: World,
) -> None:
    admin = await world.login("a-admin")
    page = (await world.client.get("/admin/users", headers=admin)).text
    assert "a-user" in page and "a-admin" in page
    assert "b-user" not in page and "root" not in page and "乙方精密" not in page
    for path in (f"/admin/users/{world.ids['b-user']}", f"/admin/users/{world.ids['root']}"):
        assert (await world.client.get(path, headers=admin)).status_code == 404
    for action in ("disable", "enable", "reset-password"):
        resp = await world.client.post(
            f"/admin/users/{world.ids['b-user']}/{action}", headers=admin
        )
        assert resp.status_code == 404, (action, resp.text)
    resp = await world.client.post(
        f"/admin/users/{world.ids['b-user']}/role", data={"role": "bogus"}, headers=admin
    )
    assert resp.status_code == 404  # not found before the bad role is looked at
    other = await world.client.get(f"/admin/users?enterprise_id={world.b}", headers=admin)
    assert other.status_code == 404
    world.bearer("b-user")  # B's user still logs in: nothing changed
    root = await world.login("root")
    everyone = (await world.client.get("/admin/users", headers=root)).text
    assert "b-user" in everyone and "a-user" in everyone
    only_b = (await world.client.get(f"/admin/users?enterprise_id={world.b}", headers=root)).text
    assert "b-user" in only_b and "a-user" not in only_b


async def test_regulators_and_enterprise_users_read_but_never_change(world: World) -> None:
    target = world.ids["a-user"]
    for name in ("rita", "a-user"):
        headers = await world.login(name)
        page = await world.client.get(f"/admin/users/{target}", headers=headers)
        assert page.status_code == 200 and 'id="disable-user"' not in page.text
        resp = await world.client.post(f"/admin/users/{target}/disable", headers=headers)
        assert resp.status_code == 403, (name, resp.text)
        invite = await world.client.post(
            "/admin/users",
            data={"username": "sneaky", "role": "enterprise_user", "enterprise_id": str(world.a)},
            headers=headers,
        )
        assert invite.status_code in (403, 404), (name, invite.status_code)
    with world.state.engine.connect() as conn, pytest.raises(core.NotFound):
        core.get_user(conn, "sneaky")
    world.bearer("a-user")  # still enabled


async def test_an_enterprise_admin_never_raises_anyone_above_enterprise_admin(
    world: World,
) -> None:
    admin = await world.login("a-admin")
    for role in ("platform_admin", "regulator"):
        resp = await world.client.post(
            "/admin/users", data={"username": "climber", "role": role}, headers=admin
        )
        assert resp.status_code == 403, resp.text
        resp = await world.client.post(
            f"/admin/users/{world.ids['a-user']}/role", data={"role": role}, headers=admin
        )
        assert resp.status_code == 403, resp.text
    zh = await world.client.post(
        "/admin/users", data={"username": "climber", "role": "platform_admin"}, headers=admin
    )
    assert "你不能授予角色 platform_admin" in zh.text
    # Another enterprise named in the invitation: not found, nothing made.
    resp = await world.client.post(
        "/admin/users",
        data={"username": "intruder", "role": "enterprise_user", "enterprise_id": str(world.b)},
        headers=admin,
    )
    assert resp.status_code == 404
    resp = await world.client.post(
        f"/admin/users/{world.ids['a-user']}/role", data={"role": "enterprise_admin"}, headers=admin
    )
    assert resp.status_code == 200 and "角色已修改" in resp.text
    assert "user.role" in audit_actions(world.state, "user:a-user")
    own = await world.client.post(f"/admin/users/{world.ids['a-admin']}/disable", headers=admin)
    assert own.status_code == 400 and "我的账号" in own.text


async def test_invited_user_must_set_a_password_at_first_login(world: World) -> None:
    admin = await world.login("a-admin")
    resp = await world.client.post(
        "/admin/users", data={"username": "new.guy", "role": "enterprise_user"}, headers=admin
    )
    assert resp.status_code == 200, resp.text
    temporary = re.search(r'id="temporary-password">([^<]+)<', resp.text)
    assert temporary, resp.text
    temp = temporary.group(1)
    assert "只显示这一次" in resp.text
    again = await world.client.get("/admin/users", headers=admin)
    assert temp not in again.text  # shown once
    # The API refuses the temporary password until it is replaced.
    api = await world.client.post(
        "/api/v1/auth/token", json={"username": "new.guy", "password": temp}
    )
    assert api.status_code == 403 and api.json()["reason"] == "password_change_required"
    login = await world.client.post("/login", data={"username": "new.guy", "password": temp})
    assert login.status_code == 200 and SESSION_COOKIE not in login.cookies
    change = re.search(r'name="change" value="([^"]+)"', login.text)
    assert change, login.text
    form = {"change": change.group(1), "username": "new.guy", "next": "/admin/account"}
    short = await world.client.post(
        "/login/password", data=form | {"password": "short", "confirm": "short"}
    )
    assert short.status_code == 400 and "密码长度必须为 10 到 1024 个字符" in short.text
    typo = await world.client.post(
        "/login/password",
        data=form | {"password": "Brand-new-pass-1", "confirm": "Brand-new-pass-2"},
    )
    assert typo.status_code == 400 and "不一致" in typo.text
    same = await world.client.post(
        "/login/password", data=form | {"password": temp, "confirm": temp}
    )
    assert same.status_code == 400 and "不能与原密码相同" in same.text
    done = await world.client.post(
        "/login/password",
        data=form | {"password": "Brand-new-pass-1", "confirm": "Brand-new-pass-1"},
    )
    assert done.status_code == 303 and done.headers["location"] == "/admin/account"
    assert SESSION_COOKIE in done.cookies
    world.client.cookies.clear()
    used = await world.client.post(
        "/login/password", data=form | {"password": "Another-pass-22", "confirm": "Another-pass-22"}
    )
    assert used.status_code == 401 and "已过期" in used.text  # the form works once
    world.bearer("new.guy", "Brand-new-pass-1")
    with pytest.raises(core.AuthenticationFailed):
        world.bearer("new.guy", temp)
    assert {"user.create", "user.password_change"} <= set(
        audit_actions(world.state, "user:new.guy")
    )
    with world.state.engine.connect() as conn:
        (entry,) = [
            e for e in core.audit.entries(conn, target="user:new.guy") if e.action == "user.create"
        ]
    assert entry.actor == "user:a-admin" and entry.enterprise_id == world.a


async def test_a_temporary_password_expires(world: World) -> None:
    with world.state.engine.begin() as conn:
        user = core.get_user(conn, "a-user")
        temp, _ = core.accounts.set_temporary_password(conn, user, actor="t", enterprise_id=None)
        conn.execute(
            sa.text("UPDATE core_users SET password_expires_at = :at WHERE username = 'a-user'"),
            {"at": datetime.now(UTC) - timedelta(minutes=1)},
        )
    resp = await world.client.post("/login", data={"username": "a-user", "password": temp})
    assert resp.status_code == 401 and "临时密码已过期" in resp.text


async def test_disabling_stops_logins_tokens_and_sessions_at_once(world: World) -> None:
    token = world.bearer("a-user")
    session = await world.login("a-user")
    assert (await world.client.get("/api/v1/auth/tokens", headers=token)).status_code == 200
    admin = await world.login("a-admin")
    resp = await world.client.post(f"/admin/users/{world.ids['a-user']}/disable", headers=admin)
    assert resp.status_code == 200 and "已停用" in resp.text
    assert (await world.client.get("/api/v1/auth/tokens", headers=token)).status_code == 401
    page = await world.client.get("/admin/account", headers=session)
    assert page.status_code == 303 and page.headers["location"].startswith("/login")
    refused = await world.client.post("/login", data={"username": "a-user", "password": PASSWORD})
    assert refused.status_code == 401 and "该账号已被停用" in refused.text
    api = await world.client.post(
        "/api/v1/auth/token", json={"username": "a-user", "password": PASSWORD}
    )
    assert api.status_code == 401 and api.json()["reason"] == "account_disabled"
    listed = await world.client.get("/admin/users?status=disabled", headers=admin)
    assert "a-user" in listed.text and "a-admin</a>" not in listed.text
    await world.client.post(f"/admin/users/{world.ids['a-user']}/enable", headers=admin)
    await world.login("a-user")
    assert (await world.client.get("/api/v1/auth/tokens", headers=token)).status_code == 401
    assert {"user.disable", "user.enable"} <= set(audit_actions(world.state, "user:a-user"))


async def test_a_reset_gives_a_one_time_password_and_ends_everything(world: World) -> None:
    token = world.bearer("b-user")
    root = await world.login("root")
    resp = await world.client.post(
        f"/admin/users/{world.ids['b-user']}/reset-password", headers=root
    )
    assert resp.status_code == 200
    temp = re.search(r'id="temporary-password">([^<]+)<', resp.text)
    assert temp
    assert (await world.client.get("/api/v1/auth/tokens", headers=token)).status_code == 401
    old = await world.client.post("/login", data={"username": "b-user", "password": PASSWORD})
    assert old.status_code == 401
    first = await world.client.post(
        "/login", data={"username": "b-user", "password": temp.group(1)}
    )
    assert first.status_code == 200 and 'action="/login/password"' in first.text
    with world.state.engine.connect() as conn:
        (entry,) = [
            e
            for e in core.audit.entries(conn, target="user:b-user")
            if e.action == "user.password_reset"
        ]
    assert entry.actor == "user:root" and entry.enterprise_id == world.b  # B's admins see it


async def test_changing_my_password_checks_the_current_one_and_the_rules(world: World) -> None:
    other = await world.login("a-user")
    me = await world.login("a-user")
    me_en = dict(me, Cookie=me["Cookie"] + "; lang=en")
    url = "/admin/account/password"
    wrong = await world.client.post(
        url,
        data={"current": "nope", "password": "New-pass-4711", "confirm": "New-pass-4711"},
        headers=me,
    )
    assert wrong.status_code == 401 and "当前密码不正确" in wrong.text
    weak = await world.client.post(
        url,
        data={"current": PASSWORD, "password": "aaaaaaaaaaaa", "confirm": "aaaaaaaaaaaa"},
        headers=me_en,
    )
    assert weak.status_code == 400 and "at least 5 different characters" in weak.text
    common = await world.client.post(
        url,
        data={"current": PASSWORD, "password": "password123", "confirm": "password123"},
        headers=me,
    )
    assert common.status_code == 400 and "最常见的密码" in common.text
    ok = await world.client.post(
        url,
        data={"current": PASSWORD, "password": "New-pass-4711", "confirm": "New-pass-4711"},
        headers=me,
    )
    assert ok.status_code == 200 and "密码已修改" in ok.text
    assert (await world.client.get("/admin/account", headers=me)).status_code == 200
    assert (await world.client.get("/admin/account", headers=other)).status_code == 303
    world.bearer("a-user", "New-pass-4711")


async def test_my_api_tokens_are_created_with_a_bounded_lifetime_and_revoked(world: World) -> None:
    me = await world.login("a-user")
    url = "/admin/account/tokens"
    for days, name in (("400", "x"), ("0", "x"), ("abc", "x"), ("30", ""), ("30", "n" * 101)):
        resp = await world.client.post(url, data={"name": name, "days": days}, headers=me)
        assert resp.status_code == 400, (days, name, resp.status_code)
    assert (
        "1 到 365"
        in (await world.client.post(url, data={"name": "x", "days": "400"}, headers=me)).text
    )
    made = await world.client.post(url, data={"name": "采集脚本", "days": "30"}, headers=me)
    assert made.status_code == 200
    secret = re.search(r'id="new-token-secret">([^<]+)<', made.text)
    assert secret
    bearer = {"Authorization": f"Bearer {secret.group(1)}"}
    listed = await world.client.get("/api/v1/auth/tokens", headers=bearer)
    (info,) = [t for t in listed.json() if t["name"] == "采集脚本"]
    expires = datetime.fromisoformat(info["expires_at"])
    assert timedelta(days=29) < expires - datetime.now(UTC) <= timedelta(days=30)
    page = await world.client.get("/admin/account", headers=me)
    assert "采集脚本" in page.text and secret.group(1) not in page.text
    # Another user's token is not found, even to a platform admin on this page.
    root = await world.login("root")
    resp = await world.client.post(f"/admin/account/tokens/{info['id']}/revoke", headers=root)
    assert resp.status_code == 404
    resp = await world.client.post(f"/admin/account/tokens/{info['id']}/revoke", headers=me)
    assert resp.status_code == 303
    assert (await world.client.get("/api/v1/auth/tokens", headers=bearer)).status_code == 401
    assert "token.revoke" in audit_actions(world.state, "user:a-user")


async def test_sessions_are_listed_and_ended(world: World) -> None:
    first = await world.login("a-admin")
    second = await world.login("a-admin")
    page = await world.client.get("/admin/account", headers=second)
    assert page.text.count("/admin/account/sessions/") >= 3  # two sessions, two buttons
    assert "当前会话" in page.text
    assert "127.0.0.1" in page.text  # the address each session logged in from
    ended = await world.client.post("/admin/account/sessions/revoke-others", headers=second)
    assert ended.status_code == 200 and "已结束 1 个会话" in ended.text
    assert (await world.client.get("/admin/account", headers=first)).status_code == 303
    everywhere = await world.client.post("/admin/account/sessions/revoke-all", headers=second)
    assert everywhere.status_code == 303 and everywhere.headers["location"] == "/login"
    assert (await world.client.get("/admin/account", headers=second)).status_code == 303
    actions = audit_actions(world.state, "user:a-admin")
    assert {"session.revoke_others", "session.revoke_all"} <= set(actions)


async def test_the_api_token_list_is_paged_with_a_total(world: World) -> None:
    with world.state.engine.begin() as conn:
        user = core.get_user(conn, "a-user")
        for i in range(7):
            core.issue_token(conn, user, name=f"t{i}")
    headers = world.bearer("a-user")
    everything = await world.client.get("/api/v1/auth/tokens", headers=headers)
    assert len(everything.json()) == 8 and everything.headers["x-total-count"] == "8"
    page = await world.client.get("/api/v1/auth/tokens?limit=3&offset=3", headers=headers)
    assert [t["name"] for t in page.json()] == ["t4", "t3", "t2"]  # "t" of the bearer is newest
    assert page.headers["x-total-count"] == "8"
    for bad in ("limit=0", "limit=1001", "offset=-1", "limit=abc"):
        assert (
            await world.client.get(f"/api/v1/auth/tokens?{bad}", headers=headers)
        ).status_code == 422


# -- the audit log --------------------------------------------------------------------------


def seed_audit(state: AppState, a: int, b: int, n: int = 120) -> None:
    base = datetime(2026, 12, 1, 0, 0, tzinfo=UTC)
    rows = [
        {
            "at": base + timedelta(hours=i),
            "actor": "user:a-admin" if i % 2 else "user:b-admin",
            "action": "device.create" if i % 3 else "rule.update",
            "target": f"device:{'a' if i % 2 else 'b'}-{i}",
            "detail": {"i": i},
            "enterprise_id": a if i % 2 else b,
        }
        for i in range(n)
    ]
    rows.append(
        {
            "at": base,
            "actor": '=HYPERLINK("http://evil")',
            "action": "device.create",
            "target": "@SUM(1)",
            "detail": {},
            "enterprise_id": a,
        }
    )
    with state.engine.begin() as conn:
        conn.execute(audit_log.insert(), rows)


async def test_audit_filters_search_and_paging(world: World) -> None:
    seed_audit(world.state, world.a, world.b)
    root = await world.login("root")
    root["Cookie"] += "; tz=UTC"
    page = await world.client.get(
        "/admin/audit?actor=user:a-admin&action=rule.update", headers=root
    )
    assert page.status_code == 200
    rows = re.findall(r"<tr><td class=\"small nowrap\">", page.text)
    assert len(rows) == 20  # 60 by a-admin, a third of them rule.update: 20 (one page)
    assert "device:b-" not in page.text
    prefix = await world.client.get("/admin/audit?action=rule.&size=100", headers=root)
    assert 'data-action="rule.update"' in prefix.text
    assert 'data-action="device.create"' not in prefix.text
    window = await world.client.get(
        "/admin/audit?from=2026-12-01T10:00&to=2026-12-01T12:00&actor=user:b-admin", headers=root
    )
    assert sorted(re.findall(r"device:b-(\d+)", window.text)) == [
        "10"
    ]  # 10:00 only; 12:00 excluded
    shanghai = dict(root, Cookie=root["Cookie"].replace("tz=UTC", "tz=Asia/Shanghai"))
    local = await world.client.get(
        "/admin/audit?from=2026-12-01T18:00&to=2026-12-01T19:00&actor=user:b-admin",
        headers=shanghai,
    )
    assert re.findall(r"device:b-(\d+)", local.text) == ["10"]  # 18:00 in Shanghai is 10:00 UTC
    assert "2026-12-01 18:00:00" in local.text
    searched = await world.client.get("/admin/audit?q=b-11", headers=root)
    assert "device:b-110" in searched.text and "device:b-12<" not in searched.text
    paged = await world.client.get("/admin/audit?page=3&size=50", headers=root)
    assert "行 101–" in paged.text or "101–" in paged.text
    bad = await world.client.get("/admin/audit?from=yesterday", headers=root)
    assert bad.status_code == 400 and "无法识别" in bad.text
    hostile = await world.client.get(
        "/admin/audit?actor=" + "x" * 5000 + "&q=%25_%5C&page=-3&size=99999", headers=root
    )
    assert hostile.status_code == 200


async def test_audit_actions_read_as_names_in_the_readers_language(world: World) -> None:
    with world.state.engine.begin() as conn:
        conn.execute(
            audit_log.insert(),
            [{"at": datetime.now(UTC), "actor": "user:root", "action": action,
              "target": "prefix:88.100.9", "detail": {}, "enterprise_id": None}
             for action in ("prefix.revoke", "user.create", "plugin.future_thing")],
        )  # fmt: skip
    root = await world.login("root")
    zh = (await world.client.get("/admin/audit?target=prefix:88.100.9", headers=root)).text
    assert 'title="prefix.revoke">撤销前缀</a>' in zh
    assert 'title="user.create">新建用户</a>' in zh
    assert 'class="mono">plugin.future_thing</a>' in zh  # an unknown action shows its code
    assert '<option value="prefix.revoke" label="撤销前缀">' in zh  # the action filter
    root["Cookie"] += "; lang=en"
    en = (await world.client.get("/admin/audit?target=prefix:88.100.9", headers=root)).text
    assert 'title="prefix.revoke">Revoke prefix</a>' in en
    assert '<option value="user.create" label="Create user">' in en


async def test_audit_details_read_as_key_value_pairs_not_json(world: World) -> None:
    detail = {
        "name": "主轴温度过高",
        "enabled": True,
        "expires_at": "2026-12-13T23:31:33.277945+00:00",
        "note": "x" * 400,
    }
    with world.state.engine.begin() as conn:
        conn.execute(
            audit_log.insert(),
            [{"at": datetime.now(UTC), "actor": "user:root", "action": "rule.create",
              "target": "rule:7", "detail": detail, "enterprise_id": world.a}],
        )  # fmt: skip
    root = await world.login("root")
    page = await world.client.get("/admin/audit?target=rule:7", headers=root)
    (cell,) = re.findall(r'<td class="detail small">(.*?)</td>', page.text)
    assert cell.startswith(
        "enabled: true · expires_at: 2026-12-14 07:31:33 · name: 主轴温度过高 · note: xxx"
    )  # times in the page's zone (Asia/Shanghai for zh-CN), not UTC
    assert "&#34;" not in cell
    assert len(cell) == 300 and cell.endswith("…")
    export = await world.client.get("/admin/audit/export.csv?target=rule:7", headers=root)
    assert '""name"": ""主轴温度过高""' in export.text and "x" * 400 in export.text  # all of it


async def test_enterprise_admins_read_their_own_audit_entries_only(world: World) -> None:
    seed_audit(world.state, world.a, world.b)
    admin = await world.login("a-admin")
    page = await world.client.get("/admin/audit?size=100", headers=admin)
    assert page.status_code == 200
    assert (
        "device:a-" in page.text
        and "device:b-" not in page.text
        and "user:b-admin" not in page.text
    )
    assert (await world.client.get("/admin/audit?actor=user:b-admin", headers=admin)).text.count(
        "device:b-"
    ) == 0
    assert (
        await world.client.get(f"/admin/audit?enterprise_id={world.b}", headers=admin)
    ).status_code == 404
    export = await world.client.get("/admin/audit/export.csv", headers=admin)
    assert export.status_code == 200 and "device:b-" not in export.text
    user = await world.login("a-user")
    assert (await world.client.get("/admin/audit", headers=user)).status_code == 403
    assert (await world.client.get("/admin/audit/export.csv", headers=user)).status_code == 403


async def test_audit_export_is_csv_with_the_same_filters_and_no_formulas(world: World) -> None:
    seed_audit(world.state, world.a, world.b)
    root = await world.login("root")
    root["Cookie"] += "; tz=Asia/Shanghai"
    resp = await world.client.get("/admin/audit/export.csv?actor=user:a-admin", headers=root)
    assert resp.status_code == 200 and resp.headers["content-type"].startswith("text/csv")
    assert "attachment" in resp.headers["content-disposition"]
    rows = list(csv.reader(io.StringIO(resp.text)))
    assert rows[0] == ["id", "at", "actor", "action", "target", "detail"]
    assert len(rows) == 61 and {r[2] for r in rows[1:]} == {"user:a-admin"}
    assert rows[1][1].endswith("+08:00")
    everything = list(
        csv.reader(
            io.StringIO((await world.client.get("/admin/audit/export.csv", headers=root)).text)
        )
    )
    evil = [r for r in everything if "HYPERLINK" in r[2]]
    assert evil and evil[0][2].startswith("'=") and evil[0][4] == "'@SUM(1)"
    bad = await world.client.get("/admin/audit/export.csv?to=13:99", headers=root)
    assert bad.status_code == 400


def test_the_export_is_bounded_and_read_in_chunks(state: AppState) -> None:
    with state.engine.begin() as conn:
        conn.execute(
            audit_log.insert(),
            [
                {
                    "at": datetime.now(UTC),
                    "actor": "t",
                    "action": "x",
                    "target": f"t{i}",
                    "detail": {},
                }
                for i in range(2500)
            ],
        )
    got = list(core.audit.export(state.engine, core.audit.AuditFilter(action="x"), limit=2100))
    assert len(got) == 2100 and got[0].id > got[-1].id
    assert len({e.id for e in got}) == 2100


# -- hostile inputs --------------------------------------------------------------------------


async def test_hostile_inputs_are_clear_4xx_and_change_nothing(world: World) -> None:
    admin = await world.login("a-admin")
    for path in ("/admin/users/0", "/admin/users/99999999999999999999", "/admin/users/x"):
        assert (await world.client.get(path, headers=admin)).status_code == 422, path
    assert (await world.client.get("/admin/users/987654", headers=admin)).status_code == 404
    cases = [
        {"username": "bad name!", "role": "enterprise_user"},
        {"username": "", "role": "enterprise_user"},
        {"username": "x" * 65, "role": "enterprise_user"},
        {"username": "ok-name", "role": "emperor"},
        {"username": "ok-name", "role": "enterprise_user", "enterprise_id": "-1"},
        {"username": "ok-name", "role": "enterprise_user", "enterprise_id": "1e9"},
        {"username": "a-user", "role": "enterprise_user"},
    ]
    for data in cases:
        resp = await world.client.post("/admin/users", data=data, headers=admin)
        assert 400 <= resp.status_code < 500, (data, resp.status_code)
    assert "已存在" in (await world.client.post("/admin/users", data=cases[-1], headers=admin)).text
    too_long = await world.client.post(
        "/admin/users", data={"username": "y" * 5000, "role": "enterprise_user"}, headers=admin
    )
    assert too_long.status_code == 422
    root = await world.login("root")
    missing = await world.client.post(
        "/admin/users",
        data={"username": "ghost", "role": "enterprise_user", "enterprise_id": "987654"},
        headers=root,
    )
    assert missing.status_code == 404
    none = await world.client.post(
        "/admin/users", data={"username": "ghost", "role": "enterprise_user"}, headers=root
    )
    assert none.status_code == 400 and "必须属于一个企业" in none.text
    kind = await world.client.post(
        f"/admin/users/{world.ids['a-user']}/role", data={"role": "regulator"}, headers=root
    )
    assert kind.status_code == 400
    with world.state.engine.connect() as conn:
        names = {u.username for u in core.list_users(conn)}
    assert names == set(ROLES)
    forged = await world.client.post(
        f"/admin/users/{world.ids['a-user']}/disable",
        headers={"Cookie": admin["Cookie"], "Origin": "http://testserver"},
    )
    assert forged.status_code == 403  # no CSRF token
    world.bearer("a-user")


async def test_the_audit_api_filters_pages_and_scopes_like_the_page(world: World) -> None:
    seed_audit(world.state, world.a, world.b)
    root = world.bearer("root")
    resp = await world.client.get(
        "/api/v1/audit",
        params={"actor": "user:b-admin", "action": "rule.", "limit": 5, "offset": 5},
        headers=root,
    )
    assert resp.status_code == 200 and resp.headers["x-total-count"] == "20"
    assert len(resp.json()) == 5 and {e["action"] for e in resp.json()} == {"rule.update"}
    window = await world.client.get(
        "/api/v1/audit",
        params={"since": "2026-12-01T18:00:00+08:00", "until": "2026-12-01T11:00:00Z"},
        headers=root,
    )
    assert [e["target"] for e in window.json()] == ["device:b-10"]
    admin = world.bearer("a-admin")
    mine = await world.client.get("/api/v1/audit?limit=1000", headers=admin)
    assert mine.status_code == 200 and mine.json()
    assert {e["enterprise_id"] for e in mine.json()} == {world.a}
    other = await world.client.get(f"/api/v1/audit?enterprise_id={world.b}", headers=admin)
    assert other.status_code == 404
    user = world.bearer("a-user")
    assert (await world.client.get("/api/v1/audit", headers=user)).status_code == 403
    named = await world.client.get(f"/api/v1/audit?enterprise_id={world.b}", headers=user)
    assert named.status_code == 404


async def test_only_the_newest_password_form_of_a_user_works(world: World) -> None:
    with world.state.engine.begin() as conn:
        user = core.get_user(conn, "a-user")
        first = core.accounts.begin_password_change(conn, user)
        second = core.accounts.begin_password_change(conn, user)
    with world.state.engine.begin() as conn, pytest.raises(core.AuthenticationFailed):
        core.accounts.finish_password_change(conn, first, "Fresh-password-77")
    with world.state.engine.begin() as conn:
        assert core.accounts.finish_password_change(conn, second, "Fresh-password-77") == user
    with world.state.engine.begin() as conn:
        unused = core.accounts.begin_password_change(conn, user)
    with world.state.engine.connect() as conn, pytest.raises(core.AuthenticationFailed):
        core.user_for_token(conn, unused)  # a password-change token is no session
    resp = await world.client.get("/admin/account", headers=session_headers(unused))
    assert resp.status_code == 303
