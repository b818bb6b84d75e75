"""The SQL of the PostgreSQL store, and the names of its daily partitions."""

from __future__ import annotations

from datetime import UTC, datetime

SCHEMA = (
    """CREATE TABLE IF NOT EXISTS tel_series (
        id serial PRIMARY KEY, device text NOT NULL, point text NOT NULL,
        strings boolean NOT NULL DEFAULT false, UNIQUE (device, point))""",
    """CREATE TABLE IF NOT EXISTS tel_samples (
        series integer NOT NULL, ts bigint NOT NULL, num double precision, txt text,
        q smallint NOT NULL, PRIMARY KEY (series, ts)) PARTITION BY RANGE (ts)""",
    """CREATE TABLE IF NOT EXISTS tel_rollup_1m (
        series integer NOT NULL, bucket bigint NOT NULL, mn double precision NOT NULL,
        mx double precision NOT NULL, sm double precision NOT NULL, cnt bigint NOT NULL,
        first double precision NOT NULL, first_ts bigint NOT NULL,
        last double precision NOT NULL, last_ts bigint NOT NULL,
        PRIMARY KEY (series, bucket)) PARTITION BY RANGE (bucket)""",
)
STAGE = """CREATE TEMP TABLE IF NOT EXISTS tel_stage (
    series integer, ts bigint, num double precision, txt text, q smallint)
    ON COMMIT DELETE ROWS"""
COPY = "COPY tel_stage (series, ts, num, txt, q) FROM STDIN"
MERGE_MINUTES = """
    ON CONFLICT (series, bucket) DO UPDATE SET
        mn = least(r.mn, excluded.mn), mx = greatest(r.mx, excluded.mx),
        sm = r.sm + excluded.sm, cnt = r.cnt + excluded.cnt,
        first = CASE WHEN excluded.first_ts < r.first_ts THEN excluded.first ELSE r.first END,
        first_ts = least(r.first_ts, excluded.first_ts),
        last = CASE WHEN excluded.last_ts > r.last_ts THEN excluded.last ELSE r.last END,
        last_ts = greatest(r.last_ts, excluded.last_ts)"""
SUM_NEW_ROWS = """WITH ins AS (
        INSERT INTO tel_samples (series, ts, num, txt, q)
        SELECT series, ts, num, txt, q FROM tel_stage
        ON CONFLICT DO NOTHING RETURNING series, ts, num, q)
    INSERT INTO tel_rollup_1m AS r
    SELECT series, ts - ts % 60000, min(num), max(num), sum(num), count(*),
        (array_agg(num ORDER BY ts))[1], min(ts), (array_agg(num ORDER BY ts DESC))[1], max(ts)
    FROM ins WHERE num IS NOT NULL AND q & 3 <> 2
    GROUP BY series, ts - ts % 60000"""
STAGE_MINUTES = """CREATE TEMP TABLE IF NOT EXISTS tel_stage_minutes (
    series integer, bucket bigint, mn float8, mx float8, sm float8, cnt bigint,
    first float8, first_ts bigint, last float8, last_ts bigint) ON COMMIT DELETE ROWS"""
COPY_MINUTES = "COPY tel_stage_minutes FROM STDIN"
UPSERT_STAGED_MINUTES = "INSERT INTO tel_rollup_1m AS r SELECT * FROM tel_stage_minutes"
ONLY_NEW = """SELECT NOT EXISTS (
    SELECT 1 FROM (SELECT series, min(ts) AS lo, max(ts) AS hi FROM tel_stage GROUP BY series) AS g
    WHERE EXISTS (SELECT 1 FROM tel_samples AS t
                  WHERE t.series = g.series AND t.ts >= g.lo AND t.ts <= g.hi))"""
APPEND = (
    "INSERT INTO tel_samples (series, ts, num, txt, q)"
    " SELECT series, ts, num, txt, q FROM tel_stage",
    UPSERT_STAGED_MINUTES + MERGE_MINUTES,
)
MERGE = (SUM_NEW_ROWS + MERGE_MINUTES,)
RECOMPUTE_MINUTE = """INSERT INTO tel_rollup_1m
    SELECT g.series, g.bucket, g.mn, g.mx, g.sm, g.cnt,
        (SELECT num FROM tel_samples WHERE series = g.series AND ts = g.t0), g.t0,
        (SELECT num FROM tel_samples WHERE series = g.series AND ts = g.t1), g.t1
    FROM (SELECT %(sid)s::integer AS series, %(bucket)s::bigint AS bucket, min(num) AS mn,
            max(num) AS mx, sum(num) AS sm, count(*) AS cnt, min(ts) AS t0, max(ts) AS t1
          FROM tel_samples WHERE series = %(sid)s AND ts >= %(bucket)s
            AND ts < %(bucket)s + 60000 AND num IS NOT NULL AND q & 3 <> 2
          HAVING count(*) > 0) AS g"""
RAW_PARTIALS = """SELECT g.k, g.mn, g.mx, g.sm, g.cnt,
        (SELECT num FROM tel_samples WHERE series = %(sid)s AND ts = g.t0), g.t0,
        (SELECT num FROM tel_samples WHERE series = %(sid)s AND ts = g.t1), g.t1
    FROM (SELECT (ts - %(start)s) / %(width)s AS k, min(num) AS mn, max(num) AS mx,
            sum(num) AS sm, count(*) AS cnt, min(ts) AS t0, max(ts) AS t1
          FROM tel_samples WHERE series = %(sid)s AND ts >= %(lo)s AND ts < %(hi)s
            AND num IS NOT NULL AND q & 3 <> 2
          GROUP BY k) AS g
    ORDER BY g.k"""
ROLLUP_PARTIALS = """SELECT g.k, g.mn, g.mx, g.sm, g.cnt,
        (SELECT first FROM tel_rollup_1m
          WHERE series = %(sid)s AND bucket = g.t0 - g.t0 %% 60000), g.t0,
        (SELECT last FROM tel_rollup_1m
          WHERE series = %(sid)s AND bucket = g.t1 - g.t1 %% 60000), g.t1
    FROM (SELECT (bucket - %(start)s) / %(width)s AS k, min(mn) AS mn, max(mx) AS mx,
            sum(sm) AS sm, sum(cnt) AS cnt, min(first_ts) AS t0, max(last_ts) AS t1
          FROM tel_rollup_1m WHERE series = %(sid)s AND bucket >= %(lo)s AND bucket < %(hi)s
          GROUP BY k) AS g
    ORDER BY g.k"""
LATEST = """SELECT s.point, x.ts, x.num, x.txt, x.q FROM tel_series AS s
    CROSS JOIN LATERAL (SELECT ts, num, txt, q FROM tel_samples
        WHERE series = s.id ORDER BY ts DESC LIMIT 1) AS x
    WHERE s.device = %s"""
PARTITIONS = """SELECT c.relname FROM pg_inherits AS i JOIN pg_class AS c ON c.oid = i.inhrelid
    WHERE i.inhparent = 'tel_samples'::regclass"""


def day_name(table: str, day: int) -> str:
    """The partition of ``table`` for UTC day number ``day``: ``tel_samples_20240501``."""
    return f"{table}_{datetime.fromtimestamp(day * 86_400, UTC):%Y%m%d}"


def day_of(partition: str) -> int:
    """The UTC day number of a partition named by ``day_name``."""
    date = datetime.strptime(partition.rsplit("_", 1)[1], "%Y%m%d").replace(tzinfo=UTC)
    return int(date.timestamp()) // 86_400
