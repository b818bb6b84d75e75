"""The SQL of the SQLite store, and multi-row statements for many rows at once."""

from __future__ import annotations

import functools
import sqlite3
from collections.abc import Sequence
from itertools import chain
from typing import Any

PARAMS = 32000
"""Host parameters per multi-row statement."""

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


def execute_rows(
    conn: sqlite3.Connection, head: str, rows: Sequence[tuple[Any, ...]], width: int
) -> int:
    """Run ``head`` (with ``VALUES ?``) for ``rows`` in multi-row statements; changes made.

    Several rows per statement bind the same parameters as ``executemany`` but step the
    statement once per group: about twice as fast for small rows.
    """
    per = max(1, PARAMS // width)
    flat = list(chain.from_iterable(rows))
    changed = 0
    full = len(rows) - len(rows) % per
    if full:
        sql = _values_sql(head, width, per)
        step = per * width
        for i in range(0, full * width, step):
            changed += conn.execute(sql, flat[i : i + step]).rowcount
    if full < len(rows):
        sql = _values_sql(head, width, len(rows) - full)
        changed += conn.execute(sql, flat[full * width :]).rowcount
    return changed
