"""The PostgreSQL time-series store (psycopg 3): daily range partitions and minute rollups.

Tables (in the connection's ``search_path``): ``tel_series``; ``tel_samples`` keyed
``(series, ts)`` and ``PARTITION BY RANGE (ts)``, one partition per UTC day
(``tel_samples_20240501``); ``tel_rollup_1m`` likewise by ``bucket``. Daily partitions keep each
day's index small, let queries prune by time, and let retention drop a whole day at once
instead of deleting rows one by one. Partitions are created on demand before a batch that
needs them (under an advisory lock, so processes never race) and remembered.

A batch goes in by ``COPY`` into a temporary staging table, all in one transaction. When
no stored sample of a staged point lies within the staged time range (points move forward),
a plain ``INSERT ... SELECT`` appends it and minute partials summed in Python are upserted;
otherwise ``INSERT ... ON CONFLICT DO NOTHING RETURNING`` feeds exactly the rows that were
new into the rollup upsert in SQL: a replay counts nothing twice.

``num`` holds numbers and booleans (0/1) as float8, ``txt`` strings; ``q`` holds the quality
in its two low bits, ``4`` for a boolean and ``8`` for an integer (an integer beyond 2**53 is
kept exactly in ``txt`` too).

Connections (``postgres_link``): when the server restarts or fails over, the write or read
that was using a connection fails and the next one connects afresh, with a capped backoff
while the server does not answer (``StoreUnavailable`` meanwhile). A write whose connection
turns out dead is tried once more on a fresh one at once: writes are idempotent.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from operator import itemgetter
from typing import TYPE_CHECKING, Any

from indunet.telemetry import postgres_rows as pgrows
from indunet.telemetry import postgres_sql as stmts
from indunet.telemetry.postgres_link import RETRY_CAP_S, Link, Readers
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
from indunet.telemetry.samples import Bucket, Sample
from indunet.telemetry.sqlite_store import StoreClosed
from indunet.telemetry.validity import MAX_TS, check_samples

if TYPE_CHECKING:
    import psycopg

DAY = 86_400_000
_BY_KEY = itemgetter(0, 1)


class PostgresStore:
    """A ``TimeSeriesStore`` in PostgreSQL; one writer connection and a small reader pool.

    ``application_name`` is what ``pg_stat_activity`` shows for its connections;
    ``retry_cap`` bounds the delay between connection attempts while the server is down.
    """

    def __init__(
        self,
        url: str,
        *,
        readers: int = 4,
        application_name: str = "indunet-telemetry",
        retry_cap: float = RETRY_CAP_S,
    ) -> None:
        import psycopg

        self.url = "postgresql://" + url.split("://", 1)[1]
        self._psycopg = psycopg
        self._link = Link(self.url, application_name=application_name, cap=retry_cap)
        self._lock = threading.Lock()
        self._ids: dict[tuple[str, str], int] = {}
        self._strings: set[int] = set()
        self._days: set[int] = set()
        self._closed = False
        self._conn: psycopg.Connection[Any] | None = None
        self._readers = Readers(self._link, readers)
        with self._lock:
            conn = self._writer()
            with conn.transaction():
                conn.execute("SELECT pg_advisory_xact_lock(hashtext('indunet.tel_schema'))")
                for ddl in stmts.SCHEMA:
                    conn.execute(ddl)

    # -- connections -------------------------------------------------------------------------
    def _writer(self) -> psycopg.Connection[Any]:
        if self._closed:
            raise StoreClosed("the telemetry store is closed")
        if self._conn is None or self._conn.closed or self._conn.broken:
            if self._conn is not None:
                self._conn.close()
                self._conn = None
            conn = self._link.connect()
            try:
                conn.execute(stmts.STAGE)
                conn.execute(stmts.STAGE_MINUTES)
                conn.commit()
            except BaseException:
                conn.close()
                raise
            self._conn = conn
            self._days.clear()  # partitions may have been dropped meanwhile
        return self._conn

    def _writer_broke(self) -> bool:
        """Whether the writer connection died under the last call (server gone)."""
        return self._conn is not None and (self._conn.broken or self._conn.closed)

    # -- writes ------------------------------------------------------------------------------
    def write_batch(self, samples: Sequence[Sample]) -> None:
        """Store ``samples`` atomically; a (device, point, ts) already stored is ignored."""
        if not samples:
            return
        try:
            self._write_once(samples)
        except self._psycopg.OperationalError:
            if not self._writer_broke():
                raise  # a statement timeout, say: the connection is fine
            self._write_once(samples)  # it died (a restart): once more on a fresh connection

    def _write_once(self, samples: Sequence[Sample]) -> None:
        errors = self._psycopg.errors
        try:
            self._write(samples)
        except errors.CheckViolation as exc:
            if "no partition" not in str(exc):
                raise
            self._days.clear()  # another process dropped a partition we knew: look again
            self._write(samples)
        except errors.UniqueViolation:
            self._write(samples, merge=True)  # another process wrote some of them meanwhile

    def _write(self, samples: Sequence[Sample], *, merge: bool = False) -> None:
        """One transaction: stage by COPY, then append or merge, and upsert the minutes.

        When no stored sample of a staged point lies within the staged time range (the
        usual case: points move forward in time), a plain INSERT appends the rows, which
        costs a third of ``ON CONFLICT`` on a partitioned table; otherwise (a replay, late
        data) the merge keeps stored samples and counts only the new ones.
        """
        with self._lock:
            conn = self._writer()
            added: list[tuple[str, str]] = []
            try:
                self._ensure_days(conn, samples)
                with conn.transaction():
                    staged, partials, strings = self._staged(conn, samples, added)
                    with conn.cursor() as cur:
                        pgrows.copy_lines(cur, stmts.COPY, staged)
                        only_new = not merge and cur.execute(stmts.ONLY_NEW).fetchone() == (True,)
                        if only_new:  # every staged row is new: the minutes summed in Python
                            pgrows.copy_lines(
                                cur, stmts.COPY_MINUTES, [pgrows.minute_line(p) for p in partials]
                            )
                        for sql in stmts.APPEND if only_new else stmts.MERGE:
                            cur.execute(sql)
                        flagged = list(strings - self._strings)
                        if flagged:
                            cur.execute(
                                "UPDATE tel_series SET strings = true WHERE id = ANY(%s)",
                                (flagged,),
                            )
            except BaseException as exc:
                for key in added:
                    self._ids.pop(key, None)
                if isinstance(exc, BadRow | TypeError | ValueError | OverflowError | IndexError):
                    check_samples(samples)
                raise
            self._strings.update(flagged)

    def _staged(
        self,
        conn: psycopg.Connection[Any],
        samples: Sequence[Sample],
        added: list[tuple[str, str]],
    ) -> tuple[list[str], list[tuple[Any, ...]], set[int]]:
        """COPY lines of the samples, their minute partials, and the series given strings."""
        ids = self._ids
        try:
            rows = [(ids[d, p], ts, v, q) for d, p, ts, v, q in samples]
        except KeyError:
            check_samples(samples)
            for s in samples:
                key = (s[0], s[1])
                if key not in ids:
                    ids[key] = self._series_id(conn, *key)
                    added.append(key)
            rows = [(ids[d, p], ts, v, q) for d, p, ts, v, q in samples]
        rows.sort(key=_BY_KEY)
        partials, _, strings = minute_partials(rows)
        return pgrows.encode(rows), partials, strings

    def _series_id(self, conn: psycopg.Connection[Any], device: str, point: str) -> int:
        conn.execute(
            "INSERT INTO tel_series (device, point) VALUES (%s, %s) ON CONFLICT DO NOTHING",
            (device, point),
        )
        row = conn.execute(
            "SELECT id, strings FROM tel_series WHERE device = %s AND point = %s",
            (device, point),
        ).fetchone()
        assert row is not None
        if row[1]:
            self._strings.add(row[0])
        return int(row[0])

    def _ensure_days(self, conn: psycopg.Connection[Any], samples: Sequence[Sample]) -> None:
        """Create the missing daily partitions for ``samples`` in a short transaction first.

        Creating a partition locks the parent table; doing it apart from the data keeps that
        lock brief. A batch that fails afterwards leaves an empty partition, nothing else.
        """
        times = list(map(itemgetter(2), samples))
        try:
            lo, hi = min(times), max(times)
        except TypeError:  # not all integers: the batch will be refused, the rest need days
            times = [t for t in times if t.__class__ is int]
            if not times:
                return
            lo, hi = min(times), max(times)
        if hi - lo < DAY and lo >= 0 and hi < MAX_TS:
            days = {lo // DAY, hi // DAY}
        else:
            days = {t // DAY for t in times if 0 <= t < MAX_TS}
        missing = sorted(days - self._days)
        if not missing:
            return
        with conn.transaction():
            conn.execute("SELECT pg_advisory_xact_lock(hashtext('indunet.tel_partitions'))")
            for day in missing:
                for table in ("tel_samples", "tel_rollup_1m"):
                    conn.execute(
                        f"CREATE TABLE IF NOT EXISTS {stmts.day_name(table, day)} PARTITION OF {table}"
                        f" FOR VALUES FROM ({day * DAY}) TO ({(day + 1) * DAY})"
                    )
        self._days.update(missing)

    def delete_before(self, devices: Sequence[str], before: int) -> int:
        """Delete samples of ``devices`` older than ``before``; return how many.

        A day partition wholly before the cut that holds only these devices is dropped;
        otherwise their rows are deleted. The minute straddling the cut is recounted.
        """
        check_cut(devices, before)

        def read(rconn: psycopg.Connection[Any]) -> tuple[list[int], list[int]]:
            sids = [
                r[0]
                for r in rconn.execute(
                    "SELECT id FROM tel_series WHERE device = ANY(%s)", (list(devices),)
                )
            ]
            return sids, sorted(stmts.day_of(r[0]) for r in rconn.execute(stmts.PARTITIONS))

        sids, days = self._readers.run(read)
        if not sids:
            return 0
        removed = 0
        for day in days:
            if day * DAY >= before:
                break
            removed += self._cut_day(day, sids, before)
        return removed

    def _cut_day(self, day: int, sids: list[int], before: int) -> int:
        whole = (day + 1) * DAY <= before
        samples, rollup = stmts.day_name("tel_samples", day), stmts.day_name("tel_rollup_1m", day)
        with self._lock:
            conn = self._writer()
            try:
                with conn.transaction():
                    mine_at_all = conn.execute(
                        f"SELECT 1 FROM {samples} WHERE series = ANY(%s) AND ts < %s LIMIT 1",  # noqa: S608
                        (sids, before),
                    ).fetchone()
                    if mine_at_all is None:
                        return 0  # nothing of these devices here: no scan, no lock
                    if whole:
                        conn.execute(f"LOCK TABLE {samples}, {rollup} IN EXCLUSIVE MODE")
                        mine, total = self._count(conn, samples, sids)
                        others = self._count(conn, rollup, sids)
                        if mine == total and others[0] == others[1]:
                            conn.execute(f"DROP TABLE {samples}, {rollup}")
                            self._days.discard(day)
                            return mine
                    cut = before - before % MINUTE
                    n = conn.execute(
                        f"DELETE FROM {samples} WHERE series = ANY(%s) AND ts < %s",  # noqa: S608
                        (sids, before),
                    ).rowcount
                    conn.execute(
                        f"DELETE FROM {rollup} WHERE series = ANY(%s) AND bucket < %s",  # noqa: S608
                        (sids, cut if not whole else before),
                    )
                    if not whole and before != cut:
                        conn.execute(
                            f"DELETE FROM {rollup} WHERE series = ANY(%s) AND bucket = %s",  # noqa: S608
                            (sids, cut),
                        )
                        with conn.cursor() as cur:
                            cur.executemany(
                                stmts.RECOMPUTE_MINUTE, [{"sid": s, "bucket": cut} for s in sids]
                            )
                    return int(n)
            except self._psycopg.errors.UndefinedTable:
                self._days.discard(day)  # dropped meanwhile by another process
                return 0

    def delete_device(self, device: str) -> int:
        """Delete every sample and rollup of ``device`` and its points, in one transaction;
        return how many samples."""
        with self._lock:
            conn = self._writer()
            with conn.transaction():
                sids = [
                    r[0]
                    for r in conn.execute(
                        "SELECT id FROM tel_series WHERE device = %s FOR UPDATE", (device,)
                    )
                ]
                if not sids:
                    return 0
                n = conn.execute("DELETE FROM tel_samples WHERE series = ANY(%s)", (sids,)).rowcount
                conn.execute("DELETE FROM tel_rollup_1m WHERE series = ANY(%s)", (sids,))
                conn.execute("DELETE FROM tel_series WHERE id = ANY(%s)", (sids,))
            for key in [k for k in self._ids if k[0] == device]:
                del self._ids[key]
            self._strings.difference_update(sids)
        return int(n)

    @staticmethod
    def _count(conn: psycopg.Connection[Any], table: str, sids: list[int]) -> tuple[int, int]:
        row = conn.execute(
            f"SELECT count(*) FILTER (WHERE series = ANY(%s)), count(*) FROM {table}",  # noqa: S608
            (sids,),
        ).fetchone()
        assert row is not None
        return int(row[0]), int(row[1])

    # -- queries -----------------------------------------------------------------------------
    def latest(self, device: str, points: Sequence[str] | None = None) -> dict[str, Sample]:
        """The newest sample of each point of ``device`` (only ``points`` when given)."""
        if points is None:
            rows = self._readers.run(lambda c: c.execute(stmts.LATEST, (device,)).fetchall())
        else:
            sql, args = stmts.LATEST + " AND s.point = ANY(%s)", (device, list(points))
            rows = self._readers.run(lambda c: c.execute(sql, args).fetchall())
        return {p: pgrows.decode(device, p, ts, num, txt, q) for p, ts, num, txt, q in rows}

    @staticmethod
    def _series(conn: psycopg.Connection[Any], device: str, point: str) -> tuple[int, bool]:
        row = conn.execute(
            "SELECT id, strings FROM tel_series WHERE device = %s AND point = %s",
            (device, point),
        ).fetchone()
        return (-1, False) if row is None else (int(row[0]), bool(row[1]))

    def query(
        self, device: str, point: str, start: int, end: int, *, limit: int = 100_000
    ) -> list[Sample]:
        """Raw samples with ``start <= ts < end``, oldest first, at most ``limit``."""
        check_window(start, end)
        check_limit(limit)

        def read(conn: psycopg.Connection[Any]) -> list[Any]:
            sid, _ = self._series(conn, device, point)
            return conn.execute(
                "SELECT ts, num, txt, q FROM tel_samples WHERE series = %s AND ts >= %s"
                " AND ts < %s ORDER BY ts LIMIT %s",
                (sid, start, end, limit),
            ).fetchall()

        rows = self._readers.run(read)
        return [pgrows.decode(device, point, *row) for row in rows]

    def downsample(
        self, device: str, point: str, start: int, end: int, bucket_ms: int
    ) -> list[Bucket]:
        """Aggregates per bucket; whole-minute buckets come from the minute rollups."""
        check_buckets(start, end, bucket_ms)

        def read(conn: psycopg.Connection[Any]) -> list[Partial]:
            sid, strings = self._series(conn, device, point)
            if strings:
                raise strings_refused(device, point)
            args = {"sid": sid, "start": start, "width": bucket_ms, "lo": start, "hi": end}
            partials: list[Partial] = []
            if uses_rollups(start, bucket_ms):
                whole = max(start, end - end % MINUTE)
                partials += conn.execute(stmts.ROLLUP_PARTIALS, {**args, "hi": whole}).fetchall()
                args["lo"] = whole
            if args["lo"] < end:
                partials += conn.execute(stmts.RAW_PARTIALS, args).fetchall()
            return partials

        return to_buckets(self._readers.run(read), start, bucket_ms)

    def close(self) -> None:
        """Close the writer and the pooled reader connections."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            if self._conn is not None:
                self._conn.close()
        self._readers.close()
