"""The web console in-process: sessions, languages, resolve, register, templates, tenancy, nodes."""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from indunet import core, ids
from indunet.ids.templates import ITEM_TYPES
from indunet.web import AppState, create_app
from indunet.web.auth import SESSION_COOKIE
from indunet.web.console import enterprises as console_enterprises
from indunet.web.console.i18n import LOCALE_DIR, LOCALES, area_files, catalogue
from indunet.web.console.pages import TEMPLATE_DIR
from indunet.web.csrf import HEADER, csrf_token

CONSOLE_DIR = TEMPLATE_DIR.parent
PROTECTED = [
    "/ids/register",
    "/ids/templates",
    "/ids/enterprises",
    "/ids/prefixes",
    "/ids/nodes",
    "/ids/complaints",
    "/platform",
    "/security",
    "/monitoring",
]
PAGES = ["/login", "/ids/resolve", "/complain", "/complain/status", *PROTECTED]
CJK = re.compile(r"[\u3000-\u30ff\u4e00-\u9fff\uff00-\uffef]+")


@pytest.fixture
async def client(state: AppState, allocation: ids.Allocation) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=create_app(state))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
        yield c


@pytest.fixture
def admin_password(state: AppState) -> str:
    with state.engine.begin() as conn:
        password = core.ensure_admin(conn)
    assert password is not None
    return password


async def log_in(client: httpx.AsyncClient, username: str, password: str) -> httpx.Response:
    resp = await client.post(
        "/login", data={"username": username, "password": password, "next": "/ids/register"}
    )
    if SESSION_COOKIE in client.cookies:  # what HTMX sends from the page's hx-headers
        client.headers[HEADER] = csrf_token(client.cookies[SESSION_COOKIE])
    return resp


@pytest.fixture
async def admin(client: httpx.AsyncClient, admin_password: str) -> httpx.AsyncClient:
    resp = await log_in(client, "admin", admin_password)
    assert resp.status_code == 303, resp.text
    return client


def text_of(html: str) -> str:
    """What a reader sees: the page without tags, scripts and attribute values."""
    html = re.sub(r"<script.*?</script>", " ", html, flags=re.S)
    return re.sub(r"<[^>]+>", " ", html)


def with_cjk(resp: httpx.Response, allowed: set[str]) -> set[str]:
    return set(CJK.findall(text_of(resp.text))) - allowed


# -- message catalogues ------------------------------------------------------------------


def used_keys() -> set[str]:
    """Literal keys in t("…") calls of the templates and N_("…")/t("…") calls of the modules."""
    pattern = re.compile(r"\b(?:t|N_)\(\s*[\"']([A-Za-z0-9_.-]+)[\"']\s*[,)]")
    files = [*TEMPLATE_DIR.rglob("*.html"), *CONSOLE_DIR.rglob("*.py")]
    return {k for f in files for k in pattern.findall(f.read_text(encoding="utf-8"))}


def test_catalogues_have_exactly_the_same_keys() -> None:
    zh, en = catalogue("zh-CN"), catalogue("en")
    assert set(zh) - set(en) == set(), "keys only in zh-CN.json"
    assert set(en) - set(zh) == set(), "keys only in en.json"
    assert sorted(p.name for p in LOCALE_DIR.glob("*.json")) == sorted(
        f"{loc}.json" for loc in LOCALES
    )
    assert area_files("zh-CN") == area_files("en"), "every area file in both languages"


def test_catalogue_texts_have_the_same_fields_in_every_language() -> None:
    fields = re.compile(r"\{(\w+)\}")
    zh, en = catalogue("zh-CN"), catalogue("en")
    for key in zh:
        assert set(fields.findall(zh[key])) == set(fields.findall(en[key])), key
        assert zh[key].strip() and en[key].strip(), f"{key} is empty"


def test_every_key_the_console_uses_is_in_the_catalogues() -> None:
    keys = used_keys()
    assert len(keys) > 100  # the scan found the templates
    dynamic = (
        {f"role.{r.value}" for r in core.Role}
        | {f"noderole.{r.value}" for r in ids.NodeRole}
        | {f"rc.{int(rc)}" for rc in ids.RC}
        | {f"itemtype.{ty}" for ty in ITEM_TYPES}
        | {f"enterprise.{f}" for f in console_enterprises.FIELDS}
    )
    for locale in LOCALES:
        missing = (keys | dynamic) - set(catalogue(locale))
        assert missing == set(), f"{locale} lacks {sorted(missing)}"


def test_templates_hold_no_hard_coded_chinese() -> None:
    for f in TEMPLATE_DIR.rglob("*.html"):
        assert CJK.findall(f.read_text(encoding="utf-8")) == [], f.name


# -- sessions ------------------------------------------------------------------------------


async def test_wrong_password_shows_message_and_sets_no_cookie(
    client: httpx.AsyncClient, admin_password: str
) -> None:
    resp = await log_in(client, "admin", admin_password + "x")
    assert resp.status_code == 401
    assert "用户名或密码错误" in resp.text
    assert SESSION_COOKIE not in resp.cookies
    assert SESSION_COOKIE not in client.cookies
    assert (await client.get("/ids/register")).status_code == 303


async def test_login_sets_an_httponly_session_and_opens_the_page_asked_for(
    client: httpx.AsyncClient, admin_password: str
) -> None:
    resp = await log_in(client, "admin", admin_password)
    assert resp.status_code == 303
    assert resp.headers["location"] == "/ids/register"
    cookie = resp.headers["set-cookie"].lower()
    assert cookie.startswith(f"{SESSION_COOKIE}=idn_")
    assert "httponly" in cookie and "samesite=lax" in cookie
    page = await client.get("/ids/register")
    assert page.status_code == 200
    assert "admin · 平台管理员" in page.text


@pytest.mark.parametrize("path", PROTECTED)
async def test_pages_need_a_login(client: httpx.AsyncClient, path: str) -> None:
    resp = await client.get(path + "?x=1")
    assert resp.status_code == 303
    assert resp.headers["location"] == f"/login?next={path}%3Fx%3D1"


async def test_htmx_requests_without_login_are_sent_to_the_login_page(
    client: httpx.AsyncClient,
) -> None:
    resp = await client.get("/ids/register/rows?add=1", headers={"HX-Request": "true"})
    assert resp.headers["hx-redirect"].startswith("/login?next=/ids/register/rows")
    assert "<tr" not in resp.text


async def test_login_never_redirects_off_site(
    client: httpx.AsyncClient, admin_password: str
) -> None:
    resp = await client.post(
        "/login",
        data={"username": "admin", "password": admin_password, "next": "//evil.example/x"},
    )
    assert resp.headers["location"] == "/"


async def test_logout_revokes_the_session(admin: httpx.AsyncClient) -> None:
    token = admin.cookies[SESSION_COOKIE]
    resp = await admin.post("/logout")
    assert resp.status_code == 303
    assert SESSION_COOKIE not in admin.cookies
    admin.cookies.set(SESSION_COOKIE, token)
    assert (await admin.get("/ids/register")).status_code == 303


# -- languages ------------------------------------------------------------------------------


async def test_language_switch_sets_a_cookie_and_returns_to_the_page(
    client: httpx.AsyncClient,
) -> None:
    zh = await client.get("/ids/resolve")
    assert '<html lang="zh-CN">' in zh.text and "标识解析" in zh.text
    assert 'href="/lang/en?next=/ids/resolve"' in zh.text
    resp = await client.get("/lang/en?next=/ids/resolve")
    assert resp.status_code == 303 and resp.headers["location"] == "/ids/resolve"
    assert client.cookies["lang"] == "en"
    en = await client.get("/ids/resolve")
    assert '<html lang="en">' in en.text and "Resolve an identifier" in en.text
    assert "中文" in en.text
    assert (await client.get("/lang/fr?next=//evil.example")).headers["location"] == "/"
    assert client.cookies["lang"] == "en"


@pytest.mark.parametrize("locale", LOCALES)
async def test_every_page_renders_in_both_languages(
    admin: httpx.AsyncClient, locale: str, enterprise: core.Enterprise
) -> None:
    admin.cookies.set("lang", locale)
    data = {enterprise.name, "中文"}
    for path in PAGES:
        resp = await admin.get(path)
        assert resp.status_code == 200, path
        assert f'<html lang="{locale}">' in resp.text
        assert "{{" not in resp.text and "nav.ids" not in resp.text
        if locale == "en":
            assert with_cjk(resp, data) == set(), path
        else:
            assert "标识解析" in resp.text


# -- resolve ----------------------------------------------------------------------------------


async def test_resolve_shows_record_and_referral_path(client: httpx.AsyncClient) -> None:
    resp = await client.get("/ids/resolve", params={"handle": "0.NA/88.100.1"})
    assert resp.status_code == 200
    assert "厦门示例机床有限公司" in resp.text  # DESC value of the allocated prefix
    assert "s3cret" not in resp.text  # HS_SECKEY is never shown
    hops = re.findall(r'<span class="site mono">([^<]+)</span>', resp.text)
    assert hops == [
        "http://127.0.0.1:8000/nodes/root",
        "http://127.0.0.1:8000/nodes/88",
        "http://127.0.0.1:8000/nodes/88.100",
    ]
    again = await client.get("/ids/resolve", params={"handle": "0.NA/88.100.1"})
    assert "递归节点缓存" in again.text


async def test_resolve_for_htmx_returns_only_the_answer(client: httpx.AsyncClient) -> None:
    resp = await client.get(
        "/ids/resolve", params={"handle": "88.100.1/NOPE"}, headers={"HX-Request": "true"}
    )
    assert "<html" not in resp.text
    assert "标识不存在 · 100" in resp.text
    assert "标识 88.100.1/NOPE 未注册" in resp.text and "is not registered" not in resp.text
    unknown = await client.get("/ids/resolve", params={"handle": "77.1/X"})  # across HTTP hops
    assert "前缀 77.1 未分配" in unknown.text and "not delegated" not in unknown.text
    client.cookies.set("lang", "en")
    english = await client.get("/ids/resolve", params={"handle": "88.100.1/NOPE"})
    assert "88.100.1/NOPE" in english.text and "未注册" not in english.text


async def test_resolve_of_a_malformed_handle_says_so(client: httpx.AsyncClient) -> None:
    resp = await client.get("/ids/resolve", params={"handle": "no-slash"})
    assert resp.status_code == 200
    assert "标识格式无效 · 102" in resp.text
    assert "标识“no-slash”缺少分隔前缀和后缀的“/”" in resp.text  # the detail in Chinese too


# -- register ---------------------------------------------------------------------------------


def register_form(handle: str, rows: list[tuple[str, str, str]], template: str = "") -> str:
    pairs = [("handle", handle), ("template", template)]
    for index, vtype, value in rows:
        pairs += [("index", index), ("type", vtype), ("value", value)]
    return httpx.QueryParams(pairs).__str__()


async def post_form(client: httpx.AsyncClient, path: str, body: str) -> httpx.Response:
    return await client.post(
        path, content=body, headers={"content-type": "application/x-www-form-urlencoded"}
    )


async def test_register_writes_the_handle_and_it_resolves(
    admin: httpx.AsyncClient, state: AppState
) -> None:
    body = register_form(
        "88.100.1/CNC-0001",
        [("1", "URL", "https://example.com/cnc"), ("2", "DESC", "数控机床 X1"), ("", "", "")],
    )
    resp = await post_form(admin, "/ids/register", body)
    assert resp.status_code == 200, resp.text
    assert "已登记标识 88.100.1/CNC-0001" in resp.text
    answer = await state.hierarchy.front.resolve("88.100.1/CNC-0001")
    assert {v.type: v.value for v in answer.public_values()}["DESC"] == "数控机床 X1"
    page = await admin.get("/ids/resolve", params={"handle": "88.100.1/CNC-0001"})
    assert 'href="https://example.com/cnc"' in page.text and "数控机床 X1" in page.text


@pytest.mark.parametrize(
    ("handle", "rows", "shown"),
    [
        ("88.100.1", [("1", "URL", "https://x.example")], "88.100.1"),
        ("88.100.1/A", [("one", "URL", "https://x.example")], "第 1 行的索引“one”不是整数"),
        ("88.100.1/A", [("1", "", "x")], "第 1 行缺少类型"),
        ("88.100.1/A", [("", "", "")], "请至少填写一行值"),
        ("88.100.1/A", [("1", "COLOUR", "red")], "第 1 个值的类型“COLOUR”未知"),
        ("88.100.1/A", [("1", "URL", "x"), ("1", "DESC", "y")], "索引 1 出现了两次"),
        ("88.999/A", [("1", "URL", "https://x.example")], "不负责前缀 88.999"),
    ],
)
async def test_register_with_bad_input_shows_the_error_and_writes_nothing(
    admin: httpx.AsyncClient,
    state: AppState,
    handle: str,
    rows: list[tuple[str, str, str]],
    shown: str,
) -> None:
    before = state.hierarchy.front.store.count()
    resp = await post_form(admin, "/ids/register", register_form(handle, rows))
    assert resp.status_code == 400
    assert "未写入任何数据" in resp.text
    assert shown.replace("'", "&#39;") in resp.text
    assert f'value="{handle}"' in resp.text  # what was typed is kept
    assert state.hierarchy.front.store.count() == before


async def test_enterprise_admin_registers_under_their_own_prefix(
    client: httpx.AsyncClient, state: AppState, enterprise: core.Enterprise
) -> None:
    with state.engine.begin() as conn:
        core.create_user(
            conn,
            username="owner",
            password="a-long-password",
            role=core.Role.ENTERPRISE_ADMIN,
            actor="t",
            enterprise_id=enterprise.id,
        )
    assert (await log_in(client, "owner", "a-long-password")).status_code == 303
    page = await client.get("/ids/register")
    assert "可登记的前缀：88.100.1" in page.text
    body = register_form("88.100.1/PUMP-7", [("1", "URL", "https://example.com/p7")])
    resp = await post_form(client, "/ids/register", body)
    assert resp.status_code == 200, resp.text
    assert await state.hierarchy.front.store.aget("88.100.1/PUMP-7".upper()) is not None


async def test_enterprise_user_cannot_register_under_another_prefix(
    client: httpx.AsyncClient, state: AppState
) -> None:
    with state.engine.begin() as conn:
        other = core.create_enterprise(
            conn, uscc=core.make_uscc("91110108MA01ABCD"), name="B", actor="t", verified=True
        )
        core.create_user(
            conn,
            username="worker",
            password="a-long-password",
            role=core.Role.ENTERPRISE_ADMIN,
            actor="t",
            enterprise_id=other.id,
        )
    assert (await log_in(client, "worker", "a-long-password")).status_code == 303
    page = await client.get("/ids/register")
    assert "您还没有可管理的前缀" in page.text
    before = state.hierarchy.front.store.count()
    resp = await post_form(
        client, "/ids/register", register_form("88.100.1/X", [("1", "URL", "https://x.example")])
    )
    assert resp.status_code == 400
    assert state.hierarchy.front.store.count() == before


# -- templates --------------------------------------------------------------------------------


def template_form(industry: str = "C34", pattern: str = "[A-Z0-9-]+") -> str:
    pairs = [
        ("prefix", "88.100.1"),
        ("name", "cnc"),
        ("version", "1.0"),
        ("industry_code", industry),
        ("description", "machine tools"),
        ("item_name", "serial"),
        ("item_type", "string"),
        ("item_index", "2000"),
        ("item_required", "1"),
        ("item_min", "3"),
        ("item_max", "20"),
        ("item_pattern", pattern),
        ("item_name", ""),
        ("item_type", "string"),
        ("item_index", ""),
        ("item_required", "0"),
        ("item_min", ""),
        ("item_max", ""),
        ("item_pattern", ""),
    ]
    return str(httpx.QueryParams(pairs))


async def test_template_editor_publishes_a_version_that_registration_enforces(
    admin: httpx.AsyncClient, state: AppState
) -> None:
    resp = await post_form(admin, "/ids/templates", template_form())
    assert resp.status_code == 200, resp.text
    assert "已发布模板 cnc@1.0" in resp.text
    (t,) = state.hierarchy.front.templates.for_prefix("88.100.1")
    assert t.items[0].required and t.items[0].pattern == "[A-Z0-9-]+"
    listed = await admin.get("/ids/templates", params={"prefix": "88.100.1"})
    assert "cnc@1.0" in listed.text and "serial · 2000 *" in listed.text
    rows = await admin.get("/ids/register/rows", params={"template": "cnc@1.0"})
    assert 'value="serial"' in rows.text and "required" in rows.text

    bad = register_form("88.100.1/M-1", [("2000", "serial", "lower case")], "cnc@1.0")
    resp = await post_form(admin, "/ids/register", bad)
    assert resp.status_code == 400 and "字段「serial」的值不符合模板要求的格式" in resp.text
    assert await state.hierarchy.front.store.aget("88.100.1/M-1") is None
    good = register_form("88.100.1/M-1", [("2000", "serial", "SN-001")], "cnc@1.0")
    resp = await post_form(admin, "/ids/register", good)
    assert resp.status_code == 200, resp.text
    answer = await state.hierarchy.front.resolve("88.100.1/M-1")
    assert {v.type: v.value for v in answer.public_values()}["TEMPLATE"] == "cnc@1.0"


@pytest.mark.parametrize(
    ("body", "shown"),
    [
        (template_form(industry="Z9"), "行业代码“Z9”不是 GB/T 4754 门类"),
        (template_form(pattern="([a-z"), "字段「serial」的格式不是有效的正则表达式"),
        (template_form().replace("item_min=3", "item_min=three"), "第 1 行的最小长度“three”"),
    ],
)
async def test_template_editor_rejects_bad_definitions(
    admin: httpx.AsyncClient, state: AppState, body: str, shown: str
) -> None:
    resp = await post_form(admin, "/ids/templates", body)
    assert resp.status_code == 400
    assert shown in resp.text
    assert state.hierarchy.front.templates.for_prefix("88.100.1") == []


# -- enterprises and prefixes -----------------------------------------------------------------


async def test_admin_adds_an_enterprise_and_a_bad_uscc_is_refused(
    admin: httpx.AsyncClient, engine: object
) -> None:
    uscc = core.make_uscc("91330100MA2ABCDE")
    resp = await admin.post("/ids/enterprises", data={"uscc": uscc, "name": "杭州示例泵业"})
    assert resp.status_code == 200 and "已添加企业 杭州示例泵业" in resp.text
    bad = await admin.post(
        "/ids/enterprises", data={"uscc": uscc[:-1] + "0", "name": "错误代码公司"}
    )
    assert bad.status_code == 400 and "未写入任何数据" in bad.text
    page = await admin.get("/ids/enterprises")
    assert page.text.count("<tr>") == 1 + 2  # header, fixture enterprise, the new one


async def test_allocation_shows_username_and_generated_key_once(
    admin: httpx.AsyncClient, state: AppState, enterprise: core.Enterprise
) -> None:
    resp = await admin.post("/ids/prefixes", data={"prefix": "88.100.7", "uscc": enterprise.uscc})
    assert resp.status_code == 200, resp.text
    assert resp.headers["cache-control"] == "no-store"
    username = re.search(r'id="new-username">([^<]+)<', resp.text)
    secret = re.search(r'id="new-secret">([^<]+)<', resp.text)
    assert username and username.group(1) == "300:0.NA/88.100.7"
    assert secret and len(secret.group(1)) >= 24
    state.hierarchy.front.authenticate(username.group(1), secret.group(1))
    later = await admin.get("/ids/prefixes")
    assert "88.100.7" in later.text and secret.group(1) not in later.text
    again = await admin.post("/ids/prefixes", data={"prefix": "88.100.7", "uscc": enterprise.uscc})
    assert again.status_code == 409 and "前缀 88.100.7 已分配" in again.text


async def test_only_platform_admins_see_and_use_the_tenancy_forms(
    client: httpx.AsyncClient, state: AppState, enterprise: core.Enterprise
) -> None:
    with state.engine.begin() as conn:
        core.create_user(
            conn,
            username="watcher",
            password="a-long-password",
            role=core.Role.REGULATOR,
            actor="t",
        )
    await log_in(client, "watcher", "a-long-password")
    page = await client.get("/ids/prefixes")
    assert "88.100.1" in page.text and 'action="/ids/prefixes"' not in page.text
    resp = await client.post("/ids/prefixes", data={"prefix": "88.100.8", "uscc": enterprise.uscc})
    assert resp.status_code == 403
    assert [a.prefix for a in ids.list_allocations(state.engine)] == ["88.100.1"]


# -- nodes and static files -------------------------------------------------------------------


async def test_node_page_lists_nodes_and_hands_chart_data_to_the_script(
    admin: httpx.AsyncClient,
) -> None:
    await admin.get("/ids/resolve", params={"handle": "0.NA/88.100.1"})
    resp = await admin.get("/ids/nodes")
    assert resp.status_code == 200
    for label in ("根节点", "国家顶级节点", "二级节点", "递归节点"):
        assert label in resp.text
    m = re.search(r'<script type="application/json" id="node-data">(.*?)</script>', resp.text, re.S)
    assert m
    nodes = {n["name"]: n for n in json.loads(m.group(1))}
    assert nodes["recursive"]["cache"]["misses"] >= 1
    assert len(nodes["root"]["resolutions_per_minute"]) == 60
    assert sum(p["count"] for p in nodes["root"]["resolutions_per_minute"]) >= 1
    assert "echarts.common.min.js" in resp.text and "nodes.js" in resp.text


@pytest.mark.parametrize(
    "asset",
    ["vendor/htmx/htmx.min.js", "vendor/echarts/echarts.common.min.js", "console.css", "nodes.js"],
)
async def test_static_assets_ship_inside_the_package(client: httpx.AsyncClient, asset: str) -> None:
    resp = await client.get(f"/console/static/{asset}")
    assert resp.status_code == 200 and len(resp.content) > 1000
    licence = Path(CONSOLE_DIR, "static", asset).parent / "LICENSE"
    assert asset.startswith("vendor/") <= licence.exists()
