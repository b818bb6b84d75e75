"""The SQL of the SQLite store, and multi-row statements for many rows at once."""

from __future__ import annotations

import functools
import sqlite3
from collections.abc import Sequence
from typing import Any

PARAMS = 32_000
"""Host parameters per multi-row statement at most (SQLite's default limit is 32,766)."""

SCHEMA = (
    """CREATE TABLE IF NOT EXISTS tel_series (
        id INTEGER PRIMARY KEY, device TEXT NOT NULL, point TEXT NOT NULL,
        strings INTEGER NOT NULL DEFAULT 0, UNIQUE (device, point))""",
    """CREATE TABLE IF NOT EXISTS tel_samples (
        series INTEGER NOT NULL, ts INTEGER NOT NULL, v, q INTEGER NOT NULL,
        PRIMARY KEY (series, ts)) WITHOUT ROWID""",
    """CREATE TABLE IF NOT EXISTS tel_rollup_1m (
        series INTEGER NOT NULL, bucket INTEGER NOT NULL, mn, mx, sm REAL NOT NULL,
        cnt INTEGER NOT NULL, first, first_ts INTEGER NOT NULL, last, last_ts INTEGER NOT NULL,
        PRIMARY KEY (series, bucket)) WITHOUT ROWID""",
)
INSERT = "INSERT OR IGNORE INTO tel_samples (series, ts, v, q) VALUES ?"
UPSERT = """INSERT INTO tel_rollup_1m VALUES ?
    ON CONFLICT (series, bucket) DO UPDATE SET
        mn = min(mn, excluded.mn), mx = max(mx, excluded.mx),
        sm = sm + excluded.sm, cnt = cnt + excluded.cnt,
        first = CASE WHEN excluded.first_ts < first_ts THEN excluded.first ELSE first END,
        first_ts = min(first_ts, excluded.first_ts),
        last = CASE WHEN excluded.last_ts > last_ts THEN excluded.last ELSE last END,
        last_ts = max(last_ts, excluded.last_ts)"""
FORGET_MINUTE = "DELETE FROM tel_rollup_1m WHERE series = ? AND bucket = ?"
RECOMPUTE_MINUTE = """INSERT INTO tel_rollup_1m
    SELECT g.series, g.bucket, g.mn, g.mx, g.sm, g.cnt,
        (SELECT v FROM tel_samples WHERE series = g.series AND ts = g.t0), g.t0,
        (SELECT v FROM tel_samples WHERE series = g.series AND ts = g.t1), g.t1
    FROM (SELECT ?1 AS series, ?2 AS bucket, min(v) AS mn, max(v) AS mx, total(v) AS sm,
            count(*) AS cnt, min(ts) AS t0, max(ts) AS t1
          FROM tel_samples WHERE series = ?1 AND ts >= ?2 AND ts < ?2 + 60000
            AND q & 3 <> 2 AND typeof(v) <> 'text'
          HAVING count(*) > 0) AS g"""
RAW_PARTIALS = """SELECT g.k, g.mn, g.mx, g.sm, g.cnt,
        (SELECT v FROM tel_samples WHERE series = :sid AND ts = g.t0), g.t0,
        (SELECT v FROM tel_samples WHERE series = :sid AND ts = g.t1), g.t1
    FROM (SELECT (ts - :start) / :width AS k, min(v) AS mn, max(v) AS mx, total(v) AS sm,
            count(*) AS cnt, min(ts) AS t0, max(ts) AS t1
          FROM tel_samples WHERE series = :sid AND ts >= :lo AND ts < :hi AND q & 3 <> 2
          GROUP BY k) AS g
    ORDER BY g.k"""
ROLLUP_PARTIALS = """SELECT g.k, g.mn, g.mx, g.sm, g.cnt,
        (SELECT first FROM tel_rollup_1m
          WHERE series = :sid AND bucket = g.t0 - g.t0 % 60000), g.t0,
        (SELECT last FROM tel_rollup_1m
          WHERE series = :sid AND bucket = g.t1 - g.t1 % 60000), g.t1
    FROM (SELECT (bucket - :start) / :width AS k, min(mn) AS mn, max(mx) AS mx,
            total(sm) AS sm, sum(cnt) AS cnt, min(first_ts) AS t0, max(last_ts) AS t1
          FROM tel_rollup_1m WHERE series = :sid AND bucket >= :lo AND bucket < :hi
          GROUP BY k) AS g
    ORDER BY g.k"""
BUCKET_PARTIAL = """SELECT g.mn, g.mx, g.sm, g.cnt,
        (SELECT v FROM tel_samples WHERE series = ?1 AND ts = g.t0), g.t0,
        (SELECT v FROM tel_samples WHERE series = ?1 AND ts = g.t1), g.t1
    FROM (SELECT min(v) AS mn, max(v) AS mx, total(v) AS sm, count(*) AS cnt,
            min(ts) AS t0, max(ts) AS t1
          FROM tel_samples WHERE series = ?1 AND ts >= ?2 AND ts < ?3 AND q & 3 <> 2) AS g"""
MINUTE_PARTIALS = """SELECT (bucket - :start) / 60000, mn, mx, sm, cnt, first, first_ts, last,
        last_ts
    FROM tel_rollup_1m WHERE series = :sid AND bucket >= :lo AND bucket < :hi ORDER BY bucket"""
LOOP_BUCKETS = 20_000
"""Up to this many buckets, raw samples are summed up by one range query per bucket."""
LATEST = """SELECT s.point, x.ts, x.v, x.q FROM tel_series AS s
    JOIN tel_samples AS x
      ON x.series = s.id AND x.ts = (SELECT max(ts) FROM tel_samples WHERE series = s.id)
    WHERE s.device = ?"""


@functools.cache
def _values_sql(head: str, width: int, rows: int) -> str:
    """``head`` followed by ``VALUES`` with ``rows`` groups of ``width`` parameters."""
    group = "(" + ",".join("?" * width) + ")"
    return head.replace("VALUES ?", "VALUES " + ",".join([group] * rows))


def execute_flat(conn: sqlite3.Connection, head: str, flat: Sequence[Any], width: int) -> int:
    """Run ``head`` (with ``VALUES ?``) for rows of ``width`` values laid end to end in
    ``flat``, in multi-row statements; return the changes made.

    Several rows per statement bind the same parameters as ``executemany`` but step once per
    statement. Each step lets go of the GIL and must win it back, which can take a whole
    switch interval while the event loop is busy, so statements are large: up to the
    connection's host-parameter limit. Their sizes come from a ladder of halvings
    (``sizes``), so a connection prepares (and caches) a dozen statement shapes per table,
    not one per batch size.
    """
    changed = 0
    i = 0
    for rows in sizes(len(flat) // width, params(conn) // width):
        end = i + rows * width
        changed += conn.execute(_values_sql(head, width, rows), flat[i:end]).rowcount
        i = end
    return changed


@functools.cache
def _ladder(top: int) -> tuple[int, ...]:
    """``top``, its half, its quarter ... down to 1."""
    out = [max(1, top)]
    while out[-1] > 1:
        out.append(out[-1] // 2)
    return tuple(out)


def sizes(rows: int, top: int) -> list[int]:
    """Statement sizes (rows each, from ``_ladder(top)``) that add up to ``rows``: greedy,
    so 10,000 rows with a top of 8,000 are two statements, 8,000 and 2,000."""
    out: list[int] = []
    for size in _ladder(top):
        while rows >= size:
            out.append(size)
            rows -= size
    return out


def params(conn: sqlite3.Connection) -> int:
    """Host parameters per statement: the connection's limit, at most ``PARAMS``."""
    return min(PARAMS, conn.getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER))
