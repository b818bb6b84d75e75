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


#: Why a send failed (``reason`` of ``DeliveryFailed``, catalogue ``error.<reason>``) and the
#: params each one carries; the delivery log keeps the reason and params, not a text.
FAILURES = {
    "notify_send_refused": ("host", "port"),  # nothing listens there (connection refused)
    "notify_send_timeout": ("host", "port"),  # no answer in time
    "notify_send_unreachable": ("host", "port"),  # no route, reset, DNS: the network failed
    "notify_send_tls": ("host",),  # the TLS handshake or certificate check failed
    "notify_send_no_starttls": ("host",),  # the mail server does not offer STARTTLS
    "notify_send_auth": ("host", "code"),  # the mail server refused the login
    "notify_send_mail_refused": ("host", "code"),  # the mail server refused sender/recipient/mail
    "notify_send_http_status": ("status",),  # the webhook answered other than 2xx
    "notify_send_bad_answer": (),  # the bot's answer is not a JSON object
    "notify_send_bot_error": ("code", "msg"),  # the bot answered with an error code
}


class DeliveryFailed(IndunetError):
    """A channel did not accept a message: ``reason`` (one of ``FAILURES``) and ``params``
    say why, ``message`` says it in English (the API and the server log)."""

    code = "delivery_failed"
    status = 502

    def __init__(self, message: str, reason: str, **params: object) -> None:
        assert reason in FAILURES, reason
        shown = {k: str(v)[:200] for k, v in params.items()}
        super().__init__(message[:300], reason=reason, params=shown)


def network_failure(exc: BaseException, host: str, port: int | None) -> DeliveryFailed:
    """The ``DeliveryFailed`` of a connection that failed with ``exc`` (``OSError`` family,
    TLS or an HTTP client's transport error)."""
    where = {"host": host, "port": "" if port is None else port}
    text = f"{type(exc).__name__}: {exc}"
    chain = [exc]  # an HTTP client's error wraps the socket's
    while (inner := chain[-1].__cause__ or chain[-1].__context__) is not None and len(chain) < 8:
        chain.append(inner)
    if any(isinstance(e, ssl.SSLError) for e in chain):
        return DeliveryFailed(text, "notify_send_tls", host=host)
    if any(isinstance(e, ConnectionRefusedError) for e in chain):
        return DeliveryFailed(text, "notify_send_refused", **where)
    if any(isinstance(e, TimeoutError) or "Timeout" in type(e).__name__ for e in chain):
        return DeliveryFailed(text, "notify_send_timeout", **where)
    return DeliveryFailed(text, "notify_send_unreachable", **where)


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
