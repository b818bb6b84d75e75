"""Notification channels, one module per kind, described in one table (``KINDS``).

Each kind offers ``parse(form, ctx) -> (shown settings, secrets)``, checking what an
administrator typed (secrets are sealed at rest and never shown again), and
``make(settings, secrets, ctx) -> Channel``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from indunet.notify.channels import dingtalk, email, feishu, webhook, wecom
from indunet.notify.channels.base import Channel, DeliveryFailed, Message, SendContext

Parse = Callable[[Mapping[str, str], SendContext], tuple[dict[str, Any], dict[str, str]]]
Make = Callable[[Mapping[str, Any], Mapping[str, str], SendContext], Channel]


@dataclass(frozen=True, slots=True)
class ChannelKind:
    """One kind of channel: its name, the form fields it reads, its parser and factory."""

    name: str
    fields: tuple[str, ...]
    parse: Parse
    make: Make


KINDS: dict[str, ChannelKind] = {
    k.name: k
    for k in (
        ChannelKind(
            "email",
            ("host", "port", "security", "username", "password", "sender", "to"),
            email.parse,
            email.make,
        ),
        ChannelKind("webhook", ("url", "secret"), webhook.parse, webhook.make),
        ChannelKind("wecom", ("url", "msgtype"), wecom.parse, wecom.make),
        ChannelKind("dingtalk", ("url", "msgtype", "secret"), dingtalk.parse, dingtalk.make),
        ChannelKind("feishu", ("url", "msgtype", "secret"), feishu.parse, feishu.make),
    )
}

__all__ = ["KINDS", "Channel", "ChannelKind", "DeliveryFailed", "Message", "SendContext"]
