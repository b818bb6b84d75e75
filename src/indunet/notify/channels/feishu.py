"""飞书 (Feishu / Lark) custom bots, with the optional signature check.

The webhook is ``https://open.feishu.cn/open-apis/bot/v2/hook/<id>`` (kept sealed). The body
is JSON with ``msg_type`` ``text`` (``{"content": {"text": ...}}``) or ``post`` (rich text:
``{"content": {"post": {"zh_cn": {"title": ..., "content": [[{"tag": "text", "text": ...}],
...]}}}}``). With signing on, the body also carries ``timestamp`` (seconds, as a string) and
``sign``: the Base64 of the HMAC-SHA256 whose *key* is ``f"{timestamp}\\n{secret}"`` over an
empty message; the bot refuses a timestamp more than an hour off. It answers ``{"code": 0}``
(older bots ``{"StatusCode": 0}``).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import orjson

from indunet.notify.channels import common
from indunet.notify.channels.base import DeliveryFailed, Message, SendContext
from indunet.notify.channels.http import check_status, json_answer, post

MSGTYPES = ("post", "text")


def sign(secret: str, timestamp: int) -> str:
    """The ``sign`` field for ``timestamp`` (seconds)."""
    key = f"{timestamp}\n{secret}".encode()
    return base64.b64encode(hmac.new(key, b"", hashlib.sha256).digest()).decode()


def payload(message: Message, msg_type: str) -> dict[str, Any]:
    """The bot's JSON body for ``message`` (unsigned)."""
    if msg_type == "post":
        rows = [[{"tag": "text", "text": line}] for line in message.lines]
        post = {"zh_cn": {"title": message.subject, "content": rows}}
        return {"msg_type": "post", "content": {"post": post}}
    return {"msg_type": "text", "content": {"text": message.text()}}


def parse(form: Mapping[str, str], ctx: SendContext) -> tuple[dict[str, Any], dict[str, str]]:
    """Shown settings and secrets of a Feishu bot from its form (the secret is optional)."""
    address = common.url(form, ctx.policy)
    msg_type = common.choice(form, "msgtype", MSGTYPES)
    secret = common.text(form, "secret", required=False, limit=200)
    config = {"url": common.shown_url(address), "msgtype": msg_type, "signed": bool(secret)}
    return config, {"url": address, "secret": secret}


@dataclass(frozen=True)
class Feishu:
    """A Feishu custom bot."""

    url: str
    msg_type: str
    secret: str
    ctx: SendContext

    async def send(self, message: Message) -> None:
        """POST the message, signed when the bot has a secret; ``code`` must be 0."""
        body = payload(message, self.msg_type)
        if self.secret:
            ts = int(time.time())
            body = {"timestamp": str(ts), "sign": sign(self.secret, ts), **body}
        status, answer = await post(self.ctx, self.url, orjson.dumps(body))
        check_status(status, answer)
        data = json_answer(answer)
        code = data.get("code", data.get("StatusCode"))
        if code != 0:
            msg = str(data.get("msg", data.get("StatusMessage", "")))
            raise DeliveryFailed(
                f"the bot refused: {code} {msg}", "notify_send_bot_error", code=code, msg=msg
            )


def make(config: Mapping[str, Any], secrets: Mapping[str, str], ctx: SendContext) -> Feishu:
    """The channel of stored settings."""
    return Feishu(
        secrets["url"], str(config.get("msgtype", "post")), secrets.get("secret", ""), ctx
    )
