"""Regions in the console: place names with their codes, in both languages; unknown codes as
they are."""

from __future__ import annotations

import re

import httpx
import pytest
from tests.web import test_console_platform as platform_pages
from tests.web.test_console_platform import Fleet, login, text_of

from indunet.core.tables import enterprises
from indunet.web import AppState
from indunet.web.console.i18n import LANG_COOKIE

fleet = platform_pages.fleet
app_client = platform_pages.app_client
admin_password = platform_pages.admin_password


def _set_regions(state: AppState, fleet: Fleet, a: str, b: str) -> None:
    with state.engine.begin() as conn:
        for eid, region in ((fleet.a.id, a), (fleet.b.id, b)):
            conn.execute(enterprises.update().where(enterprises.c.id == eid).values(region=region))


async def _region_options(client: httpx.AsyncClient) -> list[tuple[str, str]]:
    """The region chooser of the display form: (value, text) of each option."""
    page = await client.get("/platform/displays")
    chooser = re.search(r'<select name="region">(.*?)</select>', page.text, flags=re.S)
    assert chooser, page.text
    return re.findall(r'<option value="([^"]*)">([^<]+)</option>', chooser.group(1))


@pytest.mark.parametrize("lang", ["zh-CN", "en"])
async def test_displays_wall_and_enterprise_pages_name_the_region(
    app_client: httpx.AsyncClient, fleet: Fleet, state: AppState, admin_password: str, lang: str
) -> None:
    _set_regions(state, fleet, "350200", "320506")
    await login(app_client, "admin", admin_password)
    app_client.cookies.set(LANG_COOKIE, lang)

    assert await _region_options(app_client) == [
        ("", "—"),
        ("320506", "江苏省 苏州市 吴中区 (320506)"),
        ("350200", "福建省 厦门市 (350200)"),
    ]
    made = await app_client.post(
        "/platform/displays",
        data={"name": "苏州大屏", "days": "1", "scope": "region", "region": "320506"},
    )
    assert made.status_code == 200
    assert "江苏省 苏州市 吴中区 (320506)" in text_of(made.text)  # the token's row names it
    token = re.search(r'id="display-url">[^<]*display=([^<"]+)<', made.text)
    assert token

    listing = await app_client.get("/ids/enterprises")
    assert "厦门市 (350200)" in text_of(listing.text) and "吴中区 (320506)" in text_of(listing.text)
    hint = re.search(r'<p class="muted small" id="add-region-hint">([^<]+)</p>', listing.text)
    assert hint and "GB/T 2260" in hint.group(1) and "320500" in hint.group(1)  # how to write one
    found = await app_client.get("/ids/enterprises", params={"q": "苏州"})
    assert "北京示例电气" in found.text and "吴中区 (320506)" in text_of(found.text)
    assert "厦门市 (350200)" not in text_of(found.text)
    detail = await app_client.get(f"/ids/enterprises/{fleet.a.id}")
    assert "福建省 厦门市 (350200)" in text_of(detail.text)

    app_client.cookies.clear()
    app_client.cookies.set(LANG_COOKIE, lang)
    opened = await app_client.get("/wall", params={"display": token.group(1)})
    assert opened.status_code == 303
    wall = await app_client.get("/wall")
    scope = re.search(r'<span id="wall-scope">([^<]+)</span>', wall.text)
    assert scope and scope.group(1) == "江苏省 苏州市 吴中区 (320506)"


async def test_a_region_not_in_the_table_is_shown_as_it_was_written(
    app_client: httpx.AsyncClient, fleet: Fleet, state: AppState, admin_password: str
) -> None:
    _set_regions(state, fleet, "福建", "999999")
    await login(app_client, "admin", admin_password)
    options = await _region_options(app_client)
    assert ("999999", "999999") in options and ("福建", "福建") in options
    listing = text_of((await app_client.get("/ids/enterprises")).text)
    assert "999999" in listing and "999999 (" not in listing and "福建" in listing
