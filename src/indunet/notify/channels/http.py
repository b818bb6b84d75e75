"""One HTTP POST to a checked destination: the address pinned, time and answer bounded.

The URL's host is resolved and checked by the destination policy, and the request is sent to
that address (``Host`` and the TLS server name keep the URL's name), so a name cannot be
re-pointed between the check and the connection. Redirects are not followed.
"""

from __future__ import annotations

import ipaddress

import httpx
import orjson

from indunet.notify.channels.base import DeliveryFailed, SendContext, network_failure


async def post(
    ctx: SendContext, url: str, body: bytes, headers: dict[str, str] | None = None
) -> tuple[int, bytes]:
    """POST ``body`` to ``url``; the status and at most ``limits.max_answer_bytes`` of answer."""
    parts, ip = await ctx.policy.resolve(url)
    host = f"[{ip}]" if isinstance(ip, ipaddress.IPv6Address) else str(ip)
    netloc = host if parts.port is None else f"{host}:{parts.port}"
    pinned = parts._replace(netloc=netloc).geturl()
    https = parts.scheme.lower() == "https"
    limits = ctx.policy.limits
    cap = limits.max_answer_bytes
    sent = {"Host": parts.netloc, "Content-Type": "application/json; charset=utf-8"}
    sent |= headers or {}
    timeout = httpx.Timeout(limits.total_timeout, connect=limits.connect_timeout)
    verify = ctx.tls if ctx.tls is not None else True
    try:
        async with httpx.AsyncClient(
            verify=verify, timeout=timeout, follow_redirects=False, trust_env=False
        ) as client:
            request = client.build_request(
                "POST",
                pinned,
                content=body,
                headers=sent,
                extensions={"sni_hostname": parts.hostname} if https else {},
            )
            resp = await client.send(request, stream=True)
            try:
                answer = bytearray()
                async for chunk in resp.aiter_bytes():
                    answer += chunk
                    if len(answer) > cap:
                        break
            finally:
                await resp.aclose()
    except httpx.HTTPError as exc:
        port = parts.port or (443 if https else 80)
        raise network_failure(exc, parts.hostname or "", port) from None
    return resp.status_code, bytes(answer[:cap])


def check_status(status: int, answer: bytes) -> None:
    """A 2xx answer, else ``DeliveryFailed`` with the status and the start of the answer."""
    if not 200 <= status < 300:
        text = answer[:200].decode(errors="replace")
        raise DeliveryFailed(
            f"HTTP {status}: {text}".strip(), "notify_send_http_status", status=status
        )


def json_answer(answer: bytes) -> dict[str, object]:
    """A bot's JSON answer, or ``DeliveryFailed``."""
    try:
        data = orjson.loads(answer)
    except orjson.JSONDecodeError:
        raise DeliveryFailed("the bot's answer is not JSON", "notify_send_bad_answer") from None
    if not isinstance(data, dict):
        raise DeliveryFailed("the bot's answer is not a JSON object", "notify_send_bad_answer")
    return data
