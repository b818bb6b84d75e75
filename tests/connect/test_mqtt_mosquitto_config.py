"""The generated ``mosquitto.conf``: every setting broker mode needs to lose nothing."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from indunet.connect.mqtt import BrokerSettings, EndpointLimits, write_mosquitto_files
from indunet.connect.mqtt.mosquitto import MAX_PACKET
from indunet.core import InvalidInput


def settings_of(text: str) -> dict[str, list[str]]:
    """Mosquitto's view of a config: option → values, comments and blank lines ignored."""
    out: dict[str, list[str]] = {}
    for line in text.splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            name, _, value = line.strip().partition(" ")
            out.setdefault(name, []).append(value)
    return out


def test_the_config_is_complete_and_keeps_every_queued_message(tmp_path: Path) -> None:
    files = write_mosquitto_files(
        tmp_path / "mq",
        service_user="indunet",
        service_password="svc",
        broker=BrokerSettings(port=1884, bind="10.0.0.5", run_as="mqtt"),
    )
    conf = settings_of(files.config())
    assert conf["listener"] == ["1884 10.0.0.5"]
    assert conf["per_listener_settings"] == ["false"]
    assert conf["allow_anonymous"] == ["false"]
    assert conf["password_file"] == [str(files.password_file)]
    assert conf["acl_file"] == [str(files.acl_file)]
    assert conf["user"] == ["mqtt"]
    # the settings whose defaults lose acknowledged messages
    assert conf["max_queued_messages"] == ["1000000000"]  # not 0: Mosquitto's bugs with 0
    assert conf["max_queued_bytes"] == ["0"]
    assert conf["max_inflight_messages"] == ["1000"]
    assert conf["persistence"] == ["true"]
    assert conf["persistence_location"] == [f"{files.data_dir}/"]
    assert conf["autosave_interval"] == ["5"]
    assert "persistent_client_expiration" not in conf  # Indunet's session is never dropped
    assert files.data_dir.is_dir()
    assert stat.S_IMODE(files.data_dir.stat().st_mode) == 0o700
    assert all(len(v) == 1 for k, v in conf.items() if k != "log_type")


def test_every_setting_line_has_a_reason_above_it(tmp_path: Path) -> None:
    files = write_mosquitto_files(tmp_path, service_user="indunet", service_password="svc")
    lines = files.config().splitlines()
    unexplained = []
    for i, line in enumerate(lines):
        if line and not line.startswith("#"):
            above = lines[:i]
            while above and above[-1] and not above[-1].startswith("#"):
                above.pop()  # settings of the same paragraph share its comment
            if not above or not above[-1].startswith("#"):
                unexplained.append(line)
    assert unexplained == []


def test_a_queue_cap_is_written_with_a_warning_and_expiry_when_asked(tmp_path: Path) -> None:
    files = write_mosquitto_files(
        tmp_path,
        service_user="indunet",
        service_password="svc",
        broker=BrokerSettings(max_queued=50_000, session_expiry="30d"),
    )
    text = files.config()
    assert settings_of(text)["max_queued_messages"] == ["50000"]
    assert "DROPPED" in text
    assert settings_of(text)["persistent_client_expiration"] == ["30d"]
    assert settings_of(text)["listener"] == ["1883"]


@pytest.mark.parametrize(
    ("kw", "message"),
    [
        ({"port": 0}, "port 0"),
        ({"port": 70000}, "port 70000"),
        ({"max_inflight": 0}, "max_inflight"),
        ({"max_queued": 0}, "max_queued"),
        ({"max_queued": 2**31}, "max_queued"),
        ({"autosave_interval": 0}, "autosave_interval"),
        ({"session_expiry": "30"}, "session expiry"),
        ({"session_expiry": "0d"}, "session expiry"),
        ({"session_expiry": "1 d"}, "session expiry"),
    ],
)
def test_bad_settings_are_refused(kw: dict[str, object], message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        BrokerSettings(**kw)  # type: ignore[arg-type]


def test_a_path_with_spaces_is_refused_and_nothing_is_written(tmp_path: Path) -> None:
    with pytest.raises(InvalidInput, match="contains spaces"):
        write_mosquitto_files(tmp_path / "a b", service_user="indunet", service_password="x")
    assert not (tmp_path / "a b").exists()


def test_the_packet_limit_is_the_embedded_endpoints() -> None:
    assert EndpointLimits().max_packet + 5 == MAX_PACKET
