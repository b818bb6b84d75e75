"""Where an instance may send: the destination policy for peers' URLs.

A peer's URL arrives in an enrolment request, so the instance never connects to it without
this policy: ``https`` to public addresses; anything else (``http``, or an address that is
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
from urllib.parse import urlsplit

from .envelope import Refused

ALLOW_ENV = "INDUNET_FEDERATION_ALLOW"
DEFAULT_ALLOW = "127.0.0.0/8,::1/128"
Network = ipaddress.IPv4Network | ipaddress.IPv6Network
_CGNAT = ipaddress.ip_network("100.64.0.0/10")


def allowed_networks(text: str | None = None) -> tuple[Network, ...]:
    raw = os.environ.get(ALLOW_ENV, DEFAULT_ALLOW) if text is None else text
    out = []
    for part in raw.split(","):
        if part.strip():
            try:
                out.append(ipaddress.ip_network(part.strip(), strict=False))
            except ValueError:
                raise ValueError(f"{ALLOW_ENV}: {part.strip()!r} is not a network") from None
    return tuple(out)


def _public(addr: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    return not (
        addr.is_loopback
        or addr.is_private
        or addr.is_link_local
        or addr.is_multicast
        or addr.is_reserved
        or addr.is_unspecified
        or (addr.version == 4 and addr in _CGNAT)
    )


def check(url: str, allow: Sequence[Network] | None = None) -> None:
    """``Refused`` (reason ``federation_destination``) unless ``url`` may be sent to."""
    allow = allowed_networks() if allow is None else allow
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise Refused(f"{url[:100]!r} is not an http(s) URL", "federation_destination")
    if parts.username or parts.password:
        raise Refused("a peer's URL carries no user name or password", "federation_destination")
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
        infos = socket.getaddrinfo(parts.hostname, port, proto=socket.IPPROTO_TCP)
    except (OSError, ValueError):
        raise Refused(
            f"{parts.hostname[:100]!r} does not resolve", "federation_destination"
        ) from None
    for info in infos:
        addr = ipaddress.ip_address(info[4][0])
        listed = any(addr in net for net in allow)
        if listed:
            continue
        if parts.scheme != "https":
            raise Refused(
                f"plain http to {addr} is not allowed ({ALLOW_ENV})", "federation_destination"
            )
        if not _public(addr):
            raise Refused(
                f"{parts.hostname[:100]} resolves to {addr}, which is not a public address "
                f"({ALLOW_ENV})",
                "federation_destination",
            )
