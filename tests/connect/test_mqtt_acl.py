"""Topic rights of devices, and the Mosquitto password and ACL files."""

from __future__ import annotations

import shutil
import stat
import subprocess
from pathlib import Path

import pytest

from indunet.connect.mqtt import (
    may_publish,
    may_subscribe,
    mosquitto_acl,
    mosquitto_hash,
    set_mosquitto_passwords,
    verify_mosquitto_hash,
    write_mosquitto_files,
)
from indunet.core import InvalidInput


@pytest.mark.parametrize(
    ("topic", "allowed"),
    [
        ("indunet/v1/a/telemetry", True),
        ("indunet/v1/a/commands/result", True),
        ("indunet/v1/a/status", True),
        ("indunet/v1/a/gps", True),  # declared by its model
        ("indunet/v1/a/other", False),
        ("indunet/v1/a/commands", False),  # its inbox, written by Indunet only
        ("indunet/v1/b/telemetry", False),
        ("indunet/v1/ab/telemetry", False),
        ("indunet/v1/a", False),
        ("factory/a/telemetry", False),
    ],
)
def test_device_publishes_only_under_its_own_topics(topic: str, allowed: bool) -> None:
    assert may_publish("a", topic, {"indunet/v1/a/gps", "indunet/v1/b/gps"}) is allowed


def test_model_topic_of_another_device_is_not_a_right() -> None:
    assert not may_publish("a", "indunet/v1/b/gps", {"indunet/v1/b/gps"})


def test_device_subscribes_only_to_its_own_commands() -> None:
    assert may_subscribe("a", "indunet/v1/a/commands")
    for flt in ("indunet/v1/b/commands", "indunet/v1/+/commands", "indunet/v1/a/#", "#"):
        assert not may_subscribe("a", flt)


def test_our_hash_has_mosquitto_passwd_shape_and_verifies() -> None:
    hashed = mosquitto_hash("pa:ss word", salt=b"0123456789ab")
    _, kind, rounds, salt, digest = hashed.split("$")
    assert (kind, rounds, salt) == ("7", "101", "MDEyMzQ1Njc4OWFi")
    assert len(digest) == 88  # base64 of 64 bytes
    assert verify_mosquitto_hash("pa:ss word", hashed)
    assert not verify_mosquitto_hash("pass word", hashed)
    assert not verify_mosquitto_hash("x", "garbage")


@pytest.mark.skipif(not shutil.which("mosquitto_passwd"), reason="mosquitto_passwd not installed")
def test_hashes_written_by_mosquitto_passwd_verify(tmp_path: Path) -> None:
    path = tmp_path / "pw"
    path.touch()
    cmd = ["mosquitto_passwd", "-b", str(path), "dev-a", "s3cret"]
    subprocess.run(cmd, check=True, timeout=10, capture_output=True)
    user, hashed = path.read_text().strip().split(":", 1)
    assert user == "dev-a"
    assert verify_mosquitto_hash("s3cret", hashed)
    assert not verify_mosquitto_hash("other", hashed)


def test_files_are_written_with_every_user_and_private_mode(tmp_path: Path) -> None:
    files = write_mosquitto_files(
        tmp_path / "mq", service_user="indunet", service_password="svc", devices={"dev-a": "sa"}
    )
    lines = dict(line.split(":", 1) for line in files.password_file.read_text().splitlines())
    assert set(lines) == {"indunet", "dev-a"}
    assert verify_mosquitto_hash("svc", lines["indunet"])
    assert verify_mosquitto_hash("sa", lines["dev-a"])
    assert stat.S_IMODE(files.password_file.stat().st_mode) == 0o600
    acl = files.acl_file.read_text()
    assert "pattern write indunet/v1/%u/#" in acl
    assert "pattern read indunet/v1/%u/commands" in acl
    assert "user indunet\ntopic read indunet/v1/#\ntopic write indunet/v1/+/commands" in acl
    assert f"password_file {files.password_file}" in files.config()


def test_adding_a_device_keeps_the_other_users(tmp_path: Path) -> None:
    files = write_mosquitto_files(tmp_path, service_user="indunet", service_password="svc")
    before = files.password_file.read_text()
    set_mosquitto_passwords(files.password_file, {"dev-b": "sb"})
    after = files.password_file.read_text().splitlines()
    assert before.splitlines()[0] in after
    assert [line.split(":")[0] for line in after] == ["indunet", "dev-b"]


@pytest.mark.parametrize("user", ["", "a:b", "a b"])
def test_bad_user_names_are_refused_and_nothing_is_written(tmp_path: Path, user: str) -> None:
    with pytest.raises(InvalidInput, match="MQTT user name"):
        write_mosquitto_files(
            tmp_path, service_user="indunet", service_password="x", devices={user: "s"}
        )
    assert not (tmp_path / "passwd").exists()
    assert not (tmp_path / "acl").exists()
    with pytest.raises(InvalidInput):
        mosquitto_acl(user)
