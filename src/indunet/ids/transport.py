"""How a resolver asks another node: over HTTP, or directly when the node is in this process."""

from __future__ import annotations

import ipaddress
import ssl
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from typing import Protocol
from urllib.parse import quote

import httpx
import orjson

from indunet.ids.answers import Answer
from indunet.ids.siteguard import Shed, SiteGuard
from indunet.ids.sites import SitePolicy, SiteRefused, origin

#: https sites with a connection pool of their own; the least recently used is closed beyond.
MAX_TLS_POOLS = 64
#: Connections of the shared pool (plain http sites). Each site holds at most
#: ``SiteLimits.site_connections`` of them, so it takes this many stalled sites at once, before
#: their breakers open, to make the others wait for a connection.
MAX_CONNECTIONS = 512


class SiteError(Exception):
    """A site did not give a usable answer (refused, timed out, broken reply).

    ``reason``: ``site_failed`` (the site was asked and failed), ``site_refused`` (the
    destination policy refused it; not asked), ``site_busy`` or ``site_open`` (the site guard
    refused it; not asked)."""

    def __init__(self, message: str = "", reason: str = "site_failed") -> None:
        super().__init__(message)
        self.reason = reason


class NodeTransport(Protocol):
    """Ask the node at ``site`` about ``handle``, without recursion."""

    async def query(self, site: str, handle: str) -> Answer:
        """Return the node's answer or raise ``SiteError``."""

    async def close(self) -> None:
        """Release connections."""

    def available(self, site: str) -> bool:
        """False when ``site`` would be refused without being asked (breaker open, full)."""

    def guard(self) -> SiteGuard | None:
        """The per-site limits and breakers of network sites, if this transport has them."""


def handle_path(handle: str) -> str:
    """The URL path of a handle under ``/api/handles/``."""
    return "/api/handles/" + quote(handle, safe="/:@!$&'()*+,;=-._~")


class HttpTransport:
    """Queries nodes over HTTP with keep-alive connections, within a destination policy.

    The host of each site is resolved here and every address checked by ``policy`` before
    the request is sent to the checked address itself (``Host`` and TLS server name keep the
    site's name), so a name cannot be re-pointed at a forbidden address between the check
    and the connection. Answers are streamed and cut off past ``policy.limits``. ``tls``
    replaces the system's certificate authorities (a private CA for private sites).

    Every request goes through the per-site guard (``ids.siteguard``): a limit on requests in
    flight and waiting per origin, and a breaker that refuses a failing site at once.
    """

    def __init__(
        self,
        timeout: float = 2.0,
        policy: SitePolicy | None = None,
        *,
        tls: ssl.SSLContext | None = None,
    ) -> None:
        self.policy = policy or SitePolicy()
        self.sites = SiteGuard(self.policy.limits)
        self._timeout, self._verify = timeout, tls if tls is not None else True
        self._client = self._new()
        # Requests go to addresses, so httpx pools connections by address: an https site gets
        # a pool of its own, or a TLS session checked for one name would carry another's.
        self._tls: OrderedDict[str, httpx.AsyncClient] = OrderedDict()

    def _new(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(
            verify=self._verify,
            timeout=httpx.Timeout(self._timeout),
            limits=httpx.Limits(max_connections=MAX_CONNECTIONS, max_keepalive_connections=64),
            follow_redirects=False,
            trust_env=False,
        )

    async def _client_for(self, scheme: str, name: str) -> httpx.AsyncClient:
        if scheme != "https":
            return self._client
        client = self._tls.get(name)
        if client is None:
            client = self._tls[name] = self._new()
            if len(self._tls) > MAX_TLS_POOLS:
                await self._tls.popitem(last=False)[1].aclose()
        self._tls.move_to_end(name)
        return client

    def available(self, site: str) -> bool:
        """False while ``site``'s breaker is open or its request queue is full."""
        return self.sites.available(origin(site))

    def guard(self) -> SiteGuard:
        """The per-site limits and breakers."""
        return self.sites

    async def query(self, site: str, handle: str) -> Answer:
        """GET the handle from the node at ``site``, within the site's limits and breaker."""
        try:
            async with self.sites.request(origin(site)) as ticket:
                try:
                    answer = await self._query(site, handle)
                except SiteError as exc:
                    if exc.reason == "site_failed":
                        ticket.failed()
                    raise
                ticket.succeeded()
                return answer
        except Shed as exc:
            raise SiteError(str(exc), exc.reason) from None

    async def _query(self, site: str, handle: str) -> Answer:
        url = site + handle_path(handle)
        try:
            parts, ips = await self.policy.addresses(url)
        except SiteRefused as exc:
            raise SiteError(exc.message, "site_refused") from None
        if not ips:
            raise SiteError(f"host of {site} has no address", "site_refused")
        ip = ips[0]
        host = f"[{ip}]" if isinstance(ip, ipaddress.IPv6Address) else str(ip)
        netloc = host if parts.port is None else f"{host}:{parts.port}"
        pinned = parts._replace(netloc=netloc).geturl()
        headers = {"Host": parts.netloc, "Accept-Encoding": "identity"}
        extensions = {"sni_hostname": parts.hostname} if parts.scheme.lower() == "https" else {}
        cap = self.policy.limits.max_answer_bytes
        try:
            client = await self._client_for(parts.scheme.lower(), parts.hostname or "")
            request = client.build_request("GET", pinned, headers=headers, extensions=extensions)
            resp = await client.send(request, stream=True)
            try:
                body = bytearray()
                async for chunk in resp.aiter_raw():
                    body += chunk
                    if len(body) > cap:
                        raise SiteError(f"answer larger than {cap} bytes; stopped reading")
            finally:
                await resp.aclose()
        except httpx.HTTPError as exc:
            raise SiteError(f"{type(exc).__name__}: {exc}".rstrip(": ")) from None
        if resp.headers.get("content-encoding", "identity").lower() != "identity":
            raise SiteError(f"HTTP {resp.status_code} with a compressed body")
        try:
            data = orjson.loads(bytes(body))
        except orjson.JSONDecodeError:
            raise SiteError(f"HTTP {resp.status_code} without a JSON body") from None
        if not isinstance(data, dict) or "responseCode" not in data:
            raise SiteError(f"HTTP {resp.status_code}: not a handle response")
        return Answer.from_json(data)

    async def close(self) -> None:
        """Close pooled connections."""
        await self._client.aclose()
        while self._tls:
            await self._tls.popitem()[1].aclose()


LocalHandler = Callable[[str], Awaitable[Answer]]


class LocalTransport:
    """Answers sites that live in this process directly; other sites go to ``fallback``.

    This keeps a whole hierarchy in one process free of loopback HTTP, while the sites it
    publishes are still real URLs that outside clients can follow.
    """

    def __init__(self, fallback: NodeTransport) -> None:
        self._local: dict[str, LocalHandler] = {}
        self._fallback = fallback
        self.down: set[str] = set()

    def register(self, site: str, handler: LocalHandler) -> None:
        """Serve ``site`` with ``handler``."""
        self._local[site.rstrip("/")] = handler

    def available(self, site: str) -> bool:
        """Sites in this process always are; others as the fallback says."""
        return site in self._local or self._fallback.available(site)

    def guard(self) -> SiteGuard | None:
        """The fallback's guard (sites in this process have none)."""
        return self._fallback.guard()

    async def query(self, site: str, handle: str) -> Answer:
        """Answer locally when ``site`` is ours, else over the fallback."""
        if site in self.down:
            raise SiteError("site is marked down")
        handler = self._local.get(site)
        if handler is not None:
            return await handler(handle)
        return await self._fallback.query(site, handle)

    async def close(self) -> None:
        """Release the fallback's connections."""
        await self._fallback.close()
