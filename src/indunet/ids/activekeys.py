"""Public keys of active identifiers (主动标识) as HS_PUBKEY data, and checking signatures.

An HS_PUBKEY value holds a key in Handle.Net's binary layout (RFC 3651 §3.2, Handle.Net's
public key encoding): the key type as a length-prefixed string, two bytes of flags (zero),
then the key material. Handle.Net writes ``DSA_PUB_KEY`` and ``RSA_PUB_KEY`` there; Indunet
adds two types in the same spirit, each followed by the key as one length-prefixed byte
string:

- ``ED25519_PUB_KEY``: the 32-byte public key of RFC 8032;
- ``SM2_PUB_KEY``: the uncompressed SM2 point ``04 || x || y`` (65 bytes, GB/T 32918.1).

In the REST API the value has the format ``key`` and the bytes in base64, as Handle.Net's
``GsonUtility`` answers an HS_PUBKEY. Signatures are 64 bytes: Ed25519's, or SM2's ``r || s``
computed with SM3 over ``Z || M``, ``Z`` from the standard user ID ``1234567812345678``.
Request bodies are digested with SHA-256 for Ed25519 keys and SM3 for SM2 keys, so an SM2
device uses the commercial algorithms (商用密码) only.

SM2 needs ``gmalglib`` (``pip install 'indunet[gm]'``; it builds from source, so it is an
extra, not a requirement of every installation): without it an SM2 key is refused with 422
``active_sm2_unavailable`` and Ed25519 works as before.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import struct
from dataclasses import dataclass
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from indunet.ids.errors import InvalidValue

ED25519 = "ED25519_PUB_KEY"
SM2_KEY = "SM2_PUB_KEY"
ALGORITHMS = {ED25519: 32, SM2_KEY: 65}
#: The SM2 user ID that enters Z when none is agreed (GM/T 0009): the one every
#: implementation uses by default.
SM2_DEFAULT_ID = b"1234567812345678"
SIGNATURE_BYTES = 64
MAX_KEY_TEXT = 400  # base64 of the largest key this module reads, with room to spare


def _sm2() -> Any:
    """gmalglib's SM2 class, or a refusal naming the extra to install."""
    try:
        from gmalglib.sm2 import SM2
    except ImportError:
        raise InvalidValue(
            "SM2 keys need the gmalglib package on this node: pip install 'indunet[gm]'",
            reason="active_sm2_unavailable",
        ) from None
    return SM2


@dataclass(frozen=True, slots=True)
class PublicKey:
    """A device's public key: its HS_PUBKEY type tag and raw key bytes."""

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
        """The digest of a request body signed with this key: SM3 for SM2, else SHA-256."""
        if self.algorithm == SM2_KEY:
            h = hashes.Hash(hashes.SM3())
            h.update(body)
            return h.finalize()
        return hashlib.sha256(body).digest()

    def verify(self, message: bytes, signature: bytes) -> bool:
        """True if ``signature`` is this key's over ``message``."""
        if len(signature) != SIGNATURE_BYTES:
            return False
        if self.algorithm == SM2_KEY:
            return bool(_sm2()(pk=self.raw, uid=SM2_DEFAULT_ID).verify(message, signature))
        try:
            Ed25519PublicKey.from_public_bytes(self.raw).verify(signature, message)
        except InvalidSignature:
            return False
        return True


def _bad(message: str, reason: str) -> InvalidValue:
    return InvalidValue(message, reason=reason)


def decode(data: bytes) -> PublicKey:
    """Read HS_PUBKEY bytes; ``InvalidValue`` unless they hold an Ed25519 or SM2 key."""
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
        raise _bad(
            "the key is not an HS_PUBKEY in Handle.Net's layout (type, flags, key)",
            "active_key_format",
        ) from None
    size = ALGORITHMS.get(tag)
    if size is None:
        raise InvalidValue(
            f"key type {tag[:64]!r} is not one an active identifier may hold; use "
            f"{ED25519} or {SM2_KEY}",
            reason="active_key_algorithm",
            params={"type": tag[:64]},
        )
    if len(raw) != size or (tag == SM2_KEY and not _sm2().is_pk_valid(raw)):
        raise _bad(f"the {tag} key is not a valid public key", "active_key_invalid")
    if tag == ED25519:
        Ed25519PublicKey.from_public_bytes(raw)  # 32 bytes always load
    return PublicKey(tag, raw)


def from_text(text: object) -> PublicKey:
    """A key given as base64 HS_PUBKEY bytes (an API body's ``key``)."""
    if not isinstance(text, str) or not 0 < len(text) <= MAX_KEY_TEXT:
        raise _bad(
            f"key must be base64 HS_PUBKEY bytes of at most {MAX_KEY_TEXT} characters",
            "active_key_format",
        )
    try:
        data = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise _bad("key is not valid base64", "active_key_format") from None
    return decode(data)
