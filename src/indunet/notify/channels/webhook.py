"""Generic webhooks, signed so the receiver can trust them and refuse replays.

The body is a JSON object: ``{"subject": ..., "text": ..., "lines": [...], "sent_at": ...}``.
Two headers come with it:

- ``X-Indunet-Timestamp``: the time of sending, whole seconds since 1970 (UTC);
- ``X-Indunet-Signature``: ``sha256=`` and the lower-case hex HMAC-SHA256, keyed with the
  channel's signing key, of the timestamp, a full stop and the exact body bytes
  (``f"{timestamp}.".encode() + body``).

A receiver recomputes the HMAC over the bytes it got, compares in constant time, and refuses
a timestamp more than five minutes from its own clock (``verify`` does all three), so a
captured request cannot be sent again later.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import orjson

from indunet.core import InvalidInput
from indunet.notify.channels import common
from indunet.notify.channels.base import Message, SendContext
from indunet.notify.channels.http import check_status, post

TIMESTAMP_HEADER = "X-Indunet-Timestamp"
SIGNATURE_HEADER = "X-Indunet-Signature"
#: How far a receiver accepts a timestamp from its own clock, in seconds.
TOLERANCE_S = 300
MIN_KEY = 16


def signature(key: str, timestamp: int, body: bytes) -> str:
    """The ``X-Indunet-Signature`` value of ``body`` sent at ``timestamp``."""
    mac = hmac.new(key.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


def verify(key: str, timestamp: str, body: bytes, sig: str, *, now: float | None = None) -> bool:
    """What a receiver does: the signature matches and the timestamp is recent."""
    try:
        ts = int(timestamp)
    except ValueError:
        return False
    if abs((time.time() if now is None else now) - ts) > TOLERANCE_S:
        return False
    return hmac.compare_digest(signature(key, ts, body), sig)


def parse(form: Mapping[str, str], ctx: SendContext) -> tuple[dict[str, Any], dict[str, str]]:
    """Shown settings and secrets of a webhook channel from its form."""
    address = common.url(form, ctx.policy)
    key = common.text(form, "secret", limit=200)
    if len(key) < MIN_KEY:
        raise InvalidInput(
            f"the signing key needs at least {MIN_KEY} characters",
            reason="notify_key_short",
            params={"min": MIN_KEY},
        )
    return {"url": common.shown_url(address)}, {"url": address, "secret": key}


@dataclass(frozen=True)
class Webhook:
    """A signed JSON POST."""

    url: str
    key: str
    ctx: SendContext

    async def send(self, message: Message) -> None:
        """POST the message, signed."""
        body = orjson.dumps(
            {
                "subject": message.subject,
                "text": message.text(),
                "lines": list(message.lines),
                "sent_at": datetime.now(UTC).isoformat(),
            }
        )
        ts = int(time.time())
        headers = {TIMESTAMP_HEADER: str(ts), SIGNATURE_HEADER: signature(self.key, ts, body)}
        check_status(*await post(self.ctx, self.url, body, headers))


def make(config: Mapping[str, Any], secrets: Mapping[str, str], ctx: SendContext) -> Webhook:
    """The channel of stored settings."""
    return Webhook(secrets["url"], secrets["secret"], ctx)
