"""HS_PUBKEY values as credentials: reading Handle.Net's key layout and checking a challenge.

Handle.Net stores a public key as a length-prefixed key type, two bytes of flags (zero), then
the key's numbers, each a length-prefixed big-endian integer (``Util.getPublicKeyFromBytes``):

- ``RSA_PUB_KEY``: the public exponent, then the modulus;
- ``DSA_PUB_KEY``: q, p, g, then y.

Indunet's own types for active identifiers (``ED25519_PUB_KEY``, ``SM2_PUB_KEY``,
``ids.activekeys``) are read too, so a device key can open a session as well.

A challenge is answered by signing the server's nonce followed by the client's nonce, as
Handle.Net's ``StandardHandleAuthenticator`` verifies it: ``SHA256withRSA`` (PKCS #1 v1.5) or
``SHA256withDSA`` (a DER signature) for Handle.Net's keys; Ed25519 and SM2 sign the bytes as
they do in ``ids.activekeys``. Only SHA-256 is accepted for RSA and DSA: Handle.Net also takes
SHA-1 and MD5, which no longer resist forgery (docs/decisions.md).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import dsa, padding, rsa

from indunet.ids import activekeys
from indunet.ids.errors import InvalidValue

RSA_KEY = "RSA_PUB_KEY"
DSA_KEY = "DSA_PUB_KEY"
#: The spellings of SHA-256 Handle.Net accepts in ``alg=`` (``constructSignedResponse``).
SHA256_NAMES = frozenset({"SHA256", "SHA-256", "SHA2", "SHA-2"})
#: Largest key numbers read: 16,384-bit RSA moduli and DSA primes, far above any in use.
MAX_NUMBER_BYTES = 2048 + 1
MIN_RSA_BITS = 2048
MAX_RSA_EXPONENT_BYTES = 8


def _bad(message: str) -> InvalidValue:
    return InvalidValue(message, reason="pubkey_format")


def _string(data: bytes, at: int, limit: int) -> tuple[bytes, int]:
    """A length-prefixed byte string at ``at``, and the offset after it."""
    if at + 4 > len(data):
        raise _bad("the HS_PUBKEY value ends inside a length")
    (size,) = struct.unpack_from(">I", data, at)
    if size > limit or at + 4 + size > len(data):
        raise _bad("the HS_PUBKEY value has a field longer than the value or the limit")
    return data[at + 4 : at + 4 + size], at + 4 + size


@dataclass(frozen=True, slots=True)
class HandlePublicKey:
    """A public key read from an HS_PUBKEY value: its type tag and the loaded key."""

    algorithm: str
    key: rsa.RSAPublicKey | dsa.DSAPublicKey | activekeys.PublicKey

    def verify(self, alg: str, message: bytes, signature: bytes) -> bool:
        """True if ``signature`` is this key's over ``message`` with hash ``alg`` (``SHA256``
        for RSA and DSA; ignored for Ed25519 and SM2, whose hash is fixed)."""
        if isinstance(self.key, activekeys.PublicKey):
            return self.key.verify(message, signature)
        if alg.upper() not in SHA256_NAMES:
            return False
        try:
            if isinstance(self.key, rsa.RSAPublicKey):
                self.key.verify(signature, message, padding.PKCS1v15(), hashes.SHA256())
            else:
                self.key.verify(signature, message, hashes.SHA256())
        except (InvalidSignature, ValueError):
            return False
        return True


def decode(data: bytes) -> HandlePublicKey:
    """Read HS_PUBKEY bytes; ``InvalidValue`` (reason ``pubkey_format``) if they hold no key
    this node can check."""
    tag_raw, at = _string(data, 0, 64)
    tag = tag_raw.decode("ascii", "replace")
    if tag in activekeys.ALGORITHMS:
        return HandlePublicKey(tag, activekeys.decode(data))
    at += 2  # flags
    if tag == RSA_KEY:
        exponent, at = _string(data, at, MAX_RSA_EXPONENT_BYTES)
        modulus, at = _string(data, at, MAX_NUMBER_BYTES)
        e, n = int.from_bytes(exponent, "big"), int.from_bytes(modulus, "big")
        if n.bit_length() < MIN_RSA_BITS or e < 3 or e % 2 == 0:
            raise _bad(f"the RSA key is not usable: at least {MIN_RSA_BITS} bits, odd exponent")
        try:
            return HandlePublicKey(tag, rsa.RSAPublicNumbers(e, n).public_key())
        except ValueError as exc:
            raise _bad(f"the RSA key is not valid: {exc}") from None
    if tag == DSA_KEY:
        q_raw, at = _string(data, at, MAX_NUMBER_BYTES)
        p_raw, at = _string(data, at, MAX_NUMBER_BYTES)
        g_raw, at = _string(data, at, MAX_NUMBER_BYTES)
        y_raw, at = _string(data, at, MAX_NUMBER_BYTES)
        q, p, g, y = (int.from_bytes(x, "big") for x in (q_raw, p_raw, g_raw, y_raw))
        try:
            params = dsa.DSAParameterNumbers(p, q, g)
            return HandlePublicKey(tag, dsa.DSAPublicNumbers(y, params).public_key())
        except ValueError as exc:
            raise _bad(f"the DSA key is not valid: {exc}") from None
    raise _bad(f"key type {tag[:64]!r} cannot authenticate; use {RSA_KEY} or {DSA_KEY}")


def _number(value: int) -> bytes:
    """A positive integer as Java's ``BigInteger.toByteArray`` writes it (a sign byte if the
    top bit is set), length-prefixed."""
    raw = value.to_bytes(value.bit_length() // 8 + 1, "big")
    return struct.pack(">I", len(raw)) + raw


def encode_rsa(key: rsa.RSAPublicKey) -> bytes:
    """The HS_PUBKEY bytes of an RSA key, as Handle.Net writes them (for tools and tests)."""
    numbers = key.public_numbers()
    tag = RSA_KEY.encode()
    return struct.pack(">I", len(tag)) + tag + b"\0\0" + _number(numbers.e) + _number(numbers.n)


__all__ = [
    "DSA_KEY",
    "RSA_KEY",
    "SHA256_NAMES",
    "HandlePublicKey",
    "decode",
    "encode_rsa",
]
