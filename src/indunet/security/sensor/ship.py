"""Shipping events to a running Indunet: ``POST <url>/api/v1/security/events``.

Events are gathered into batches (``batch_events`` events or ``batch_bytes`` bytes, or what
came within ``flush_s``); every batch is written to the on-disk ``Spool`` first and deleted
only after the server answered 200, so a sensor that loses its server, or is restarted, sends
everything later, in order. Each event carries its id, so a batch sent again after a lost
answer is recognised by the hub (counted as duplicates), never handled twice.

Answers: 200 → delete; 400 (an event does not read) and 413 → the batch goes to the spool's
rejected table with the server's reason, counted, and is not sent again; 503 → wait
``Retry-After`` (capped) and send the same batch again; connection errors, timeouts, other 5xx
and 401/403/404 (a wrong token or URL a person must fix) → retry with a capped backoff, the
batches kept. When the spool is full, ``put`` waits (back-pressure on the source) up to
``full_wait_s``; only then are events dropped, and counted. The token is never logged.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import httpx
import orjson

from indunet.security.events import SecurityEvent

from .spool import Batch, Spool

log = logging.getLogger(__name__)
PATH = "/api/v1/security/events"
MAX_BACKOFF_S = 30.0
MAX_RETRY_AFTER_S = 120.0


@dataclass
class ShipStats:
    """What became of the events given to the shipper."""

    events_in: int = 0
    batches_written: int = 0
    batches_sent: int = 0
    accepted: int = 0
    duplicates: int = 0
    rejected_batches: int = 0
    rejected_events: int = 0
    retries: int = 0
    dropped: int = 0
    """Events lost because the spool stayed full for ``full_wait_s`` (counted, logged)."""
    waits_for_room: int = 0
    last_error: str = ""


class Shipper:
    """Batches events, spools them, and sends them to ``url`` in order (``start``/``stop``)."""

    def __init__(
        self,
        url: str,
        token: str,
        buffer_dir: Path,
        *,
        max_buffer_bytes: int = 256 * 1024 * 1024,
        batch_events: int = 1_000,
        batch_bytes: int = 1024 * 1024,
        flush_s: float = 1.0,
        timeout_s: float = 15.0,
        full_wait_s: float = 60.0,
        verify: bool = True,
        backoff_s: float = 0.5,
    ) -> None:
        self.url = url.rstrip("/") + PATH
        self._token = token
        self.spool = Spool(buffer_dir, max_bytes=max_buffer_bytes)
        self.batch_events = batch_events
        self.batch_bytes = batch_bytes
        self.flush_s = flush_s
        self.timeout_s = timeout_s
        self.full_wait_s = full_wait_s
        self.verify = verify
        self.backoff_s = backoff_s
        self.stats = ShipStats()
        self._parts: list[bytes] = []
        self._size = 0
        self._first_at = 0.0
        self._work = asyncio.Event()
        self._room = asyncio.Event()
        self._settled = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._flusher: asyncio.Task[None] | None = None
        self._client: httpx.AsyncClient | None = None
        self._seal_lock = asyncio.Lock()

    def __repr__(self) -> str:  # never the token
        return f"Shipper({self.url!r}, spool={self.spool.path})"

    # -- the source's side ------------------------------------------------------------------

    async def put(self, events: Sequence[SecurityEvent]) -> None:
        """Take events; returns once they are in the current batch or on disk (waits while
        the spool is full, then drops and counts)."""
        for event in events:
            data = event.to_dict()
            if not data["observer"]:  # "" reads back as a wrong observer: leave it out
                del data["observer"]
            part = orjson.dumps(data)
            if self._parts and self._size + len(part) + 16 > self.batch_bytes:
                await self.seal()
            if not self._parts:
                self._first_at = time.monotonic()
            self._parts.append(part)
            self._size += len(part) + 1
            self.stats.events_in += 1
            if len(self._parts) >= self.batch_events:
                await self.seal()

    async def seal(self) -> None:
        """Write the batch being gathered to the spool (waiting for room, bounded)."""
        async with self._seal_lock:
            if not self._parts:
                return
            parts, self._parts, self._size = self._parts, [], 0
            body = b'{"events":[' + b",".join(parts) + b"]}"
            try:
                await self._write(parts, body)
            except BaseException:
                # cancelled while waiting for room: keep the batch (should the put in the
                # worker thread have gone through after all, its ids make the resend harmless)
                self._parts, self._size = parts + self._parts, self._size + len(body)
                raise

    async def _write(self, parts: list[bytes], body: bytes) -> None:
        deadline = time.monotonic() + self.full_wait_s
        while not await asyncio.to_thread(self.spool.put, body, len(parts)):
            left = deadline - time.monotonic()
            if left <= 0:
                self.stats.dropped += len(parts)
                log.error(
                    "sensor spool full (%d bytes) for %.0f s: %d events dropped (counted)",
                    self.spool.size,
                    self.full_wait_s,
                    len(parts),
                )
                return
            self.stats.waits_for_room += 1
            self._room.clear()
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(min(left, 1.0)):
                    await self._room.wait()
        self.stats.batches_written += 1
        self._work.set()

    # -- running ------------------------------------------------------------------------------

    async def start(self) -> None:
        if self._task is not None:
            return
        self._client = httpx.AsyncClient(
            verify=self.verify,
            timeout=self.timeout_s,
            headers={
                "Authorization": f"Bearer {self._token}",
                "Content-Type": "application/json",
            },
        )
        if self.spool.batches:
            log.info("sensor spool: %d batches waiting from before", self.spool.batches)
            self._work.set()
        self._task = asyncio.create_task(self._send_loop(), name="sensor-shipper")
        self._flusher = asyncio.create_task(self._flush_loop(), name="sensor-shipper-flush")

    async def stop(self, drain_s: float = 5.0) -> None:
        """Seal what is gathered, send what the server takes within ``drain_s`` s; the rest
        stays in the spool for the next start."""
        if self._flusher is not None:
            self._flusher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._flusher
            self._flusher = None
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(drain_s):
                await self.seal()
                await self.drained()
        if self._parts:  # the spool stayed full to the end
            self.stats.dropped += len(self._parts)
            log.error(
                "sensor spool full at stop: %d events not written (counted)", len(self._parts)
            )
            self._parts, self._size = [], 0
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        if self._client is not None:
            await self._client.aclose()
            self._client = None
        self.spool.close()

    def wake(self) -> None:
        """Look at the spool again now (a batch was written to it from elsewhere)."""
        self._work.set()

    async def drained(self) -> None:
        """Wait until the spool is empty (every batch accepted or rejected)."""
        while self.spool.batches or self._parts:
            self._settled.clear()
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(0.5):  # a batch put behind our back is seen too
                    await self._settled.wait()

    async def _flush_loop(self) -> None:
        while True:
            await asyncio.sleep(min(self.flush_s, 0.5))
            if self._parts and time.monotonic() - self._first_at >= self.flush_s:
                await self.seal()

    async def _send_loop(self) -> None:
        failures = 0
        while True:
            self._work.clear()  # before looking: a batch written meanwhile sets it again
            batch = await asyncio.to_thread(self.spool.oldest)
            if batch is None:
                await self._work.wait()
                continue
            wait = await self._send(batch)
            if wait is None:
                failures = 0
                self._room.set()
                self._settled.set()
                continue
            failures += 1
            self.stats.retries += 1
            delay = wait if wait > 0 else min(MAX_BACKOFF_S, self.backoff_s * 2 ** min(failures, 8))
            await asyncio.sleep(delay)

    async def _send(self, batch: Batch) -> float | None:
        """Send one batch; None when it is settled (accepted or rejected), else how long to
        wait before sending it again (0: the backoff's)."""
        assert self._client is not None
        try:
            r = await self._client.post(self.url, content=batch.body)
        except httpx.HTTPError as exc:
            self._failed(f"{type(exc).__name__}: {exc}")
            return 0.0
        if r.status_code == 200:
            try:
                got = orjson.loads(r.content)
                self.stats.accepted += int(got.get("accepted", 0))
                self.stats.duplicates += int(got.get("duplicates", 0))
            except (orjson.JSONDecodeError, AttributeError, TypeError, ValueError):
                log.warning("sensor shipper: a 200 answer that is not the expected JSON")
            await asyncio.to_thread(self.spool.done, batch)
            self.stats.batches_sent += 1
            self.stats.last_error = ""
            return None
        if r.status_code in (400, 413, 422):
            reason = _reason(r)
            await asyncio.to_thread(self.spool.reject, batch, r.status_code, reason)
            self.stats.rejected_batches += 1
            self.stats.rejected_events += batch.events
            log.error(
                "sensor shipper: the server refused a batch of %d events (%d: %s); kept in %s",
                batch.events,
                r.status_code,
                reason,
                self.spool.path,
            )
            return None
        self._failed(f"HTTP {r.status_code}: {_reason(r)}")
        if r.status_code in (429, 503):
            return _retry_after(r.headers.get("retry-after"))
        return 0.0

    def _failed(self, what: str) -> None:
        if what != self.stats.last_error:
            log.warning("sensor shipper: %s; batches kept on disk, retrying", what)
        self.stats.last_error = what


def _reason(r: httpx.Response) -> str:
    """The server's reason for an answer: its error message, reason and params."""
    try:
        data = orjson.loads(r.content)
    except orjson.JSONDecodeError:
        return r.text[:500] or r.reason_phrase
    if not isinstance(data, dict):
        return str(data)[:500]
    parts = [str(data.get(k)) for k in ("reason", "message", "detail") if data.get(k)]
    if data.get("params"):
        parts.append(orjson.dumps(data["params"]).decode())
    return " ".join(parts)[:2000] or r.reason_phrase


def _retry_after(value: str | None) -> float:
    try:
        seconds = float(value) if value else 0.0
    except ValueError:
        seconds = 0.0
    return max(0.0, min(seconds, MAX_RETRY_AFTER_S))
