"""Every channel against a local receiver: email through an SMTP server that demands STARTTLS
(aiosmtpd, a certificate made in the test), and the webhook kinds through a loopback HTTP
receiver that checks each bot's documented body and verifies the signatures."""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import time
from email import message_from_bytes, policy
from urllib.parse import parse_qs, urlsplit

import pytest
from tests.notify.conftest import SMTP_PASSWORD, SMTP_USER, Receiver, Smtp, Tls, context

from indunet.notify import KINDS, DeliveryFailed, DestinationPolicy, DestinationRefused, Message
from indunet.notify.channels import webhook
from indunet.notify.channels.base import FAILURES
from indunet.web.console.i18n import translator

MESSAGE = Message("告警：pump-1 · 轴承过热", ("2026-03-01 08:00:00 告警：pump-1 93.5 ℃",))


def channel(kind: str, form: dict[str, str], ctx: object) -> object:
    spec = KINDS[kind]
    config, secrets = spec.parse(form, ctx)  # type: ignore[arg-type]
    return spec.make(config, secrets, ctx)  # type: ignore[arg-type]


async def test_email_goes_over_starttls_with_a_login(
    smtp: Smtp, tls: Tls, loopback: DestinationPolicy
) -> None:
    form = {
        "host": "127.0.0.1",
        "port": str(smtp.port),
        "security": "starttls",
        "username": SMTP_USER,
        "password": SMTP_PASSWORD,
        "sender": "indunet@example.com",
        "to": "ops@example.com; lead@example.com",
    }
    mail = channel("email", form, context(loopback, tls))
    await mail.send(MESSAGE)  # type: ignore[attr-defined]
    ((envelope, over_tls),) = smtp.mailbox.mails
    assert over_tls
    assert envelope.rcpt_tos == ["ops@example.com", "lead@example.com"]
    parsed = message_from_bytes(envelope.original_content or b"", policy=policy.default)
    assert parsed["Subject"] == MESSAGE.subject
    body = parsed.get_body().get_content()  # type: ignore[union-attr]
    assert "93.5 ℃" in body


async def test_email_refuses_an_untrusted_certificate_and_a_wrong_password(
    smtp: Smtp, tls: Tls, loopback: DestinationPolicy
) -> None:
    form = {
        "host": "127.0.0.1",
        "port": str(smtp.port),
        "username": SMTP_USER,
        "password": SMTP_PASSWORD,
        "sender": "a@example.com",
        "to": "b@example.com",
    }
    untrusted = channel("email", form, context(loopback))  # the system's CAs only
    with pytest.raises(DeliveryFailed, match=r"CERTIFICATE_VERIFY_FAILED|certificate") as bad:
        await untrusted.send(MESSAGE)  # type: ignore[attr-defined]
    assert (bad.value.reason, bad.value.params) == ("notify_send_tls", {"host": "127.0.0.1"})
    wrong = channel("email", form | {"password": "wrong"}, context(loopback, tls))
    with pytest.raises(DeliveryFailed, match=r"535|Authentication") as refused:
        await wrong.send(MESSAGE)  # type: ignore[attr-defined]
    assert refused.value.reason == "notify_send_auth" and refused.value.params["code"] == "535"
    assert smtp.mailbox.mails == []


async def test_email_server_on_loopback_is_refused_unless_allowed(smtp: Smtp, tls: Tls) -> None:
    form = {
        "host": "127.0.0.1",
        "port": str(smtp.port),
        "sender": "a@example.com",
        "to": "b@example.com",
    }
    mail = channel("email", form, context(DestinationPolicy(), tls))
    with pytest.raises(DestinationRefused, match="loopback"):
        await mail.send(MESSAGE)  # type: ignore[attr-defined]
    assert smtp.mailbox.mails == []


async def test_generic_webhook_is_signed_over_timestamp_and_body(
    receiver: Receiver, loopback: DestinationPolicy
) -> None:
    key = "a-signing-key-of-32-characters!!"
    hook = channel("webhook", {"url": receiver.url("/hook"), "secret": key}, context(loopback))
    await hook.send(MESSAGE)  # type: ignore[attr-defined]
    (hit,) = receiver.hits
    ts = hit.headers["x-indunet-timestamp"]
    assert abs(int(ts) - time.time()) < 5
    expected = hmac.new(key.encode(), ts.encode() + b"." + hit.body, hashlib.sha256).hexdigest()
    assert hit.headers["x-indunet-signature"] == "sha256=" + expected
    assert hit.json()["subject"] == MESSAGE.subject and hit.json()["lines"] == list(MESSAGE.lines)


async def test_wecom_robot_gets_markdown_or_text(
    receiver: Receiver, loopback: DestinationPolicy
) -> None:
    url = receiver.url("/cgi-bin/webhook/send?key=693a91f6-7xxx")
    await channel("wecom", {"url": url, "msgtype": "markdown"}, context(loopback)).send(MESSAGE)  # type: ignore[attr-defined]
    await channel("wecom", {"url": url, "msgtype": "text"}, context(loopback)).send(MESSAGE)  # type: ignore[attr-defined]
    md, text = (h.json() for h in receiver.hits)
    assert receiver.hits[0].path == "/cgi-bin/webhook/send?key=693a91f6-7xxx"
    assert md["msgtype"] == "markdown" and MESSAGE.subject in md["markdown"]["content"]
    assert text == {"msgtype": "text", "text": {"content": MESSAGE.text()}}
    receiver.answer = {"errcode": 93000, "errmsg": "invalid webhook url"}
    with pytest.raises(DeliveryFailed, match="93000") as bot:
        await channel("wecom", {"url": url}, context(loopback)).send(MESSAGE)  # type: ignore[attr-defined]
    assert bot.value.reason == "notify_send_bot_error"
    assert bot.value.params == {"code": "93000", "msg": "invalid webhook url"}


async def test_dingtalk_robot_with_jiaqian_signature(
    receiver: Receiver, loopback: DestinationPolicy
) -> None:
    secret = "SEC0123456789abcdef"
    url = receiver.url("/robot/send?access_token=abc")
    await channel(
        "dingtalk", {"url": url, "msgtype": "text", "secret": secret}, context(loopback)
    ).send(MESSAGE)  # type: ignore[attr-defined]
    (hit,) = receiver.hits
    query = parse_qs(urlsplit(hit.path).query)
    assert query["access_token"] == ["abc"]
    ts = query["timestamp"][0]
    assert abs(int(ts) / 1000 - time.time()) < 5  # milliseconds
    mac = hmac.new(secret.encode(), f"{ts}\n{secret}".encode(), hashlib.sha256).digest()
    assert query["sign"] == [base64.b64encode(mac).decode()]  # parse_qs undid the URL-encoding
    assert hit.json() == {"msgtype": "text", "text": {"content": MESSAGE.text()}}


async def test_feishu_bot_with_signature_in_the_body(
    receiver: Receiver, loopback: DestinationPolicy
) -> None:
    secret = "feishu-bot-secret"
    receiver.answer = {"code": 0, "msg": "success"}
    url = receiver.url("/open-apis/bot/v2/hook/0a1b2c")
    before = int(time.time())
    await channel(
        "feishu", {"url": url, "msgtype": "post", "secret": secret}, context(loopback)
    ).send(MESSAGE)  # type: ignore[attr-defined]
    after = time.time()
    body = receiver.hits[0].json()
    ts = body["timestamp"]
    assert isinstance(ts, str) and before <= int(ts) <= after  # the sending time, in seconds
    mac = hmac.new(f"{ts}\n{secret}".encode(), b"", hashlib.sha256).digest()
    assert body["sign"] == base64.b64encode(mac).decode()
    assert body["msg_type"] == "post"
    assert body["content"]["post"]["zh_cn"]["title"] == MESSAGE.subject
    receiver.answer = {"code": 19021, "msg": "sign match fail or timestamp is not within one hour"}
    with pytest.raises(DeliveryFailed, match="19021"):
        await channel("feishu", {"url": url, "secret": "wrong"}, context(loopback)).send(MESSAGE)  # type: ignore[attr-defined]


async def test_a_receiver_error_and_a_huge_answer_are_bounded_failures(
    receiver: Receiver, loopback: DestinationPolicy
) -> None:
    hook = channel("webhook", {"url": receiver.url("/h"), "secret": "k" * 16}, context(loopback))
    receiver.status = 500
    with pytest.raises(DeliveryFailed, match="HTTP 500") as failed:
        await hook.send(MESSAGE)  # type: ignore[attr-defined]
    assert (failed.value.reason, failed.value.params) == (
        "notify_send_http_status",
        {"status": "500"},
    )
    receiver.status, receiver.answer = 200, {"junk": "x" * 200_000}
    await hook.send(MESSAGE)  # type: ignore[attr-defined]  # a 2xx with a huge body is read only up to the cap


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:9/x",  # loopback, not allowed
        "https://10.1.2.3/x",  # private
        "https://169.254.169.254/latest/meta-data",  # link-local (cloud metadata)
        "http://8.8.8.8/x",  # plain http to a public address
        "ftp://example.com/x",
        "https://user:pw@example.com/x",
        "https://example.com:22/x",
        "not a url",
    ],
)
def test_destination_policy_refuses_on_save(url: str) -> None:
    with pytest.raises(DestinationRefused) as err:
        DestinationPolicy().check_url(url)
    assert err.value.reason == "notify_destination_refused" and err.value.status == 400


async def test_the_policy_is_applied_again_at_each_send(receiver: Receiver) -> None:
    """A channel saved while its address was allowed is refused once it no longer is."""
    hook = webhook.Webhook(receiver.url("/h"), "k" * 16, context(DestinationPolicy()))
    with pytest.raises(DestinationRefused, match="loopback"):
        await hook.send(MESSAGE)
    assert receiver.hits == []


async def test_a_subject_with_line_breaks_is_one_header_line(
    smtp: Smtp, tls: Tls, loopback: DestinationPolicy
) -> None:
    form = {
        "host": "127.0.0.1",
        "port": str(smtp.port),
        "username": SMTP_USER,
        "password": SMTP_PASSWORD,
        "sender": "a@example.com",
        "to": "b@example.com",
    }
    mail = channel("email", form, context(loopback, tls))
    await mail.send(Message("告警\r\nBcc: evil@example.com", ("x",)))  # type: ignore[attr-defined]
    ((envelope, _),) = smtp.mailbox.mails
    assert envelope.rcpt_tos == ["b@example.com"]
    parsed = message_from_bytes(envelope.original_content or b"", policy=policy.default)
    assert parsed["Subject"] == "告警 Bcc: evil@example.com" and parsed["Bcc"] is None


@pytest.mark.parametrize("locale", ["zh-CN", "en"])
def test_every_send_failure_has_its_text_naming_only_its_params(locale: str) -> None:
    t = translator(locale)
    for reason, params in FAILURES.items():
        key = f"error.{reason}"
        assert t.has(key), key
        assert set(re.findall(r"{(\w+)}", t.messages[key])) == set(params), key
