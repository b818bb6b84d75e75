"""The embedded time-series store: a SQLite file of its own (``telemetry.db``) in WAL mode.

Tables: ``tel_series`` (one row per device point, ids cached by the writer), ``tel_samples``
keyed ``(series, ts)`` WITHOUT ROWID, so one point's samples lie together in time order, and
``tel_rollup_1m``: per point and epoch minute the min, max, sum, count, first and last of its
numbers and booleans, kept in the same transaction as the samples. A downsample whose buckets
are whole minutes reads the rollups (1,440 rows a day) instead of every sample.

``v`` holds the value as SQLite stores it (integer, real or text); ``q`` holds the quality in
its two low bits and ``BOOL_FLAG`` when the value is a boolean (stored as 0/1).

One writer connection guarded by a lock does every write; each thread that queries gets a
reader connection of its own (WAL readers never wait for the writer).
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from itertools import chain
from operator import itemgetter
from pathlib import Path
from typing import Any

from indunet.core import IndunetError, InvalidInput
from indunet.telemetry import sqlite_sql as stmts
from indunet.telemetry.rollup import (
    MINUTE,
    BadRow,
    Partial,
    check_buckets,
    check_cut,
    check_limit,
    check_window,
    minute_partials,
    strings_refused,
    to_buckets,
    uses_rollups,
)
from indunet.telemetry.runs import run_rows, runs_of
from indunet.telemetry.samples import Bucket, Sample
from indunet.telemetry.validity import check_samples, sample_problem

SCHEMA_VERSION = 1
BOOL_FLAG = 4
_BY_KEY = itemgetter(0, 1)
_CHUNK = 500  # host parameters per IN (...) list


class StoreClosed(IndunetError):
    """The store was closed; the process is shutting down."""

    code = "store_closed"
    status = 503


def decode(device: str, point: str, ts: int, v: Any, q: int) -> Sample:
    """A ``Sample`` from a stored row."""
    if q == 0:
        return Sample(device, point, ts, v, 0)
    return Sample(device, point, ts, bool(v) if q & BOOL_FLAG else v, q & 3)


class SqliteStore:
    """A ``TimeSeriesStore`` in one SQLite file (WAL, ``synchronous=NORMAL``); thread-safe."""

    def __init__(self, path: str | Path, *, cache_mb: int = 64) -> None:
        if str(path) in ("", ":memory:"):
            raise InvalidInput("SqliteStore needs a file path; use MemoryStore for memory")
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._cache_kb = cache_mb * 1024
        self._lock = threading.Lock()
        self._ids: dict[tuple[str, str], int] = {}
        self._strings: set[int] = set()
        self._local = threading.local()
        self._readers: list[sqlite3.Connection] = []
        self._readers_lock = threading.Lock()
        self._closed = False
        self._conn = self._connect()
        for pragma in ("journal_mode=WAL", "synchronous=NORMAL", "wal_autocheckpoint=16000"):
            self._conn.execute(f"PRAGMA {pragma}")
        self._create_schema()

    # -- connections -------------------------------------------------------------------------
    def _connect(self, cache_kb: int | None = None) -> sqlite3.Connection:
        conn = sqlite3.connect(
            self.path, timeout=30.0, isolation_level=None, check_same_thread=False
        )
        conn.execute(f"PRAGMA cache_size=-{cache_kb or self._cache_kb}")
        conn.execute("PRAGMA temp_store=MEMORY")
        return conn

    def _create_schema(self) -> None:
        conn = self._conn
        conn.execute("BEGIN IMMEDIATE")
        try:
            version = conn.execute("PRAGMA user_version").fetchone()[0]
            if version > SCHEMA_VERSION:
                raise InvalidInput(
                    f"{self.path} has telemetry schema {version}; this Indunet knows "
                    f"{SCHEMA_VERSION}: upgrade Indunet"
                )
            for ddl in stmts.SCHEMA:
                conn.execute(ddl)
            conn.execute(f"PRAGMA user_version={SCHEMA_VERSION}")
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise

    def _writer(self) -> sqlite3.Connection:
        if self._closed:
            raise StoreClosed("the telemetry store is closed")
        return self._conn

    def _reader(self) -> sqlite3.Connection:
        if self._closed:
            raise StoreClosed("the telemetry store is closed")
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            # readers map the file (the OS caches it once) and keep a small page cache each:
            # the web server's thread pool may hold dozens of them
            conn = self._connect(cache_kb=4096)
            conn.execute("PRAGMA query_only=ON")
            conn.execute("PRAGMA mmap_size=268435456")
            with self._readers_lock:
                self._readers.append(conn)
            self._local.conn = conn
        return conn

    @contextmanager
    def _snapshot(self) -> Iterator[sqlite3.Connection]:
        """A reader connection inside one read transaction (a consistent view)."""
        conn = self._reader()
        conn.execute("BEGIN")
        try:
            yield conn
        finally:
            conn.execute("COMMIT")

    # -- writes ------------------------------------------------------------------------------
    def write_batch(self, samples: Sequence[Sample]) -> None:
        """Store ``samples`` atomically; a (device, point, ts) already stored is ignored."""
        if not samples:
            return
        with self._lock:
            conn = self._writer()
            added: list[tuple[str, str]] = []
            conn.execute("BEGIN IMMEDIATE")
            try:
                cols = runs_of(samples)
                if cols is not None:  # runs of numbers: rows and rollups from C loops
                    ids = [self._id(conn, samples, start, added) for _, start, _ in cols.runs]
                    flat, partials = run_rows(cols, ids)
                    unique, strings = len(samples), set[int]()
                else:
                    rows = self._rows(conn, samples, added)
                    partials, unique, strings = minute_partials(rows)
                    flat = list(chain.from_iterable(rows))
                inserted = stmts.execute_flat(conn, stmts.INSERT, flat, 4)
                if inserted == unique:
                    stmts.execute_flat(conn, stmts.UPSERT, list(chain.from_iterable(partials)), 10)
                elif inserted:  # some were stored before: recount their minutes from raw
                    self._recompute(conn, [(p[0], p[1]) for p in partials])
                flagged = strings - self._strings
                if flagged:
                    conn.executemany(
                        "UPDATE tel_series SET strings = 1 WHERE id = ?", [(s,) for s in flagged]
                    )
                conn.execute("COMMIT")
            except BaseException as exc:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                for key in added:
                    self._ids.pop(key, None)
                if (
                    isinstance(
                        exc,
                        BadRow
                        | TypeError
                        | ValueError
                        | OverflowError
                        | IndexError
                        | sqlite3.InterfaceError,
                    )
                    or type(exc) is sqlite3.ProgrammingError
                ):
                    check_samples(samples)
                raise
            self._strings |= flagged

    def _id(
        self,
        conn: sqlite3.Connection,
        samples: Sequence[Sample],
        start: int,
        added: list[tuple[str, str]],
    ) -> int:
        """The series id of the run at ``samples[start]``, made (names checked) when new."""
        first = samples[start]
        key = (first[0], first[1])
        sid = self._ids.get(key)
        if sid is None:
            if sample_problem(first) is not None:
                check_samples(samples)  # raises, naming the sample by its index in the batch
            sid = self._ids[key] = self._series_id(conn, *key)
            added.append(key)
        return sid

    def _rows(
        self, conn: sqlite3.Connection, samples: Sequence[Sample], added: list[tuple[str, str]]
    ) -> list[tuple[Any, ...]]:
        ids = self._ids
        try:
            rows = [
                (ids[d, p], ts, v, q | BOOL_FLAG if v.__class__ is bool else q)
                for d, p, ts, v, q in samples
            ]
        except KeyError:
            check_samples(samples)  # names of new series are checked before they are stored
            for s in samples:
                key = (s[0], s[1])
                if key not in ids:
                    ids[key] = self._series_id(conn, *key)
                    added.append(key)
            rows = [
                (ids[d, p], ts, v, q | BOOL_FLAG if v.__class__ is bool else q)
                for d, p, ts, v, q in samples
            ]
        rows.sort(key=_BY_KEY)
        return rows

    def _series_id(self, conn: sqlite3.Connection, device: str, point: str) -> int:
        row = conn.execute(
            "SELECT id, strings FROM tel_series WHERE device = ? AND point = ?", (device, point)
        ).fetchone()
        if row is None:
            row = conn.execute(
                "INSERT INTO tel_series (device, point) VALUES (?, ?) RETURNING id, strings",
                (device, point),
            ).fetchone()
        if row[1]:
            self._strings.add(row[0])
        return int(row[0])

    @staticmethod
    def _recompute(conn: sqlite3.Connection, minutes: list[tuple[int, int]]) -> None:
        conn.executemany(stmts.FORGET_MINUTE, minutes)
        conn.executemany(stmts.RECOMPUTE_MINUTE, minutes)

    def delete_before(self, devices: Sequence[str], before: int) -> int:
        """Delete samples of ``devices`` older than ``before`` (ms); return how many.

        One transaction per point, so ingest goes on between them.
        """
        check_cut(devices, before)
        cut = before - before % MINUTE
        removed = 0
        for sid in self._series_of(devices):
            with self._lock:
                conn = self._writer()
                conn.execute("BEGIN IMMEDIATE")
                try:
                    n = conn.execute(
                        "DELETE FROM tel_samples WHERE series = ? AND ts < ?", (sid, before)
                    ).rowcount
                    if n:
                        conn.execute(
                            "DELETE FROM tel_rollup_1m WHERE series = ? AND bucket < ?",
                            (sid, cut),
                        )
                        if before != cut:
                            self._recompute(conn, [(sid, cut)])
                    conn.execute("COMMIT")
                except BaseException:
                    conn.execute("ROLLBACK")
                    raise
            removed += n
        return removed

    def delete_device(self, device: str) -> int:
        """Delete every sample and rollup of ``device`` and its points; return how many samples.

        One transaction per point, so ingest goes on between them.
        """
        removed = 0
        for sid in self._series_of([device]):
            with self._lock:
                conn = self._writer()
                conn.execute("BEGIN IMMEDIATE")
                try:
                    removed += conn.execute(
                        "DELETE FROM tel_samples WHERE series = ?", (sid,)
                    ).rowcount
                    conn.execute("DELETE FROM tel_rollup_1m WHERE series = ?", (sid,))
                    conn.execute("DELETE FROM tel_series WHERE id = ?", (sid,))
                    conn.execute("COMMIT")
                except BaseException:
                    conn.execute("ROLLBACK")
                    raise
                for key in [k for k, v in self._ids.items() if v == sid]:
                    del self._ids[key]
                self._strings.discard(sid)
        return removed

    def _series_of(self, devices: Sequence[str]) -> list[int]:
        conn = self._reader()
        out: list[int] = []
        names = list(devices)
        for i in range(0, len(names), _CHUNK):
            part = names[i : i + _CHUNK]
            marks = ",".join("?" * len(part))
            sql = f"SELECT id FROM tel_series WHERE device IN ({marks})"  # noqa: S608
            out.extend(r[0] for r in conn.execute(sql, part))
        return out

    # -- queries -----------------------------------------------------------------------------
    def latest(self, device: str, points: Sequence[str] | None = None) -> dict[str, Sample]:
        """The newest sample of each point of ``device`` (only ``points`` when given)."""
        conn = self._reader()
        if points is None:
            rows = conn.execute(stmts.LATEST, (device,)).fetchall()
        else:
            wanted = list(dict.fromkeys(points))
            rows = []
            for i in range(0, len(wanted), _CHUNK):
                part = wanted[i : i + _CHUNK]
                sql = f"{stmts.LATEST} AND s.point IN ({','.join('?' * len(part))})"
                rows.extend(conn.execute(sql, (device, *part)).fetchall())
        return {p: decode(device, p, ts, v, q) for p, ts, v, q in rows}

    def _series(self, conn: sqlite3.Connection, device: str, point: str) -> tuple[int, bool]:
        row = conn.execute(
            "SELECT id, strings FROM tel_series WHERE device = ? AND point = ?", (device, point)
        ).fetchone()
        return (-1, False) if row is None else (int(row[0]), bool(row[1]))

    def query(
        self, device: str, point: str, start: int, end: int, *, limit: int = 100_000
    ) -> list[Sample]:
        """Raw samples with ``start <= ts < end``, oldest first, at most ``limit``."""
        check_window(start, end)
        check_limit(limit)
        with self._snapshot() as conn:
            sid, _ = self._series(conn, device, point)
            rows = conn.execute(
                "SELECT ts, v, q FROM tel_samples WHERE series = ? AND ts >= ? AND ts < ?"
                " ORDER BY ts LIMIT ?",
                (sid, start, end, limit),
            ).fetchall()
        new = tuple.__new__
        return [
            new(Sample, (device, point, ts, v, 0)) if q == 0 else decode(device, point, ts, v, q)
            for ts, v, q in rows
        ]

    def downsample(
        self, device: str, point: str, start: int, end: int, bucket_ms: int
    ) -> list[Bucket]:
        """Aggregates per bucket; whole-minute buckets come from the minute rollups."""
        check_buckets(start, end, bucket_ms)
        with self._snapshot() as conn:
            sid, strings = self._series(conn, device, point)
            if strings:
                raise strings_refused(device, point)
            args = {"sid": sid, "start": start, "width": bucket_ms, "lo": start, "hi": end}
            partials: list[Partial] = []
            if uses_rollups(start, bucket_ms):
                whole = max(start, end - end % MINUTE)
                sql = stmts.MINUTE_PARTIALS if bucket_ms == MINUTE else stmts.ROLLUP_PARTIALS
                partials += conn.execute(sql, {**args, "hi": whole}).fetchall()
                args["lo"] = whole
            if args["lo"] < end:
                partials += self._raw_partials(conn, args)
        return to_buckets(partials, start, bucket_ms)

    @staticmethod
    def _raw_partials(conn: sqlite3.Connection, args: dict[str, int]) -> list[Partial]:
        """Partials of raw samples in ``[lo, hi)``.

        SQLite sorts every row for a GROUP BY on an expression; a range query per bucket
        streams them in key order instead, so that is used unless there are many buckets.
        """
        sid, start, width, lo, hi = (args[k] for k in ("sid", "start", "width", "lo", "hi"))
        first, last = (lo - start) // width, (hi - 1 - start) // width
        if last - first >= stmts.LOOP_BUCKETS:
            return conn.execute(stmts.RAW_PARTIALS, args).fetchall()
        out: list[Partial] = []
        for k in range(first, last + 1):
            b_lo, b_hi = max(lo, start + k * width), min(hi, start + (k + 1) * width)
            row = conn.execute(stmts.BUCKET_PARTIAL, (sid, b_lo, b_hi)).fetchone()
            if row[3]:
                out.append((k, *row))
        return out

    def close(self) -> None:
        """Close the writer and every reader connection."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            self._conn.close()
        with self._readers_lock:
            for conn in self._readers:
                conn.close()
            self._readers.clear()
