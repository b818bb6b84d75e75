"""`indunet mqtt broker-config`, `acl` and their files: what an external Mosquitto accepts."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from indunet.cli.main import app


def test_acl_writes_password_and_acl_files(tmp_path: Path) -> None:
    pw = tmp_path / "svc.txt"
    pw.write_text("service-secret-123\n")
    out = tmp_path / "mosq"
    res = CliRunner().invoke(
        app,
        ["mqtt", "acl", str(out), "--service-password-file", str(pw),
         "--device", "pump-1=device-secret-0123456789"],
    )  # fmt: skip
    assert res.exit_code == 0, res.output
    users = [line.split(":", 1)[0] for line in (out / "passwd").read_text().splitlines()]
    assert sorted(users) == ["indunet", "pump-1"]
    acl = (out / "acl").read_text()
    assert "pattern write indunet/v1/%u/" in acl
    assert "device-secret" not in (out / "passwd").read_text()  # hashed, never in clear


def test_acl_refuses_a_malformed_device(tmp_path: Path) -> None:
    pw = tmp_path / "svc.txt"
    pw.write_text("service-secret-123")
    res = CliRunner().invoke(
        app,
        ["mqtt", "acl", str(tmp_path / "m"), "--service-password-file", str(pw), "--device", "x"],
    )
    assert res.exit_code == 2
    assert "DEVICE_ID=SECRET" in res.output
    assert not (tmp_path / "m").exists()


def test_broker_config_writes_a_complete_mosquitto_conf(tmp_path: Path) -> None:
    pw = tmp_path / "svc.txt"
    pw.write_text("service-secret-123\n")
    out = tmp_path / "mosq"
    res = CliRunner().invoke(
        app,
        ["mqtt", "broker-config", str(out), "--service-password-file", str(pw),
         "--port", "1884", "--bind", "127.0.0.1", "--run-as", "mosquitto"],
    )  # fmt: skip
    assert res.exit_code == 0, res.output
    conf = (out / "mosquitto.conf").read_text().splitlines()
    for line in (
        "listener 1884 127.0.0.1",
        "max_queued_messages 1000000000",
        "max_queued_bytes 0",
        "max_inflight_messages 1000",
        "persistence true",
        f"persistence_location {out.absolute()}/data/",
        f"password_file {out.absolute()}/passwd",
        f"acl_file {out.absolute()}/acl",
        "user mosquitto",
    ):
        assert line in conf
    assert f"mosquitto -c {out.absolute()}/mosquitto.conf" in res.output


def test_the_acl_command_writes_the_complete_config_too(tmp_path: Path) -> None:
    pw = tmp_path / "svc.txt"
    pw.write_text("service-secret-123\n")
    res = CliRunner().invoke(
        app, ["mqtt", "acl", str(tmp_path / "m"), "--service-password-file", str(pw)]
    )
    assert res.exit_code == 0, res.output
    assert "max_queued_messages 1000000000" in (tmp_path / "m" / "mosquitto.conf").read_text()


def test_a_queue_cap_is_written_with_a_warning(tmp_path: Path) -> None:
    pw = tmp_path / "svc.txt"
    pw.write_text("service-secret-123\n")
    res = CliRunner().invoke(
        app,
        ["mqtt", "broker-config", str(tmp_path / "m"), "--service-password-file", str(pw),
         "--max-queued", "20000"],
    )  # fmt: skip
    assert res.exit_code == 0, res.output
    assert "max_queued_messages 20000" in (tmp_path / "m" / "mosquitto.conf").read_text()
    assert "warning: max_queued_messages 20000" in res.output


def test_bad_broker_settings_change_nothing(tmp_path: Path) -> None:
    pw = tmp_path / "svc.txt"
    pw.write_text("service-secret-123\n")
    res = CliRunner().invoke(
        app,
        ["mqtt", "broker-config", str(tmp_path / "m"), "--service-password-file", str(pw),
         "--session-expiry", "forever"],
    )  # fmt: skip
    assert res.exit_code == 2
    assert "session expiry" in res.output
    assert not (tmp_path / "m").exists()
