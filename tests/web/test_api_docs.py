"""/docs is served from the package: no URL of another host, its assets answer, no ReDoc."""

from __future__ import annotations

import re
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI

from indunet.core import Settings
from indunet.web import build_state, create_app


@pytest.fixture
def app(tmp_path: Path) -> FastAPI:
    return create_app(build_state(Settings(data_dir=tmp_path / "data", port=8000), platform=False))


async def test_the_docs_page_loads_nothing_from_other_hosts(app: FastAPI) -> None:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as c:
        page = await c.get("/docs")
        assert page.status_code == 200
        assets = re.findall(r'(?:src|href)="([^"]+)"', page.text)
        assert len(assets) == 3 and all(a.startswith("/console/static/vendor/") for a in assets)
        for asset in assets:
            got = await c.get(asset)
            assert got.status_code == 200 and len(got.content) > 500, asset
        assert "cdn" not in page.text.lower()
        assert (await c.get("/docs/oauth2-redirect")).status_code == 200
        assert (await c.get("/redoc")).status_code == 404  # it would load from a CDN
        assert (await c.get("/openapi.json")).json()["info"]["title"] == "Indunet"


def test_the_vendored_files_carry_their_licence() -> None:
    vendored = Path(__file__).parents[2] / "src/indunet/web/console/static/vendor/swagger-ui"
    assert "Apache License" in (vendored / "LICENSE").read_text()
    assert "swagger-ui-dist 5.36.0" in (vendored / "VERSION").read_text()
