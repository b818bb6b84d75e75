"""The operator's licence (标识解析服务许可): configured by settings, shown on the node's public
page and over the API, with whether it is in force in China Standard Time."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, date, datetime
from pathlib import Path

import httpx
import pydantic
import pytest
import sqlalchemy as sa
from tests.web.test_console import log_in

from indunet import core
from indunet.core import Settings
from indunet.ids import licence
from indunet.web import build_state, create_app

LICENCE = {
    "licence_number": "工信部标识〔2026〕第 0012 号",
    "licence_holder": "厦门示例标识解析服务有限公司",
    "licence_scope": "工业互联网标识解析二级节点服务（机械装备行业）",
    "licence_valid_from": date(2025, 1, 1),
    "licence_valid_until": date(2030, 12, 31),
}


@pytest.fixture
async def licensed(tmp_path: Path, engine: sa.Engine) -> AsyncIterator[httpx.AsyncClient]:
    settings = Settings(data_dir=tmp_path / "data", **LICENCE)  # type: ignore[arg-type]
    app = create_app(build_state(settings, engine=engine))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
        yield c


def test_the_status_follows_the_dates_in_china_standard_time() -> None:
    lic = licence.Licence("N-1", "H", "S", date(2026, 1, 1), date(2026, 6, 30))
    assert lic.status(date(2025, 12, 31)) == "not_yet"
    assert lic.status(date(2026, 1, 1)) == "valid"
    assert lic.status(date(2026, 6, 1)) == "expiring"
    assert lic.status(date(2026, 6, 30)) == "expiring" and lic.days_left(date(2026, 6, 30)) == 0
    assert lic.status(date(2026, 7, 1)) == "expired"
    assert licence.Licence("N-2", "", "", None, None).status(date(2099, 1, 1)) == "valid"
    # 2026-06-30 17:00 UTC is already 1 July in Beijing: the licence has ended there.
    assert licence.today(datetime(2026, 6, 30, 17, 0, tzinfo=UTC)) == date(2026, 7, 1)


def test_settings_refuse_dates_out_of_order_and_an_empty_number_shows_nothing(
    tmp_path: Path,
) -> None:
    with pytest.raises(pydantic.ValidationError, match="before licence_valid_from"):
        Settings(
            data_dir=tmp_path,
            licence_number="N",
            licence_valid_from=date(2026, 2, 1),
            licence_valid_until=date(2026, 1, 1),
        )
    assert licence.licence_of(Settings(data_dir=tmp_path, licence_number="  ")) is None


def test_settings_come_from_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("INDUNET_LICENCE_NUMBER", "B2-2026-0012")
    monkeypatch.setenv("INDUNET_LICENCE_VALID_UNTIL", "2031-03-31")
    found = licence.licence_of(Settings(data_dir=tmp_path))
    assert found is not None
    assert (found.number, found.valid_until) == ("B2-2026-0012", date(2031, 3, 31))


async def test_the_public_page_and_the_api_show_the_licence(
    licensed: httpx.AsyncClient,
) -> None:
    page = await licensed.get("/ids/resolve")  # the node's public page, no login
    assert page.status_code == 200
    for value in ("工信部标识〔2026〕第 0012 号", "厦门示例标识解析服务有限公司", "机械装备行业"):
        assert value in page.text
    assert "2025-01-01 – 2030-12-31" in page.text
    assert 'id="licence-status">有效<' in page.text
    assert 'href="/complain"' in page.text
    api = await licensed.get("/api/v1/licence")
    assert api.status_code == 200
    body = api.json()
    assert body["number"] == LICENCE["licence_number"]
    assert (body["valid_from"], body["valid_until"]) == ("2025-01-01", "2030-12-31")
    assert body["status"] in ("valid", "expiring")  # by today's date


async def test_without_a_licence_the_page_says_so_and_the_api_is_404(
    engine: sa.Engine, tmp_path: Path
) -> None:
    app = create_app(build_state(Settings(data_dir=tmp_path / "d"), engine=engine))
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://testserver"
    ) as c:
        page = await c.get("/ids/resolve")
        assert "本节点未公示许可信息" in page.text and 'id="licence-number"' not in page.text
        api = await c.get("/api/v1/licence")
        assert (api.status_code, api.json()["reason"]) == (404, "licence_not_configured")
        with engine.begin() as conn:
            password = core.ensure_admin(conn)
        assert password is not None
        await log_in(c, "admin", password)
        admin_page = await c.get("/ids/resolve")  # the operator is told what to set
        assert 'id="licence-missing"' in admin_page.text
        assert "INDUNET_LICENCE_NUMBER" in admin_page.text
