"""What every channel shares: the message, the ``Channel`` protocol, its failure, and its context."""

from __future__ import annotations

import ssl
from dataclasses import dataclass, field
from typing import Protocol

from indunet.core import IndunetError
from indunet.notify.destinations import DestinationPolicy

#: The longest message text a channel is given (WeCom's text limit is 2,048 bytes).
MAX_TEXT_BYTES = 2000


@dataclass(frozen=True, slots=True)
class Message:
    """One notification: a subject line and the lines of its body (plain text)."""

    subject: str
    lines: tuple[str, ...] = ()

    def text(self, limit: int = MAX_TEXT_BYTES) -> str:
        """Subject and body as one text of at most ``limit`` UTF-8 bytes (cut with "…")."""
        whole = "\n".join((self.subject, *self.lines))
        data = whole.encode()
        if len(data) <= limit:
            return whole
        return data[: limit - 3].decode(errors="ignore") + "…"


class DeliveryFailed(IndunetError):
    """A channel did not accept a message; ``message`` says why (logged in the delivery log)."""

    code = "delivery_failed"
    status = 502

    def __init__(self, message: str) -> None:
        super().__init__(message, reason="notify_delivery_failed", params={"why": message})


@dataclass(frozen=True)
class SendContext:
    """What a channel needs besides its settings: the destination policy and, for tests or a
    private CA, the TLS context that replaces the system's certificate authorities."""

    policy: DestinationPolicy = field(default_factory=DestinationPolicy.from_env)
    tls: ssl.SSLContext | None = None


class Channel(Protocol):
    """Sends messages to one place (a mailbox list, a webhook, a group bot)."""

    async def send(self, message: Message) -> None:
        """Deliver ``message`` or raise ``DeliveryFailed`` (or ``DestinationRefused``)."""
