"""A disaster-recovery copy (灾备节点) of a primary node, kept up to date from its change log.

``indunet node --role dr`` runs a node whose store refuses every write (``ReadOnlyCopy``)
and a ``Replica`` that fills that store from the primary over HTTP:

- first start, or the primary answers 410 (the copy is further behind than the primary keeps
  its log, or the primary's log was started again): a full copy, page by page from
  ``GET /api/v1/ids/snapshot``; the head number of its first page is where replay starts,
  and local records the primary no longer has are deleted at the end;
- then every ``POLL_S`` seconds, ``GET /api/v1/ids/changes?after=<applied>``: each page is
  applied in one transaction together with the new ``applied`` number (``ids_replicas``),
  so a restart resumes exactly after the last page applied, and a page applied twice (a
  crash between commit and the next request) changes nothing.

The copy answers for the prefix from its own database whether the primary is up or not; a
resolver turns to it when the primary fails (the DR announces itself as a non-primary site
of the prefix at the parent, ``ids.announce``). Failures to reach the primary are retried
with capped backoff and logged once per outage; the copy keeps answering meanwhile.

Every answer is bounded (``MAX_BODY`` bytes) and checked: a record's key and prefix are
derived again from its handle, and its values parsed as stored values; an entry that fails
the checks is skipped and logged, never stored.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx
import orjson
import sqlalchemy as sa

from indunet.core import IndunetError
from indunet.core.backoff import Backoff
from indunet.ids import changelog, changes
from indunet.ids.node import Node
from indunet.ids.store import HandleStore, decode_values, encode_values
from indunet.ids.syntax import handle as hdl
from indunet.ids.tables import handles, replicas

log = logging.getLogger(__name__)

POLL_S = 0.5
PAGE = changelog.MAX_PAGE
TIMEOUT_S = 10.0
#: The longest wait between attempts while the primary is away: what its return costs the
#: copy at most before it catches up (one cheap request per attempt).
MAX_RETRY_S = 5.0
#: An answer of the primary larger than this is refused (1,000 records of ~64 KiB).
MAX_BODY = 64 * 1024 * 1024


class ReplicaError(Exception):
    """The primary could not be read (unreachable, refused, malformed answer)."""


class _Resync(Exception):
    """The primary answered 410: copy everything again."""


@dataclass
class ReplicaStatus:
    """What the copy has applied, for status pages and tests."""

    applied: int | None = None
    primary_head: int | None = None
    synced_at: datetime | None = None
    resyncs: int = 0
    failing: str = ""


@dataclass(frozen=True, slots=True)
class _Record:
    key: str
    handle: str
    prefix: str
    record: str | None  # None: deleted


class Replica:
    """Keeps ``node``'s records a copy of the node ``source`` at ``primary``.

    ``token`` is a platform administrator's API token on the primary (the change log holds
    every record, restricted values included)."""

    def __init__(
        self,
        node: Node,
        primary: str,
        token: str,
        *,
        source: str | None = None,
        every: float = POLL_S,
        page: int = PAGE,
        timeout: float = TIMEOUT_S,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.node = node
        self._transport = transport  # tests: the primary's app in this process
        self.primary = primary.rstrip("/")
        self.source = source or node.name
        self.every = every
        self.page = max(1, min(page, changelog.MAX_PAGE))
        self.store = HandleStore(node.engine, node.name)  # writable: the replica's own
        self.status = ReplicaStatus()
        self._headers = {"Authorization": f"Bearer {token}", "Accept-Encoding": "identity"}
        self._timeout = timeout
        self._client: httpx.AsyncClient | None = None
        self._task: asyncio.Task[None] | None = None

    # -- the loop ------------------------------------------------------------------------
    async def start(self) -> None:
        """Read what was applied before and keep the copy up to date in the background."""
        await self.open()
        self._task = asyncio.create_task(self._run(), name="ids-replica")

    async def open(self) -> None:
        """Read what was applied before and connect; ``sync_once`` may be called then."""
        self.status.applied = await asyncio.to_thread(self._load)
        self._client = httpx.AsyncClient(
            timeout=httpx.Timeout(self._timeout),
            follow_redirects=False,
            trust_env=False,
            transport=self._transport,
        )

    async def stop(self) -> None:
        """Stop copying."""
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    async def _run(self) -> None:
        backoff = Backoff(base=self.every, cap=MAX_RETRY_S)
        while True:
            try:
                more = await self.sync_once()
            except (ReplicaError, sa.exc.SQLAlchemyError) as exc:
                if not self.status.failing:
                    log.warning("copying from %s failed: %s; trying again", self.primary, exc)
                self.status.failing = str(exc)
                await asyncio.sleep(backoff.next())
                continue
            if self.status.failing:
                log.warning("copying from %s works again", self.primary)
                self.status.failing = ""
            backoff.reset()
            if not more:
                await asyncio.sleep(self.every)

    async def sync_once(self) -> bool:
        """Apply one page of changes (or a whole copy when needed); True if more wait."""
        if self.status.applied is None:
            await self.resync()
            return True
        try:
            body = await self._get(
                "/api/v1/ids/changes",
                {"node": self.source, "after": self.status.applied, "limit": self.page},
            )
        except _Resync:
            self.status.applied = None
            await self.resync()
            return True
        entries = [_record(e) for e in _list(body, "changes")]
        nxt, head = _int(body, "next"), _int(body, "head")
        if nxt < self.status.applied:
            raise ReplicaError(f"the primary went back from {self.status.applied} to {nxt}")
        if entries or nxt != self.status.applied:
            await asyncio.to_thread(self._apply, entries, nxt)
        self.status.applied, self.status.primary_head = nxt, head
        self.status.synced_at = datetime.now(UTC)
        return bool(body.get("more"))

    async def resync(self) -> None:
        """Copy every record of the primary, then delete what it no longer has."""
        after: str | None = ""
        start: int | None = None
        seen: set[str] = set()
        while after is not None:
            try:
                body = await self._get(
                    "/api/v1/ids/snapshot",
                    {"node": self.source, "after": after, "limit": self.page},
                )
            except _Resync:
                raise ReplicaError("the primary refused its snapshot (410)") from None
            if start is None:
                start = _int(body, "head")
            records = [_record(r) for r in _list(body, "records")]
            seen.update(r.key for r in records if r is not None)
            await asyncio.to_thread(self._apply, records, None)
            nxt = body.get("next")
            if nxt is not None and (not isinstance(nxt, str) or nxt <= after):
                raise ReplicaError("the primary's snapshot does not move forward")
            after = nxt
        await asyncio.to_thread(self._sweep, seen, start or 0)
        self.status.applied = start or 0
        self.status.resyncs += 1
        self.status.synced_at = datetime.now(UTC)
        log.warning(
            "copied %d records of %s from %s (log at %s)",
            len(seen),
            self.source,
            self.primary,
            start,
        )

    async def _get(self, path: str, params: dict[str, Any]) -> dict[str, Any]:
        if self._client is None:
            raise ReplicaError("the replica is not started")
        try:
            request = self._client.build_request(
                "GET", self.primary + path, params=params, headers=self._headers
            )
            resp = await self._client.send(request, stream=True)
            try:
                body = bytearray()
                async for chunk in resp.aiter_raw():
                    body += chunk
                    if len(body) > MAX_BODY:
                        raise ReplicaError(f"answer larger than {MAX_BODY} bytes")
            finally:
                await resp.aclose()
        except httpx.HTTPError as exc:
            raise ReplicaError(f"{type(exc).__name__}: {exc}".rstrip(": ")) from None
        if resp.status_code == 410:
            raise _Resync
        if resp.status_code != 200:
            raise ReplicaError(
                f"HTTP {resp.status_code}: {bytes(body[:300]).decode(errors='replace')}"
            )
        try:
            data = orjson.loads(bytes(body))
        except orjson.JSONDecodeError:
            raise ReplicaError("the primary's answer is not JSON") from None
        if not isinstance(data, dict):
            raise ReplicaError("the primary's answer is not a JSON object")
        return data

    # -- the database (blocking: called in a thread) ----------------------------------------
    def _load(self) -> int | None:
        with self.node.engine.connect() as conn:
            row = conn.execute(
                sa.select(replicas.c.primary_url, replicas.c.applied).where(
                    replicas.c.node == self.node.name
                )
            ).first()
        if row is None or row[0] != self.primary:  # a new primary: copy everything again
            return None
        return None if row[1] is None else int(row[1])

    def _apply(self, records: Sequence[_Record | None], applied: int | None) -> None:
        """Apply ``records`` in one transaction; with ``applied``, store it there too."""
        good = [r for r in records if r is not None]
        keys = [r.key for r in good]
        with self.node.engine.begin() as conn:
            have = self.store.existing(conn, keys) if keys else {}
            inserts: list[tuple[str, str, str, str]] = []
            for r in good:
                if r.record is None:
                    if r.key in have:
                        self.store.delete(conn, r.key)
                elif r.key not in have:
                    inserts.append((r.key, r.handle, r.prefix, r.record))
                elif have[r.key] != r.record:
                    self.store.replace(conn, r.key, decode_values(r.record))
            self.store.insert_many(conn, inserts)
            changes.note(conn, self.node.name, keys)
            if applied is not None:
                self._save(conn, applied)
        self._forget(keys)

    def _sweep(self, seen: set[str], applied: int) -> None:
        """Delete the records the primary no longer has; store ``applied``."""
        with self.node.engine.begin() as conn:
            gone = [
                k
                for (k,) in conn.execute(
                    sa.select(handles.c.hkey).where(handles.c.node == self.node.name)
                )
                if k not in seen
            ]
            for k in gone:
                self.store.delete(conn, k)
            changes.note(conn, self.node.name, gone)
            self._save(conn, applied)
        self._forget(gone)

    def _save(self, conn: sa.Connection, applied: int) -> None:
        now = datetime.now(UTC)
        done = conn.execute(
            replicas.update()
            .where(replicas.c.node == self.node.name)
            .values(primary_url=self.primary, applied=applied, synced_at=now)
        )
        if not done.rowcount:
            conn.execute(
                replicas.insert().values(
                    node=self.node.name, primary_url=self.primary, applied=applied, synced_at=now
                )
            )

    def _forget(self, keys: Sequence[str]) -> None:
        """Drop the answers this process cached for ``keys`` (other processes: ``changes``)."""
        for k in keys:
            self.node.answers.drop(k)
        if any(k.startswith("0.NA/") for k in keys):
            self.node.load_delegations()


def primary_of(engine: sa.Engine, node: str) -> str | None:
    """The primary whose copy ``node`` holds in this database (``None``: not a copy), so that
    the CLI on a DR node's data directory builds the node read-only too."""
    with engine.connect() as conn:
        row = conn.execute(sa.select(replicas.c.primary_url).where(replicas.c.node == node)).first()
    return None if row is None else str(row[0])


def _list(body: dict[str, Any], name: str) -> list[Any]:
    items = body.get(name)
    if not isinstance(items, list) or len(items) > changelog.MAX_PAGE:
        raise ReplicaError(
            f"the primary's answer has no list {name!r} of at most {changelog.MAX_PAGE}"
        )
    return items


def _int(body: dict[str, Any], name: str) -> int:
    value = body.get(name)
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise ReplicaError(f"the primary's answer has no number {name!r}")
    return value


def _record(item: Any) -> _Record | None:
    """A record of the primary's answer, checked; ``None`` (logged) if it fails a check."""
    try:
        if not isinstance(item, dict):
            raise ValueError("not an object")
        key, handle, values = item.get("key"), item.get("handle"), item.get("values")
        if not isinstance(key, str) or len(key) > 400:
            raise ValueError("no key")
        if values is None and handle is None:
            return _Record(key, "", "", None)
        if not isinstance(handle, str) or not isinstance(values, list):
            raise ValueError("no handle or values")
        h = hdl.parse(handle)
        if h.key != key:
            raise ValueError(f"key {key!r} is not the key of {handle!r}")
        record = orjson.dumps(values).decode()
        record = encode_values(decode_values(record))  # parsed as stored values, or refused
        return _Record(key, h.text, hdl.normalise_prefix(h.prefix), record)
    except (ValueError, TypeError, KeyError, IndunetError) as exc:
        log.error("skipped a record of the primary's answer: %s", exc)
        return None
