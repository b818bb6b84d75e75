"""OPC UA settings: endpoint, security pairs, credentials; errors name the field."""

from __future__ import annotations

from pathlib import Path

import pytest

from indunet.connect.opcua import OpcUaSettings
from indunet.core import InvalidInput

EP = "opc.tcp://plc-7.local:4840/line1"


def test_plain_endpoint_defaults() -> None:
    s = OpcUaSettings.parse({"endpoint": EP, "protocol": "opcua"})
    assert (s.endpoint, s.host, s.security_policy, s.security_mode, s.secure) == (
        EP,
        "plc-7.local",
        "None",
        "None",
        False,
    )
    assert (s.timeout, s.watchdog_interval, s.username) == (4.0, 1.0, None)
    # equal settings are one session: the connector keys sessions by them
    assert OpcUaSettings.parse({"endpoint": EP}) == s
    assert hash(OpcUaSettings.parse({"endpoint": EP})) == hash(s)


def test_secure_settings_need_existing_certificate_files(tmp_path: Path) -> None:
    cert, key = tmp_path / "c.der", tmp_path / "k.pem"
    cert.write_bytes(b"x")
    key.write_bytes(b"x")
    s = OpcUaSettings.parse(
        {
            "endpoint": EP,
            "security_policy": "Aes256_Sha256_RsaPss",
            "certificate": str(cert),
            "private_key": str(key),
            "username": "op",
            "password": "pw",
        }
    )
    assert (s.security_mode, s.secure, s.certificate, s.username) == (
        "SignAndEncrypt",
        True,
        cert,
        "op",
    )
    with pytest.raises(InvalidInput, match=r"connection\.certificate: no readable file"):
        OpcUaSettings.parse(
            {
                "endpoint": EP,
                "security_policy": "Basic256Sha256",
                "certificate": str(tmp_path / "missing.der"),
                "private_key": str(key),
            }
        )


@pytest.mark.parametrize(
    ("connection", "field"),
    [
        ({}, "endpoint"),
        ({"endpoint": "http://plc:4840/"}, "endpoint"),
        ({"endpoint": "opc.tcp://plc/"}, "endpoint"),  # the port is needed
        ({"endpoint": "opc.tcp://plc:99999/"}, "endpoint"),
        ({"endpoint": EP, "security_policy": "Basic128Rsa15"}, "security_policy"),
        ({"endpoint": EP, "security_mode": "Encrypt"}, "security_mode"),
        ({"endpoint": EP, "security_mode": "Sign"}, "security_policy"),
        (
            {"endpoint": EP, "security_policy": "Basic256Sha256", "security_mode": "None"},
            "security_mode",
        ),
        ({"endpoint": EP, "security_policy": "Basic256Sha256"}, "certificate"),
        ({"endpoint": EP, "password": "pw"}, "username"),
        ({"endpoint": EP, "username": ""}, "username"),
        ({"endpoint": EP, "timeout": 0}, "timeout"),
        ({"endpoint": EP, "watchdog_interval": "1"}, "watchdog_interval"),
        ({"endpoint": EP, "endpoint_url": EP}, "endpoint_url"),
    ],
)
def test_bad_settings_name_the_field(connection: dict[str, object], field: str) -> None:
    with pytest.raises(InvalidInput, match=rf"connection\.{field}\b"):
        OpcUaSettings.parse(connection)
