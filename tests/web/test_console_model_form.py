# ruff: noqa: F401, F811  (fixtures imported from test_console_platform are parameters here)
"""The model form editor in-process: fields to the same Thing Model the JSON editor takes,
problems in the reader's language next to their fields as the user types, publishing through
the same service, new versions of a model, tenancy and hostile input; the model list's
search and paging, and readable problems in the JSON editor."""

from __future__ import annotations

import re
from typing import Any

import httpx
from tests.web.test_console_platform import (
    PRESS,
    Fleet,
    add_user,
    admin_password,
    app_client,
    fleet,
    login,
)

from indunet.core import Role
from indunet.devices import ModbusForm, MqttForm, OpcUaForm, parse_model
from indunet.web.console import model_form
from indunet.web.console.model_form import ModelForm, PointRow

HX = {"HX-Request": "true"}


def row(i: int, **fields: str) -> dict[str, str]:
    return {f"p{i}.{k}": v for k, v in fields.items()}


GOOD = {
    "model_id": "acme:oven",
    "version": "1.0.0",
    "title_zh": "烘箱",
    "title_en": "Oven",
    **row(0, name="oven_temp", title_zh="炉温", title_en="Oven temperature", type="number")
    | row(0, unit="°C", minimum="0", maximum="400", protocol="modbus", mb_table="input")
    | row(0, mb_unit="1", mb_address="10", mb_datatype="float32", mb_scale="0.1"),
    **row(1, name="door_open", title_zh="门开", type="boolean", protocol="opcua")
    | row(1, ua_node="ns=2;s={{DEVICE_ID}}.Door"),
    **row(2, name="setpoint", type="number", unit="°C", writable="on", protocol="mqtt")
    | row(2, mq_topic="acme/{{DEVICE_ID}}/data", mq_path="$.set"),
}


def errors(html: str) -> dict[str, str]:
    """Field id -> the problem shown next to it (only those with one)."""
    found = re.findall(r'<span class="field-error" id="err-([^"]+)"[^>]*>([^<]*)</span>', html)
    return {k: v for k, v in found if v.strip()}


def test_the_form_writes_a_thing_model_the_parser_reads_back() -> None:
    form = ModelForm(
        model_id="acme:oven",
        version="1.0.0",
        title_zh="烘箱",
        rows=[
            PointRow(
                name="t",
                type="integer",
                minimum="-5",
                maximum="1000",
                protocol="modbus",
                mb_address="0",
                mb_datatype="int16",
                mb_unit="3",
            ),
            PointRow(),  # blank rows are left out
        ],
    )
    doc = model_form.document_of(form)
    model = parse_model(doc)
    point = model.points["t"]
    assert (point.type, point.minimum, point.maximum, point.writable) == (
        "integer",
        -5,
        1000,
        False,
    )
    spec = point.form(ModbusForm)
    assert spec is not None and (spec.table, spec.address, spec.unit) == ("holding", 0, 3)
    again = model_form.form_of(model, "1.1.0")
    assert again.rows[0].mb_address == "0" and again.rows[0].mb_unit == "3"
    assert again.version == "1.1.0" and again.title_zh == "烘箱"
    back = model_form.document_of(again)["properties"]["t"]
    assert {k: back[k] for k in ("type", "minimum", "maximum", "readOnly", "forms")} == {
        k: doc["properties"]["t"][k] for k in ("type", "minimum", "maximum", "readOnly", "forms")
    }


def test_problem_paths_map_to_their_fields() -> None:
    form = ModelForm(rows=[PointRow(name="a"), PointRow(name="b b")])
    field_of = model_form.field_of
    assert field_of("$.indunet:modelId", form) == "model_id"
    assert field_of("$.version.model", form) == "version"
    assert field_of("$.properties.a.minimum", form) == "p0.minimum"
    assert field_of("$.properties.a.forms[0].href", form) == "p0.mb_address"
    assert field_of("$.properties.a.forms[0].opcua:nodeId", form) == "p0.ua_node"
    assert field_of("$.properties.a.forms[0]", form) == "p0.protocol"
    assert field_of("$.properties['b b']", form) == "p1.name"
    assert field_of("$.properties.zz.type", form) is None
    assert field_of("$.links[0]", form) is None


async def test_a_model_is_built_checked_and_published_from_the_form(
    app_client: httpx.AsyncClient, fleet: Fleet
) -> None:
    await login(app_client, "ea")
    page = await app_client.get("/platform/models/form")
    assert page.status_code == 200 and 'id="f-p0-name"' in page.text
    ok = await app_client.post("/platform/models/form/check", data=GOOD, headers=HX)
    assert ok.status_code == 200 and 'id="form-valid"' in ok.text and errors(ok.text) == {}
    published = await app_client.post("/platform/models/form", data=GOOD | {"action": "publish"})
    assert published.status_code == 303, published.text
    assert published.headers["location"] == "/platform/models/acme:oven?version=1.0.0&published=1"
    model = fleet.platform.models.get("acme:oven", "1.0.0")
    assert fleet.platform.models.owner("acme:oven") == fleet.a.id
    assert model.points["oven_temp"].form(ModbusForm).scale == 0.1  # type: ignore[union-attr]
    assert model.points["door_open"].form(OpcUaForm) is not None
    mq = model.points["setpoint"].form(MqttForm)
    assert mq is not None and mq.json_path == "$.set" and model.points["setpoint"].writable
    shown = await app_client.get(published.headers["location"])
    assert "已发布模型 acme:oven@1.0.0" in shown.text and "new-version-form" in shown.text


async def test_problems_are_shown_next_to_their_fields_in_the_readers_language(
    app_client: httpx.AsyncClient, fleet: Fleet
) -> None:
    await login(app_client, "ea")
    bad = GOOD | {
        "model_id": "Oven!",
        "p0.minimum": "hot",
        "p0.maximum": "-1",
        "p0.mb_address": "x1",
        "p1.ua_node": "door",
        "p2.mq_path": "values.set",
    }
    check = await app_client.post("/platform/models/form/check", data=bad, headers=HX)
    shown = errors(check.text)
    assert "需要形如 acme:press-200 的模型编号" in shown["model_id"]
    assert "须为数字" in shown["p0-minimum"]
    assert "地址须为十进制" in shown["p0-mb_address"]
    assert "不是 OPC UA 节点 ID" in shown["p1-ua_node"]
    assert "不是支持的 JSON 路径" in shown["p2-mq_path"]
    twice = await app_client.post(
        "/platform/models/form/check", data=GOOD | {"p2.name": "oven_temp"}, headers=HX
    )
    assert "已有名为 oven_temp 的测点" in errors(twice.text)["p2-name"]
    assert 'hx-swap-oob="true"' in check.text  # fields without a problem are cleared too
    app_client.cookies.set("lang", "en")
    english = errors(
        (await app_client.post("/platform/models/form/check", data=bad, headers=HX)).text
    )
    assert "Must be a number." in english["p0-minimum"]
    refused = await app_client.post("/platform/models/form", data=bad | {"action": "publish"})
    assert refused.status_code == 422 and "Must be a number." in refused.text
    assert 'value="hot"' in refused.text  # the form keeps what was typed
    assert fleet.platform.models.versions("acme:oven") == []


async def test_rows_are_added_and_removed_and_bounded(
    app_client: httpx.AsyncClient, fleet: Fleet
) -> None:
    await login(app_client, "ea")
    added = await app_client.post("/platform/models/form", data=GOOD | {"action": "add"})
    assert added.status_code == 200 and 'id="f-p3-name"' in added.text
    removed = await app_client.post("/platform/models/form", data=GOOD | {"action": "remove:0"})
    assert 'value="oven_temp"' not in removed.text and 'value="door_open"' in removed.text
    many = {f"p{i}.name": f"p_{i}" for i in range(900)}
    check = await app_client.post("/platform/models/form/check", data=GOOD | many, headers=HX)
    assert check.status_code in (200, 400)
    assert check.status_code == 400 or len(re.findall(r'id="err-p\d+-name"', check.text)) <= 200
    huge = await app_client.post(
        "/platform/models/form/check", data=GOOD | {"title_en": "x" * 1_200_000}, headers=HX
    )
    assert huge.status_code == 413  # the guard's body limit, before the form is read


async def test_a_new_version_keeps_actions_and_tenancy_holds(
    app_client: httpx.AsyncClient, fleet: Fleet
) -> None:
    press = PRESS | {"actions": {"stop": {"title": "Stop"}}}
    fleet.platform.models.add(press, enterprise_id=fleet.a.id, actor="test")
    await login(app_client, "ea")
    page = await app_client.get(
        "/platform/models/form", params={"base": "acme:press", "version": "1.0.0"}
    )
    assert page.status_code == 200 and 'value="1.1.0"' in page.text and 'value="force"' in page.text
    fields: dict[str, Any] = dict(
        re.findall(r'name="((?:p\d+\.)?[a-z_]+)" value="([^"]*)"', page.text)
    )
    fields |= {"p0.unit": "MN", "action": "publish", "base_version": "1.0.0"}
    done = await app_client.post("/platform/models/form", data=fields)
    assert done.status_code == 303, done.text
    v2 = fleet.platform.models.get("acme:press", "1.1.0")
    assert v2.points["force"].unit == "MN" and "stop" in v2.actions
    again = await app_client.post("/platform/models/form", data=fields | {"p0.unit": "kN"})
    assert again.status_code == 409 and "已发布的版本不能修改" in again.text

    await login(app_client, "eb")  # enterprise B: A's model is not found anywhere
    other = await app_client.get("/platform/models/form", params={"base": "acme:press"})
    assert other.status_code == 404  # A's model is not found, before the role is looked at
    await login(app_client, "eu")
    assert (await app_client.get("/platform/models/form")).status_code == 403
    refused = await app_client.post("/platform/models/form", data=GOOD | {"action": "publish"})
    assert refused.status_code == 403 and "只有平台管理员或企业管理员" in refused.text


async def test_another_tenants_base_is_not_found(
    app_client: httpx.AsyncClient, fleet: Fleet
) -> None:
    fleet.platform.models.add(PRESS, enterprise_id=fleet.a.id, actor="test")
    state = app_client._transport.app.state.indunet  # type: ignore[attr-defined]
    add_user(state, "bb", Role.ENTERPRISE_ADMIN, fleet.b.id)
    await login(app_client, "bb")
    page = await app_client.get("/platform/models/form", params={"base": "acme:press"})
    assert page.status_code == 404 and "force" not in page.text
    sneaky = GOOD | {"base": "acme:press", "base_version": "1.0.0", "action": "publish"}
    posted = await app_client.post("/platform/models/form", data=sneaky)
    assert posted.status_code == 404 and "force" not in posted.text
    check = await app_client.post("/platform/models/form/check", data=sneaky, headers=HX)
    assert "force" not in check.text and "没有模型 acme:press" in check.text


async def test_the_model_list_is_searched_and_paged_and_json_problems_read_well(
    app_client: httpx.AsyncClient, fleet: Fleet
) -> None:
    await login(app_client, "ea")
    listing = await app_client.get("/platform/models", params={"q": "cnc", "size": 20})
    assert re.findall(r'<tr data-model="([^"]+)"', listing.text) == ["indunet:cnc-machine"]
    owner = await app_client.get("/platform/models", params={"owner": "enterprise"})
    assert re.findall(r'<tr data-model="([^"]+)"', owner.text) == []
    hostile = await app_client.get("/platform/models", params={"q": "%" * 500, "sort": "x;drop"})
    assert hostile.status_code == 200
    bad = (
        '{"@context": ["https://www.w3.org/2022/wot/td/v1.1"], "@type": "tm:ThingModel", '
        '"indunet:modelId": "acme:x", "version": {"model": "1.0.0"}, "title": "X", '
        '"properties": {"p": {"type": "number", "minimum": 5, "maximum": 1}}}'
    )
    refused = await app_client.post("/platform/models", data={"document": bad})
    assert refused.status_code == 422
    assert "测点 p › minimum" in refused.text and "最小值 5 大于最大值 1" in refused.text
    broken = await app_client.post("/platform/models", data={"document": "{nope"})
    assert "不是有效的 JSON（第 1 行第 2 列）" in broken.text
