"""``indunet mqtt broker-check`` measures a real Mosquitto's limits and names the ones that lose data."""

from __future__ import annotations

import getpass
from pathlib import Path

import pytest
from tests.integration.servers import free_port
from tests.integration.test_mqtt_mosquitto import mosquitto, needs_binary
from typer.testing import CliRunner

from indunet.cli.main import app
from indunet.connect.mqtt import (
    BrokerSettings,
    BrokerUnreachable,
    BrokerUrl,
    check_broker,
    write_mosquitto_files,
)


def files_at(tmp_path: Path, port: int) -> Path:
    files = write_mosquitto_files(
        tmp_path / "mosquitto",
        service_user="indunet",
        service_password="svc-pw",
        broker=BrokerSettings(port=port, bind="127.0.0.1", run_as=getpass.getuser()),
    )
    return files.config_file


@needs_binary
def test_the_generated_configuration_passes(tmp_path: Path) -> None:
    port = free_port()
    with mosquitto(tmp_path / "broker", conf=files_at(tmp_path, port), port=port):
        report = check_broker(BrokerUrl.parse(f"mqtt://indunet:svc-pw@127.0.0.1:{port}"))
    assert report.problems == []
    assert report.receive_maximum == 1000
    assert report.kept == report.queued == 5000
    assert report.version is not None and report.version.startswith("mosquitto version")


@needs_binary
def test_mosquittos_defaults_are_reported_with_what_they_lose(tmp_path: Path) -> None:
    conf = files_at(tmp_path, 1883)
    auth = "".join(
        line + "\n"
        for line in conf.read_text().splitlines()
        if line.startswith(("password_", "acl_"))
    )
    with mosquitto(tmp_path / "broker", "allow_anonymous false\n" + auth) as broker:
        url = f"mqtt://indunet:svc-pw@127.0.0.1:{broker.port}"
        res = CliRunner().invoke(app, ["mqtt", "broker-check", url, "--count", "3000"])
    assert res.exit_code == 1, res.output
    assert "max_inflight_messages: 20" in res.output
    assert "PROBLEM: max_inflight_messages is 20" in res.output
    assert "PROBLEM: an absent session kept only" in res.output
    assert "of 3000 messages" in res.output


@needs_binary
def test_a_wrong_password_is_a_clear_error(tmp_path: Path) -> None:
    port = free_port()
    with mosquitto(tmp_path / "broker", conf=files_at(tmp_path, port), port=port):
        with pytest.raises(BrokerUnreachable, match="refused the login"):
            check_broker(BrokerUrl.parse(f"mqtt://indunet:nope@127.0.0.1:{port}"), timeout=5)
        res = CliRunner().invoke(
            app, ["mqtt", "broker-check", f"mqtt://indunet:nope@127.0.0.1:{port}"]
        )
    assert res.exit_code == 2
    assert "refused the login" in res.output
