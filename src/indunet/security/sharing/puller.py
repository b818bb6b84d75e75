"""The TAXII 2.1 client that pulls feeds (``feeds``) on their schedules.

One run of a feed: ``GET <api root>collections/<id>/objects/`` with ``added_after`` = the
last ``X-TAXII-Date-Added-Last`` the server gave, following ``next`` while ``more``, through
the destination policy (``FeedPolicy``: the address checked and pinned), bounded in pages,
objects, bytes and time (``PullLimits``). What the run fetched is imported as one bundle
(``importing``: all or nothing, idempotent) into the installation's collection; only then
is the new ``added_last`` kept, so a failed run is pulled again, whole, next time.

Every failure (refused URL, network, HTTP status, not TAXII, invalid STIX, a dangling
reference) is recorded on the feed (last error, failures in a row) and retried later with
back-off; the loop itself never stops on one.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import logging
import time
from dataclasses import dataclass
from typing import Any

import httpx
import orjson
import sqlalchemy as sa
from starlette.concurrency import run_in_threadpool

from indunet.core import IndunetError

from . import feeds
from .destinations import FeedPolicy
from .feeds import Feed
from .importing import import_objects
from .validate import MAX_OBJECTS, objects_of

log = logging.getLogger(__name__)
TAXII = "application/taxii+json;version=2.1"


@dataclass(frozen=True, slots=True)
class PullLimits:
    """What one run may cost."""

    page_size: int = 1000
    max_pages: int = 50
    max_objects: int = MAX_OBJECTS
    max_bytes: int = 64 * 1024 * 1024
    deadline: float = 120.0
    connect_timeout: float = 10.0
    tick: float = 5.0


class PullFailed(Exception):
    """A run failed; the message is what the feed shows."""


@dataclass
class Fetched:
    """What a run brought: objects, the server's last date added, pages read."""

    objects: list[dict[str, Any]]
    added_last: str | None
    pages: int


def _is_taxii(content_type: str) -> bool:
    parts = [p.strip().lower() for p in content_type.split(";")]
    return parts[0] == "application/taxii+json" and (
        "version=2.1" in parts[1:] or not any(p.startswith("version=") for p in parts[1:])
    )


async def fetch(
    feed: Feed, password: str, policy: FeedPolicy, limits: PullLimits, verify: Any = True
) -> Fetched:
    """Every page of the feed's collection added after ``feed.added_last`` (bounded)."""
    url = f"{feed.api_root}collections/{feed.remote_collection}/objects/"
    try:
        parts, ip = await policy.resolve(url)
    except IndunetError as exc:
        raise PullFailed(exc.message) from None
    host = f"[{ip}]" if isinstance(ip, ipaddress.IPv6Address) else str(ip)
    pinned = parts._replace(netloc=host if parts.port is None else f"{host}:{parts.port}")
    https = parts.scheme.lower() == "https"
    auth = httpx.BasicAuth(feed.username, password) if (feed.username or password) else None
    out = Fetched([], None, 0)
    size = 0
    params: dict[str, Any] = {"limit": limits.page_size}
    if feed.added_last:
        params["added_after"] = feed.added_last
    timeout = httpx.Timeout(limits.deadline, connect=limits.connect_timeout)
    async with httpx.AsyncClient(
        verify=verify, timeout=timeout, follow_redirects=False, trust_env=False, auth=auth
    ) as client:
        while True:
            request = client.build_request(
                "GET",
                pinned.geturl(),
                params=params,
                headers={"Host": parts.netloc, "Accept": TAXII},
                extensions={"sni_hostname": parts.hostname} if https else {},
            )
            try:
                resp = await client.send(request, stream=True)
            except httpx.HTTPError as exc:
                raise PullFailed(f"{parts.hostname}: {type(exc).__name__}: {exc}") from None
            try:
                body = bytearray()
                async for chunk in resp.aiter_bytes():
                    body += chunk
                    if size + len(body) > limits.max_bytes:
                        raise PullFailed(f"the feed sent over {limits.max_bytes:,} bytes")
            finally:
                await resp.aclose()
            size += len(body)
            out.pages += 1
            if resp.status_code != 200:
                text = bytes(body[:200]).decode(errors="replace")
                raise PullFailed(f"HTTP {resp.status_code}: {text}".strip())
            if not _is_taxii(resp.headers.get("content-type", "")):
                raise PullFailed(
                    f"the answer is {resp.headers.get('content-type')!r}, not TAXII 2.1"
                )
            try:
                envelope = orjson.loads(bytes(body))
            except orjson.JSONDecodeError:
                raise PullFailed("the answer is not JSON") from None
            if not isinstance(envelope, dict):
                raise PullFailed("the answer is not a TAXII envelope")
            items = envelope.get("objects", [])
            if not isinstance(items, list):
                raise PullFailed("the envelope's objects is not a list")
            out.objects.extend(items)
            if len(out.objects) > limits.max_objects:
                raise PullFailed(f"the feed sent over {limits.max_objects:,} objects in one run")
            out.added_last = resp.headers.get("X-TAXII-Date-Added-Last") or out.added_last
            nxt = envelope.get("next")
            if not envelope.get("more") or not isinstance(nxt, str) or not nxt:
                return out
            if out.pages >= limits.max_pages:
                return out  # the rest next run, from the last date added seen
            params = {**params, "next": nxt[:2000]}


def keep(engine: sa.Engine, feed: Feed, items: list[dict[str, Any]]) -> int:
    """Import a run's objects into the feed's collection (all or nothing); how many added."""
    checked = objects_of({"objects": items}, envelope=True)
    with engine.begin() as conn:
        done = import_objects(conn, feed.collection_id, checked)
    return sum(1 for r in done.results if r[2].value == "added")


async def run_feed(
    engine: sa.Engine, feed: Feed, policy: FeedPolicy, limits: PullLimits, verify: Any = True
) -> None:
    """One run of ``feed``, its outcome recorded on it (never raises but on cancellation)."""
    try:
        async with asyncio.timeout(limits.deadline):
            password = await run_in_threadpool(feeds.password_of, engine, feed.id)
            got = await fetch(feed, password, policy, limits, verify)
            added = await run_in_threadpool(keep, engine, feed, got.objects)
    except TimeoutError:
        error: str | None = f"the run took over {limits.deadline:.0f} s"
    except PullFailed as exc:
        error = str(exc)
    except IndunetError as exc:
        error = exc.message
    except Exception as exc:  # a bug must not stop the other feeds
        log.exception("TAXII feed %s failed", feed.id)
        error = f"{type(exc).__name__}: {exc}"
    else:
        await run_in_threadpool(
            lambda: feeds.record_run(
                engine, feed, error=None, added_last=got.added_last, objects=added
            )
        )
        return
    log.warning("TAXII feed %s (%s): %s", feed.id, feed.name, error)
    await run_in_threadpool(lambda: feeds.record_run(engine, feed, error=error))


class Puller:
    """The security part that pulls due feeds (``Security.add("sharing", …)``)."""

    def __init__(
        self,
        engine: sa.Engine,
        policy: FeedPolicy | None = None,
        limits: PullLimits | None = None,
        verify: Any = True,
    ) -> None:
        self.engine = engine
        self.policy = policy or FeedPolicy.from_env()
        self.limits = limits or PullLimits()
        self.verify = verify
        self.runs = 0
        self._task: asyncio.Task[None] | None = None
        self._wake = asyncio.Event()

    async def start(self) -> None:
        self._task = asyncio.create_task(self._loop(), name="taxii-puller")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    def wake(self) -> None:
        """Look for due feeds now (a feed was added or changed)."""
        self._wake.set()

    async def run_due(self) -> int:
        """Run every due feed once; how many ran."""
        due = await run_in_threadpool(feeds.due, self.engine, time.time())
        for feed in due:
            await run_feed(self.engine, feed, self.policy, self.limits, self.verify)
            self.runs += 1
        return len(due)

    async def _loop(self) -> None:
        while True:
            try:
                await self.run_due()
            except Exception:  # the database away, say: try again next tick
                log.exception("the TAXII puller could not read its feeds")
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self.limits.tick):
                    await self._wake.wait()
            self._wake.clear()
