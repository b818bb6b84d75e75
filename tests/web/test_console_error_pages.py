"""A console page whose thing is missing or forbidden answers a page in the reader's language
with the catalogue text of the error, never the API's JSON; API clients keep the JSON."""

# ruff: noqa: F401, F811  (fixtures imported from test_console_platform are parameters here)

from __future__ import annotations

import httpx
import pytest
from tests.web.test_console_platform import HX, Fleet, admin_password, app_client, fleet, login

PAGE = {"Accept": "text/html,application/xhtml+xml,*/*;q=0.8"}  # what a browser sends

MISSING = {
    "/platform/alarms/999999": ("没有告警 999999。", "999999"),
    "/admin/users/99999": ("没有编号为 99999 的用户。", "99999"),
    "/platform/rules/99999": ("没有规则 99999。", "99999"),
    "/platform/notifications/rules/99999": ("没有这条规则。", "rule"),
}


@pytest.mark.parametrize("path", sorted(MISSING))
async def test_a_missing_thing_is_a_page_in_the_readers_language(
    app_client: httpx.AsyncClient, admin_password: str, path: str
) -> None:
    await login(app_client, "admin", admin_password)
    zh, en_word = MISSING[path]
    page = await app_client.get(path, headers=PAGE)
    assert page.status_code == 404
    assert page.headers["content-type"].startswith("text/html")
    assert "页面不存在" in page.text and zh in page.text and '"reason"' not in page.text
    assert "admin" in page.text  # the header still says who is logged in
    app_client.cookies.set("lang", "en")
    english = await app_client.get(path, headers=PAGE)
    assert english.status_code == 404 and "Page not found" in english.text
    assert en_word in english.text and "页面不存在" not in english.text
    app_client.cookies.set("lang", "zh-CN")
    api = await app_client.get(path, headers={"Accept": "application/json"})
    assert api.status_code == 404 and api.json()["reason"]  # scripts keep the JSON
    swap = await app_client.get(path, headers={**PAGE, **HX})
    assert swap.status_code == 404 and swap.headers["content-type"] == "application/json"


async def test_a_forbidden_page_says_so_in_the_readers_language(
    app_client: httpx.AsyncClient, fleet: Fleet
) -> None:
    await login(app_client, "eu")  # enterprise users do not read the audit log
    page = await app_client.get("/admin/audit", headers=PAGE)
    assert page.status_code == 403, page.text
    assert page.headers["content-type"].startswith("text/html") and "没有权限" in page.text
