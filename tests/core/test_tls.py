"""The self-signed certificate of ``--self-signed``: private files, an encrypted key, reuse."""

from __future__ import annotations

import ipaddress
import stat
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.fernet import Fernet
from cryptography.hazmat.primitives import serialization

from indunet.core.sealed import Sealer
from indunet.core.tls import VALID_DAYS, self_signed


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_made_once_private_encrypted_and_reused(tmp_path: Path) -> None:
    sealer = Sealer(Fernet.generate_key())
    made = self_signed(tmp_path, sealer, "10.1.2.3")
    assert _mode(made.cert.parent) == 0o700
    assert {_mode(p) for p in made.cert.parent.iterdir()} == {0o600}
    with pytest.raises(TypeError):  # encrypted: no key without the password
        serialization.load_pem_private_key(made.key.read_bytes(), None)
    assert made.password and made.password not in (made.cert.parent / "key.pass").read_text()
    key = serialization.load_pem_private_key(made.key.read_bytes(), made.password.encode())
    cert = x509.load_pem_x509_certificate(made.cert.read_bytes())
    assert cert.public_key() == key.public_key()
    names = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert x509.IPAddress(ipaddress.ip_address("10.1.2.3")) in names
    assert x509.DNSName("localhost") in names
    days = (cert.not_valid_after_utc - cert.not_valid_before_utc).days
    assert VALID_DAYS - 1 <= days <= VALID_DAYS

    again = self_signed(tmp_path, sealer, "10.1.2.3")
    assert again == made and again.cert.read_bytes() == made.cert.read_bytes()


def test_a_new_host_or_another_secret_key_makes_a_new_certificate(tmp_path: Path) -> None:
    sealer = Sealer(Fernet.generate_key())
    first = self_signed(tmp_path, sealer, "127.0.0.1").cert.read_bytes()
    named = self_signed(tmp_path, sealer, "node.example.cn")
    assert named.cert.read_bytes() != first
    cert = x509.load_pem_x509_certificate(named.cert.read_bytes())
    names = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert x509.DNSName("node.example.cn") in names
    other = self_signed(tmp_path, Sealer(Fernet.generate_key()), "node.example.cn")
    assert other.password != named.password  # the old password no longer opens: made anew
    serialization.load_pem_private_key(other.key.read_bytes(), (other.password or "").encode())
