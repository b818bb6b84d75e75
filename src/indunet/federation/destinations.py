"""Where an instance may send: the destination policy for peers' URLs.

A peer's URL arrives in an enrolment request, so the instance never connects to it without
this policy, the identifier system's site policy (``ids.sites``: scheme, ports, credentials,
forbidden address ranges) with an allow-list of its own: ``https`` to public addresses; anything else (``http``, or an address that is
loopback, private, link-local, carrier-grade NAT, multicast or reserved) only when every
address the host resolves to lies in ``INDUNET_FEDERATION_ALLOW`` (CIDRs; default the
loopback networks, so an embedded federation on one machine works over plain HTTP). No user
name or password in the URL; the path is the instance's own base.
"""

from __future__ import annotations

import ipaddress
import os
import socket
from collections.abc import Sequence

from indunet.ids.sites import IPNetwork, SitePolicy, SiteRefused, parse_networks

from .envelope import Refused

ALLOW_ENV = "INDUNET_FEDERATION_ALLOW"
DEFAULT_ALLOW = "127.0.0.0/8,::1/128"


def allowed_networks(text: str | None = None) -> tuple[IPNetwork, ...]:
    raw = os.environ.get(ALLOW_ENV, DEFAULT_ALLOW) if text is None else text
    try:
        return parse_networks(raw)
    except ValueError as exc:
        raise ValueError(f"{ALLOW_ENV}: {exc}") from None


def check(url: str, allow: Sequence[IPNetwork] | None = None) -> None:
    """``Refused`` (reason ``federation_destination``) unless ``url`` may be sent to: the
    identifier system's site policy (``ids.sites``: scheme, credentials, ports, forbidden
    address ranges) on every address the host resolves to, and https unless the address is
    allowed."""
    policy = SitePolicy(allow=tuple(allowed_networks() if allow is None else allow))
    try:
        parts = policy.check_url(url)
        host = parts.hostname or ""
        port = parts.port or (443 if parts.scheme.lower() == "https" else 80)
        try:
            infos = socket.getaddrinfo(host, port, proto=socket.IPPROTO_TCP)
        except (OSError, UnicodeError):
            raise Refused(f"{host[:100]!r} does not resolve", "federation_destination") from None
        for info in infos:
            addr = ipaddress.ip_address(info[4][0])
            policy.check_address(addr, url)
            if parts.scheme.lower() != "https" and not any(addr in n for n in policy.allow):
                raise Refused(
                    f"plain http to {addr} is not allowed ({ALLOW_ENV})", "federation_destination"
                )
    except SiteRefused as exc:
        raise Refused(
            str(exc.message).replace("INDUNET_SITE_ALLOW", ALLOW_ENV), "federation_destination"
        ) from None
