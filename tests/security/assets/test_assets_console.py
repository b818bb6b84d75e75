"""The inventory's console pages: both languages with no raw keys, add / edit / delete, CSV
import (good, and bad with every row named), the merge explanation, zones and conduits,
another tenant's asset 404, a regulator only looks."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator

import httpx
import pytest
from tests.conftest import USCC_B

from indunet import core
from indunet.core import Role
from indunet.security import Security
from indunet.security.assets import Observation
from indunet.security.assets.service import Inventory
from indunet.web import AppState, create_app
from indunet.web.auth import SESSION_COOKIE
from indunet.web.csrf import HEADER, csrf_token

PASSWORD = "a-long-password"
BASE = "/security/assets"


@pytest.fixture
async def client(state: AppState, enterprise: core.Enterprise) -> AsyncIterator[httpx.AsyncClient]:
    with state.engine.begin() as conn:
        b = core.create_enterprise(conn, uscc=USCC_B, name="乙厂", actor="t", verified=True)
        for name, role, eid in (
            ("ea", Role.ENTERPRISE_ADMIN, enterprise.id),
            ("eb", Role.ENTERPRISE_ADMIN, b.id),
            ("reg", Role.REGULATOR, None),
        ):
            core.create_user(
                conn, username=name, password=PASSWORD, role=role, actor="t", enterprise_id=eid
            )
    transport = httpx.ASGITransport(app=create_app(state))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
        yield c


async def login(client: httpx.AsyncClient, username: str) -> None:
    client.cookies.clear()
    resp = await client.post("/login", data={"username": username, "password": PASSWORD})
    assert resp.status_code == 303, resp.text
    client.headers[HEADER] = csrf_token(client.cookies[SESSION_COOKIE])


def inventory(state: AppState) -> Inventory:
    svc = state.services["security"]
    assert isinstance(svc, Security)
    part = svc.part("assets")
    assert isinstance(part, Inventory)
    return part


@pytest.mark.parametrize("locale", ["zh-CN", "en"])
async def test_pages_render_in_both_languages(
    client: httpx.AsyncClient, state: AppState, enterprise: core.Enterprise, locale: str
) -> None:
    await login(client, "ea")
    client.cookies.set("lang", locale)
    store = inventory(state).store
    store.observe(
        [
            Observation(
                enterprise.id,
                "observation",
                {
                    "ips": ["10.5.0.1"],
                    "protocols": ["modbus"],
                    "ports": [502],
                    "role": "server",
                    "asset_type": "A0003",
                },
                peers=[
                    {"ip": "10.5.0.9", "protocol": "modbus", "port": 502, "dir": "in", "count": 3}
                ],
                seen=True,
            )
        ]
    )
    store.observe(
        [
            Observation(
                enterprise.id,
                "identification",
                {"ips": ["10.5.0.1"], "vendor": "Schneider Electric"},
            )
        ]
    )
    asset = store.by_ip(enterprise.id, "10.5.0.1")
    assert asset is not None
    await client.post("/security/zones", data={"name": "控制区", "sl_target": "3"})
    home = await client.get("/security")
    assert home.status_code == 200 and f'href="{BASE}"' in home.text
    for path in ("/security", BASE, f"{BASE}/{asset.id}", "/security/zones"):
        resp = await client.get(path)
        assert resp.status_code == 200, path
        shown = re.sub(r'(href|action|src)="[^"]*"', "", resp.text)
        assert not re.search(r"security\.(assets|zones|tab)\.", shown), path  # no raw keys
        assert "时区" in resp.text or "Time zone" in resp.text
    detail = (await client.get(f"{BASE}/{asset.id}")).text
    if locale == "zh-CN":
        assert (
            "可编程逻辑控制器（PLC）" in detail
            and "被动识别" in detail
            and "按 ip 10.5.0.1 匹配" in detail
        )
    else:
        assert (
            "Programmable Logic Controller (PLC)" in detail and "matched by ip 10.5.0.1" in detail
        )
    assert 'data-matched="new"' in detail and "10.5.0.9" in detail


async def test_add_edit_import_and_delete(
    client: httpx.AsyncClient, state: AppState, enterprise: core.Enterprise
) -> None:
    await login(client, "ea")
    made = await client.post(
        BASE,
        data={
            "name": "3号HMI",
            "ips": "10.6.0.3",
            "macs": "00:0c:29:00:00:03",
            "asset_type": "A0002",
        },
    )
    assert made.status_code == 303, made.text
    url = made.headers["location"]
    aid = int(url.rsplit("/", 1)[1])
    bad = await client.post(BASE, data={"name": "x", "ips": "10.6.0.300"})
    assert bad.status_code == 400 and "资产属性“ips”的值不符合要求" in bad.text
    assert "10.6.0.300" in bad.text  # the form again, with what was typed
    good = "name,macs,vendor,firmware\r\n3号HMI,00:0c:29:00:00:03,研华,2.1\r\n新PLC,00:80:f4:00:00:09,施耐德,3.1\r\n"
    r = await client.post(
        f"{BASE}/import", files={"file": ("a.csv", good.encode("utf-8-sig"), "text/csv")}
    )
    assert r.status_code == 303, r.text
    page = (await client.get(r.headers["location"])).text
    assert 'id="imported"' in page and "新建 1 项资产，合并 1 项" in page
    detail = (await client.get(url)).text
    assert "研华" in detail and "CSV" in detail and 'data-matched="mac 00:0c:29:00:00:03"' in detail
    wrong = "name,ips\r\nok,10.6.0.10\r\nbad,10.6.0.999\r\n"
    r = await client.post(f"{BASE}/import", files={"file": ("b.csv", wrong.encode(), "text/csv")})
    assert r.status_code == 400 and 'id="import-problems"' in r.text
    assert "<td>3</td>" in r.text and "有 1 行不符合要求" in r.text
    assert "资产属性“ips”的值不符合要求" in r.text and "10.6.0.999" in r.text
    assert "not an IPv4" not in r.text  # the row's problem in the reader's language
    assert inventory(state).store.by_ip(enterprise.id, "10.6.0.10") is None
    edit = await client.post(
        url,
        data={"name": "3号HMI", "criticality": "high", "ips": "10.6.0.3; 10.6.0.4", "zone_id": ""},
    )
    assert edit.status_code == 303
    a = inventory(state).store.by_ip(enterprise.id, "10.6.0.4")
    assert a is not None and a.id == aid and a.criticality == "high"
    listed = await client.get(BASE, params={"criticality": "high", "q": "10.6.0.4"})
    assert f'data-asset="{aid}"' in listed.text
    export = await client.get(f"{BASE}/export")
    assert export.status_code == 200 and "3号HMI" in export.text
    # another tenant's asset is not found; a regulator reads but gets no forms
    await login(client, "eb")
    assert (await client.get(url)).status_code == 404
    assert (await client.post(f"{url}/delete", data={"confirm": str(aid)})).status_code == 404
    await login(client, "reg")
    seen = await client.get(url)
    assert seen.status_code == 200 and 'id="edit-form"' not in seen.text
    await login(client, "ea")
    kept = await client.post(f"{url}/delete", data={"confirm": "nope"})
    assert kept.status_code == 400
    gone = await client.post(f"{url}/delete", data={"confirm": str(aid)})
    assert gone.status_code == 303 and (await client.get(url)).status_code == 404


async def test_zones_and_conduits_pages(client: httpx.AsyncClient) -> None:
    await login(client, "ea")
    for name, level in (("企业区", "1"), ("控制区", "3")):
        assert (
            await client.post("/security/zones", data={"name": name, "sl_target": level})
        ).status_code == 303
    bad = await client.post("/security/zones", data={"name": "x", "sl_target": "9"})
    assert bad.status_code == 400
    page = (await client.get("/security/zones")).text
    ids = re.findall(r'data-zone="(\d+)"', page)
    assert len(ids) == 2 and "SL-T 3" in page
    r = await client.post(
        "/security/conduits",
        data={"name": "DMZ", "zone_a": ids[0], "zone_b": ids[1], "protocols": "opcua"},
    )
    assert r.status_code == 303
    page = (await client.get("/security/zones")).text
    assert "DMZ" in page and "opcua" in page
    busy = await client.post(f"/security/zones/{ids[0]}/delete")
    assert busy.status_code == 409 and "请先删除管道" in busy.text
    cid = re.findall(r'data-conduit="(\d+)"', page)[0]
    assert (await client.post(f"/security/conduits/{cid}/delete")).status_code == 303
    assert (await client.post(f"/security/zones/{ids[0]}/delete")).status_code == 303
    await login(client, "eb")
    assert (await client.post(f"/security/zones/{ids[1]}/delete")).status_code == 404
