"""Signing one request: the headers a node checks (docs/ids/active.md)."""

from __future__ import annotations

import base64
import secrets
import time

from indunet_device.keys import DeviceKey

SCHEME = "INDUNET-ACTIVE-1"
ROTATE_SCHEME = "INDUNET-ACTIVE-ROTATE-1"
KEY_INDEX = 300


def sign_request(
    key: DeviceKey,
    method: str,
    path: str,
    handle: str,
    body: bytes,
    *,
    key_index: int = KEY_INDEX,
    timestamp: int | None = None,
    nonce: str | None = None,
) -> dict[str, str]:
    """The ``Indunet-*`` headers of a request whose body is ``body``."""
    ts = int(time.time()) if timestamp is None else timestamp
    nonce = nonce or secrets.token_urlsafe(18)
    lines = (
        SCHEME,
        method.upper(),
        path,
        handle,
        str(key_index),
        str(ts),
        nonce,
        key.digest(body).hex(),
    )
    sig = key.sign("\n".join(lines).encode())
    return {
        "Indunet-Key": str(key_index),
        "Indunet-Timestamp": str(ts),
        "Indunet-Nonce": nonce,
        "Indunet-Signature": base64.b64encode(sig).decode(),
    }


def rotation_proof(new_key: DeviceKey, handle: str, nonce: str) -> str:
    """The new key's signature that its holder asks for the rotation, in base64."""
    text = "\n".join((ROTATE_SCHEME, handle, new_key.hs_pubkey(), nonce))
    return base64.b64encode(new_key.sign(text.encode())).decode()
