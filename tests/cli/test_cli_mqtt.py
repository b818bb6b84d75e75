"""``indunet mqtt acl`` writes files an external Mosquitto accepts."""

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
