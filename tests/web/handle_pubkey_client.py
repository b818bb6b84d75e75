"""A small Handle.Net challenge-response client, written from Handle.Net 9's protocol and
independent of the server's code (it imports nothing of ``indunet``).

It encodes an RSA public key as Handle.Net's ``Util.getBytesFromPublicKey`` does (the type
``RSA_PUB_KEY``, two flag bytes, then the exponent and the modulus as length-prefixed
two's-complement integers), opens a session with ``POST /api/sessions``, signs the server's
nonce followed by its own with ``SHA256withRSA`` and sends the answer in
``Authorization: Handle …``.
"""

from __future__ import annotations

import base64
import os
import struct
from dataclasses import dataclass
from typing import Any

import httpx
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa


def _java_int(value: int) -> bytes:
    raw = value.to_bytes(value.bit_length() // 8 + 1, "big")  # BigInteger.toByteArray
    return struct.pack(">I", len(raw)) + raw


def hs_pubkey(key: rsa.RSAPrivateKey) -> str:
    """The HS_PUBKEY value (base64, format ``key``) of ``key``'s public half."""
    numbers = key.public_key().public_numbers()
    tag = b"RSA_PUB_KEY"
    data = struct.pack(">I", len(tag)) + tag + b"\0\0" + _java_int(numbers.e) + _java_int(numbers.n)
    return base64.b64encode(data).decode()


def pubkey_value(index: int, key: rsa.RSAPrivateKey) -> dict[str, Any]:
    """An HS_PUBKEY value in the REST API's JSON shape."""
    return {"index": index, "type": "HS_PUBKEY", "data": {"format": "key", "value": hs_pubkey(key)}}


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


@dataclass
class Answer:
    """One signed answer to a session's nonce."""

    session_id: str
    header: str


def answer(
    key: rsa.RSAPrivateKey, identity: str, session_id: str, nonce_b64: str, alg: str = "SHA256"
) -> Answer:
    """The ``Authorization: Handle`` header that answers ``nonce`` as ``identity``."""
    cnonce = os.urandom(16)
    signed = base64.b64decode(nonce_b64) + cnonce
    signature = key.sign(signed, padding.PKCS1v15(), hashes.SHA256())
    quoted_id = identity.replace("%", "%25").replace(":", "%3A")
    header = (
        f'Handle sessionId="{session_id}", id="{quoted_id}", cnonce="{b64(cnonce)}", '
        f'type="HS_PUBKEY", alg="{alg}", signature="{b64(signature)}"'
    )
    return Answer(session_id, header)


async def open_session(client: httpx.AsyncClient, base: str = "") -> dict[str, Any]:
    """``POST /api/sessions``: the new session's id and nonce."""
    resp = await client.post(f"{base}/api/sessions")
    assert resp.status_code == 201, resp.text
    body: dict[str, Any] = resp.json()
    return body


async def login(
    client: httpx.AsyncClient, key: rsa.RSAPrivateKey, identity: str, base: str = ""
) -> str:
    """Open a session and authenticate it; the ``Authorization`` value for later requests."""
    opened = await open_session(client, base)
    signed = answer(key, identity, opened["sessionId"], opened["nonce"])
    resp = await client.put(f"{base}/api/sessions/this", headers={"Authorization": signed.header})
    assert resp.status_code == 200, resp.text
    assert resp.json()["authenticated"] is True
    return f'Handle sessionId="{opened["sessionId"]}"'
