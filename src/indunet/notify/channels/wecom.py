"""企业微信 (WeCom) group robots.

The robot's webhook is ``https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=<key>``; the key
in it is the only credential, so the whole URL is kept sealed. The body is JSON with
``msgtype`` ``text`` (``{"msgtype": "text", "text": {"content": ...}}``, at most 2,048 bytes)
or ``markdown`` (``{"msgtype": "markdown", "markdown": {"content": ...}}``, at most 4,096
bytes); the robot answers ``{"errcode": 0, "errmsg": "ok"}``, anything else is a failure.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import orjson

from indunet.notify.channels import common
from indunet.notify.channels.base import DeliveryFailed, Message, SendContext
from indunet.notify.channels.http import check_status, json_answer, post

MSGTYPES = ("markdown", "text")


def payload(message: Message, msgtype: str) -> dict[str, Any]:
    """The robot's JSON body for ``message``."""
    if msgtype == "markdown":
        content = "\n".join((f"**{message.subject}**", *(f"> {line}" for line in message.lines)))
        return {"msgtype": "markdown", "markdown": {"content": Message(content).text(4000)}}
    return {"msgtype": "text", "text": {"content": message.text()}}


def check_answer(answer: Mapping[str, object]) -> None:
    """``errcode`` 0, else ``DeliveryFailed`` with the robot's ``errmsg``."""
    if answer.get("errcode") != 0:
        code, msg = answer.get("errcode"), str(answer.get("errmsg", ""))
        raise DeliveryFailed(
            f"the robot refused: {code} {msg}", "notify_send_bot_error", code=code, msg=msg
        )


def parse(form: Mapping[str, str], ctx: SendContext) -> tuple[dict[str, Any], dict[str, str]]:
    """Shown settings and secrets of a WeCom robot from its form."""
    address = common.url(form, ctx.policy)
    msgtype = common.choice(form, "msgtype", MSGTYPES)
    return {"url": common.shown_url(address), "msgtype": msgtype}, {"url": address}


@dataclass(frozen=True)
class WeCom:
    """A WeCom group robot."""

    url: str
    msgtype: str
    ctx: SendContext

    async def send(self, message: Message) -> None:
        """POST the message in the robot's format; its ``errcode`` must be 0."""
        status, answer = await post(
            self.ctx, self.url, orjson.dumps(payload(message, self.msgtype))
        )
        check_status(status, answer)
        check_answer(json_answer(answer))


def make(config: Mapping[str, Any], secrets: Mapping[str, str], ctx: SendContext) -> WeCom:
    """The channel of stored settings."""
    return WeCom(secrets["url"], str(config.get("msgtype", "markdown")), ctx)
