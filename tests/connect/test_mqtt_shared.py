"""Several connectors on one broker: client ids, share group and the filters each subscribes."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from tests.connect.test_mqtt_support import METER, RecordingSink

from indunet.connect import DeviceLink
from indunet.connect.mqtt import SERVICE_CLIENT_ID, MqttConfig, MqttConnector, write_mosquitto_files
from indunet.connect.mqtt.acl import OPEN_SHARE_GROUP, share_group
from indunet.connect.mqtt.client import wire_filter
from indunet.core import InvalidInput, Settings

URL = "mqtt://indunet:svc-pw@127.0.0.1:1883"
STANDARD = [
    "indunet/v1/+/telemetry",
    "indunet/v1/+/commands/result",
    "indunet/v1/+/status",
]


def config(tmp_path: Path, **kw: Any) -> MqttConfig:
    return MqttConfig.from_settings(Settings(data_dir=tmp_path, mqtt_url=URL, **kw))


async def sent_filters(cfg: MqttConfig, *links: DeviceLink) -> list[str]:
    """The topic filters a connector with ``cfg`` hands paho once it is connected."""
    conn = MqttConnector(cfg, RecordingSink())
    client = conn.client
    assert client is not None
    sent: list[str] = []
    client._client.subscribe = lambda pairs: sent.extend(t for t, _ in pairs)  # type: ignore[method-assign,assignment,misc]
    client.connected = True  # as after CONNACK, without a broker
    client.subscribe(conn.router.standard_subscriptions() + conn.router.extra_subscriptions())
    for link in links:
        conn.add(link)
    await asyncio.sleep(0)
    return sent


async def test_role_all_keeps_its_one_client_id_and_plain_filters(tmp_path: Path) -> None:
    cfg = config(tmp_path)  # role all (the default)
    assert (cfg.client_id, cfg.share_group) == (SERVICE_CLIENT_ID, None)
    assert cfg.client_id == "indunet-platform"
    assert await sent_filters(cfg) == STANDARD


async def test_connectors_have_own_ids_and_share_device_traffic_only(tmp_path: Path) -> None:
    first = config(tmp_path, role="connector", shard="0/2")
    second = config(tmp_path, role="connector", shard="1/2")
    assert (first.client_id, second.client_id) == ("indunet-connector-0", "indunet-connector-1")
    group = first.share_group
    assert group is not None and group == second.share_group
    assert await sent_filters(second) == [
        f"$share/{group}/indunet/v1/+/telemetry",
        "indunet/v1/+/commands/result",  # every connector: the one that sent the command takes it
        "indunet/v1/+/status",  # every connector knows which devices are offline
    ]


def test_other_roles_and_the_embedded_endpoint_do_not_share(tmp_path: Path) -> None:
    for role in ("api", "worker"):
        assert config(tmp_path, role=role).share_group is None
    embedded = MqttConfig.from_settings(Settings(data_dir=tmp_path, role="connector"))
    assert (embedded.mode, embedded.share_group) == ("embedded", None)


def test_device_traffic_is_shared_results_and_statuses_are_not() -> None:
    assert wire_filter("indunet/v1/+/telemetry", "g") == "$share/g/indunet/v1/+/telemetry"
    assert wire_filter("indunet/v1/d1/gps", "g") == "$share/g/indunet/v1/d1/gps"
    assert wire_filter("indunet/v1/+/commands/result", "g") == "indunet/v1/+/commands/result"
    assert wire_filter("indunet/v1/+/status", "g") == "indunet/v1/+/status"
    assert wire_filter("indunet/v1/+/telemetry", None) == "indunet/v1/+/telemetry"


def test_the_share_group_is_a_secret_of_the_service_credentials() -> None:
    group = share_group("indunet", "svc-pw")
    assert group.startswith("indunet-") and len(group) == len("indunet-") + 12
    assert not any(c in group for c in "/+#")
    assert group == share_group("indunet", "svc-pw")  # every connector computes the same
    assert group != share_group("indunet", "other-pw")
    assert group != share_group("other", "svc-pw")
    assert "svc-pw" not in group
    assert share_group("indunet", None) == share_group(None, "") == OPEN_SHARE_GROUP


@pytest.mark.parametrize("group", ["", "a/b", "a+", "#"])
def test_a_share_group_that_is_no_mqtt_level_is_refused(group: str) -> None:
    with pytest.raises(InvalidInput, match="share group"):
        MqttConfig(share_group=group)


def test_the_written_acl_lets_the_service_user_read_through_its_group(tmp_path: Path) -> None:
    files = write_mosquitto_files(tmp_path, service_user="indunet", service_password="svc-pw")
    acl = files.acl_file.read_text()
    group = share_group("indunet", "svc-pw")
    assert f"topic read $share/{group}/indunet/v1/#\n" in acl
    assert acl.index("user indunet") < acl.index(f"$share/{group}") < acl.index("pattern")


async def test_model_topics_are_shared_too(tmp_path: Path) -> None:
    cfg = config(tmp_path, role="connector", shard="0/1")
    sent = await sent_filters(cfg, DeviceLink("d1", METER))  # METER's lat/lon come on .../gps
    assert f"$share/{cfg.share_group}/indunet/v1/d1/gps" in sent
    assert "indunet/v1/d1/gps" not in sent
