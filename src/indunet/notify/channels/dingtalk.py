"""钉钉 (DingTalk) custom robots, with the optional 加签 signature.

The webhook is ``https://oapi.dingtalk.com/robot/send?access_token=<token>`` (kept sealed).
The body is JSON with ``msgtype`` ``text`` (``{"text": {"content": ...}}``) or ``markdown``
(``{"markdown": {"title": ..., "text": ...}}``). With 加签 the robot's secret (``SEC…``) signs
each request: ``timestamp`` is the time in milliseconds, ``sign`` the Base64 of the
HMAC-SHA256, keyed with the secret, of ``f"{timestamp}\\n{secret}"``; both go in the query
string (URL-encoded), and the robot refuses a timestamp more than an hour off. It answers
``{"errcode": 0, "errmsg": "ok"}``.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import orjson

from indunet.notify.channels import common
from indunet.notify.channels.base import Message, SendContext
from indunet.notify.channels.http import check_status, json_answer, post
from indunet.notify.channels.wecom import check_answer

MSGTYPES = ("markdown", "text")


def sign(secret: str, timestamp_ms: int) -> str:
    """The ``sign`` parameter (Base64, before URL-encoding) for ``timestamp_ms``."""
    mac = hmac.new(secret.encode(), f"{timestamp_ms}\n{secret}".encode(), hashlib.sha256)
    return base64.b64encode(mac.digest()).decode()


def signed_url(url: str, secret: str, timestamp_ms: int) -> str:
    """``url`` with ``timestamp`` and ``sign`` added to its query."""
    query = urlencode({"timestamp": timestamp_ms, "sign": sign(secret, timestamp_ms)})
    return url + ("&" if "?" in url else "?") + query


def payload(message: Message, msgtype: str) -> dict[str, Any]:
    """The robot's JSON body for ``message``."""
    if msgtype == "markdown":
        text = "\n\n".join((f"#### {message.subject}", *(f"- {line}" for line in message.lines)))
        return {
            "msgtype": "markdown",
            "markdown": {"title": message.subject[:100], "text": Message(text).text(4000)},
        }
    return {"msgtype": "text", "text": {"content": message.text()}}


def parse(form: Mapping[str, str], ctx: SendContext) -> tuple[dict[str, Any], dict[str, str]]:
    """Shown settings and secrets of a DingTalk robot from its form (the secret is optional)."""
    address = common.url(form, ctx.policy)
    msgtype = common.choice(form, "msgtype", MSGTYPES)
    secret = common.text(form, "secret", required=False, limit=200)
    config = {"url": common.shown_url(address), "msgtype": msgtype, "signed": bool(secret)}
    return config, {"url": address, "secret": secret}


@dataclass(frozen=True)
class DingTalk:
    """A DingTalk custom robot."""

    url: str
    msgtype: str
    secret: str
    ctx: SendContext

    async def send(self, message: Message) -> None:
        """POST the message, signed when the robot has a secret; ``errcode`` must be 0."""
        url = self.url
        if self.secret:
            url = signed_url(url, self.secret, time.time_ns() // 1_000_000)
        status, answer = await post(self.ctx, url, orjson.dumps(payload(message, self.msgtype)))
        check_status(status, answer)
        check_answer(json_answer(answer))


def make(config: Mapping[str, Any], secrets: Mapping[str, str], ctx: SendContext) -> DingTalk:
    """The channel of stored settings."""
    msgtype = str(config.get("msgtype", "markdown"))
    return DingTalk(secrets["url"], msgtype, secrets.get("secret", ""), ctx)
