"""Email over SMTP: STARTTLS on the submission port (587) or TLS from the start (465).

The mail server's name is resolved and checked by the destination policy and the connection
goes to that address, while the certificate is checked against the server's name. Mail is
never sent in clear text, and the password (sealed at rest) only crosses an encrypted
connection. ``smtplib`` runs in a worker thread, so the event loop never waits on the server.
"""

from __future__ import annotations

import asyncio
import smtplib
import ssl
from collections.abc import Mapping
from dataclasses import dataclass
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from typing import Any

from indunet.core import InvalidInput
from indunet.notify.channels import common
from indunet.notify.channels.base import DeliveryFailed, Message, SendContext, network_failure

SECURITY = ("starttls", "tls")
MAX_RECIPIENTS = 20


def _address(text: str, field: str) -> str:
    try:
        local, _, domain = text.rpartition("@")
        Address(addr_spec=text)
        if not local or "." not in domain:
            raise ValueError(text)
    except (ValueError, IndexError):
        raise InvalidInput(
            f"{field}: {text!r} is not an email address",
            reason="notify_bad_address",
            params={"address": text},
        ) from None
    return text


def parse(form: Mapping[str, str], ctx: SendContext) -> tuple[dict[str, Any], dict[str, str]]:
    """Shown settings and secrets of a mail channel from its form."""
    host = common.text(form, "host", limit=253)
    port_text = common.text(form, "port", required=False, limit=5) or "587"
    if not port_text.isdigit() or not 1 <= int(port_text) <= 65535:
        raise InvalidInput(
            f"port {port_text!r} is not a port number",
            reason="notify_bad_port",
            params={"port": port_text},
        )
    security = common.choice(form, "security", SECURITY)
    username = common.text(form, "username", required=False, limit=200)
    sender = _address(common.text(form, "sender", limit=254), "sender")
    recipients = [
        r.strip() for r in common.text(form, "to", limit=5000).replace(";", ",").split(",")
    ]
    recipients = [_address(r, "to") for r in recipients if r]
    if not recipients or len(recipients) > MAX_RECIPIENTS:
        raise InvalidInput(
            f"give 1 to {MAX_RECIPIENTS} recipients",
            reason="notify_recipients",
            params={"max": MAX_RECIPIENTS},
        )
    config = {
        "host": host,
        "port": int(port_text),
        "security": security,
        "username": username,
        "sender": sender,
        "to": recipients,
    }
    return config, {"password": common.text(form, "password", required=False, limit=500)}


def build(message: Message, sender: str, recipients: list[str]) -> EmailMessage:
    """The mail of ``message`` (UTF-8 plain text)."""
    mail = EmailMessage()
    mail["Subject"] = " ".join(message.subject.split())[:300]  # one line, whatever it held
    mail["From"] = sender
    mail["To"] = ", ".join(recipients)
    mail["Date"] = formatdate(localtime=False)
    mail["Message-ID"] = make_msgid(domain=sender.rpartition("@")[2])
    mail.set_content(message.text(20_000))
    return mail


@dataclass(frozen=True)
class Email:
    """A mailbox list behind one SMTP server."""

    host: str
    port: int
    security: str
    username: str
    password: str
    sender: str
    recipients: tuple[str, ...]
    ctx: SendContext

    async def send(self, message: Message) -> None:
        """Send through the server (its checked address) in a worker thread."""
        ip = await self.ctx.policy.resolve_host(self.host, self.port)
        mail = build(message, self.sender, list(self.recipients))
        try:
            await asyncio.to_thread(self._send, str(ip), mail)
        except smtplib.SMTPAuthenticationError as exc:
            code = exc.smtp_code
            raise DeliveryFailed(
                f"the mail server refused the login: {code} {exc.smtp_error!r}",
                "notify_send_auth",
                host=self.host,
                code=code,
            ) from None
        except smtplib.SMTPResponseException as exc:
            raise DeliveryFailed(
                f"the mail server refused the message: {exc}",
                "notify_send_mail_refused",
                host=self.host,
                code=exc.smtp_code,
            ) from None
        except smtplib.SMTPRecipientsRefused as exc:
            codes = ",".join(sorted({str(code) for code, _ in exc.recipients.values()}))
            raise DeliveryFailed(
                f"the mail server refused the recipients: {exc}",
                "notify_send_mail_refused",
                host=self.host,
                code=codes,
            ) from None
        except (smtplib.SMTPNotSupportedError, smtplib.SMTPServerDisconnected) as exc:
            if self.security == "starttls" and "STARTTLS" in str(exc).upper():
                raise DeliveryFailed(str(exc), "notify_send_no_starttls", host=self.host) from None
            raise network_failure(exc, self.host, self.port) from None
        except smtplib.SMTPException as exc:
            raise DeliveryFailed(
                f"the mail server refused: {exc}",
                "notify_send_mail_refused",
                host=self.host,
                code="",
            ) from None
        except OSError as exc:  # ssl.SSLError and socket timeouts are OSErrors too
            raise network_failure(exc, self.host, self.port) from None

    def _send(self, ip: str, mail: EmailMessage) -> None:
        tls = self.ctx.tls or ssl.create_default_context()
        timeout = self.ctx.policy.limits.total_timeout
        smtp: smtplib.SMTP
        if self.security == "tls":
            smtp = smtplib.SMTP_SSL(timeout=timeout, context=tls)
        else:
            smtp = smtplib.SMTP(timeout=timeout)
        # connect to the checked address; the certificate is checked for the server's name
        smtp._host = self.host  # type: ignore[attr-defined]
        with smtp:
            smtp.connect(ip, self.port)
            if self.security == "starttls":
                smtp.ehlo()
                if not smtp.has_extn("starttls"):
                    raise DeliveryFailed(
                        "the mail server does not offer STARTTLS",
                        "notify_send_no_starttls",
                        host=self.host,
                    )
                smtp.starttls(context=tls)
                smtp.ehlo()
            if self.username:
                smtp.login(self.username, self.password)
            smtp.send_message(mail)


def make(config: Mapping[str, Any], secrets: Mapping[str, str], ctx: SendContext) -> Email:
    """The channel of stored settings."""
    return Email(
        str(config["host"]),
        int(config["port"]),
        str(config["security"]),
        str(config.get("username", "")),
        secrets.get("password", ""),
        str(config["sender"]),
        tuple(config["to"]),
        ctx,
    )
