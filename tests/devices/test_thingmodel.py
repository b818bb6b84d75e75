"""Parsing Thing Models: the W3C schema, Indunet's rules, and every binding's forms."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from indunet.devices import ModbusForm, ModelInvalid, MqttForm, OpcUaForm, parse_model
from indunet.devices.forms import binding_of, json_path


def model(properties: dict[str, Any], **extra: Any) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "@context": ["https://www.w3.org/2022/wot/td/v1.1"],
        "@type": "tm:ThingModel",
        "indunet:modelId": "acme:press",
        "title": "Press",
        "titles": {"zh-CN": "压力机", "en": "Press"},
        "version": {"model": "1.2.3"},
        "properties": properties,
    }
    doc.update(extra)
    return doc


def modbus(href: str = "/0", **terms: Any) -> dict[str, Any]:
    form = {
        "href": href,
        "modv:entity": "HoldingRegister",
        "modv:zeroBasedAddressing": True,
    }
    form.update(terms)
    return form


def point(form: dict[str, Any] | None = None, **extra: Any) -> dict[str, Any]:
    p: dict[str, Any] = {"type": "number", "readOnly": True}
    if form is not None:
        p["forms"] = [form]
    p.update(extra)
    return p


def problems(doc: Any) -> list[dict[str, str]]:
    with pytest.raises(ModelInvalid) as exc:
        parse_model(doc)
    assert exc.value.code == "model_invalid" and exc.value.status == 422
    assert exc.value.reason == "model_invalid"
    assert exc.value.params == {"count": len(exc.value.detail)}
    assert all(isinstance(d["reason"], str) and d["reason"] for d in exc.value.detail)
    return [{"path": d["path"], "message": d["message"]} for d in exc.value.detail]


def reasons(doc: Any) -> list[tuple[str, str, dict[str, Any]]]:
    with pytest.raises(ModelInvalid) as exc:
        parse_model(doc)
    return [(d["path"], d["reason"], d["params"]) for d in exc.value.detail]


def test_every_problem_carries_a_reason_and_its_params_for_the_console():
    bad = model({"Bad Name": point({"href": "/0", "modv:entity": "InputRegister"})})
    bad["properties"]["Bad Name"] |= {"minimum": 5, "maximum": 1}
    found = reasons(bad)
    assert ("$.properties['Bad Name']", "name", {"name": "Bad Name"}) in found
    assert (
        "$.properties['Bad Name'].minimum",
        "min_above_max",
        {"minimum": "5", "maximum": "1"},
    ) in found
    assert ("$.properties['Bad Name'].forms[0].href", "modbus_address_zero", {}) in found
    assert reasons([1]) == [("$", "not_object", {})]


def paths(doc: Any) -> set[str]:
    return {p["path"] for p in problems(doc)}


def test_a_modbus_point_is_mapped_with_its_terms():
    doc = model(
        {
            "oil_temp": point(
                modbus(
                    "/3/10?quantity=2",
                    **{
                        "modv:type": "xsd:float",
                        "modv:mostSignificantWord": False,
                        "modv:pollingTime": 500,
                        "indunet:scale": 0.5,
                    },
                ),
                unit="°C",
                minimum=-20,
                maximum=120,
                titles={"zh": "油温", "en": "Oil temperature"},
            )
        }
    )
    m = parse_model(doc)
    assert (m.id, m.version, m.ref) == ("acme:press", "1.2.3", "acme:press@1.2.3")
    assert m.title == {"zh": "压力机", "en": "Press"}
    p = m.points["oil_temp"]
    assert (p.type, p.unit, p.minimum, p.maximum, p.writable) == ("number", "°C", -20, 120, False)
    assert p.title == {"zh": "油温", "en": "Oil temperature"}
    assert p.form(ModbusForm) == ModbusForm(
        table="holding",
        address=10,
        datatype="float32",
        unit=3,
        byte_order="big",
        word_order="little",
        scale=0.5,
        poll_interval=0.5,
    )
    assert m.document == doc and m.document is not doc


def test_modbus_addresses_count_from_one_unless_zero_based():
    form = {"href": "/40", "modv:function": "readInputRegisters"}
    m = parse_model(model({"level": point(form)}))
    spec = m.points["level"].form(ModbusForm)
    assert spec is not None and (spec.table, spec.address, spec.datatype) == ("input", 39, "uint16")
    zero = problems(model({"level": point({"href": "/0", "modv:entity": "InputRegister"})}))
    assert zero == [
        {
            "path": "$.properties.level.forms[0].href",
            "message": "address 0 needs modv:zeroBasedAddressing true (addresses count from 1 "
            "unless it is set)",
        }
    ]


def test_an_opc_ua_point_takes_the_node_id_from_the_term_or_the_href():
    by_term = point({"opcua:nodeId": "ns=2;s={{DEVICE_ID}}.Speed"})
    by_href = point({"href": "opc.tcp://plc:4840/?id=ns=3;i=1001", "indunet:samplingInterval": 250})
    m = parse_model(model({"speed": by_term, "torque": by_href}))
    assert m.points["speed"].form(OpcUaForm) == OpcUaForm("ns=2;s={{DEVICE_ID}}.Speed", 1000.0)
    assert m.points["torque"].form(OpcUaForm) == OpcUaForm("ns=3;i=1001", 250.0)
    assert m.fill("ns=2;s={{DEVICE_ID}}.Speed", "cnc-1") == "ns=2;s=cnc-1.Speed"


def test_an_mqtt_point_defaults_its_json_path_to_its_name():
    custom = point({"mqv:filter": "site/+/{{DEVICE_ID}}/temp", "indunet:jsonPath": "$.d[0].t"})
    plain = point({"href": "mqtt://broker/plant/hum"})
    m = parse_model(model({"temp": custom, "hum": plain}))
    assert m.points["temp"].form(MqttForm) == MqttForm("site/+/{{DEVICE_ID}}/temp", "$.d[0].t")
    assert m.points["hum"].form(MqttForm) == MqttForm("plant/hum", "$.hum")


def test_http_forms_are_accepted_but_bind_nothing_and_forms_are_optional():
    m = parse_model(
        model({"a": point({"href": "https://example.com/a"}), "b": point(), "c": point()})
    )
    assert [p.forms for p in m.points.values()] == [(), (), ()]


def test_actions_and_events_are_read():
    doc = model(
        {},
        actions={
            "lock": {
                "title": "Lock",
                "input": {"type": "boolean"},
                "forms": [{"mqv:topic": "indunet/v1/{{DEVICE_ID}}/commands"}],
            }
        },
        events={"alarm": {"titles": {"zh": "报警"}, "data": {"type": "string"}}},
    )
    m = parse_model(doc)
    lock = m.actions["lock"]
    assert lock.input == {"type": "boolean"} and lock.title == {"en": "Lock"}
    assert lock.form(MqttForm) == MqttForm("indunet/v1/{{DEVICE_ID}}/commands", "$")
    assert m.events["alarm"].title == {"zh": "报警"} and m.events["alarm"].data == {
        "type": "string"
    }


def test_a_non_object_and_a_schema_breach_are_reported_with_paths():
    assert problems([1, 2]) == [{"path": "$", "message": "a Thing Model must be a JSON object"}]
    doc = model({"speed": point()})
    del doc["@type"]
    doc["properties"]["speed"]["forms"] = []
    found = problems(doc)
    assert {"path": "$", "message": "'@type' is a required property"} in found
    assert any(p["path"] == "$.properties.speed.forms" for p in found)


def test_every_problem_is_collected_and_the_message_names_the_first():
    doc = model(
        {
            "Bad Name": point(),
            "t": point(minimum=5, maximum=1),
            "obj": {"type": "object"},
        }
    )
    del doc["indunet:modelId"]
    doc["version"] = {"model": "1.0"}
    with pytest.raises(ModelInvalid) as exc:
        parse_model(doc)
    found = {p["path"] for p in exc.value.detail}
    assert found == {
        "$.indunet:modelId",
        "$.version.model",
        "$.properties['Bad Name']",
        "$.properties.t.minimum",
        "$.properties.obj.type",
    }
    assert exc.value.message.startswith("the Thing Model has 5 problem(s): $.indunet:modelId:")
    assert "(and 2 more)" in exc.value.message


@pytest.mark.parametrize(
    ("form", "path", "words"),
    [
        ({"href": "/1"}, "$.properties.p.forms[0]", "no known protocol binding"),
        (
            {"href": "/1", "modv:entity": "Coil", "mqv:topic": "a"},
            "$.properties.p.forms[0]",
            "mixes terms",
        ),
        (modbus(**{"modv:entity": "Register"}), ".modv:entity", "is not one of"),
        (
            modbus(**{"modv:function": "readCoil"}),
            ".modv:function",
            "does not address the entity HoldingRegister",
        ),
        (modbus(**{"modv:type": "xsd:string"}), ".modv:type", "is not supported"),
        (
            modbus(**{"modv:type": "xsd:float", "indunet:datatype": "int16"}),
            ".indunet:datatype",
            "contradicts",
        ),
        (modbus("/a/b"), ".href", "decimal"),
        (modbus("/1/2/3"), ".href", "/<unit>/<address>"),
        (modbus("/300/2"), ".href", "unit id 300"),
        (modbus("/65535", **{"modv:type": "xsd:float"}), ".href", "runs past 65535"),
        (modbus("/0?quantity=1", **{"modv:type": "xsd:int"}), ".href", "quantity=1"),
        (modbus(**{"indunet:scale": 0}), ".indunet:scale", "non-zero"),
        (modbus(**{"modv:pollingTime": -1}), ".modv:pollingTime", "above 0"),
        (modbus(**{"modv:mostSignificantByte": "yes"}), ".modv:mostSignificantByte", "true or"),
        ({"opcua:nodeId": "Speed"}, ".opcua:nodeId", "not an OPC UA node id"),
        (
            {"opcua:nodeId": "ns=2;s=A", "href": "opc.tcp://h/?id=ns=2;s=B"},
            ".href",
            "contradicts",
        ),
        ({"mqv:topic": "a/+/b"}, ".mqv:topic", "wildcards"),
        ({"mqv:filter": "a/#/b"}, ".mqv:filter", "not a valid MQTT topic filter"),
        ({"mqv:filter": "a", "indunet:jsonPath": "values.t"}, ".indunet:jsonPath", "JSON path"),
        ({"mqv:filter": "a", "mqv:controlPacket": "connect"}, ".mqv:controlPacket", "one of"),
        ({"mqv:filter": "{{SITE}}/t"}, ".mqv:filter", "placeholder {{SITE}} is unknown"),
    ],
)
def test_bad_forms_are_reported_at_the_term(form: dict[str, Any], path: str, words: str):
    found = problems(model({"p": point(form)}))
    where = path if path.startswith("$") else f"$.properties.p.forms[0]{path}"
    assert any(p["path"] == where and words in p["message"] for p in found), found


@pytest.mark.parametrize(
    ("prop", "words"),
    [
        (point(modbus(), type="boolean"), "boolean point needs a bool datatype"),
        (
            point(
                {
                    "href": "/0",
                    "modv:entity": "Coil",
                    "modv:type": "xsd:short",
                    "modv:zeroBasedAddressing": True,
                }
            ),
            "a coil holds one bit",
        ),
        (
            point({"href": "/0", "modv:entity": "Coil", "modv:zeroBasedAddressing": True}),
            "cannot be read from a single bit",
        ),
        (point(modbus(**{"modv:type": "xsd:float"}), type="integer"), "integer datatype"),
        (point(modbus(), type="string"), "cannot be strings"),
        (
            point(
                {"href": "/0", "modv:entity": "InputRegister", "modv:zeroBasedAddressing": True},
                readOnly=False,
            ),
            "must be on a coil or a holding register",
        ),
    ],
)
def test_modbus_types_tables_and_writability_must_fit(prop: dict[str, Any], words: str):
    found = problems(model({"p": prop}))
    assert any(words in p["message"] for p in found), found


def test_overlapping_registers_are_reported_on_the_later_point():
    a = point(modbus("/0", **{"modv:type": "xsd:float"}))
    b = point(modbus("/1"))
    c = point(modbus("/2"))
    found = problems(model({"a": a, "b": b, "c": c}))
    assert found == [
        {
            "path": "$.properties.b.forms[0].href",
            "message": "holding 1..1 of 'b' overlaps 'a' at 0..1",
        }
    ]
    other_unit = point(modbus("/2/1"))
    assert parse_model(model({"a": copy.deepcopy(a), "b": other_unit}))


def test_references_to_other_models_are_refused():
    doc = model(
        {"p": {"tm:ref": "other.tm.jsonld#/properties/p"}},
        links=[{"rel": "tm:extends", "href": "base.tm.jsonld", "type": "application/tm+json"}],
    )
    found = paths(doc)
    assert {"$.links[0]", "$.properties.p.tm:ref"} <= found


def test_binding_and_path_helpers():
    assert binding_of({"href": "/1"}, "modbus+tcp://plc:502/") == "modbus"
    assert binding_of({"opcua:nodeId": "i=1"}, "modbus+tcp://plc:502/") == "opcua"
    assert binding_of({"href": "https://x/y"}) == "http"
    assert binding_of({"href": "coap://x/y"}) is None
    assert json_path("properties", "a b", "forms", 0, "modv:type") == (
        "$.properties['a b'].forms[0].modv:type"
    )
