"""Refused credentials and unknown devices as consumers read them: named fields, text bounded
(an MQTT user name may be 65,535 bytes), no address as null."""

from __future__ import annotations

from indunet.connect.events import AUTH_FAILURES, MAX_ENDPOINT, MAX_TEXT, UNKNOWN_DEVICES


def test_an_auth_failure_reads_as_json_with_its_text_bounded() -> None:
    shape = AUTH_FAILURES.shape
    assert shape(("203.0.113.5", "meter-1", "meter-1", "mqtt", None)) == {
        "src": "203.0.113.5",
        "user": "meter-1",
        "device": "meter-1",
        "target": "mqtt",
        "endpoint": None,
    }
    long = shape((None, "u" * 70_000, None, "opcua", "opc.tcp://h:4840/" + "p" * 900))
    assert len(long["user"]) == MAX_TEXT and long["device"] is None
    assert len(long["endpoint"]) == MAX_ENDPOINT


def test_an_unknown_device_reads_as_json() -> None:
    assert UNKNOWN_DEVICES.shape(("", "d" * 300, "http", 4)) == {
        "src": None,
        "device": "d" * MAX_TEXT,
        "via": "http",
        "enterprise_id": 4,
    }
