"""The inventory's API: create/edit/delete by enterprise admins (audited), search and paging,
CSV import all or nothing with bad rows named, export, zones and conduits, tenants apart."""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterator

import httpx
import pytest
import sqlalchemy as sa
from tests.conftest import USCC_B, bearer

from indunet import core
from indunet.core import Role
from indunet.web import AppState, create_app

API = "/api/v1/security"


@pytest.fixture
async def client(state: AppState) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=create_app(state))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
        yield c


def count(engine: sa.Engine, table: str) -> int:
    with engine.connect() as conn:
        return int(conn.execute(sa.text(f"SELECT count(*) FROM {table}")).scalar_one())


async def test_create_search_edit_delete_and_tenants(
    client: httpx.AsyncClient, state: AppState, enterprise: core.Enterprise
) -> None:
    with state.engine.begin() as conn:
        b = core.create_enterprise(conn, uscc=USCC_B, name="乙厂", actor="t", verified=True)
    admin = bearer(state.engine, "ea", Role.ENTERPRISE_ADMIN, enterprise.id)
    user = bearer(state.engine, "eu", Role.ENTERPRISE_USER, enterprise.id)
    other = bearer(state.engine, "ob", Role.ENTERPRISE_ADMIN, b.id)
    regulator = bearer(state.engine, "reg", Role.REGULATOR)
    zone = await client.post(f"{API}/zones", json={"name": "控制区", "sl_target": 3}, headers=admin)
    assert zone.status_code == 201, zone.text
    zid = zone.json()["id"]
    body = {
        "name": "2号线PLC",
        "asset_type": "A0003",
        "vendor": "Siemens",
        "model": "S7-1500",
        "firmware": "V2.9",
        "ips": ["10.2.0.10"],
        "macs": ["00-1B-1B-AA-BB-CC"],
        "protocols": ["s7comm"],
        "ports": [102],
        "criticality": "critical",
        "zone_id": zid,
    }
    r = await client.post(f"{API}/assets", json=body, headers=admin)
    assert r.status_code == 201, r.text
    a = r.json()
    assert a["macs"] == ["00:1b:1b:aa:bb:cc"] and a["provenance"]["vendor"] == "manual"
    again = await client.post(f"{API}/assets", json={"ips": ["10.2.0.10"]}, headers=admin)
    assert again.status_code == 409 and again.json()["params"]["id"] == str(a["id"])
    bad = await client.post(
        f"{API}/assets", json={"name": "x", "ips": ["10.2.0.300"]}, headers=admin
    )
    assert bad.status_code == 400 and bad.json()["params"] == {"field": "ips"}
    assert (await client.post(f"{API}/assets", json={"name": "x"}, headers=user)).status_code == 403
    for q in ("2号线", "10.2.0", "aa:bb", "siemens", "s7-1500", "programmable logic"):
        found = await client.get(f"{API}/assets", params={"q": q}, headers=user)
        assert found.json()["total"] == 1, q
    assert (
        await client.get(
            f"{API}/assets", params={"zone_id": zid, "criticality": "critical"}, headers=user
        )
    ).json()["total"] == 1
    assert (await client.get(f"{API}/assets", params={"asset_type": "A0002"}, headers=user)).json()[
        "total"
    ] == 0
    assert (await client.get(f"{API}/assets", headers=other)).json()["total"] == 0
    assert (await client.get(f"{API}/assets", headers=regulator)).json()["total"] == 1
    url = f"{API}/assets/{a['id']}"
    assert (await client.get(url, headers=other)).status_code == 404
    assert (await client.patch(url, json={"name": "y"}, headers=other)).status_code == 404
    assert (await client.delete(url, headers=other)).status_code == 404
    assert (await client.get(f"{API}/assets/999999", headers=admin)).status_code == 404
    one = (await client.get(url, headers=user)).json()
    assert one["zone_name"] == "控制区" and one["merges"][0]["matched"] == "new"
    # a zone of another enterprise cannot be named
    zb = (
        await client.post(f"{API}/zones", json={"name": "乙区", "sl_target": 2}, headers=other)
    ).json()
    wrong = await client.patch(url, json={"zone_id": zb["id"]}, headers=admin)
    assert wrong.status_code == 400 and wrong.json()["reason"] == "asset_zone_missing"
    edit = await client.patch(url, json={"firmware": "V3.0", "ips": ["10.2.0.11"]}, headers=admin)
    assert edit.status_code == 200 and edit.json()["ips"] == ["10.2.0.11"]
    assert edit.json()["alternatives"]["firmware"][0]["value"] == "V2.9"
    old_ip = await client.get(f"{API}/assets", params={"q": "10.2.0.10"}, headers=admin)
    assert old_ip.json()["total"] == 0  # the replaced address is neither searched nor matched
    with state.engine.connect() as conn:
        actions = (
            conn.execute(
                sa.text(
                    "SELECT action FROM core_audit_log WHERE action LIKE 'security.%' ORDER BY id"
                )
            )
            .scalars()
            .all()
        )
    assert actions == [
        "security.zone.create",
        "security.asset.create",
        "security.zone.create",
        "security.asset.update",
    ]
    assert (await client.delete(url, headers=user)).status_code == 403
    assert (await client.delete(url, headers=admin)).status_code == 204
    assert count(state.engine, "security_asset_keys") == 0


CSV_GOOD = (
    "name,asset_type,vendor,model,firmware,ips,macs,protocols,ports,zone,criticality\r\n"
    "1号HMI,A0002,研华,WebOP-3100T,1.2,10.3.0.5,,modbus,,控制区,high\r\n"
    '"PLC, 主站",A0003,Schneider Electric,M340,v3.10,"10.3.0.10;10.3.0.11",00:80:f4:01:02:03,modbus,502,,critical\r\n'
)


async def test_csv_import_good_bad_and_export(
    client: httpx.AsyncClient, state: AppState, enterprise: core.Enterprise
) -> None:
    admin = bearer(state.engine, "ea", Role.ENTERPRISE_ADMIN, enterprise.id)
    await client.post(f"{API}/zones", json={"name": "控制区", "sl_target": 2}, headers=admin)
    # the sensor already knows the PLC by its MAC
    await client.post(
        f"{API}/assets",
        json={"name": "seen", "macs": ["00:80:f4:01:02:03"], "vendor": "Schneider"},
        headers=admin,
    )
    csv_headers = admin | {"Content-Type": "text/csv"}
    r = await client.post(
        f"{API}/assets/import", content=("\ufeff" + CSV_GOOD).encode(), headers=csv_headers
    )
    assert r.status_code == 200, r.text
    assert r.json() == {"rows": 2, "created": 1, "merged": 1}
    items = (await client.get(f"{API}/assets", headers=admin)).json()["items"]
    plc = next(i for i in items if i["macs"])
    assert plc["name"] == "seen" and plc["vendor"] == "Schneider"  # manual outranks csv
    assert plc["ips"] == ["10.3.0.10", "10.3.0.11"] and plc["ports"] == [502]
    assert plc["alternatives"]["vendor"][0]["value"] == "Schneider Electric"
    hmi = next(i for i in items if i["name"] == "1号HMI")
    assert hmi["zone_id"] is not None and hmi["vendor"] == "研华"
    # GBK, as Excel saves it on a Chinese Windows
    gbk = "name,ips\r\n2号HMI,10.3.0.6\r\n".encode("gbk")
    assert (await client.post(f"{API}/assets/import", content=gbk, headers=csv_headers)).json()[
        "created"
    ] == 1
    before = count(state.engine, "security_assets"), count(state.engine, "security_asset_merges")
    bad = (
        "name,ips,ports,criticality,zone\r\n"
        "ok,10.3.0.50,,,\r\n"
        "bad-ip,10.3.0.999,,,\r\n"
        "bad-port,10.3.0.51,70000,,\r\n"
        "bad-level,10.3.0.52,,severe,\r\n"
    )
    r = await client.post(f"{API}/assets/import", content=bad.encode(), headers=csv_headers)
    assert r.status_code == 400
    err = r.json()
    assert err["reason"] == "asset_csv_invalid" and err["params"] == {
        "count": "3",
        "line": "3",
        "column": "ips",
    }
    assert [(p["line"], p["column"]) for p in err["detail"]] == [
        (3, "ips"),
        (4, "ports"),
        (5, "criticality"),
    ]
    nozone = await client.post(
        f"{API}/assets/import", content="name,zone\r\nx,不存在\r\n".encode(), headers=csv_headers
    )
    assert nozone.status_code == 400 and nozone.json()["params"]["column"] == "zone"
    unknown = await client.post(
        f"{API}/assets/import", content=b"name,colour\r\nx,red\r\n", headers=csv_headers
    )
    assert unknown.status_code == 400 and unknown.json()["params"] == {"column": "colour"}
    binary = await client.post(
        f"{API}/assets/import", content=b"\xff\xfe\x00\x81\x00", headers=csv_headers
    )
    assert binary.status_code == 400
    huge = await client.post(
        f"{API}/assets/import", content=b"name\r\n" + b"x\r\n" * 3_000_000, headers=csv_headers
    )
    assert huge.status_code == 413
    json_body = await client.post(f"{API}/assets/import", json={"a": 1}, headers=admin)
    assert json_body.status_code == 400
    assert (
        count(state.engine, "security_assets"),
        count(state.engine, "security_asset_merges"),
    ) == before
    # export: the import's columns, a formula neutralised, and it reads back
    await client.post(
        f"{API}/assets", json={"name": "=cmd|' /C calc'!A0", "ips": ["10.3.0.90"]}, headers=admin
    )
    out = await client.get(f"{API}/assets/export", headers=admin)
    assert out.status_code == 200 and out.text.startswith("\ufeffname,asset_type")
    rows = list(csv.DictReader(io.StringIO(out.text.lstrip("\ufeff"))))
    assert len(rows) == 4 and any(r["name"].startswith("'=cmd") for r in rows)
    plc_row = next(r for r in rows if r["macs"])
    assert plc_row["ips"] == "10.3.0.10;10.3.0.11"
    r = await client.post(f"{API}/assets/import", content=out.content, headers=csv_headers)
    assert r.status_code == 200 and r.json()["created"] == 0, r.text


async def test_zones_and_conduits(
    client: httpx.AsyncClient, state: AppState, enterprise: core.Enterprise
) -> None:
    admin = bearer(state.engine, "ea", Role.ENTERPRISE_ADMIN, enterprise.id)
    a = (
        await client.post(f"{API}/zones", json={"name": "企业区", "sl_target": 1}, headers=admin)
    ).json()
    b = (
        await client.post(f"{API}/zones", json={"name": "控制区", "sl_target": 3}, headers=admin)
    ).json()
    dup = await client.post(f"{API}/zones", json={"name": "控制区", "sl_target": 2}, headers=admin)
    assert dup.status_code == 409
    assert (
        await client.post(f"{API}/zones", json={"name": "x", "sl_target": 5}, headers=admin)
    ).status_code == 422
    c = await client.post(
        f"{API}/conduits",
        json={"name": "DMZ", "zone_a": a["id"], "zone_b": b["id"], "protocols": ["opcua"]},
        headers=admin,
    )
    assert c.status_code == 201, c.text
    same = await client.post(
        f"{API}/conduits",
        json={"name": "loop", "zone_a": a["id"], "zone_b": a["id"]},
        headers=admin,
    )
    assert same.status_code == 400
    listed = (await client.get(f"{API}/zones", headers=admin)).json()
    assert [z["sl_target"] for z in listed["zones"]] == [1, 3]
    assert listed["conduits"][0]["protocols"] == ["opcua"]
    r = await client.put(
        f"{API}/zones/{b['id']}", json={"name": "控制区", "sl_target": 4}, headers=admin
    )
    assert r.json()["sl_target"] == 4
    in_use = await client.delete(f"{API}/zones/{b['id']}", headers=admin)
    assert in_use.status_code == 409 and in_use.json()["params"] == {"count": "1"}
    conduit = c.json()["id"]
    assert (await client.delete(f"{API}/conduits/{conduit}", headers=admin)).status_code == 204
    assert (await client.delete(f"{API}/conduits/{conduit}", headers=admin)).status_code == 404
    assert (await client.delete(f"{API}/zones/{b['id']}", headers=admin)).status_code == 204
    assert [
        z["name"] for z in (await client.get(f"{API}/zones", headers=admin)).json()["zones"]
    ] == ["企业区"]
