"""Where a node may send requests: the destination policy for HS_SITE URLs.

A site URL comes from a record, and records can be written over the network, so every URL a
resolver fetches (and every URL a node redirects a client to) passes this policy first:

- scheme ``http`` or ``https``, no user name or password in the URL;
- port 80, 443 or 1024-65535 (no mail, SSH, database or other privileged service ports);
- every address the host name resolves to, checked when connecting (not only the literal, so
  a DNS name pointing at ``127.0.0.1`` is refused too), is a public address: loopback,
  link-local, private (RFC 1918, RFC 4193), carrier-grade NAT, multicast, unspecified and
  reserved ranges are refused;
- unless the operator allows them: ``allow`` holds CIDRs (``INDUNET_SITE_ALLOW``), and
  ``trusted`` the origins the operator configured (the node's own sites, ``--root`` URLs),
  which are never refused.

``SiteLimits`` bounds what a site may cost: an answer larger than ``max_answer_bytes`` is cut
off while streaming, one resolution, all hops together, gives up after ``deadline``, and the
per-site request limit and breaker (``ids.siteguard``) take their figures from it.
"""

from __future__ import annotations

import asyncio
import functools
import ipaddress
import socket
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from urllib.parse import SplitResult, urlsplit

from indunet.ids.errors import InvalidValue

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

SCHEMES = frozenset({"http", "https"})
WEB_PORTS = frozenset({80, 443})
FIRST_UNPRIVILEGED_PORT = 1024
_CGNAT = ipaddress.ip_network("100.64.0.0/10")


@dataclass(frozen=True, slots=True)
class SiteLimits:
    """What one resolution may cost (answer size per site, time over all hops), and what one
    site may hold of a resolver: requests in flight and waiting, and when its breaker opens
    (``ids.siteguard``). A site is an origin, ``scheme://host:port``."""

    max_answer_bytes: int = 1024 * 1024
    deadline: float = 10.0
    site_connections: int = 32
    site_queue: int = 1024
    breaker_failures: int = 5
    breaker_cooldown: float = 10.0

    def __post_init__(self) -> None:
        if self.site_connections < 1 or self.site_queue < 0 or self.breaker_failures < 1:
            raise ValueError("site limits: connections and failures >= 1, queue >= 0")
        if self.breaker_cooldown <= 0 or self.deadline <= 0:
            raise ValueError("site limits: cool-down and deadline must be positive")


class SiteRefused(InvalidValue):
    """A site URL or address breaks the destination policy."""


def parse_networks(spec: str | Iterable[str]) -> tuple[IPNetwork, ...]:
    """``"10.0.0.0/8, 127.0.0.1"`` (or a list) -> networks; a bad entry raises ``ValueError``."""
    items = spec.split(",") if isinstance(spec, str) else list(spec)
    return tuple(ipaddress.ip_network(s.strip(), strict=False) for s in items if s.strip())


@functools.lru_cache(maxsize=4096)  # every request to a site asks it, twice
def origin(url: str) -> str:
    """``scheme://host:port`` of a URL, lower-cased, with the default port made explicit."""
    parts = urlsplit(url.strip())
    scheme = parts.scheme.lower()
    try:
        port = parts.port or (443 if scheme == "https" else 80)
    except ValueError:
        return ""
    return f"{scheme}://{(parts.hostname or '').lower()}:{port}"


_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")  # RFC 6052: IPv4 in the low 32 bits


def _embedded_ipv4(ip: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 form carries (mapped, NAT64, 6to4, Teredo), if any."""
    if ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    if ip in _NAT64:
        return ipaddress.IPv4Address(ip.packed[12:])
    if ip.sixtofour is not None:
        return ip.sixtofour
    if ip.teredo is not None:
        return ip.teredo[1]  # the client's address
    return None


def _forbidden(ip: IPAddress) -> str | None:
    """Why ``ip`` is not a public destination, or None. IPv6 forms that carry an IPv4 address
    are judged by that address (NAT64 reaches public IPv4 sites on IPv6-only hosts; 6to4 of a
    private address is still private)."""
    if isinstance(ip, ipaddress.IPv6Address) and (inner := _embedded_ipv4(ip)) is not None:
        return _forbidden(inner)
    for test, what in (
        (ip.is_loopback, "loopback"),
        (ip.is_link_local, "link-local"),
        (ip.is_multicast, "multicast"),
        (ip.is_unspecified, "unspecified"),
        (ip in _CGNAT if isinstance(ip, ipaddress.IPv4Address) else False, "shared (CGNAT)"),
        (ip.is_private, "private"),
        (ip.is_reserved, "reserved"),
        (isinstance(ip, ipaddress.IPv6Address) and ip.is_site_local, "site-local"),
        (not ip.is_global, "not public"),  # site-local, documentation and other special ranges
    ):
        if test:
            return what
    return None


def _literal(host: str) -> IPAddress | None:
    """``host`` as an address if it is one, including the legacy IPv4 forms browsers and
    resolvers accept (``127.1``, ``2130706433``, ``0x7f000001``)."""
    host = host.rstrip(".").lower()  # "127.0.0.1." is 127.0.0.1 to a resolver
    if host == "localhost":  # never asks DNS (RFC 6761)
        return ipaddress.IPv4Address("127.0.0.1")
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        pass
    if host and all(c in "0123456789abcdefx." for c in host.lower()):
        try:
            return ipaddress.IPv4Address(socket.inet_aton(host))
        except OSError:
            return None
    return None


@dataclass(frozen=True)
class SitePolicy:
    """The destination policy (see the module docstring) and the limits of site answers."""

    allow: tuple[IPNetwork, ...] = ()
    trusted: frozenset[str] = frozenset()
    limits: SiteLimits = field(default_factory=SiteLimits)

    @classmethod
    def build(
        cls,
        *,
        allow: str | Sequence[str] = (),
        trusted: Iterable[str] = (),
        limits: SiteLimits | None = None,
    ) -> SitePolicy:
        """A policy from settings: CIDRs to allow and URLs whose origins are trusted."""
        try:
            networks = parse_networks(allow)
        except ValueError as exc:
            raise SiteRefused(f"site allow-list: {exc} (give CIDRs such as 10.0.0.0/8)") from None
        return cls(networks, frozenset(origin(u) for u in trusted), limits or SiteLimits())

    def trusts(self, url: str) -> bool:
        """True if ``url`` is on an origin the operator configured."""
        return origin(url) in self.trusted

    def check_url(self, url: str) -> SplitResult:
        """Check scheme, credentials, port and a literal address; raise ``SiteRefused``."""
        try:
            parts = urlsplit(url)
            port = parts.port
        except ValueError:
            raise SiteRefused(f"site URL {url!r} is not a valid URL") from None
        if parts.scheme.lower() not in SCHEMES:
            raise SiteRefused(f"site URL {url!r}: the scheme must be http or https")
        if not parts.hostname:
            raise SiteRefused(f"site URL {url!r} has no host")
        try:
            parts.hostname.encode("idna")
        except UnicodeError:
            raise SiteRefused(
                f"site URL {url!r}: {parts.hostname!r} is not a valid host name"
            ) from None
        if parts.username is not None or parts.password is not None:
            raise SiteRefused(f"site URL {url!r} must not carry a user name or password")
        if self.trusts(url):
            return parts
        if port is not None and port not in WEB_PORTS and port < FIRST_UNPRIVILEGED_PORT:
            raise SiteRefused(
                f"site URL {url!r}: port {port} is refused; use 80, 443 or 1024-65535"
            )
        literal = _literal(parts.hostname)
        if literal is not None:
            self.check_address(literal, url)
        return parts

    def check_address(self, ip: IPAddress, url: str) -> None:
        """Refuse an address in a forbidden range unless the operator allows it."""
        what = _forbidden(ip)
        if what is not None and not any(ip in net for net in self.allow):
            raise SiteRefused(
                f"site URL {url!r}: address {ip} is {what}; such sites are refused unless the "
                "operator allows them (INDUNET_SITE_ALLOW)"
            )

    async def addresses(self, url: str) -> tuple[SplitResult, list[IPAddress]]:
        """Check ``url`` and resolve its host; every address must pass (connect-time check)."""
        parts = self.check_url(url)
        host = parts.hostname or ""
        port = parts.port or (443 if parts.scheme.lower() == "https" else 80)
        try:  # an address literal was checked by check_url and needs no lookup
            return parts, [ipaddress.ip_address(host)]
        except ValueError:
            pass
        try:
            infos = await asyncio.get_running_loop().getaddrinfo(
                host, port, type=socket.SOCK_STREAM
            )
        except (OSError, UnicodeError) as exc:
            raise SiteRefused(f"site URL {url!r}: host {host} does not resolve ({exc})") from None
        ips: list[IPAddress] = []
        for info in infos:
            ip = ipaddress.ip_address(str(info[4][0]).split("%", 1)[0])
            if ip not in ips:
                ips.append(ip)
        if not self.trusts(url):
            for ip in ips:
                self.check_address(ip, url)
        return parts, ips
