"""The recursive resolver: follows referrals from the root, caches answers by TTL, tries mirrors."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Sequence
from typing import Any

import orjson

from indunet.ids.answercache import echo
from indunet.ids.answers import Answer, Hop, Referral, Site
from indunet.ids.cache import TTLCache
from indunet.ids.errors import RC, HandleError, InvalidHandle, SiteUnavailable
from indunet.ids.syntax.scheme import HANDLE, Scheme, Target
from indunet.ids.transport import NodeTransport, SiteError

MAX_HOPS = 12
#: What anonymous callers learn about a failed site: nothing about what the site did (closed,
#: silent, not HTTP, too large), which would make the resolver a port scanner. The details go
#: to the log.
SITE_UNAVAILABLE = "site unavailable"
#: What a hop's ``failed`` says of a site this resolver did not ask: its own state, nothing
#: the site did.
_NOT_ASKED = {
    "site_open": "site unavailable (failing; not asked)",
    "site_busy": "site unavailable (too many requests waiting; not asked)",
}
DEFAULT_DEADLINE = 10.0

log = logging.getLogger(__name__)


class Resolver:
    """Resolves any identifier by walking the hierarchy from ``root`` sites.

    Answers are cached for the shortest TTL of their values (capped by ``max_ttl``), "not found"
    for ``negative_ttl``, and referrals for their own TTL, so a warm resolver goes straight to
    the node that holds a prefix. When a site fails, the prefix's other sites are tried in turn;
    sites the transport reports unavailable (breaker open, request queue full) are tried last.
    One resolution, all hops together (connecting, waiting for a site's request slot, reading),
    gives up after ``deadline`` seconds. Errors name the sites but not how they failed
    (``SITE_UNAVAILABLE``, with a stable ``reason``); the log has the details.
    """

    def __init__(
        self,
        root: Sequence[Site],
        transport: NodeTransport,
        *,
        max_ttl: int = 300,
        negative_ttl: int = 30,
        cache_size: int = 100_000,
        deadline: float = DEFAULT_DEADLINE,
        scheme: Scheme[Any] = HANDLE,
    ) -> None:
        self.deadline = deadline
        self.scheme = scheme
        self.root = Referral("", tuple(root), 0)
        self.transport = transport
        self.max_ttl = max_ttl
        self.negative_ttl = negative_ttl
        self.answers: TTLCache[tuple[Answer, bytes]] = TTLCache(cache_size)
        self.referrals: TTLCache[Referral] = TTLCache(max(1024, cache_size // 10))
        #: Called with each key ``forget`` drops (the scaled mode tells other processes).
        self.on_forget: list[Callable[[str], None]] = []

    def cached_body(self, key: str, asked: str | None = None) -> bytes | None:
        """The serialised cached record for a normalised key (the hot path), or ``None``.

        Only successful answers: a cached "not found" goes the normal way, which gives it
        its HTTP status (404), where these bytes would be sent as 200. With ``asked`` (the
        handle as this client wrote it) the body's ``handle`` is ``asked``: the stored bytes
        when it is what the cached answer says, a fresh serialisation otherwise, so one
        requester's case never reaches another.
        """
        hit = self.answers.get(key)
        if hit is None or hit[0].rc != RC.SUCCESS:
            return None
        answer, body = hit
        return body if asked is None else echo(answer, body, asked)

    def forget(self, key: str) -> None:
        """Drop a cached answer (after a local write); ``on_forget`` listeners are told."""
        self.answers.drop(key)
        for listener in self.on_forget:
            listener(key)

    async def resolve(self, text: str, *, fresh: bool = False) -> Answer:
        """Resolve ``text``; ``fresh`` skips cached answers (not cached referrals)."""
        try:
            h = self.scheme.target(text)
        except InvalidHandle as exc:
            return Answer(RC.INVALID_HANDLE, text, message=exc.message)
        if not fresh:
            hit = self.answers.get(h.key)
            if hit is not None:
                answer = hit[0]
                return Answer(
                    answer.rc,
                    answer.handle,
                    answer.values,
                    answer.referral,
                    answer.message,
                    [Hop("cache", answer.rc, 0.0, cached=True)],
                    answer.reason,
                    answer.params,
                )
        path: list[Hop] = []
        try:
            async with asyncio.timeout(self.deadline):
                return await self._walk(h, path)
        except TimeoutError:
            log.warning("resolving %s: gave up after %.1f s", h.text, self.deadline)
            raise SiteUnavailable(
                f"{SITE_UNAVAILABLE}: resolving {h.text} took longer than {self.deadline:g} s",
                detail={"code": "site_unavailable", "path": [hop.to_json() for hop in path]},
                reason="resolution_deadline",
                params={"handle": h.text, "seconds": self.deadline},
            ) from None

    async def _walk(self, h: Target, path: list[Hop]) -> Answer:
        referral = self._closest_referral(h.routing)
        seen: set[tuple[str, str]] = set()
        for _ in range(MAX_HOPS):
            try:
                answer, hop = await self._ask(referral, h.text)
            except SiteUnavailable as exc:
                if path or referral is self.root or exc.reason != "site_unavailable":
                    raise  # sites not asked (open, busy) say nothing about the referral
                # A cached referral may be stale (its prefix has new mirrors): ask the root again.
                referral = self.root
                continue
            path.append(hop)
            if answer.rc in (RC.SERVICE_REFERRAL, RC.PREFIX_REFERRAL) and answer.referral:
                nxt = answer.referral
                nxt = Referral(self.scheme.normalise_prefix(nxt.prefix), nxt.sites, nxt.ttl)
                loop_key = (nxt.prefix, nxt.sites[0].url if nxt.sites else "")
                if loop_key in seen or not nxt.sites or nxt.prefix == referral.prefix:
                    return Answer(
                        RC.ERROR, h.text, message=f"referral loop at prefix {nxt.prefix}", path=path
                    )
                if not (
                    self.scheme.is_under(nxt.prefix, referral.prefix)
                    and self.scheme.is_under(h.routing, nxt.prefix)
                ):
                    # A node may only delegate below its own prefix, and only towards the
                    # handle asked for; anything else would let one node hijack others.
                    where = f"prefix {referral.prefix}" if referral.prefix else "the root"
                    return Answer(
                        RC.ERROR,
                        h.text,
                        message=f"{hop.site} referred {h.text} to prefix {nxt.prefix}, "
                        f"which is not below {where}",
                        path=path,
                    )
                seen.add(loop_key)
                self.referrals.put(nxt.prefix, nxt, min(nxt.ttl, self.max_ttl) or self.max_ttl)
                referral = nxt
                continue
            answer.path = path
            if answer.rc == RC.SUCCESS:
                ttl = min(answer.min_ttl, self.max_ttl)
                self.answers.put(h.key, (answer, answer.body()), ttl)
            elif answer.rc == RC.HANDLE_NOT_FOUND:
                self.answers.put(h.key, (answer, answer.body()), self.negative_ttl)
            return answer
        return Answer(RC.ERROR, h.text, message=f"more than {MAX_HOPS} referrals", path=path)

    def _closest_referral(self, prefix: str) -> Referral:
        p = prefix
        while p:
            hit = self.referrals.get(p)
            if hit is not None:
                return hit
            p = self.scheme.parent(p)
        return self.root

    async def _ask(self, referral: Referral, handle: str) -> tuple[Answer, Hop]:
        failed: list[tuple[str, str]] = []
        not_asked: set[str] = set()
        # Stable: the primary first among the sites that can be asked, unavailable ones last.
        sites = sorted(referral.sites, key=lambda s: not self.transport.available(s.url))
        for site in sites:
            t0 = time.perf_counter()
            try:
                answer = await self.transport.query(site.url, handle)
            except SiteError as exc:
                if exc.reason in _NOT_ASKED:
                    not_asked.add(exc.reason)
                    log.info("site %s not asked for %s: %s", site.url, handle, exc)
                    failed.append((site.url, _NOT_ASKED[exc.reason]))
                    continue
                log.warning("site %s failed for %s: %s", site.url, handle, exc or "no answer")
                failed.append((site.url, SITE_UNAVAILABLE))
                continue
            except HandleError as exc:
                log.warning("site %s failed for %s: %s", site.url, handle, exc.message)
                failed.append((site.url, SITE_UNAVAILABLE))
                continue
            ms = (time.perf_counter() - t0) * 1000
            return answer, Hop(site.url, answer.rc, ms, referral.prefix, tuple(failed))
        where = f"prefix {referral.prefix}" if referral.prefix else "the root"
        listed = ", ".join(url for url, _ in failed)
        detail = {"code": "site_unavailable", "sites": [url for url, _ in failed]}
        asked = sum(1 for _, text in failed if text == SITE_UNAVAILABLE)
        if asked == 0 and "site_open" in not_asked:
            raise SiteUnavailable(
                f"{SITE_UNAVAILABLE}: every site of {where} failed recently; not asked ({listed})",
                detail=detail,
                reason="site_open",
                params={"handle": handle},
            )
        if asked == 0 and "site_busy" in not_asked:
            raise SiteUnavailable(
                f"{SITE_UNAVAILABLE}: every site of {where} has too many requests waiting; "
                f"not asked ({listed})",
                detail=detail,
                reason="site_busy",
                params={"handle": handle},
            )
        if referral.prefix:  # a real failure: the delegation may be stale, ask for it again
            self.referrals.drop(referral.prefix)
        raise SiteUnavailable(
            f"{SITE_UNAVAILABLE}: no site of {where} answered ({listed})",
            detail=detail,
            reason="site_unavailable",
            params={"handle": handle},
        )


def error_body(rc: int, handle: str, message: str) -> bytes:
    """A REST error body."""
    return orjson.dumps({"responseCode": rc, "handle": handle, "message": message})
