"""A self-signed certificate for trying HTTPS on one machine (``indunet up --self-signed``).

The key is ECDSA P-256, the certificate names ``localhost``, 127.0.0.1, ::1 and the host the
server is told to listen on, and is valid for 397 days (the longest a browser accepts for a
server certificate). Both live in ``<data dir>/tls/`` (0700, files 0600) and are reused until
30 days before they expire. The key is encrypted at rest (PKCS#8 with a random password, the
password sealed by ``core.sealed`` with the installation's secret key in ``key.pass``), so a
copy of the data directory without the secret key does not give it away. Production nodes use a certificate from a CA (``--tls-cert``,
``--tls-key``); clients of a self-signed node must be told to trust it or not to check.
"""

from __future__ import annotations

import ipaddress
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from indunet.core.files import private_dir, write_private
from indunet.core.sealed import Sealer, SecretKeyMismatch

VALID_DAYS = 397
RENEW_BEFORE = timedelta(days=30)
CERT_NAME, KEY_NAME, PASS_NAME = "cert.pem", "key.pem", "key.pass"


@dataclass(frozen=True, slots=True)
class ServerCert:
    """What a TLS server is started with."""

    cert: Path
    key: Path
    password: str | None = None


def _names(host: str) -> list[x509.GeneralName]:
    names: list[x509.GeneralName] = [
        x509.DNSName("localhost"),
        x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
        x509.IPAddress(ipaddress.ip_address("::1")),
    ]
    if host in ("", "0.0.0.0", "::", "localhost", "127.0.0.1", "::1"):  # noqa: S104
        return names
    try:
        names.append(x509.IPAddress(ipaddress.ip_address(host)))
    except ValueError:
        names.append(x509.DNSName(host))
    return names


def _still_good(cert_path: Path, host: str, now: datetime) -> bool:
    try:
        cert = x509.load_pem_x509_certificate(cert_path.read_bytes())
    except (OSError, ValueError):
        return False
    if cert.not_valid_after_utc - RENEW_BEFORE < now:
        return False
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return False
    return all(name in san for name in _names(host))


def _password(folder: Path, sealer: Sealer) -> str | None:
    try:
        return sealer.open((folder / PASS_NAME).read_text().strip())
    except (OSError, SecretKeyMismatch):
        return None


def _opens(key_path: Path, password: str) -> bool:
    try:
        serialization.load_pem_private_key(key_path.read_bytes(), password.encode())
    except (OSError, ValueError, TypeError):
        return False
    return True


def self_signed(data_dir: Path, sealer: Sealer, host: str = "127.0.0.1") -> ServerCert:
    """The certificate and key for ``host``, made now unless good ones are there."""
    folder = private_dir(data_dir / "tls")
    cert_path, key_path = folder / CERT_NAME, folder / KEY_NAME
    now = datetime.now(UTC)
    password = _password(folder, sealer)
    if password and _opens(key_path, password) and _still_good(cert_path, host, now):
        return ServerCert(cert_path, key_path, password)
    password = secrets.token_urlsafe(32)
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Indunet (self-signed)"),
            x509.NameAttribute(NameOID.COMMON_NAME, host or "localhost"),
        ]
    )
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=VALID_DAYS))
        .add_extension(x509.SubjectAlternativeName(_names(host)), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .sign(key, hashes.SHA256())
    )
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(password.encode()),
    )
    for path in (key_path, cert_path, folder / PASS_NAME):
        path.unlink(missing_ok=True)
    write_private(key_path, pem)
    write_private(folder / PASS_NAME, sealer.seal(password).encode() + b"\n")
    write_private(cert_path, cert.public_bytes(serialization.Encoding.PEM))
    return ServerCert(cert_path, key_path, password)


__all__ = ["VALID_DAYS", "ServerCert", "self_signed"]
