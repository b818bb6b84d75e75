"""The file `indunet mqtt broker-config` writes with its defaults starts a real Mosquitto that
runs as root and drops to its own account: the private files must be that account's."""

from __future__ import annotations

import os
import pwd
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import paho.mqtt.client as paho
import pytest
from tests.integration.servers import free_port
from tests.integration.test_mqtt_mosquitto import mosquitto

from indunet.connect.mqtt import BrokerSettings, write_mosquitto_files

pytestmark = pytest.mark.integration


@pytest.fixture
def broker_dir() -> Iterator[Path]:
    """A directory the broker's account can reach (pytest's tmp_path is root's alone)."""
    base = Path(tempfile.mkdtemp(prefix="indunet-broker-"))
    base.chmod(0o755)
    try:
        yield base / "broker"
    finally:
        shutil.rmtree(base, ignore_errors=True)


def test_the_default_file_starts_a_broker_that_drops_root(broker_dir: Path) -> None:
    if os.geteuid() != 0:
        pytest.skip("the broker drops to another account only when started as root")
    try:
        account = pwd.getpwnam("mosquitto")
    except KeyError:
        pytest.skip("no mosquitto account on this machine (Debian's package makes it)")
    port = free_port()
    files = write_mosquitto_files(
        broker_dir,
        service_user="indunet",
        service_password="service-secret-1",
        devices={"env-0001": "device-secret-1"},
        broker=BrokerSettings(port=port, bind="127.0.0.1"),  # run_as left at its default
    )
    for path in (files.password_file, files.acl_file, files.data_dir):
        assert path.stat().st_uid == account.pw_uid, path
        assert path.stat().st_mode & 0o077 == 0, path  # still private
    with mosquitto(broker_dir.parent / "logs", conf=files.config_file, port=port):
        client = paho.Client(paho.CallbackAPIVersion.VERSION2, client_id="env-0001")
        client.username_pw_set("env-0001", "device-secret-1")
        assert client.connect("127.0.0.1", port) == 0
        client.loop_start()
        try:
            info = client.publish("indunet/v1/env-0001/telemetry", b'{"temperature": 1}', qos=1)
            info.wait_for_publish(5)
            assert info.is_published()
        finally:
            client.loop_stop()
            client.disconnect()
