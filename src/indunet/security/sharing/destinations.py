"""Where the TAXII puller may connect: feed URLs are typed by platform admins, so none is
fetched without this policy (``ids.sites.SitePolicy``'s rules, stricter on the scheme):

- ``https`` only; plain ``http`` only to addresses the operator allows
  (``INDUNET_SHARING_ALLOW``, CIDRs such as ``10.0.0.0/8`` or ``127.0.0.1/32``);
- no user name or password in the URL; port 443, 80 or 1024–65535;
- every address the host resolves to is public (no loopback, private, link-local, CGNAT,
  multicast, reserved) unless the allow-list names it;
- the connection goes to the address checked (the caller pins it; ``Host`` and the TLS
  server name keep the URL's name), redirects are not followed.
"""

from __future__ import annotations

import ipaddress
import os
from dataclasses import dataclass
from urllib.parse import SplitResult

from indunet.core import InvalidInput
from indunet.ids.sites import IPAddress, SitePolicy, SiteRefused

ALLOW_ENV = "INDUNET_SHARING_ALLOW"


class FeedRefused(InvalidInput):
    """A feed URL breaks the destination policy."""


def _refused(url: str, why: str) -> FeedRefused:
    why = why.replace("INDUNET_SITE_ALLOW", ALLOW_ENV)
    return FeedRefused(
        f"feed URL {url[:200]!r} {why}",
        reason="sharing_feed_refused",
        params={"url": url[:200], "why": why},
    )


@dataclass(frozen=True)
class FeedPolicy:
    """The policy of the module docstring."""

    sites: SitePolicy

    @classmethod
    def build(cls, allow: str = "") -> FeedPolicy:
        """A policy allowing the CIDRs in ``allow`` (comma-separated)."""
        try:
            return cls(SitePolicy.build(allow=[a for a in allow.split(",") if a.strip()]))
        except SiteRefused as exc:
            raise _refused(allow, exc.message.replace("site allow-list: ", "")) from None

    @classmethod
    def from_env(cls) -> FeedPolicy:
        """The policy of ``INDUNET_SHARING_ALLOW`` (empty: public https servers only)."""
        return cls.build(os.environ.get(ALLOW_ENV, ""))

    def _allowed(self, ip: IPAddress) -> bool:
        return any(ip in net for net in self.sites.allow)

    def check_url(self, url: str) -> SplitResult:
        """Check a feed URL as far as it can be without resolving it (on save)."""
        if len(url) > 2000:
            raise _refused(url, "is longer than 2,000 characters")
        try:
            parts = self.sites.check_url(url)
        except SiteRefused as exc:
            raise _refused(url, exc.message.split(": ", 1)[-1]) from None
        if parts.scheme.lower() != "https":
            try:
                literal = ipaddress.ip_address(parts.hostname or "")
            except ValueError:
                literal = None
            if literal is not None and not self._allowed(literal):
                raise _refused(url, f"uses plain http, allowed only to addresses in {ALLOW_ENV}")
        return parts

    async def resolve(self, url: str) -> tuple[SplitResult, IPAddress]:
        """Check ``url``, resolve its host, check every address; the one to connect to."""
        self.check_url(url)
        try:
            parts, ips = await self.sites.addresses(url)
        except SiteRefused as exc:
            raise _refused(url, exc.message.split(": ", 1)[-1]) from None
        if not ips:
            raise _refused(url, "has no address")
        if parts.scheme.lower() != "https" and not all(self._allowed(ip) for ip in ips):
            raise _refused(url, f"uses plain http, allowed only to addresses in {ALLOW_ENV}")
        return parts, ips[0]
