"""The message envelope between instances: what is signed, how it travels, how it is checked.

On the wire a message is a JSON object::

    {"v": 1, "id": "<32 hex>", "from": "gd", "to": "cn", "kind": "notice.issued",
     "seq": 17, "ts": 1733560000.5, "body": {...}, "sig": "<base64, 64 bytes>"}

``seq`` counts the sender's messages to that recipient from 1 (the recipient applies them in
that order, each once); ``id`` is unique per message (a resent message keeps it). The
signature is the sender's key (``core.signing``: Ed25519, or SM2 with SM3) over the signed
bytes: ``INDUNET-FED-1``, a newline, and the object without ``sig`` as JSON with its keys
sorted at every level and no spaces (orjson's ``OPT_SORT_KEYS``), so the receiver rebuilds
the same bytes from what it parsed.

Checks here are about the message alone (shape, sizes, the signature against a given key);
whether the sender is enrolled and the sequence is the next one is the inbox's business.
"""

from __future__ import annotations

import base64
import binascii
import re
import uuid
from dataclasses import dataclass
from typing import Any

import orjson

from indunet.core.signing import SIGNATURE_BYTES, PrivateKey, PublicKey

VERSION = 1
SCHEME = b"INDUNET-FED-1\n"
MAX_BODY_BYTES = 256 * 1024
"""A message's body as JSON, at most (a bigger report is split by its sender)."""
MAX_BATCH = 500
"""Messages in one delivery, at most."""
MAX_BATCH_BYTES = 8 * 1024 * 1024
"""A delivery's request body, at most."""
NAME = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")
"""An instance's name: lower-case letters, digits and hyphens (it is part of its identifier)."""
KIND = re.compile(r"^[a-z][a-z0-9_]{0,30}(\.[a-z][a-z0-9_]{0,30}){1,3}$")
"""A message kind: dotted lower-case words (``notice.issued``, ``grading.submitted``)."""
_ID = re.compile(r"^[0-9a-f]{32}$")
_FIELDS = frozenset({"v", "id", "from", "to", "kind", "seq", "ts", "body", "sig"})


class Refused(ValueError):
    """A message that is not taken: ``reason`` (a catalogue code) and what is wrong."""

    def __init__(self, message: str, reason: str) -> None:
        super().__init__(message)
        self.reason = reason


@dataclass(frozen=True, slots=True)
class Envelope:
    """One message between two instances, without its signature."""

    id: str
    sender: str
    recipient: str
    kind: str
    seq: int
    ts: float
    body: dict[str, Any]

    def head(self) -> dict[str, Any]:
        return {
            "v": VERSION,
            "id": self.id,
            "from": self.sender,
            "to": self.recipient,
            "kind": self.kind,
            "seq": self.seq,
            "ts": self.ts,
            "body": self.body,
        }

    def signed_bytes(self) -> bytes:
        """What the signature covers."""
        return SCHEME + orjson.dumps(self.head(), option=orjson.OPT_SORT_KEYS)


def new_id() -> str:
    return uuid.uuid4().hex


def seal(envelope: Envelope, key: PrivateKey) -> dict[str, Any]:
    """The message as sent: the envelope and its signature."""
    out = envelope.head()
    out["sig"] = base64.b64encode(key.sign(envelope.signed_bytes())).decode()
    return out


def parse(data: Any, where: str = "message") -> tuple[Envelope, bytes]:
    """An envelope and its signature from a parsed message; ``Refused`` naming what is wrong
    (the signature is not checked here: the key depends on the sender)."""
    if not isinstance(data, dict):
        raise Refused(f"{where}: a message is a JSON object", "federation_message_shape")
    unknown = sorted(set(data) - _FIELDS)
    if unknown:
        raise Refused(f"{where}: unknown field {unknown[0][:40]!r}", "federation_message_shape")
    if data.get("v") != VERSION:
        raise Refused(f"{where}: version {data.get('v')!r} is not 1", "federation_version")
    mid, sender, recipient = data.get("id"), data.get("from"), data.get("to")
    kind, seq, ts, body = data.get("kind"), data.get("seq"), data.get("ts"), data.get("body")
    if not isinstance(mid, str) or not _ID.match(mid):
        raise Refused(f"{where}: id must be 32 hexadecimal digits", "federation_message_shape")
    for name, value in (("from", sender), ("to", recipient)):
        if not isinstance(value, str) or not NAME.match(value):
            raise Refused(f"{where}: {name} is not an instance name", "federation_message_shape")
    if not isinstance(kind, str) or not KIND.match(kind):
        raise Refused(f"{where}: kind is not a dotted name", "federation_message_shape")
    if isinstance(seq, bool) or not isinstance(seq, int) or not 1 <= seq < 2**62:
        raise Refused(f"{where}: seq must be a whole number from 1", "federation_message_shape")
    if isinstance(ts, bool) or not isinstance(ts, int | float) or not 0 <= ts < 4_102_444_800:
        raise Refused(f"{where}: ts must be seconds since the epoch", "federation_message_shape")
    if not isinstance(body, dict):
        raise Refused(f"{where}: body must be a JSON object", "federation_message_shape")
    assert isinstance(sender, str) and isinstance(recipient, str)
    envelope = Envelope(mid, sender, recipient, kind, seq, float(ts), body)
    if len(orjson.dumps(body)) > MAX_BODY_BYTES:
        raise Refused(
            f"{where}: body is over {MAX_BODY_BYTES:,} bytes", "federation_message_too_large"
        )
    sig = data.get("sig")
    try:
        signature = base64.b64decode(sig, validate=True) if isinstance(sig, str) else b""
    except (binascii.Error, ValueError):
        signature = b""
    if len(signature) != SIGNATURE_BYTES:
        raise Refused(f"{where}: sig must be 64 bytes in base64", "federation_signature")
    return envelope, signature


def verified(envelope: Envelope, signature: bytes, key: PublicKey) -> bool:
    """Whether ``signature`` is ``key``'s over the envelope (as rebuilt from what was read:
    a float read back is the same float, so its text is the same)."""
    return key.verify(envelope.signed_bytes(), signature)
