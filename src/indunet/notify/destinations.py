"""Where notifications may be sent: the destination policy for user-supplied webhook URLs and
mail servers.

A channel's URL or SMTP host is typed by an enterprise administrator, so the platform never
connects to one without this policy (the same rules as ``ids.sites.SitePolicy``, stricter on
the scheme):

- ``https`` only; ``http`` only to an address the operator allows (``INDUNET_NOTIFY_ALLOW``,
  CIDRs such as ``10.0.0.0/8``), so a plain-text webhook crosses no network by accident;
- every address the host resolves to is public (no loopback, private, link-local, CGNAT,
  multicast or reserved address) unless ``INDUNET_NOTIFY_ALLOW`` lists it;
- the connection goes to the address that was checked (the caller pins it), with bounded
  timeouts and a bounded answer (``DestinationLimits``).
"""

from __future__ import annotations

import ipaddress
import os
from dataclasses import dataclass, field
from urllib.parse import SplitResult

from indunet.core import InvalidInput
from indunet.ids.sites import IPAddress, IPNetwork, SitePolicy, SiteRefused, parse_networks

ALLOW_ENV = "INDUNET_NOTIFY_ALLOW"
#: Mail ports below 1024 a mail server may use (SMTP, SMTPS, submission).
MAIL_PORTS = frozenset({25, 465, 587})


@dataclass(frozen=True, slots=True)
class DestinationLimits:
    """What one delivery attempt may cost."""

    connect_timeout: float = 5.0
    total_timeout: float = 10.0
    max_answer_bytes: int = 64 * 1024


class DestinationRefused(InvalidInput):
    """A webhook URL or mail server breaks the destination policy."""


@dataclass(frozen=True)
class DestinationPolicy:
    """The policy of the module docstring."""

    allow: tuple[IPNetwork, ...] = ()
    limits: DestinationLimits = field(default_factory=DestinationLimits)

    @classmethod
    def from_env(cls) -> DestinationPolicy:
        """The policy of ``INDUNET_NOTIFY_ALLOW`` (empty: public https destinations only)."""
        return cls.build(os.environ.get(ALLOW_ENV, ""))

    @classmethod
    def build(cls, allow: str = "", limits: DestinationLimits | None = None) -> DestinationPolicy:
        """A policy allowing the CIDRs in ``allow`` (comma-separated)."""
        try:
            networks = parse_networks(allow)
        except ValueError as exc:
            raise DestinationRefused(
                f"{ALLOW_ENV}: {exc} (give CIDRs such as 10.0.0.0/8)"
            ) from None
        return cls(networks, limits or DestinationLimits())

    @property
    def _sites(self) -> SitePolicy:
        return SitePolicy(allow=self.allow)

    def allowed(self, ip: IPAddress) -> bool:
        """Whether the operator listed ``ip``."""
        return any(ip in net for net in self.allow)

    def check_url(self, url: str) -> SplitResult:
        """Check a webhook URL as far as it can be without resolving it (on save)."""
        if len(url) > 2000:
            raise _refused(url[:60] + "…", "is longer than 2,000 characters")
        try:
            parts = self._sites.check_url(url)
        except SiteRefused as exc:
            raise _refused(url, exc.message.split(": ", 1)[-1]) from None
        if parts.scheme.lower() != "https":
            literal = _literal(parts.hostname or "")
            # a name is judged when sending, once resolved (it may point at an allowed net)
            if literal is not None and not self.allowed(literal):
                raise _refused(url, f"plain http is only for addresses in {ALLOW_ENV}")
        return parts

    async def resolve(self, url: str) -> tuple[SplitResult, IPAddress]:
        """Check ``url`` and resolve its host; the address to connect to, checked."""
        self.check_url(url)
        try:
            parts, ips = await self._sites.addresses(url)
        except SiteRefused as exc:
            raise _refused(url, exc.message.split(": ", 1)[-1]) from None
        if not ips:
            raise _refused(url, "has no address")
        if parts.scheme.lower() != "https" and not all(self.allowed(ip) for ip in ips):
            raise _refused(url, f"plain http is only for addresses in {ALLOW_ENV}")
        return parts, ips[0]

    async def resolve_host(self, host: str, port: int) -> IPAddress:
        """The checked address of a mail server ``host``."""
        if not host or len(host) > 253:
            raise DestinationRefused(
                "give the mail server's host name", reason="notify_bad_host", params={"host": host}
            )
        if port not in MAIL_PORTS and port < 1024:
            raise DestinationRefused(
                f"mail server port {port} is refused; use 25, 465, 587 or 1024-65535",
                reason="notify_bad_port",
                params={"port": port},
            )
        _, ip = await self.resolve(f"https://{host}/")  # the port is checked above
        return ip


def _literal(host: str) -> IPAddress | None:
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        return None


def _refused(url: str, why: str) -> DestinationRefused:
    why = why.replace("INDUNET_SITE_ALLOW", ALLOW_ENV)
    return DestinationRefused(
        f"destination {url!r} {why}",
        reason="notify_destination_refused",
        params={"url": url, "why": why},
    )
