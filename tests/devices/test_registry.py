"""The device registry: create with an identifier, refusals that change nothing, credentials."""

from __future__ import annotations

from typing import Any

import pytest
import sqlalchemy as sa

from indunet import core, ids
from indunet.core import Conflict, InvalidInput, NotFound
from indunet.devices import Device, DeviceRegistry, ModelRegistry
from indunet.devices import registry as registry_module
from indunet.web import AppState

MODBUS = {"host": "127.0.0.1", "port": 1502}


@pytest.fixture
def reg(state: AppState, allocation: ids.Allocation) -> DeviceRegistry:
    devices: DeviceRegistry = state.platform.devices
    return devices


@pytest.fixture
def eid(enterprise: core.Enterprise) -> int:
    return enterprise.id


def compressor(device_id: str = "comp-1", **extra: Any) -> dict[str, Any]:
    spec = {
        "id": device_id,
        "name": "1号空压机",
        "model": "indunet:air-compressor",
        "connection": MODBUS,
        "manufacturer": "厦门压缩机",
        "serial": "SN-001",
    }
    spec.update(extra)
    return spec


def rows(engine: sa.Engine) -> list[str]:
    with engine.connect() as conn:
        return list(conn.execute(sa.text("SELECT id FROM dev_devices ORDER BY id")).scalars())


def record(state: AppState, handle: str) -> dict[str, Any] | None:
    rec = state.hierarchy.front.store.get(ids.handle.parse(handle).key)
    return None if rec is None else {v.type: v.value for v in rec.values}


def test_create_registers_the_device_and_its_identifier(
    reg: DeviceRegistry, state: AppState, eid: int
):
    d, secret = reg.create(eid, compressor(tags=["line-1", "空压站"]), actor="user:alice")
    assert (d.id, d.protocol, d.model_ref) == ("comp-1", "modbus", "indunet:air-compressor@1.0.0")
    assert d.connection == {"host": "127.0.0.1", "port": 1502, "unit": 1, "timeout": 3.0}
    assert d.identifier == "88.100.1/dev-comp-1" and d.status == "unknown"
    assert d.tags == ("line-1", "空压站")
    assert len(secret) >= 32 and reg.authenticate("comp-1", secret)
    values = record(state, "88.100.1/dev-comp-1")
    assert values is not None
    assert values["TEMPLATE"] == "device@1" and values["device_id"] == "comp-1"
    assert values["model"] == "indunet:air-compressor@1.0.0"
    assert values["manufacturer"] == "厦门压缩机" and values["serial"] == "SN-001"
    assert values["NAME"] == "1号空压机"
    # People following the record land on the console's pages, not on raw JSON or a 401.
    assert values["URL"] == "http://127.0.0.1:8000/ids/resolve?handle=88.100.1/dev-comp-1"
    assert values["platform_url"] == "http://127.0.0.1:8000/platform/devices/comp-1"
    assert reg.get("comp-1") == d and rows(state.engine) == ["comp-1"]
    with state.engine.connect() as conn:
        actions = [e.action for e in core.audit.entries(conn, actor="user:alice")]
    assert "device.create" in actions and "handle.create" in actions


def test_the_protocol_defaults_from_the_model_and_must_match_it(reg: DeviceRegistry, eid: int):
    cnc, _ = reg.create(
        eid,
        {"id": "cnc-1", "name": "CNC", "model": "indunet:cnc-machine",
         "connection": {"endpoint": "opc.tcp://127.0.0.1:4840"}},
        actor="t",
    )  # fmt: skip
    assert cnc.protocol == "opcua" and cnc.connection["security_policy"] == "None"
    with pytest.raises(InvalidInput, match="has no modbus forms; use protocol opcua"):
        reg.create(
            eid, {"id": "cnc-2", "name": "x", "model": "indunet:cnc-machine", "protocol": "modbus"},
            actor="t",
        )  # fmt: skip
    pushed, _ = reg.create(
        eid, {"id": "cnc-3", "name": "x", "model": "indunet:cnc-machine", "protocol": "http"},
        actor="t",
    )  # fmt: skip
    assert pushed.protocol == "http" and pushed.connection == {}


@pytest.mark.parametrize(
    ("spec", "error", "words"),
    [
        (compressor("Comp 1"), InvalidInput, "device id 'Comp 1' must be"),
        (compressor(model="acme:nope"), NotFound, "no model acme:nope"),
        (compressor(model="indunet:air-compressor@9.9.9"), NotFound, "9.9.9"),
        (compressor(name=""), InvalidInput, "device name is required"),
        (compressor(connection={}), InvalidInput, "needs connection host"),
        (compressor(connection={**MODBUS, "port": 70000}), InvalidInput, "port 70000"),
        (compressor(connection={**MODBUS, "unit": 256}), InvalidInput, "unit 256"),
        (compressor(connection={**MODBUS, "timeout": 0}), InvalidInput, "timeout 0"),
        (compressor(connection={**MODBUS, "baud": 9600}), InvalidInput, "unknown modbus"),
        (compressor(protocol="mqtt", connection={}), InvalidInput, "has no mqtt forms"),
        (compressor(protocol="coap"), InvalidInput, "protocol 'coap' is not one of"),
        (compressor(tags=["has space"]), InvalidInput, "tag 'has space'"),
        (compressor(location={"latitude": 95}), InvalidInput, "latitude 95"),
        (compressor(secret="short"), InvalidInput, "16-200 characters"),
        (compressor(prefix="88.100.9"), InvalidInput, "prefix 88.100.9 is not held"),
        (compressor(colour="red"), InvalidInput, "unknown device field(s) colour"),
    ],
)
def test_bad_specs_are_refused_and_leave_nothing(
    reg: DeviceRegistry, state: AppState, eid: int, spec: dict[str, Any], error: type, words: str
):
    with pytest.raises(error) as exc:
        reg.create(eid, spec, actor="t")
    assert words in exc.value.message
    assert rows(state.engine) == []
    assert record(state, "88.100.1/dev-comp-1") is None


@pytest.mark.parametrize(
    ("connection", "words"),
    [
        ({"endpoint": "http://x"}, "needs connection endpoint opc.tcp://"),
        ({"endpoint": "opc.tcp://h:4840", "security_policy": "Basic128"}, "not one of"),
        (
            {"endpoint": "opc.tcp://h:4840", "security_policy": "Basic256Sha256"},
            "needs a client certificate and private_key",
        ),
        (
            {"endpoint": "opc.tcp://h:4840", "security_mode": "Sign"},
            "security_policy None goes with security_mode None",
        ),
        ({"endpoint": "opc.tcp://h:4840", "username": "u"}, "both username and password"),
        ({"endpoint": "opc.tcp://h:4840", "certificate": "c.pem"}, "need a security_policy"),
    ],
)
def test_opc_ua_connections_are_checked(
    reg: DeviceRegistry, eid: int, connection: dict[str, Any], words: str
):
    spec = {"id": "cnc-1", "name": "x", "model": "indunet:cnc-machine", "connection": connection}
    with pytest.raises(InvalidInput, match=words):
        reg.create(eid, spec, actor="t")


def test_a_secure_opc_ua_connection_masks_its_secrets(reg: DeviceRegistry, eid: int):
    conn = {
        "endpoint": "opc.tcp://h:4840/cnc",
        "security_policy": "Basic256Sha256",
        "certificate": "/etc/indunet/client.der",
        "private_key": "/etc/indunet/client.pem",
        "username": "op",
        "password": "pw-123456",
    }
    d, _ = reg.create(
        eid, {"id": "cnc-1", "name": "x", "model": "indunet:cnc-machine", "connection": conn},
        actor="t",
    )  # fmt: skip
    assert d.connection["security_mode"] == "SignAndEncrypt"
    assert d.connection["password"] == "pw-123456"  # connectors need it
    shown = d.to_json()["connection"]
    assert shown["password"] == "***" and shown["private_key"] == "***"
    assert shown["username"] == "op"


def test_duplicates_and_taken_identifiers_are_conflicts(
    reg: DeviceRegistry, state: AppState, eid: int
):
    reg.create(eid, compressor(), actor="t")
    with pytest.raises(Conflict, match="device comp-1 already exists"):
        reg.create(eid, compressor(), actor="t")
    state.hierarchy.front.put(
        "88.100.1/dev-comp-2",
        [{"index": 1, "type": "URL", "data": {"format": "string", "value": "http://x.cn"}}],
        ids.OPERATOR,
    )
    with pytest.raises(Conflict, match=r"identifier 88\.100\.1/dev-comp-2 is already registered"):
        reg.create(eid, compressor("comp-2"), actor="t")
    assert rows(state.engine) == ["comp-1"]
    kept = record(state, "88.100.1/dev-comp-2")  # the other record is left alone
    assert kept is not None and kept["URL"] == "http://x.cn" and "device_id" not in kept


def test_a_failed_insert_removes_the_identifier_again(
    reg: DeviceRegistry, state: AppState, eid: int, monkeypatch: pytest.MonkeyPatch
):
    real = registry_module.audit.record

    def failing(conn: sa.Connection, actor: str, action: str, *a: Any, **k: Any) -> None:
        if action == "device.create":
            raise RuntimeError("disk full")
        real(conn, actor, action, *a, **k)

    monkeypatch.setattr(registry_module.audit, "record", failing)
    with pytest.raises(RuntimeError, match="disk full"):
        reg.create(eid, compressor(), actor="t")
    monkeypatch.undo()
    assert rows(state.engine) == [] and reg.lookup("comp-1") is None
    assert record(state, "88.100.1/dev-comp-1") is None


def test_an_enterprise_without_a_prefix_is_told_to_allocate_one(state: AppState):
    with state.engine.begin() as conn:
        other = core.create_enterprise(
            conn, uscc=core.make_uscc("91110108MA01ABCD"), name="B", actor="t", verified=True
        )
    with pytest.raises(InvalidInput, match=r"no identifier prefix on node 88\.100"):
        state.platform.devices.create(other.id, compressor(), actor="t")
    with pytest.raises(NotFound):
        state.platform.devices.create(999, compressor(), actor="t")


def test_without_a_node_devices_have_no_identifier(engine: sa.Engine, enterprise: core.Enterprise):
    models = ModelRegistry(engine)
    models.install_library("t")
    reg = DeviceRegistry(engine, models, None)
    d, _ = reg.create(enterprise.id, compressor(), actor="t")
    assert d.identifier == ""
    reg.delete("comp-1", actor="t")
    assert reg.lookup("comp-1") is None


def test_update_relabels_the_identifier(reg: DeviceRegistry, state: AppState, eid: int):
    reg.create(eid, compressor(), actor="t")
    d = reg.update(
        "comp-1",
        {"serial": "SN-002", "tags": "a;b", "location": {"site": "二车间"},
         "connection": {"host": "10.0.0.5"}},
        actor="t",
    )  # fmt: skip
    assert d.serial == "SN-002" and d.tags == ("a", "b") and d.location == {"site": "二车间"}
    assert d.connection == {"host": "10.0.0.5", "port": 502, "unit": 1, "timeout": 3.0}
    values = record(state, "88.100.1/dev-comp-1")
    assert values is not None and values["serial"] == "SN-002"
    assert reg.get("comp-1").serial == "SN-002"
    fresh = DeviceRegistry(state.engine, reg.models, None)
    assert fresh.get("comp-1") == d
    with pytest.raises(InvalidInput, match="unknown device field"):
        reg.update("comp-1", {"id": "comp-9"}, actor="t")
    with pytest.raises(InvalidInput, match="has no opcua forms"):
        reg.update("comp-1", {"protocol": "opcua"}, actor="t")
    assert reg.get("comp-1") == d
    with pytest.raises(NotFound):
        reg.update("comp-9", {"name": "x"}, actor="t")


def test_delete_removes_the_row_and_the_identifier(reg: DeviceRegistry, state: AppState, eid: int):
    _, secret = reg.create(eid, compressor(), actor="t")
    gone = reg.delete("comp-1", actor="t")
    assert gone.id == "comp-1"
    assert rows(state.engine) == [] and record(state, "88.100.1/dev-comp-1") is None
    assert reg.lookup("comp-1") is None and not reg.authenticate("comp-1", secret)
    with pytest.raises(NotFound):
        reg.delete("comp-1", actor="t")


def test_authenticate_rotate_and_given_secrets(reg: DeviceRegistry, eid: int):
    d, secret = reg.create(eid, compressor(secret="factory-secret-0001"), actor="t")
    assert secret == "factory-secret-0001"
    assert reg.authenticate(d.id, secret)
    assert not reg.authenticate(d.id, secret + "x")
    assert not reg.authenticate("nobody", secret)
    new = reg.rotate_secret(d.id, actor="t")
    assert new != secret and reg.authenticate(d.id, new) and not reg.authenticate(d.id, secret)
    other = DeviceRegistry(reg.engine, reg.models, None)  # another process reads the digest
    assert other.authenticate(d.id, new)
    with pytest.raises(NotFound):
        reg.rotate_secret("nobody", actor="t")


def test_lookup_and_model_of_serve_other_processes_writes(reg: DeviceRegistry, eid: int):
    other = DeviceRegistry(reg.engine, reg.models, None)
    assert other.lookup("comp-1") is None  # remembered as unknown for a few seconds
    reg.create(eid, compressor(), actor="t")
    assert other.lookup("comp-1") is None
    other._misses.clear()
    found = other.lookup("comp-1")
    assert isinstance(found, Device) and found.name == "1号空压机"
    model = other.model_of("comp-1")
    assert model is not None and model.id == "indunet:air-compressor"
    assert other.model_of("nobody") is None


def test_reload_if_changed_reads_again_only_after_a_create_change_or_delete(
    reg: DeviceRegistry, eid: int
):
    other = DeviceRegistry(reg.engine, reg.models, None)  # another process on the same tables
    assert other.reload_if_changed() is None  # nothing happened since it was built
    reg.create(eid, compressor(), actor="t")
    made = other.reload_if_changed()
    assert made is not None and [d.id for d in made] == ["comp-1"]
    assert other.reload_if_changed() is None
    reg.set_status("comp-1", True, 1000.0)
    reg.flush_status()  # statuses are not a reason to read every row again
    assert other.reload_if_changed() is None
    reg.update("comp-1", {"name": "改名的空压机"}, actor="t")
    changed = other.reload_if_changed()
    assert changed is not None and changed[0].name == "改名的空压机"
    reg.rotate_secret("comp-1", actor="t")
    assert other.reload_if_changed() is not None
    reg.delete("comp-1", actor="t")
    assert other.reload_if_changed() == []
    assert other.lookup("comp-1") is None


def test_statuses_live_in_memory_until_flushed(reg: DeviceRegistry, state: AppState, eid: int):
    reg.create(eid, compressor(), actor="t")
    reg.create(eid, compressor("comp-2"), actor="t")
    reg.set_status("comp-1", True, 1000.0)
    reg.set_status("nobody", True, 1000.0)
    assert reg.lookup("comp-1").status == "online"  # type: ignore[union-attr]
    assert reg.statuses() == {"comp-1": "online", "comp-2": "unknown"}
    fresh = DeviceRegistry(state.engine, reg.models, None)
    assert fresh.get("comp-1").status == "unknown"
    assert reg.flush_status() == 1
    assert reg.flush_status() == 0
    reg.set_status("comp-1", False, 1005.0)
    reg.set_status("comp-2", True, 1006.0)
    assert reg.flush_status() == 2
    fresh.reload()
    one, two = fresh.get("comp-1"), fresh.get("comp-2")
    assert (one.status, one.last_seen) == ("offline", 1000.0)
    assert (two.status, two.last_seen) == ("online", 1006.0)
    assert [d.id for d in reg.list(status="online")] == ["comp-2"]


def test_last_seen_moves_in_steps_of_a_second(reg: DeviceRegistry, eid: int):
    reg.create(eid, compressor(), actor="t")
    reg.set_status("comp-1", True, 1000.0)
    assert reg.flush_status() == 1
    reg.set_status("comp-1", True, 1000.6)  # every message calls this: nothing to write
    assert reg.get("comp-1").last_seen == 1000.0 and reg.flush_status() == 0
    reg.set_status("comp-1", True, 1001.2)
    assert reg.get("comp-1").last_seen == 1001.2 and reg.flush_status() == 1
    reg.set_status("comp-1", False, 1001.3)  # going offline is never delayed
    assert reg.get("comp-1").status == "offline"


def test_list_filters_by_enterprise_status_and_tag(reg: DeviceRegistry, eid: int):
    reg.create(eid, compressor("a-1", tags=["x"]), actor="t")
    reg.create(eid, compressor("a-2", tags=["y"]), actor="t")
    assert [d.id for d in reg.list()] == ["a-1", "a-2"]
    assert [d.id for d in reg.list(enterprise_id=eid, tag="y")] == ["a-2"]
    assert reg.list(enterprise_id=eid + 1) == []
    assert reg.list(status="online") == []


CSV = """\
id,name,model,host,port,tags,manufacturer,serial,latitude,longitude
m-1,电表1,indunet:power-meter,127.0.0.1,1502,a;b,ACME,S1,24.48,118.09
m-2,电表2,indunet:power-meter,,1502,,,,,
# a comment line
m-3,电表3,indunet:power-meter,127.0.0.1,1502,,,,,
env-1,温湿度,indunet:env-sensor,,,,,,,
m-1,again,indunet:power-meter,127.0.0.1,,,,,,
bad id,x,indunet:power-meter,127.0.0.1,,,,,,
"""


def test_csv_import_keeps_good_rows_and_reports_bad_ones_by_line(
    reg: DeviceRegistry, state: AppState, eid: int
):
    report = reg.import_csv(eid, CSV, actor="t")
    assert (report.total, report.created, report.failed) == (6, 3, 3)
    assert [(line, i) for line, i, _ in report.errors] == [(3, "m-2"), (7, "m-1"), (8, "bad id")]
    assert "needs connection host" in report.errors[0][2]
    assert sorted(report.secrets) == ["env-1", "m-1", "m-3"]
    assert all(reg.authenticate(i, s) for i, s in report.secrets.items())
    m1 = reg.get("m-1")
    assert m1.location == {"latitude": 24.48, "longitude": 118.09} and m1.tags == ("a", "b")
    assert rows(state.engine) == ["env-1", "m-1", "m-3"]
    shape = report.to_json()
    assert shape["errors"][0]["line"] == 3 and {"id", "secret"} <= set(shape["devices"][0])


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("\n# only a comment\n", "the CSV file is empty"),
        ("id,name,model,colour\n", "unknown column(s) colour"),
        ("id,name\n", "the header lacks model"),
        ("id,name,model,name\n", "named twice"),
    ],
)
def test_a_bad_csv_header_refuses_the_whole_file(
    reg: DeviceRegistry, state: AppState, eid: int, text: str, words: str
):
    with pytest.raises(InvalidInput) as exc:
        reg.import_csv(eid, text if "comment" in text else text + "m-1,x,y\n", actor="t")
    assert words in exc.value.message
    assert rows(state.engine) == []


def test_a_row_with_too_many_cells_is_reported(reg: DeviceRegistry, eid: int):
    report = reg.import_csv(eid, "id,name,model\nx-1,a,indunet:env-sensor,extra\n", actor="t")
    assert report.errors == [(2, "", "4 cells but the header names 3 columns")]
