"""The models and devices API: who may do what, the one-time secret, problems as 422."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from tests.conftest import bearer

from indunet import core, ids
from indunet.core import Role
from indunet.web import AppState, create_app

METER = {
    "id": "meter-1",
    "name": "1号电表",
    "model": "indunet:power-meter",
    "connection": {"host": "127.0.0.1", "port": 1502},
    "tags": ["line-1"],
}
PRESS = {
    "@context": ["https://www.w3.org/2022/wot/td/v1.1"],
    "@type": "tm:ThingModel",
    "indunet:modelId": "acme:press",
    "title": "Press",
    "version": {"model": "1.0.0"},
    "properties": {
        "force": {
            "type": "number",
            "unit": "kN",
            "readOnly": True,
            "forms": [{"href": "/1", "modv:entity": "InputRegister", "modv:type": "xsd:float"}],
        }
    },
}


@pytest.fixture
async def client(state: AppState, allocation: ids.Allocation) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=create_app(state))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
        yield c


@pytest.fixture
def who(state: AppState, enterprise: core.Enterprise) -> dict[str, Any]:
    with state.engine.begin() as conn:
        other = core.create_enterprise(
            conn, uscc=core.make_uscc("91110108MA01ABCD"), name="B", actor="t", verified=True
        )
    return {
        "admin": bearer(state.engine, "root", Role.PLATFORM_ADMIN),
        "regulator": bearer(state.engine, "reg", Role.REGULATOR),
        "ent_admin": bearer(state.engine, "ea", Role.ENTERPRISE_ADMIN, enterprise.id),
        "ent_user": bearer(state.engine, "eu", Role.ENTERPRISE_USER, enterprise.id),
        "other_admin": bearer(state.engine, "oa", Role.ENTERPRISE_ADMIN, other.id),
        "eid": enterprise.id,
        "other": other.id,
    }


async def create(client: httpx.AsyncClient, who: dict[str, Any], **extra: Any) -> Any:
    resp = await client.post("/api/v1/devices", json={**METER, **extra}, headers=who["ent_admin"])
    assert resp.status_code == 201, resp.text
    return resp.json()


# -- models --------------------------------------------------------------------------------


async def test_models_list_export_and_versions(client: httpx.AsyncClient, who: dict[str, Any]):
    listed = (await client.get("/api/v1/models", headers=who["ent_user"])).json()
    assert [m["id"] for m in listed] == [
        "indunet:air-compressor", "indunet:cnc-machine", "indunet:env-sensor",
        "indunet:excavator", "indunet:power-meter",
    ]  # fmt: skip
    meter = listed[-1]
    assert meter["title"]["zh"] == "三相电能表"
    energy = meter["points"]["energy_kwh"]
    assert energy["unit"] == "kWh" and energy["bindings"][0]["datatype"] == "uint32"
    doc = (await client.get("/api/v1/models/indunet:cnc-machine", headers=who["regulator"])).json()
    assert doc["indunet:modelId"] == "indunet:cnc-machine" and "@context" in doc
    versions = await client.get(
        "/api/v1/models/indunet:cnc-machine/versions", headers=who["ent_user"]
    )
    assert versions.json()["versions"] == ["1.0.0"]
    missing = await client.get("/api/v1/models/acme:nope?version=1.0.0", headers=who["admin"])
    assert missing.status_code == 404 and missing.json()["code"] == "not_found"
    assert (await client.get("/api/v1/models")).status_code == 401


async def test_model_import_by_enterprise_admin_and_refusals(
    client: httpx.AsyncClient, who: dict[str, Any]
):
    ok = await client.post("/api/v1/models", json=PRESS, headers=who["ent_admin"])
    assert ok.status_code == 201, ok.text
    assert ok.json()["ref"] == "acme:press@1.0.0"
    assert ok.json()["owner_enterprise_id"] == who["eid"]
    assert ok.headers["location"] == "/api/v1/models/acme:press?version=1.0.0"
    again = await client.post("/api/v1/models", json=PRESS, headers=who["ent_admin"])
    assert again.status_code == 201
    changed = {**PRESS, "title": "Other"}
    clash = await client.post("/api/v1/models", json=changed, headers=who["ent_admin"])
    assert clash.status_code == 409 and "publish it as a new version" in clash.json()["message"]
    for role in ("ent_user", "regulator"):
        denied = await client.post("/api/v1/models", json=PRESS, headers=who[role])
        assert denied.status_code == 403, role
    takeover = {**PRESS, "version": {"model": "2.0.0"}}
    theirs = await client.post("/api/v1/models", json=takeover, headers=who["other_admin"])
    assert theirs.status_code == 403 and "belongs to another owner" in theirs.json()["message"]
    library = {**PRESS, "indunet:modelId": "indunet:press"}
    reserved = await client.post("/api/v1/models", json=library, headers=who["ent_admin"])
    assert reserved.status_code == 403


async def test_an_invalid_model_gets_every_problem_as_422(
    client: httpx.AsyncClient, who: dict[str, Any]
):
    bad = {**PRESS, "version": {"model": "one"}}
    bad["properties"] = {
        "force": {**PRESS["properties"]["force"], "readOnly": False, "minimum": 9, "maximum": 1}
    }
    resp = await client.post("/api/v1/models", json=bad, headers=who["admin"])
    assert resp.status_code == 422
    body = resp.json()
    assert body["code"] == "model_invalid"
    assert [p["path"] for p in body["detail"]] == [
        "$.version.model",
        "$.properties.force.minimum",
        "$.properties.force.forms[0].modv:entity",
    ]
    assert (await client.get("/api/v1/models/acme:press", headers=who["admin"])).status_code == 404


# -- devices -------------------------------------------------------------------------------


async def test_create_returns_the_secret_once_and_the_identifier_resolves(
    client: httpx.AsyncClient, who: dict[str, Any]
):
    made = await create(client, who)
    assert made["identifier"] == "88.100.1/dev-meter-1" and len(made["secret"]) >= 32
    assert made["enterprise_id"] == who["eid"] and made["protocol"] == "modbus"
    shown = (await client.get("/api/v1/devices/meter-1", headers=who["ent_user"])).json()
    assert "secret" not in shown and shown["status"] == "unknown"
    resolved = await client.get("/api/v1/resolve/88.100.1/dev-meter-1")
    assert resolved.json()["responseCode"] == 1, resolved.text
    assert "indunet:power-meter@1.0.0" in resolved.text


async def test_the_platform_admin_names_the_enterprise(
    client: httpx.AsyncClient, who: dict[str, Any]
):
    unnamed = await client.post("/api/v1/devices", json=METER, headers=who["admin"])
    assert unnamed.status_code == 400 and "enterprise_id" in unnamed.json()["message"]
    named = await client.post(
        "/api/v1/devices", json={**METER, "enterprise_id": who["eid"]}, headers=who["admin"]
    )
    assert named.status_code == 201


async def test_device_writes_are_refused_to_readers_and_other_enterprises(
    client: httpx.AsyncClient, who: dict[str, Any]
):
    for role in ("ent_user", "regulator"):
        r = await client.post("/api/v1/devices", json=METER, headers=who[role])
        assert r.status_code == 403, role
    foreign = await client.post(
        "/api/v1/devices", json={**METER, "enterprise_id": who["eid"]}, headers=who["other_admin"]
    )
    assert foreign.status_code == 404  # another enterprise is not found (core.access)
    await create(client, who)
    path = "/api/v1/devices/meter-1"
    for role, status in (("ent_user", 403), ("regulator", 403), ("other_admin", 404)):
        h = who[role]
        assert (await client.patch(path, json={"name": "x"}, headers=h)).status_code == status
        assert (await client.delete(path, headers=h)).status_code == status
        assert (await client.post(f"{path}/secret", headers=h)).status_code == status
    assert (await client.get(path, headers=who["other_admin"])).status_code == 404
    assert (await client.get(path, headers=who["regulator"])).status_code == 200
    assert (await client.get(path, headers=who["ent_admin"])).json()["name"] == "1号电表"


async def test_listing_is_scoped_to_the_enterprise(client: httpx.AsyncClient, who: dict[str, Any]):
    await create(client, who)
    await create(client, who, id="meter-2", tags=["line-2"])
    ids_of = lambda resp: [d["id"] for d in resp.json()]  # noqa: E731
    assert ids_of(await client.get("/api/v1/devices", headers=who["ent_user"])) == [
        "meter-1",
        "meter-2",
    ]
    assert ids_of(await client.get("/api/v1/devices?tag=line-2", headers=who["regulator"])) == [
        "meter-2"
    ]
    assert ids_of(await client.get("/api/v1/devices", headers=who["other_admin"])) == []
    peek = await client.get(
        f"/api/v1/devices?enterprise_id={who['eid']}", headers=who["other_admin"]
    )
    assert peek.status_code == 404  # another enterprise is not found (core.access)
    bad = await client.get("/api/v1/devices?status=asleep", headers=who["admin"])
    assert bad.status_code == 422


async def test_patch_delete_and_rotate(
    client: httpx.AsyncClient, who: dict[str, Any], state: AppState
):
    made = await create(client, who)
    path = "/api/v1/devices/meter-1"
    changed = await client.patch(path, json={"serial": "S-9"}, headers=who["ent_admin"])
    assert changed.status_code == 200 and changed.json()["serial"] == "S-9"
    empty = await client.patch(path, json={}, headers=who["ent_admin"])
    assert empty.status_code == 400
    bad = await client.patch(path, json={"connection": {"port": 1}}, headers=who["ent_admin"])
    assert bad.status_code == 400 and "needs connection host" in bad.json()["message"]
    rotated = await client.post(f"{path}/secret", headers=who["ent_admin"])
    assert rotated.status_code == 200
    devices = state.platform.devices
    assert devices.authenticate("meter-1", rotated.json()["secret"])
    assert not devices.authenticate("meter-1", made["secret"])
    gone = await client.delete(path, headers=who["ent_admin"])
    assert gone.status_code == 204
    assert (await client.get(path, headers=who["admin"])).status_code == 404
    resolved = await client.get("/api/v1/resolve/88.100.1/dev-meter-1")
    assert resolved.json()["responseCode"] == 100  # handle not found


async def test_bad_device_bodies_are_refused(client: httpx.AsyncClient, who: dict[str, Any]):
    cases = [
        ({**METER, "id": "Meter 1"}, 400, "device id"),
        ({**METER, "model": "acme:nope"}, 404, "no model acme:nope"),
        ({**METER, "protocol": "opcua"}, 400, "has no opcua forms"),
        ({**METER, "protocol": "zigbee"}, 422, ""),
        ({**METER, "tags": "not-a-list"}, 422, ""),
    ]
    for body, status, words in cases:
        resp = await client.post("/api/v1/devices", json=body, headers=who["ent_admin"])
        assert resp.status_code == status, (body, resp.text)
        assert words in resp.text
    await create(client, who)
    dup = await client.post("/api/v1/devices", json=METER, headers=who["ent_admin"])
    assert dup.status_code == 409


CSV = "id,name,model,host\nm-1,电表,indunet:power-meter,127.0.0.1\nm-2,电表,indunet:power-meter,\n"


async def test_csv_import_as_text_or_multipart(client: httpx.AsyncClient, who: dict[str, Any]):
    h = {**who["ent_admin"], "content-type": "text/csv"}
    resp = await client.post("/api/v1/devices/import", content=CSV.encode(), headers=h)
    assert resp.status_code == 200, resp.text
    report = resp.json()
    assert (report["created"], report["failed"]) == (1, 1)
    assert report["errors"][0]["line"] == 3 and report["devices"][0]["id"] == "m-1"
    again = CSV.replace("m-1", "m-3").replace("m-2", "m-4")
    multi = await client.post(
        "/api/v1/devices/import",
        files={"file": ("devices.csv", again.encode(), "text/csv")},
        headers=who["ent_admin"],
    )
    assert multi.status_code == 200 and multi.json()["created"] == 1
    json_body = await client.post("/api/v1/devices/import", json={}, headers=who["ent_admin"])
    assert json_body.status_code == 400 and "text/csv" in json_body.json()["message"]
    reader = await client.post(
        "/api/v1/devices/import",
        content=CSV.encode(),
        headers={**who["ent_user"], "content-type": "text/csv"},
    )
    assert reader.status_code == 403
    header = await client.post("/api/v1/devices/import", content=b"id,name\n", headers=h)
    assert header.status_code == 400 and "lacks model" in header.json()["message"]
    latin = await client.post(
        "/api/v1/devices/import", content="id,name,model\nä,ö,ü\n".encode("latin-1"), headers=h
    )
    assert latin.status_code == 400 and "UTF-8" in latin.json()["message"]


async def test_openapi_documents_the_routes(client: httpx.AsyncClient):
    spec = (await client.get("/openapi.json")).json()
    paths = spec["paths"]
    assert {"get", "post"} <= set(paths["/api/v1/models"])
    assert "422" in paths["/api/v1/models"]["post"]["responses"]
    assert {"get", "patch", "delete"} <= set(paths["/api/v1/devices/{device_id}"])
    assert "text/csv" in paths["/api/v1/devices/import"]["post"]["requestBody"]["content"]
