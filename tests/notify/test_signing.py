"""Signatures: the generic webhook's, DingTalk's 加签 and Feishu's, checked against the
formulas their documentation gives (computed here independently)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import time

from indunet.notify.channels import dingtalk, feishu, webhook
from indunet.notify.channels.base import Message


def test_webhook_signature_covers_timestamp_and_body_and_refuses_replays() -> None:
    body = b'{"subject":"x"}'
    sig = webhook.signature("k" * 16, 1_700_000_000, body)
    expected = hmac.new(b"k" * 16, b"1700000000." + body, hashlib.sha256).hexdigest()
    assert sig == "sha256=" + expected
    now = 1_700_000_000 + 10
    assert webhook.verify("k" * 16, "1700000000", body, sig, now=now)
    assert not webhook.verify("k" * 16, "1700000000", body + b" ", sig, now=now)  # body changed
    assert not webhook.verify("k" * 16, "1700000001", body, sig, now=now)  # timestamp changed
    assert not webhook.verify("other-key-16-chars", "1700000000", body, sig, now=now)
    assert not webhook.verify("k" * 16, "1700000000", body, sig, now=now + 400)  # replayed late
    assert not webhook.verify("k" * 16, "not-a-time", body, sig, now=now)


def test_dingtalk_sign_is_base64_hmac_of_timestamp_newline_secret_keyed_by_secret() -> None:
    secret, ts = "SECabc123", 1_700_000_000_123
    mac = hmac.new(secret.encode(), f"{ts}\n{secret}".encode(), hashlib.sha256).digest()
    assert dingtalk.sign(secret, ts) == base64.b64encode(mac).decode()
    url = dingtalk.signed_url("https://oapi.dingtalk.com/robot/send?access_token=t", secret, ts)
    assert url.startswith(
        "https://oapi.dingtalk.com/robot/send?access_token=t&timestamp=1700000000123&sign="
    )
    assert "+" not in url.split("sign=")[1] and "/" not in url.split("sign=")[1]  # URL-encoded


def test_feishu_sign_is_hmac_keyed_by_timestamp_newline_secret_over_nothing() -> None:
    secret, ts = "feishu-secret", int(time.time())
    mac = hmac.new(f"{ts}\n{secret}".encode(), b"", hashlib.sha256).digest()
    assert feishu.sign(secret, ts) == base64.b64encode(mac).decode()


def test_bot_payloads_have_the_documented_shapes() -> None:
    m = Message("告警：pump-1", ("line one", "line two"))
    assert feishu.payload(m, "text") == {"msg_type": "text", "content": {"text": m.text()}}
    post = feishu.payload(m, "post")["content"]["post"]["zh_cn"]
    assert post["title"] == "告警：pump-1" and post["content"][0] == [
        {"tag": "text", "text": "line one"}
    ]
    ding = dingtalk.payload(m, "markdown")
    assert ding["msgtype"] == "markdown" and set(ding["markdown"]) == {"title", "text"}
    assert dingtalk.payload(m, "text") == {"msgtype": "text", "text": {"content": m.text()}}


def test_long_messages_are_cut_to_the_bots_byte_limit() -> None:
    m = Message("主题", tuple("很长的一行" * 50 for _ in range(20)))
    assert len(m.text().encode()) <= 2000 and m.text().endswith("…")
