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

from indunet.core.signing import (
    ALGORITHMS,
    ED25519,
    SIGNATURE_BYTES,
    SM2_DEFAULT_ID,
    SM2_KEY,
    KeyRefused,
    PublicKey,
    parse_public,
)
from indunet.ids.errors import InvalidValue

__all__ = [
    "ALGORITHMS",
    "ED25519",
    "MAX_KEY_TEXT",
    "SIGNATURE_BYTES",
    "SM2_DEFAULT_ID",
    "SM2_KEY",
    "PublicKey",
    "decode",
    "from_text",
]

MAX_KEY_TEXT = 400  # base64 of the largest key this module reads, with room to spare
_REASONS = {
    "format": "active_key_format",
    "algorithm": "active_key_algorithm",
    "invalid": "active_key_invalid",
    "sm2_unavailable": "active_sm2_unavailable",
}


def _bad(message: str, reason: str) -> InvalidValue:
    return InvalidValue(message, reason=reason)


def decode(data: bytes) -> PublicKey:
    """Read HS_PUBKEY bytes (``core.signing``); ``InvalidValue`` unless they hold an Ed25519
    or SM2 key an active identifier may hold."""
    try:
        return parse_public(data)
    except KeyRefused as exc:
        params = {"type": exc.params["type"]} if "type" in exc.params else None
        raise InvalidValue(str(exc), reason=_REASONS[exc.reason], params=params) from None


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
