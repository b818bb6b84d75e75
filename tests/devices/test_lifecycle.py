"""A device's online/offline history, its gaps, and the silent-HTTP-device rule."""

from __future__ import annotations

import pytest

from indunet import core, ids
from indunet.devices import DeviceRegistry, Gap
from indunet.web import AppState

T = 1_714_550_400.0  # 2024-05-01T08:00:00Z, in seconds like last_seen
MS = 1000


@pytest.fixture
def reg(state: AppState, allocation: ids.Allocation) -> DeviceRegistry:
    devices: DeviceRegistry = state.platform.devices
    return devices


@pytest.fixture
def http_device(reg: DeviceRegistry, enterprise: core.Enterprise) -> str:
    spec = {"id": "gw-1", "name": "gateway", "model": "indunet:env-sensor", "protocol": "http"}
    reg.create(enterprise.id, spec, actor="test")
    return "gw-1"


def test_status_changes_are_recorded_with_their_times(
    reg: DeviceRegistry, http_device: str
) -> None:
    reg.set_status(http_device, True, T)
    reg.set_status(http_device, True, T + 5)  # still online: no change
    reg.set_status(http_device, False, T + 60)
    reg.set_status(http_device, True, T + 120)
    reg.flush_status()
    changes = reg.status_history(http_device)
    assert [(c.status, c.at) for c in changes] == [
        ("online", T + 120),
        ("offline", T + 60),
        ("online", T),
    ]
    assert changes[0].to_json()["at"] == "2024-05-01T08:02:00+00:00"
    assert [c.status for c in reg.status_history(http_device, since=T + 60)] == [
        "online",
        "offline",
    ]


def test_gaps_are_the_offline_stretches_cut_to_the_window(
    reg: DeviceRegistry, http_device: str
) -> None:
    for online, at in [(True, T), (False, T + 60), (True, T + 120), (False, T + 300)]:
        reg.set_status(http_device, online, at)
    reg.flush_status()
    start, end = int(T * MS), int((T + 600) * MS)
    assert reg.gaps(http_device, start, end) == [
        Gap(int((T + 60) * MS), int((T + 120) * MS)),
        Gap(int((T + 300) * MS), None),  # still offline
    ]
    # a window that starts inside an outage starts its gap at the window
    inside = int((T + 90) * MS)
    assert reg.gaps(http_device, inside, int((T + 200) * MS)) == [Gap(inside, int((T + 120) * MS))]
    assert reg.gaps(http_device, int((T + 130) * MS), int((T + 200) * MS)) == []
    # a window that ends inside an outage that later ended: cut there, not "still offline"
    assert reg.gaps(http_device, start, int((T + 90) * MS)) == [
        Gap(int((T + 60) * MS), int((T + 90) * MS))
    ]


def test_silent_http_devices_go_offline_dated_at_their_last_post(
    reg: DeviceRegistry, http_device: str, enterprise: core.Enterprise
) -> None:
    modbus = {"id": "plc-1", "name": "plc", "model": "indunet:air-compressor"}
    reg.create(enterprise.id, modbus | {"connection": {"host": "127.0.0.1"}}, actor="test")
    reg.set_status(http_device, True, T)
    reg.set_status("plc-1", True, T)  # a Modbus device's connection says when it goes
    assert reg.expire_silent(T + 299) == 0
    assert reg.expire_silent(T + 301) == 1
    assert reg.get(http_device).status == "offline" and reg.get("plc-1").status == "online"
    assert reg.expire_silent(T + 400) == 0  # already offline
    reg.flush_status()
    newest = reg.status_history(http_device)[0]
    assert (newest.status, newest.at) == ("offline", T)


def test_history_of_a_deleted_device_is_not_the_next_owners(
    reg: DeviceRegistry, http_device: str, state: AppState, enterprise: core.Enterprise
) -> None:
    reg.set_status(http_device, True, T)
    reg.flush_status()
    reg.delete(http_device, actor="test")
    assert reg.pending_purges() == [(http_device, enterprise.id)]
    reg.purge_done(http_device)
    assert reg.pending_purges() == []
    with state.engine.begin() as conn:
        other = core.create_enterprise(
            conn, uscc=core.make_uscc("91110108MA01ABCD"), name="乙", actor="test", verified=True
        )
    ids.allocate(state.hierarchy.front, "88.100.2", other, actor="test", secret="another-secret")
    spec = {"id": http_device, "name": "new", "model": "indunet:env-sensor", "protocol": "http"}
    reg.create(other.id, spec, actor="test")
    assert reg.status_history(http_device) == []
