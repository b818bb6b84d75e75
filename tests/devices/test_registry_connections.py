"""Connection settings in the registry: every setting the connectors read, typed and checked.

A user tuning a Modbus device (poll interval, retries, read sizes) or an OPC UA device (an
encrypted key, a pinned server certificate, the watchdog) sets it on the device through the
API, the CLI or a CSV file; bad values are refused and nothing is stored; secrets stay masked.
"""

from __future__ import annotations

from typing import Any

import pytest
import sqlalchemy as sa

from indunet import core, ids
from indunet.core import InvalidInput
from indunet.devices import DeviceRegistry
from indunet.web import AppState

TUNED = {
    "host": "10.0.4.20",
    "port": 1502,
    "unit": 3,
    "timeout": 0.8,
    "retries": 2,
    "poll_interval": 0.5,
    "max_gap": 4,
    "max_block": 60,
    "max_bits": 512,
    "offline_after": 6,
}
SECURE = {
    "endpoint": "opc.tcp://10.0.4.31:4840/cnc",
    "security_policy": "Aes256_Sha256_RsaPss",
    "security_mode": "Sign",
    "certificate": "/etc/indunet/client.der",
    "private_key": "/etc/indunet/client.pem",
    "private_key_password": "key-pass-123",
    "server_certificate": "/etc/indunet/server.der",
    "application_uri": "urn:indunet:client",
    "username": "op",
    "password": "pw-123456",
    "timeout": 10.0,
    "watchdog_interval": 5.0,
}


@pytest.fixture
def reg(state: AppState, allocation: ids.Allocation) -> DeviceRegistry:
    devices: DeviceRegistry = state.platform.devices
    return devices


@pytest.fixture
def eid(enterprise: core.Enterprise) -> int:
    return enterprise.id


def compressor(**connection: Any) -> dict[str, Any]:
    conn = {"host": "10.0.4.20", **connection}
    return {"id": "comp-1", "name": "空压机", "model": "indunet:air-compressor", "connection": conn}


def cnc(**connection: Any) -> dict[str, Any]:
    conn = {"endpoint": "opc.tcp://10.0.4.31:4840", **connection}
    return {"id": "cnc-1", "name": "加工中心", "model": "indunet:cnc-machine", "connection": conn}


def stored(state: AppState) -> int:
    with state.engine.connect() as conn:
        return int(conn.execute(sa.text("SELECT count(*) FROM dev_devices")).scalar_one())


def test_every_modbus_setting_of_the_connector_is_kept(reg: DeviceRegistry, eid: int):
    spec = {**compressor(), "connection": TUNED}
    d, _ = reg.create(eid, spec, actor="t")
    assert d.connection == TUNED
    reg.reload()
    assert reg.get("comp-1").connection == TUNED
    changed = reg.update("comp-1", {"connection": {**TUNED, "poll_interval": 2}}, actor="t")
    assert changed.connection["poll_interval"] == 2.0


def test_every_opc_ua_setting_is_kept_and_the_secrets_are_masked(reg: DeviceRegistry, eid: int):
    d, _ = reg.create(eid, {**cnc(), "connection": SECURE}, actor="t")
    assert d.connection == SECURE  # the connector needs the real values
    shown = d.to_json()["connection"]
    masked = {"private_key", "private_key_password", "password"}
    assert {k for k, v in shown.items() if v == "***"} == masked
    assert {k: v for k, v in shown.items() if k not in masked} == {
        k: v for k, v in SECURE.items() if k not in masked
    }


def test_csv_cells_become_typed_settings(reg: DeviceRegistry, eid: int):
    csv = (
        "id,name,model,host,port,retries,poll_interval,offline_after\n"
        "m-1,电表,indunet:power-meter,10.0.4.21,1502,1,0.25,4\n"
    )
    report = reg.import_csv(eid, csv, actor="t")
    assert (report.created, report.failed) == (1, 0), report.errors
    conn = reg.get("m-1").connection
    assert conn == {
        "host": "10.0.4.21",
        "port": 1502,
        "unit": 1,
        "timeout": 3.0,
        "retries": 1,
        "poll_interval": 0.25,
        "offline_after": 4,
    }
    opc = "id,name,model,endpoint,watchdog_interval,timeout\ncnc-1,x,indunet:cnc-machine,"
    report = reg.import_csv(eid, opc + "opc.tcp://h:4840,2,6\n", actor="t")
    assert report.created == 1, report.errors
    assert reg.get("cnc-1").connection["watchdog_interval"] == 2.0


@pytest.mark.parametrize(
    ("spec", "words"),
    [
        (compressor(retries=11), "connection retries 11 must be a whole number from 0 to 10"),
        (compressor(poll_interval=0), "connection poll_interval 0 must be 0.01 to 86400 seconds"),
        (compressor(offline_after=0), "offline_after 0"),
        (compressor(max_block=126), "max_block 126"),
        (compressor(max_bits=True), "max_bits True"),
        (compressor(max_gap="many"), "max_gap 'many'"),
        (compressor(timeout=61), "timeout 61"),
        (compressor(baud=9600), "unknown modbus connection setting(s) baud; known: host, port"),
        (cnc(watchdog_interval="fast"), "watchdog_interval 'fast' must be 0.1 to 300 seconds"),
        (cnc(timeout=0.05), "timeout 0.05"),
        (cnc(private_key_password="x"), "need a security_policy other than None"),
        (cnc(server_certificate=["a"]), "server_certificate must be text"),
        (cnc(endpoint="opc.tcp://plc/"), "needs connection endpoint opc.tcp://host:port"),
        (cnc(endpoint="opc.tcp://plc:70000/"), "needs connection endpoint"),
        (cnc(poll_interval=1), "unknown opcua connection setting(s) poll_interval"),
    ],
)
def test_bad_settings_are_refused_and_nothing_is_stored(
    reg: DeviceRegistry, state: AppState, eid: int, spec: dict[str, Any], words: str
):
    with pytest.raises(InvalidInput) as exc:
        reg.create(eid, spec, actor="t")
    assert words in exc.value.message
    assert stored(state) == 0


def test_a_bad_setting_in_an_update_changes_nothing(reg: DeviceRegistry, eid: int):
    reg.create(eid, {**compressor(), "connection": TUNED}, actor="t")
    with pytest.raises(InvalidInput, match="retries -1"):
        reg.update("comp-1", {"connection": {**TUNED, "retries": -1}}, actor="t")
    reg.reload()
    assert reg.get("comp-1").connection == TUNED
