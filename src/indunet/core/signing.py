"""One signing interface for every key Indunet holds or checks: Ed25519 (RFC 8032), or SM2
with SM3 (GB/T 32918, GB/T 32905) where commercial cryptography (商用密码) is required.

Active identifiers (``ids.activekeys``) check devices' signatures with it; federated
instances (``federation``) sign and check their messages with it.

A public key travels as HS_PUBKEY bytes in Handle.Net's layout (RFC 3651 §3.2): the key type
as a length-prefixed string, two bytes of flags (zero), then the key as one length-prefixed
byte string: ``ED25519_PUB_KEY`` with the 32-byte key, ``SM2_PUB_KEY`` with the uncompressed
point ``04 || x || y`` (65 bytes). Signatures are 64 bytes: Ed25519's, or SM2's ``r || s``
over ``Z || M``, ``Z`` from the standard user ID ``1234567812345678``. Digests of bodies are
SHA-256 for Ed25519 keys and SM3 for SM2 keys, so an SM2 signer uses the commercial
algorithms only.

SM2 needs ``gmalglib`` (``pip install 'indunet[gm]'``: it builds from source); without it an
SM2 key is refused (``KeyRefused``, reason ``sm2_unavailable``) and Ed25519 works.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import struct
from dataclasses import dataclass
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

ED25519 = "ED25519_PUB_KEY"
SM2_KEY = "SM2_PUB_KEY"
ALGORITHMS = {ED25519: 32, SM2_KEY: 65}
"""The key types a key may have, and the length of their raw public keys."""
NAMES = {"ed25519": ED25519, "sm2": SM2_KEY}
"""The algorithms as an operator names them."""
SM2_DEFAULT_ID = b"1234567812345678"
"""The SM2 user ID that enters Z when none is agreed (GM/T 0009)."""
SIGNATURE_BYTES = 64


class KeyRefused(ValueError):
    """A key that cannot be used: ``reason`` says why (``format``, ``algorithm``,
    ``invalid``, ``sm2_unavailable``); callers turn it into their own error."""

    def __init__(self, message: str, reason: str, params: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.reason = reason
        self.params = params or {}


def sm2() -> Any:
    """gmalglib's SM2 class, or ``KeyRefused`` naming the extra to install."""
    try:
        from gmalglib.sm2 import SM2
    except ImportError:
        raise KeyRefused(
            "SM2 keys need the gmalglib package: pip install 'indunet[gm]'", "sm2_unavailable"
        ) from None
    return SM2


@dataclass(frozen=True, slots=True)
class PublicKey:
    """A public key: its HS_PUBKEY type tag and raw key bytes."""

    algorithm: str
    raw: bytes

    def encode(self) -> bytes:
        """The HS_PUBKEY bytes (Handle.Net's layout)."""
        tag = self.algorithm.encode()
        return (
            struct.pack(">I", len(tag))
            + tag
            + b"\0\0"
            + struct.pack(">I", len(self.raw))
            + self.raw
        )

    def text(self) -> str:
        """The HS_PUBKEY bytes in base64, as the REST API carries them."""
        return base64.b64encode(self.encode()).decode()

    def digest(self, body: bytes) -> bytes:
        """The digest of a body signed with this key: SM3 for SM2, else SHA-256."""
        return digest(self.algorithm, body)

    def verify(self, message: bytes, signature: bytes) -> bool:
        """True if ``signature`` is this key's over ``message``."""
        if len(signature) != SIGNATURE_BYTES:
            return False
        if self.algorithm == SM2_KEY:
            return bool(sm2()(pk=self.raw, uid=SM2_DEFAULT_ID).verify(message, signature))
        try:
            _ed25519_public(self.raw).verify(signature, message)
        except InvalidSignature:
            return False
        return True


@functools.lru_cache(maxsize=1024)
def _ed25519_public(raw: bytes) -> Ed25519PublicKey:
    """A public key object, built once per key (a relay verifies thousands a second)."""
    return Ed25519PublicKey.from_public_bytes(raw)


def digest(algorithm: str, body: bytes) -> bytes:
    """SM3 of ``body`` for SM2 keys, SHA-256 for the others."""
    if algorithm == SM2_KEY:
        h = hashes.Hash(hashes.SM3())
        h.update(body)
        return h.finalize()
    return hashlib.sha256(body).digest()


def parse_public(data: bytes) -> PublicKey:
    """HS_PUBKEY bytes as a key; ``KeyRefused`` unless they hold an Ed25519 or SM2 key."""
    try:
        (tag_len,) = struct.unpack_from(">I", data, 0)
        if tag_len > 64:
            raise ValueError("key type too long")
        tag = data[4 : 4 + tag_len].decode("ascii")
        at = 4 + tag_len + 2  # the flags, zero in every key Handle.Net writes
        (key_len,) = struct.unpack_from(">I", data, at)
        raw = data[at + 4 : at + 4 + key_len]
        if len(raw) != key_len or at + 4 + key_len != len(data):
            raise ValueError("length mismatch")
    except (struct.error, UnicodeDecodeError, ValueError):
        raise KeyRefused(
            "the key is not an HS_PUBKEY in Handle.Net's layout (type, flags, key)", "format"
        ) from None
    size = ALGORITHMS.get(tag)
    if size is None:
        raise KeyRefused(
            f"key type {tag[:64]!r} is not one Indunet uses; use {ED25519} or {SM2_KEY}",
            "algorithm",
            {"type": tag[:64]},
        )
    if len(raw) != size or (tag == SM2_KEY and not sm2().is_pk_valid(raw)):
        raise KeyRefused(f"the {tag} key is not a valid public key", "invalid")
    return PublicKey(tag, raw)


@dataclass(frozen=True)
class PrivateKey:
    """A private key (raw bytes: Ed25519's 32-byte seed, SM2's 32-byte scalar)."""

    algorithm: str
    raw: bytes

    def __repr__(self) -> str:  # never the key itself in a log or a traceback
        return f"PrivateKey({self.algorithm})"

    @classmethod
    def generate(cls, algorithm: str = ED25519) -> PrivateKey:
        if algorithm == SM2_KEY:
            sk, _pk = sm2()().generate_keypair()
            return cls(SM2_KEY, bytes(sk))
        if algorithm != ED25519:
            raise KeyRefused(f"no such key type {algorithm[:64]!r}", "algorithm")
        from cryptography.hazmat.primitives.serialization import NoEncryption, PrivateFormat

        key = Ed25519PrivateKey.generate()
        return cls(ED25519, key.private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption()))

    @property
    def public(self) -> PublicKey:
        if self.algorithm == SM2_KEY:
            return PublicKey(SM2_KEY, bytes(sm2().get_pk(self.raw)))
        key = Ed25519PrivateKey.from_private_bytes(self.raw).public_key()
        return PublicKey(ED25519, key.public_bytes(Encoding.Raw, PublicFormat.Raw))

    def sign(self, message: bytes) -> bytes:
        """The 64-byte signature of ``message``."""
        if self.algorithm == SM2_KEY:
            return bytes(sm2()(self.raw, uid=SM2_DEFAULT_ID).sign(message))
        return self._ed25519.sign(message)

    @functools.cached_property
    def _ed25519(self) -> Ed25519PrivateKey:
        """The key object, built once (a sender signs thousands a second)."""
        return Ed25519PrivateKey.from_private_bytes(self.raw)
