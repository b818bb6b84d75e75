"""Service errors read in the reader's language: every ``reason`` raised in ``src/indunet`` has
its ``error.<reason>`` text in both catalogues, naming only fields the error carries; the
console shows USCC, template, range and prefix errors in Chinese or English, and the API keeps
the English message with its code, reason and params."""

from __future__ import annotations

import ast
import functools
import string
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from tests.conftest import bearer

from indunet import core, ids
from indunet.ids.templates import TYPE_REASONS
from indunet.web import AppState, create_app
from indunet.web.auth import SESSION_COOKIE
from indunet.web.console.i18n import LANG_COOKIE, catalogue
from indunet.web.csrf import HEADER, csrf_token

SRC = Path(__file__).resolve().parents[2] / "src" / "indunet"
#: Params helper functions add to every error they make, besides the keywords they are given.
ADDED_BY = {"_broken": {"item", "index", "template"}}
NOT_PARAMS = {"reason", "params", "detail", "rc", "whole"}


def _name(func: ast.expr) -> str:
    if isinstance(func, ast.Name):
        return func.id
    return func.attr if isinstance(func, ast.Attribute) else ""


@functools.cache
def raised_reasons() -> dict[str, set[str] | None]:
    """Each literal ``reason="…"`` in the source, with the params its raise passes (``None``
    when they are built at run time and cannot be read here)."""
    found: dict[str, set[str] | None] = {}
    for path in SRC.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.Call):
                continue
            kw = {k.arg: k.value for k in node.keywords if k.arg}
            reason = kw.get("reason")
            if not (isinstance(reason, ast.Constant) and isinstance(reason.value, str)):
                continue
            params: set[str] | None
            given = kw.get("params")
            if given is None:
                params = {k for k in kw if k not in NOT_PARAMS} | ADDED_BY.get(
                    _name(node.func), set()
                )
                if any(k.arg is None for k in node.keywords):  # **spread: unknown
                    params = None
            elif isinstance(given, ast.Dict) and all(
                isinstance(k, ast.Constant) for k in given.keys
            ):
                params = {str(k.value) for k in given.keys if isinstance(k, ast.Constant)}
            else:
                params = None
            before = found.get(reason.value, set())
            found[reason.value] = None if params is None or before is None else (before | params)
    for reason in TYPE_REASONS.values():  # chosen by item type at run time
        found.setdefault(reason, {"item", "index", "template", "value"})
    return found


def fields(text: str) -> set[str]:
    return {f for _, f, _, _ in string.Formatter().parse(text) if f}


def test_the_scan_finds_the_reasons_of_every_area() -> None:
    reasons = raised_reasons()
    assert {"uscc_checksum", "template_value_pattern", "template_value_above"} <= set(reasons)
    assert {"prefix_allocated", "value_unknown_type", "handle_not_registered"} <= set(reasons)
    assert reasons["uscc_checksum"] == {"code", "got", "expected"}


@pytest.mark.parametrize("reason", sorted(raised_reasons()))
def test_every_reason_has_a_text_in_both_languages_with_its_fields(reason: str) -> None:
    zh, en = catalogue("zh-CN"), catalogue("en")
    key = f"error.{reason}"
    if key not in zh and key not in en and f"letter.{reason}" in zh:
        # a payload refusal only ever read as a dead letter's detail (the letter adds its topic
        # or source): tests/telemetry/test_letter_reasons.py fills it from the letter's params
        key = f"letter.{reason}"
        assert key in en, f"en has no {key}"
        assert fields(zh[key]) == fields(en[key]), f"{key}: the languages name different fields"
        return
    assert key in zh, f"zh-CN has no {key}"
    assert key in en, f"en has no {key}"
    assert fields(zh[key]) == fields(en[key]), f"{key}: the languages name different fields"
    given = raised_reasons()[reason]
    if given is not None:
        assert fields(zh[key]) <= given, f"{key} names {fields(zh[key]) - given}, not given"


# -- in the console and the API ------------------------------------------------------------------


@pytest.fixture
async def admin(state: AppState, allocation: ids.Allocation) -> AsyncIterator[httpx.AsyncClient]:
    with state.engine.begin() as conn:
        password = core.ensure_admin(conn)
    transport = httpx.ASGITransport(app=create_app(state))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
        await c.post("/login", data={"username": "admin", "password": password, "next": "/"})
        c.headers[HEADER] = csrf_token(c.cookies[SESSION_COOKIE])
        yield c


def in_language(client: httpx.AsyncClient, lang: str) -> None:
    client.cookies.set(LANG_COOKIE, lang)


SPINDLE = {
    "prefix": "88.100.1",
    "name": "spindle",
    "version": "1.0",
    "industry_code": "C3484",
    "item_name": ["serial", "max_rpm"],
    "item_title": ["序列号", ""],
    "item_type": ["string", "integer"],
    "item_index": ["2101", "2102"],
    "item_required": ["1", "0"],
    "item_min": ["", ""],
    "item_max": ["", ""],
    "item_pattern": ["SN-[0-9]+", ""],
    "item_minimum": ["", "1000"],
    "item_maximum": ["", "60000"],
    "item_choices": ["", ""],
}


async def _register(client: httpx.AsyncClient, serial: str, rpm: str) -> httpx.Response:
    return await client.post(
        "/ids/register",
        data={
            "handle": "88.100.1/SP-1",
            "template": "spindle@1.0",
            "index": ["2101", "2102"],
            "type": ["serial", "max_rpm"],
            "value": [serial, rpm],
        },
    )


@pytest.mark.parametrize(
    ("lang", "pattern", "above", "uscc", "allocated"),
    [
        (
            "zh-CN",
            "字段「序列号」的值不符合模板要求的格式",
            "字段「max_rpm」的值 90000 大于最大值 60000",
            "校验位不正确",
            "前缀 88.100.1 已分配",
        ),
        (
            "en",
            "The value of item “序列号” does not have the format template spindle@1.0 requires",
            "The value 90000 of item “max_rpm” is above the maximum 60000",
            "fails its check character",
            "Prefix 88.100.1 is already allocated",
        ),
    ],
)
async def test_the_console_shows_service_errors_in_the_readers_language(
    admin: httpx.AsyncClient,
    state: AppState,
    enterprise: core.Enterprise,
    lang: str,
    pattern: str,
    above: str,
    uscc: str,
    allocated: str,
) -> None:
    in_language(admin, lang)
    published = await admin.post("/ids/templates", data=SPINDLE)
    assert published.status_code == 200, published.text
    bad = await _register(admin, "lower", "2000")
    assert bad.status_code == 400 and pattern in bad.text
    assert "SN-[0-9]+" in bad.text  # the pattern is named, not the only thing said
    high = await _register(admin, "SN-1", "90000")
    assert high.status_code == 400 and above in high.text
    assert await state.hierarchy.front.store.aget("88.100.1/SP-1") is None

    wrong = enterprise.uscc[:-1] + ("0" if enterprise.uscc[-1] != "0" else "1")
    resp = await admin.post("/ids/enterprises", data={"uscc": wrong, "name": "错误代码公司"})
    assert resp.status_code == 400 and uscc in resp.text
    again = await admin.post("/ids/prefixes", data={"prefix": "88.100.1", "uscc": enterprise.uscc})
    assert again.status_code == 409 and allocated in again.text


async def test_the_api_keeps_english_with_code_reason_and_params(
    state: AppState, allocation: ids.Allocation, enterprise: core.Enterprise
) -> None:
    headers = bearer(state.engine, "ops", core.Role.PLATFORM_ADMIN)
    headers["Cookie"] = f"{LANG_COOKIE}=zh-CN"  # a console cookie changes nothing in the API
    transport = httpx.ASGITransport(app=create_app(state))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
        wrong = enterprise.uscc[:-1] + ("0" if enterprise.uscc[-1] != "0" else "1")
        resp = await c.post(
            "/api/v1/enterprises", json={"uscc": wrong, "name": "X"}, headers=headers
        )
        body = resp.json()
        assert resp.status_code == 400 and body["code"] == "invalid_input"
        assert body["reason"] == "uscc_checksum" and body["params"]["code"] == wrong
        assert "fails its check character" in body["message"]

        tpl = {"name": "t", "version": "1", "industry_code": "Z9", "items": []}
        resp = await c.post("/api/v1/prefixes/88.100.1/templates", json=tpl, headers=headers)
        body = resp.json()
        assert resp.status_code == 400
        assert body["reason"] == "template_industry" and body["params"] == {"code": "Z9"}
        assert body["message"].startswith("industry code 'Z9' is not a GB/T 4754 category")

        resp = await c.post(
            "/api/v1/prefixes",
            json={"prefix": "88.100.1", "enterprise_uscc": enterprise.uscc},
            headers=headers,
        )
        body = resp.json()
        assert resp.status_code == 409 and body["reason"] == "prefix_allocated"
        assert body["message"] == "prefix 88.100.1 is already allocated"
