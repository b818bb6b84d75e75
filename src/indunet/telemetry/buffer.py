"""The on-disk ingest buffer: where batches wait, durably, while the store is down or slow.

A bounded FIFO in its own SQLite file (``buffer.db`` in the data directory): one row per
batch, its samples orjson-encoded as five columns. Appends from concurrent callers share a
transaction (group commit, synchronous=FULL), so a caller whose ``append`` returned can crash
and lose nothing. ``oldest``/``remove`` let the pipeline deliver rows oldest-first and delete
them only once the store has them. All SQLite work runs on the buffer's own thread.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from itertools import repeat
from pathlib import Path

import orjson

from indunet.telemetry.samples import Sample
from indunet.telemetry.sink import Overloaded

_SCHEMA = """
CREATE TABLE IF NOT EXISTS batches (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    n INTEGER NOT NULL,
    body BLOB NOT NULL
)
"""
_new_sample = tuple.__new__


def encode(samples: Sequence[Sample]) -> bytes:
    """Samples as JSON columns ``[devices, points, ts, values, qualities]``."""
    return orjson.dumps(list(zip(*samples, strict=True)))


def decode(body: bytes) -> list[Sample]:
    """The samples of one encoded batch."""
    columns = orjson.loads(body)
    return list(map(_new_sample, repeat(Sample), zip(*columns, strict=True)))


class DiskBuffer:
    """A bounded on-disk queue of sample batches, delivered oldest first."""

    def __init__(self, path: Path, max_bytes: int) -> None:
        self.path = path
        self.max_bytes = max_bytes
        self.rows = 0
        self.bytes = 0
        self.samples = 0
        self._executor = ThreadPoolExecutor(1, thread_name_prefix="tel-buffer")
        self._conn: sqlite3.Connection | None = None
        self._pending: list[tuple[Sequence[Sample], asyncio.Future[None]]] = []
        self._flusher: asyncio.Task[None] | None = None

    @property
    def full(self) -> bool:
        """Whether the bound is reached (appends are refused until rows are removed)."""
        return self.bytes >= self.max_bytes

    async def _run(self, fn: object, *args: object) -> object:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, fn, *args)  # type: ignore[arg-type]

    async def open(self) -> None:
        """Open (or create) the file and count what an earlier run left in it."""
        await self._run(self._open)

    def _open(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        conn.execute("PRAGMA auto_vacuum=INCREMENTAL")  # takes effect on a new file
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=FULL")
        conn.execute(_SCHEMA)
        rows, size, samples = conn.execute(
            "SELECT count(*), coalesce(sum(length(body)), 0), coalesce(sum(n), 0) FROM batches"
        ).fetchone()
        self.rows, self.bytes, self.samples = int(rows), int(size), int(samples)
        self._conn = conn

    async def append(self, samples: Sequence[Sample]) -> None:
        """Add one batch; returns once it is on disk. Raises ``Overloaded`` if it does not fit."""
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._pending.append((samples, done))
        if self._flusher is None or self._flusher.done():
            self._flusher = asyncio.create_task(self._flush(), name="buffer-append")
        await asyncio.shield(done)

    async def _flush(self) -> None:
        while self._pending:
            batch, self._pending = self._pending, []
            try:
                fits = await self._run(self._write, [s for s, _ in batch])
            except Exception as exc:
                for _, done in batch:
                    if not done.done():
                        done.set_exception(exc)
                continue
            for ok, (_, done) in zip(fits, batch, strict=True):  # type: ignore[call-overload]
                if done.done():
                    continue
                if ok:
                    done.set_result(None)
                else:
                    done.set_exception(
                        Overloaded(
                            f"the ingest buffer is full ({self.bytes:,} of {self.max_bytes:,} "
                            "bytes) while the store catches up; retry later"
                        )
                    )

    def _write(self, batches: list[Sequence[Sample]]) -> list[bool]:
        assert self._conn is not None, "DiskBuffer.open was not awaited"
        bodies = [encode(s) for s in batches]
        fits: list[bool] = []
        rows: list[tuple[int, bytes]] = []
        size = self.bytes
        for samples, body in zip(batches, bodies, strict=True):
            ok = size + len(body) <= self.max_bytes
            fits.append(ok)
            if ok:
                size += len(body)
                rows.append((len(samples), body))
        if rows:
            with self._conn:
                self._conn.execute("BEGIN IMMEDIATE")
                self._conn.executemany("INSERT INTO batches (n, body) VALUES (?, ?)", rows)
            self.rows += len(rows)
            self.bytes = size
            self.samples += sum(n for n, _ in rows)
        return fits

    async def oldest(self, max_samples: int) -> list[tuple[int, list[Sample]]]:
        """The oldest rows (at least one if any) holding up to ``max_samples`` samples."""
        return await self._run(self._oldest, max_samples)  # type: ignore[return-value]

    def _oldest(self, max_samples: int) -> list[tuple[int, list[Sample]]]:
        assert self._conn is not None, "DiskBuffer.open was not awaited"
        out: list[tuple[int, list[Sample]]] = []
        total = 0
        for row_id, n, body in self._conn.execute(
            "SELECT id, n, body FROM batches ORDER BY id LIMIT 256"
        ):
            if out and total + n > max_samples:
                break
            out.append((row_id, decode(body)))
            total += n
        return out

    async def remove(self, ids: Sequence[int]) -> None:
        """Delete rows the store now holds."""
        await self._run(self._remove, list(ids))

    def _remove(self, ids: list[int]) -> None:
        assert self._conn is not None, "DiskBuffer.open was not awaited"
        marks = ",".join("?" * len(ids))
        with self._conn:
            self._conn.execute("BEGIN IMMEDIATE")
            size, n = self._conn.execute(
                f"SELECT coalesce(sum(length(body)), 0), coalesce(sum(n), 0) FROM batches WHERE id IN ({marks})",  # noqa: S608
                ids,
            ).fetchone()
            gone = self._conn.execute(f"DELETE FROM batches WHERE id IN ({marks})", ids).rowcount  # noqa: S608
        self.rows -= gone
        self.bytes -= int(size)
        self.samples -= int(n)
        if self.rows == 0:
            self._conn.execute("PRAGMA incremental_vacuum")

    async def close(self) -> None:
        """Finish pending appends and close the file."""
        if self._flusher is not None:
            await self._flusher
        if self._conn is not None:
            await self._run(self._conn.close)
            self._conn = None
        self._executor.shutdown(wait=True)
