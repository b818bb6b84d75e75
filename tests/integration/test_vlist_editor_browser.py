"""The record editor's admin groups (HS_VLIST) in a real headless Chromium against a real
``indunet up``: a group written over the Handle REST API shows pre-filled; a malformed member
is refused with its line named in Chinese, then in English, and nothing changes; the operator
adds a member, removes a group and adds a new one; the REST API then answers the new lists.
Every page is checked with axe-core and photographed."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from tests.integration.browser import CHROMIUM, CHROMIUM_ARGS, check_a11y, need_chromium
from tests.integration.servers import Server, group

from indunet import core

USCC = core.make_uscc("91350200MA3GRPX8")
GROUP = "88.100.1/admins"

pytestmark = pytest.mark.integration


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    need_chromium()
    with group(tmp_path) as g:
        yield g.start("console", "up")


def _vlist(*members: tuple[int, str]) -> dict[str, object]:
    return {"format": "vlist", "value": [{"index": i, "handle": h} for i, h in members]}


def _setup(api: httpx.Client, password: str) -> dict[str, str]:
    token = api.post("/api/v1/auth/token", json={"username": "admin", "password": password})
    headers = {"Authorization": f"Bearer {token.json()['token']}"}
    ent = {"uscc": USCC, "name": "厦门管理员组泵业有限公司"}
    assert api.post("/api/v1/enterprises", json=ent, headers=headers).status_code == 201
    prefix = {"prefix": "88.100.1", "enterprise_uscc": USCC}
    assert api.post("/api/v1/prefixes", json=prefix, headers=headers).status_code == 201
    values = [
        {"index": 1, "type": "DESC", "data": "泵业管理员组"},
        {"index": 200, "type": "HS_VLIST", "data": _vlist((300, "88.100.1/admin-zhang"))},
        {"index": 201, "type": "HS_VLIST", "data": _vlist((0, "88.100.1/old-team"))},
    ]
    made = api.put(f"/api/handles/{GROUP}", json={"values": values}, headers=headers)
    assert made.status_code in (200, 201), made.text
    return headers


def _lists(api: httpx.Client) -> dict[int, list[tuple[int, str]]]:
    got = api.get(f"/api/handles/{GROUP}", params={"type": "HS_VLIST"}).json()
    return {
        v["index"]: [(m["index"], m["handle"]) for m in v["data"]["value"]] for v in got["values"]
    }


def test_an_operator_edits_admin_groups(server: Server, shots: Path) -> None:
    from playwright.sync_api import expect, sync_playwright

    password = server.admin_password
    assert password, server.output
    with httpx.Client(base_url=server.url, timeout=15) as api:
        _setup(api, password)
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
            try:
                context = browser.new_context(
                    viewport={"width": 1280, "height": 900},
                    locale="zh-CN",
                    timezone_id="Asia/Shanghai",
                )
                page = context.new_page()
                page.set_default_timeout(15_000)

                def shot(name: str) -> None:
                    check_a11y(page)
                    page.screenshot(path=str(shots / f"{name}.png"), full_page=True)

                page.goto(server.url + f"/login?next=/ids/handles/edit?handle={GROUP}")
                page.fill("input[name=username]", "admin")
                page.fill("input[name=password]", password)
                page.click("form.stack button[type=submit]")
                page.goto(server.url + f"/ids/handles/edit?handle={GROUP}")
                editor = page.locator("#vlist-editor")
                expect(editor.locator("legend")).to_have_text("管理员组（HS_VLIST）")
                boxes = editor.locator("textarea[name=vlist_members]")
                expect(boxes).to_have_count(3)  # two groups and a new one
                expect(boxes.nth(0)).to_have_value("300:88.100.1/admin-zhang")
                expect(boxes.nth(1)).to_have_value("0:88.100.1/old-team")
                shot("01-groups-pre-filled")

                # A malformed member: refused, its line named, nothing written.
                boxes.nth(0).fill("300:88.100.1/admin-zhang\n88.100.1/admin-wang")
                page.click("form.stack button[type=submit]")
                alert = page.locator(".alert.error")
                expect(alert).to_contain_text("第 1 个管理员组第 2 行“88.100.1/admin-wang”应写作")
                expect(boxes.nth(0)).to_have_value("300:88.100.1/admin-zhang\n88.100.1/admin-wang")
                shot("02-refused-zh")
                assert _lists(api) == {
                    200: [(300, "88.100.1/admin-zhang")],
                    201: [(0, "88.100.1/old-team")],
                }
                page.goto(server.url + f"/lang/en?next=/ids/handles/edit?handle={GROUP}")
                page.goto(server.url + f"/ids/handles/edit?handle={GROUP}")
                boxes.nth(0).fill("300:88.100.1/admin-zhang\n300:88.100.1/admin-zhang")
                page.click("form.stack button[type=submit]")
                expect(alert).to_contain_text(
                    "Admin group 1, line 2: “300:88.100.1/admin-zhang” is listed already"
                )
                shot("03-refused-en")

                # Add a member, remove a group, add a new one.
                page.goto(server.url + f"/ids/handles/edit?handle={GROUP}")
                boxes.nth(0).fill("300:88.100.1/admin-zhang\n301:88.100.1/admin-wang")
                editor.locator("input[name=vlist_remove][value='2']").check()
                editor.locator("input[name=vlist_index]").nth(2).fill("202")
                boxes.nth(2).fill("300:88.100.1/admin-li")
                shot("04-filled")
                page.click("form.stack button[type=submit]")
                expect(page.locator("body")).to_contain_text("301:88.100.1/admin-wang")
                shot("05-saved")
                assert _lists(api) == {
                    200: [(300, "88.100.1/admin-zhang"), (301, "88.100.1/admin-wang")],
                    202: [(300, "88.100.1/admin-li")],
                }
            finally:
                browser.close()
