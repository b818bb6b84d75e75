"""A device's key pair: generation, the public key as HS_PUBKEY bytes, signing, a key file."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import struct
from dataclasses import dataclass
from pathlib import Path

ED25519 = "ED25519_PUB_KEY"
SM2 = "SM2_PUB_KEY"
NAMES = {"ed25519": ED25519, "sm2": SM2}
SM2_ID = b"1234567812345678"  # the default SM2 user ID that enters Z (GM/T 0009)


@dataclass(frozen=True)
class DeviceKey:
    """A private key (raw bytes) and its algorithm (``ED25519_PUB_KEY`` or ``SM2_PUB_KEY``)."""

    algorithm: str
    private: bytes

    @property
    def public(self) -> bytes:
        """The raw public key: 32 bytes (Ed25519) or ``04 || x || y`` (SM2)."""
        if self.algorithm == SM2:
            from gmalglib.sm2 import SM2 as _SM2

            return bytes(_SM2.get_pk(self.private))
        from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
        from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

        pk = Ed25519PrivateKey.from_private_bytes(self.private).public_key()
        return pk.public_bytes(Encoding.Raw, PublicFormat.Raw)

    def hs_pubkey(self) -> str:
        """The public key as HS_PUBKEY bytes (Handle.Net's layout) in base64."""
        tag, raw = self.algorithm.encode(), self.public
        data = struct.pack(">I", len(tag)) + tag + b"\0\0" + struct.pack(">I", len(raw)) + raw
        return base64.b64encode(data).decode()

    def digest(self, body: bytes) -> bytes:
        """The body digest signed with this key: SM3 for SM2 keys, SHA-256 for Ed25519."""
        if self.algorithm == SM2:
            from cryptography.hazmat.primitives import hashes

            h = hashes.Hash(hashes.SM3())
            h.update(body)
            return h.finalize()
        return hashlib.sha256(body).digest()

    def sign(self, message: bytes) -> bytes:
        """A 64-byte signature: Ed25519's, or SM2's ``r || s`` (SM3, default user ID)."""
        if self.algorithm == SM2:
            from gmalglib.sm2 import SM2 as _SM2

            return bytes(_SM2(self.private, uid=SM2_ID).sign(message))
        from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

        return Ed25519PrivateKey.from_private_bytes(self.private).sign(message)

    def save(self, path: Path) -> None:
        """Write the key to ``path`` (readable by the owner only)."""
        doc = {"algorithm": self.algorithm, "private": self.private.hex()}
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            json.dump(doc, f)


def generate(algorithm: str = "ed25519") -> DeviceKey:
    """A new key pair: ``ed25519`` or ``sm2``."""
    tag = NAMES.get(algorithm.lower())
    if tag is None:
        raise ValueError(f"algorithm must be one of {', '.join(NAMES)}, not {algorithm!r}")
    if tag == SM2:
        from gmalglib.sm2 import SM2 as _SM2

        sk, _ = _SM2().generate_keypair()
        return DeviceKey(SM2, bytes(sk))
    return DeviceKey(ED25519, os.urandom(32))


def load_key(path: Path) -> DeviceKey:
    """Read a key written by ``DeviceKey.save``."""
    doc = json.loads(Path(path).read_text())
    if doc.get("algorithm") not in (ED25519, SM2):
        raise ValueError(f"{path} holds no Ed25519 or SM2 key")
    return DeviceKey(doc["algorithm"], bytes.fromhex(doc["private"]))
