"""Sources: the platform's device registry (sync, deletions marked) and passive discovery
from the sensor's ``ot.transaction`` events, with Modbus 43/14, OPC UA, S7 and ENIP
identification."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from indunet import core, ids
from indunet.devices import DeviceRegistry
from indunet.security import Hub, Security, SecurityEvent
from indunet.security.assets import Assets, DeviceSync, Discovery, Observation
from indunet.security.assets.service import Inventory
from indunet.security.sensor.records import Transaction
from indunet.web import AppState


def _admin(engine: sa.Engine, eid: int | None) -> core.User:
    role = core.Role.ENTERPRISE_ADMIN if eid is not None else core.Role.PLATFORM_ADMIN
    with engine.begin() as conn:
        return core.create_user(
            conn,
            username=f"adm{eid}",
            password="a-long-password",
            role=role,
            actor="t",
            enterprise_id=eid,
        )


def test_device_registry_sync(
    state: AppState, allocation: ids.Allocation, enterprise: core.Enterprise
) -> None:
    reg: DeviceRegistry = state.platform.devices  # type: ignore[union-attr]
    spec = {
        "id": "comp-1",
        "name": "1号空压机",
        "model": "indunet:air-compressor",
        "connection": {"host": "192.168.10.21", "port": 502},
        "manufacturer": "厦门压缩机",
        "serial": "SN-001",
        "location": {"site": "厦门", "line": "L2"},
    }
    device, _ = reg.create(enterprise.id, spec, actor="t")
    store = Assets(state.engine)
    sync = DeviceSync(store, reg)
    assert sync.sync() == (1, 0, 0)
    assert sync.sync() == (0, 0, 0)  # unchanged: nothing written
    admin = _admin(state.engine, enterprise.id)
    [a] = store.page(admin)[0]
    assert (a.name, a.vendor, a.serial) == ("1号空压机", "厦门压缩机", "SN-001")
    assert a.model and a.model_numbers[0].startswith("indunet:air-compressor@")
    assert a.protocols == ["modbus"] and a.ips == ["192.168.10.21"] and a.ports == [502]
    assert a.device_id == "comp-1" and a.identifier == device.identifier != ""
    assert a.location == "厦门 L2" and list(a.sources) == ["platform"]
    # the sensor sees the same host: one asset
    store.observe(
        [
            Observation(
                enterprise.id,
                "observation",
                {"ips": ["192.168.10.21"], "macs": ["00:80:f4:00:00:01"]},
            )
        ]
    )
    assert store.page(admin)[1] == 1
    reg.update("comp-1", {"name": "1号空压机（新）"}, actor="t")
    assert sync.sync() == (0, 1, 0)
    reg.delete("comp-1", actor="t")
    assert sync.sync() == (0, 0, 1)
    [a] = store.page(admin)[0]
    assert a.device_deleted and a.name == "1号空压机（新）" and a.macs == ["00:80:f4:00:00:01"]


def tx(**kw: object) -> SecurityEvent:
    base: dict[str, object] = {
        "ts": 1_765_000_000.0,
        "protocol": "modbus",
        "src_ip": "10.1.0.20",
        "src_port": 40001,
        "dst_ip": "10.1.0.10",
        "dst_port": 502,
        "function": 3,
        "function_name": "read_holding_registers",
        "src_mac": "00:0c:29:00:00:20",
        "dst_mac": "00:80:f4:00:00:10",
    }
    base.update(kw)
    return Transaction(**base).to_event("sensor-1", enterprise_id=EID[0])  # type: ignore[arg-type]


EID: list[int | None] = [None]


async def test_passive_discovery_and_identification(
    state: AppState, enterprise: core.Enterprise
) -> None:
    EID[0] = enterprise.id
    store = Assets(state.engine)
    disc = Discovery(store, flush_s=3600)
    await disc.handle([tx(), tx(ts=1_765_000_001.0)])
    await disc.handle(
        [
            tx(function=6, function_name="write_single_register", write=True),
            tx(
                function=43,
                function_name="read_device_identification",
                details={
                    "VendorName": "Schneider Electric",
                    "ProductCode": "BMX P34 2020",
                    "MajorMinorRevision": "v3.10",
                    "ProductName": "Modicon M340",
                    "ModelName": "BMX P34 2020",
                },
            ),
        ]
    )
    assert await disc.flush() == 2
    admin = _admin(state.engine, enterprise.id)
    plc = store.by_ip(enterprise.id, "10.1.0.10")
    hmi = store.by_ip(enterprise.id, "10.1.0.20")
    assert plc is not None and hmi is not None
    assert (plc.role, plc.asset_type, plc.protocols, plc.ports) == (
        "server",
        "A0003",
        ["modbus"],
        [502],
    )
    assert plc.macs == ["00:80:f4:00:00:10"]
    assert (plc.vendor, plc.model, plc.firmware) == ("Schneider Electric", "BMX P34 2020", "v3.10")
    assert plc.model_numbers == ["BMX P34 2020"] and plc.provenance["vendor"] == "identification"
    assert (hmi.role, hmi.asset_type) == ("client", "A0002")  # it writes: an HMI
    assert hmi.ports == []
    peer = plc.peers[0]
    assert (peer["ip"], peer["dir"], peer["count"]) == ("10.1.0.20", "in", 4)
    assert plc.last_seen is not None and plc.last_seen.timestamp() == 1_765_000_001.0
    assert plc.first_seen is not None
    detail = store.get(admin, plc.id)
    assert [m.source for m in reversed(detail.merges)] == ["observation", "identification"]
    # a person's value outranks what the device says; the device's is kept as alternative
    store.update(admin, plc.id, {"vendor": "施耐德电气", "criticality": "critical"})
    await disc.handle(
        [
            tx(
                function=43,
                function_name="read_device_identification",
                details={"VendorName": "Schneider Electric"},
            )
        ]
    )
    await disc.flush()
    plc = store.by_ip(enterprise.id, "10.1.0.10")
    assert plc is not None and plc.vendor == "施耐德电气" and plc.criticality == "critical"
    assert plc.alternatives["vendor"][-1]["value"] == "Schneider Electric"


async def test_other_protocols_identify(state: AppState, enterprise: core.Enterprise) -> None:
    EID[0] = enterprise.id
    store = Assets(state.engine)
    disc = Discovery(store, flush_s=3600)
    await disc.handle(
        [
            tx(
                dst_ip="10.1.0.11",
                dst_mac=None,
                protocol="s7comm",
                dst_port=102,
                function=0,
                function_name="szl_read",
                details={
                    "order_number": "6ES7 315-2EH14-0AB0",
                    "firmware": "V3.2.6",
                    "module_type": "CPU 315-2 PN/DP",
                    "serial_number": "S C-H1234",
                },
            ),
            tx(
                dst_ip="10.1.0.12",
                dst_mac=None,
                protocol="enip",
                dst_port=44818,
                function=0x63,
                function_name="list_identity",
                details={
                    "vendor_id": 1,
                    "product_name": "1756-L71/B LOGIX5571",
                    "product_code": 54,
                    "revision": "20.11",
                    "serial_number": 0x00C0FFEE,
                },
            ),
            tx(
                dst_ip="10.1.0.13",
                dst_mac=None,
                protocol="opcua",
                dst_port=4840,
                function=0,
                function_name="GetEndpoints",
                details={
                    "manufacturerName": "Prosys OPC",
                    "productName": "Simulation Server",
                    "softwareVersion": "5.4.6",
                    "buildNumber": "148",
                    "applicationUri": "urn:line2-gw:OPCUA:SimulationServer",
                },
            ),
            tx(
                dst_ip="10.1.0.14",
                dst_mac=None,
                protocol="dnp3",
                dst_port=20000,
                function=1,
                function_name="read",
                details={"outstation_address": 10},
            ),
            tx(
                dst_ip="10.1.0.15",
                dst_mac=None,
                protocol="enip",
                dst_port=44818,
                function=0x63,
                function_name="list_identity",
                details={"vendor_id": [1], "product_name": "\x00\x01"},
            ),
        ]
    )
    await disc.flush()
    s7 = store.by_ip(enterprise.id, "10.1.0.11")
    assert s7 is not None and (s7.vendor, s7.model, s7.firmware, s7.serial) == (
        "Siemens",
        "CPU 315-2 PN/DP",
        "V3.2.6",
        "S C-H1234",
    )
    assert s7.model_numbers == ["6ES7 315-2EH14-0AB0"]
    ab = store.by_ip(enterprise.id, "10.1.0.12")
    assert ab is not None and (ab.vendor, ab.model, ab.firmware, ab.serial) == (
        "Rockwell Automation/Allen-Bradley",
        "1756-L71/B LOGIX5571",
        "20.11",
        "00c0ffee",
    )
    ua = store.by_ip(enterprise.id, "10.1.0.13")
    assert ua is not None and (ua.vendor, ua.firmware, ua.hostname) == (
        "Prosys OPC",
        "5.4.6 build 148",
        "line2-gw",
    )
    rtu = store.by_ip(enterprise.id, "10.1.0.14")
    assert rtu is not None and rtu.asset_type == "A0004" and rtu.model_numbers == ["dnp3:10"]
    junk = store.by_ip(enterprise.id, "10.1.0.15")
    assert junk is not None and junk.vendor == "" and junk.model == ""


async def test_router_macs_bounded_memory_and_the_hub(
    state: AppState, enterprise: core.Enterprise
) -> None:
    EID[0] = enterprise.id
    store = Assets(state.engine)
    disc = Discovery(store, flush_s=3600, max_pending=4)
    router = "00:00:5e:00:01:01"
    events = [tx(dst_ip=f"10.9.0.{i}", dst_mac=router, src_ip="10.1.0.20") for i in range(1, 9)]
    await disc.handle(events)
    assert len(disc._pending) <= 4 and disc.stats.hosts_written >= 4  # flushed when full
    await disc.flush()
    with state.engine.connect() as conn:
        macs = (
            conn.execute(sa.text("SELECT value FROM security_asset_keys WHERE kind='mac'"))
            .scalars()
            .all()
        )
    assert macs.count(router) <= 4  # attached to the first few addresses only, then recognised
    # through the hub: the service's part subscribes as "assets"
    hub = Hub()
    inv = Inventory(state.engine, hub)
    await hub.start()
    await inv.start()
    hub.offer([tx(dst_ip="10.1.0.99")])
    await hub.drained()
    await inv.stop()
    await hub.stop()
    assert store.by_ip(enterprise.id, "10.1.0.99") is not None


async def test_a_failing_write_is_counted_and_the_loop_goes_on(
    state: AppState, enterprise: core.Enterprise, monkeypatch: pytest.MonkeyPatch
) -> None:
    EID[0] = enterprise.id
    store = Assets(state.engine)
    disc = Discovery(store, flush_s=0.01)

    def broken(*a: object, **k: object) -> int:
        raise RuntimeError("database gone")

    monkeypatch.setattr(store, "observe", broken)
    await disc.start()
    await disc.handle([tx()])
    from tests.conftest import until

    await until(lambda: disc.stats.flush_failures >= 1, what="a failed flush")
    monkeypatch.undo()
    await disc.handle([tx()])
    await until(lambda: store.by_ip(enterprise.id, "10.1.0.10") is not None, what="a flush")
    await disc.stop()


def test_security_service_has_the_part(state: AppState) -> None:
    svc = state.services["security"]
    assert isinstance(svc, Security)
    inv = svc.part("assets")
    assert isinstance(inv, Inventory) and inv.sync is not None
    from indunet.security.service import metric_lines

    inv.discovery.stats.hosts_written = 7
    assert 'indunet_security_assets_discovery_total{what="hosts_written"} 7' in metric_lines(state)


def test_the_sensors_nested_details_identify_too() -> None:
    """The shapes the sensor (security.sensor) writes: sections per protocol."""
    from indunet.security.assets import identify

    modbus = identify(
        "modbus",
        {
            "device_identification": {
                "VendorName": "Schneider Electric",
                "ProductCode": "BMX P34",
                "MajorMinorRevision": "v3.1",
            }
        },
    )
    assert modbus == {
        "vendor": "Schneider Electric",
        "model": "BMX P34",
        "firmware": "v3.1",
        "model_numbers": ["BMX P34"],
    }
    enip = identify(
        "enip",
        {
            "identity": {
                "vendor_id": 47,
                "product_code": 1,
                "revision": "2.4",
                "serial_number": "0x00C0FFEE",
                "product_name": "NJ501",
            }
        },
    )
    assert (enip["vendor"], enip["serial"], enip["model"]) == ("Omron", "00c0ffee", "NJ501")
    s7 = identify(
        "s7comm",
        {
            "module_identification": {"order_number": "6ES7 516-3AN01-0AB0", "firmware": "V2.9.4"},
            "component_identification": {
                "module_type": "CPU 1516-3 PN/DP",
                "serial_number": "S V-L9A12345",
                "plc_name": "S71500/ET200MP station_1",
            },
        },
    )
    assert (s7["model"], s7["firmware"], s7["serial"]) == (
        "CPU 1516-3 PN/DP",
        "V2.9.4",
        "S V-L9A12345",
    )
    ua = identify(
        "opcua",
        {
            "build_info": {
                "ManufacturerName": "Siemens AG",
                "ProductName": "SIMATIC S7-1500 OPC UA",
                "SoftwareVersion": "V2.9",
                "BuildNumber": "2.9.4",
            },
            "server": {
                "application_uri": "urn:plc-7:SIMATIC.S7-1500.OPC-UA.Application",
                "product_uri": "urn:Siemens.S7-1500",
            },
        },
    )
    assert (ua["vendor"], ua["firmware"], ua["hostname"]) == (
        "Siemens AG",
        "V2.9 build 2.9.4",
        "plc-7",
    )
    assert ua["model_numbers"] == ["urn:Siemens.S7-1500"]
    assert identify("dnp3", {"source": 1}, unit=10) == {"model_numbers": ["dnp3:10"]}
    assert identify("modbus", {"device_identification": "junk"}) == {}
