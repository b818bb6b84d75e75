"""The durable change log of a node's records: what a disaster-recovery copy replays.

``ids.changes`` is a short-lived invalidation feed (pruned after two minutes, several writers'
numbers interleaved). A copy of a node in another database needs more: every registration,
modification and deletion of the node's records, numbered per node in the order the writes
committed, kept long enough for a copy that was away for a while to resume where it stopped.

Every writer already calls ``changes.note`` with the keys it changed inside its write
transaction (``Node.put``/``delete``, bulk batches, prefix allocation, revocation and key
rotation, the CLI through them); ``note`` calls ``append`` here, so the log is written in
the same transaction as the records: both commit or neither.

Numbering: ``ids_changelog_heads`` holds each node's last number. ``append`` takes ``n``
numbers with one upsert that increments it (``RETURNING`` the new value). On PostgreSQL that
statement holds the head's row lock until the transaction ends, so a second writer of the
same node waits there until the first has committed or rolled back: numbers are handed out
in commit order, a reader that sees number ``s`` committed sees every lower number too, and
a rolled-back transaction gives its numbers back (no hole is left behind by a failed write).
Writers of one node are serialised from that statement to their commit only; ``note`` comes
last in every write, so the lock is held for the commit itself. SQLite serialises writers
anyway. Readers need no watermark.

A log entry names the key, not the values: a reader gets each key's *current* record (or
"deleted") with the entry. Replaying an entry is idempotent and a copy converges on the
primary's state even though an early entry may already carry a later write's values.

Retention: entries older than ``Settings.ids_changelog_days`` (``INDUNET_IDS_CHANGELOG_DAYS``,
7 by default) are deleted by the upkeep (``prune``); the head remembers the highest number
pruned, and a reader asking for entries after an older number gets ``ChangesExpired`` (HTTP
410): it must copy everything again (``snapshot``).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from indunet.core import IndunetError
from indunet.ids.tables import changelog, changelog_heads, handles

#: Entries or records one page holds at most (and by default).
MAX_PAGE = 1000
DAY_S = 86_400.0
#: From this many keys in one write, PostgreSQL gets them by COPY.
COPY_FROM = 100
#: The marker ``changes.note`` uses for "every record"; not a key, never logged.
EVERYTHING = "*"


class ChangesExpired(IndunetError):
    """The entries after the number asked for are gone: copy everything again."""

    code = "changes_expired"
    status = 410


@dataclass(frozen=True, slots=True)
class Head:
    """A node's log: the last number given and the highest number pruned."""

    last: int
    pruned: int


@dataclass(frozen=True, slots=True)
class Entry:
    """One change and the key's record now (``record`` ``None``: the key is deleted)."""

    seq: int
    key: str
    handle: str | None
    prefix: str | None
    record: str | None


@dataclass(frozen=True, slots=True)
class Page:
    """Entries after a number, in order; ``next`` is the number to ask after next time."""

    head: Head
    entries: list[Entry]
    next: int
    more: bool


@dataclass(frozen=True, slots=True)
class Snapshot:
    """Records of a node by key; ``next`` is the key to ask after (``None``: the last page)."""

    head: Head
    records: list[Entry]
    next: str | None


def append(conn: sa.Connection, node: str, keys: Sequence[str]) -> int:
    """Log that ``node``'s records ``keys`` changed, in the caller's write transaction;
    return the last number taken (0 if nothing was logged)."""
    wanted = [k for k in dict.fromkeys(keys) if k != EVERYTHING]
    if not wanted:
        return 0
    n = len(wanted)
    dialect = sqlite if conn.dialect.name == "sqlite" else postgresql
    stmt = dialect.insert(changelog_heads).values(node=node, last=n, pruned=0)
    take = stmt.on_conflict_do_update(
        index_elements=[changelog_heads.c.node],
        set_={"last": changelog_heads.c.last + n},
    ).returning(changelog_heads.c.last)
    last = int(conn.execute(take).scalar_one())
    now = time.time()
    first = last - n + 1
    if n >= COPY_FROM and conn.dialect.driver == "psycopg":
        _copy(conn, [(node, first + i, k, now) for i, k in enumerate(wanted)])
    else:
        conn.execute(
            changelog.insert(),
            [{"node": node, "seq": first + i, "hkey": k, "at": now} for i, k in enumerate(wanted)],
        )
    return last


def _copy(conn: sa.Connection, rows: list[tuple[str, int, str, float]]) -> None:
    """PostgreSQL: a bulk batch's entries by COPY in the caller's transaction (as
    ``HandleStore.insert_many`` writes its records), a third of the time of an INSERT."""
    sql = "COPY ids_changelog (node, seq, hkey, at) FROM STDIN"
    cursor = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
    dbapi_error = conn.dialect.loaded_dbapi.Error
    try:
        with cursor.copy(sql) as copy:
            for row in rows:
                copy.write_row(row)
    except dbapi_error as exc:  # same exception types as the SQLAlchemy paths
        raise sa.exc.DBAPIError.instance(sql, None, exc, dbapi_error) from exc


def head(conn: sa.Connection, node: str) -> Head:
    """The log's state for ``node`` (``Head(0, 0)`` before its first write)."""
    row = conn.execute(
        sa.select(changelog_heads.c.last, changelog_heads.c.pruned).where(
            changelog_heads.c.node == node
        )
    ).first()
    return Head(0, 0) if row is None else Head(int(row[0]), int(row[1]))


def read(engine: sa.Engine, node: str, after: int, limit: int = MAX_PAGE) -> Page:
    """Up to ``limit`` entries of ``node`` numbered above ``after``, each with its key's
    record now; ``ChangesExpired`` if some of them were pruned, or if ``after`` is beyond
    the last number (the log was started again: a restored or new database)."""
    limit = max(1, min(limit, MAX_PAGE))
    c, h = changelog.c, handles.c
    q = (
        sa.select(c.seq, c.hkey, h.handle, h.prefix, h.record)
        .select_from(changelog.outerjoin(handles, sa.and_(h.node == c.node, h.hkey == c.hkey)))
        .where(c.node == node, c.seq > after)
        .order_by(c.seq)
        .limit(limit + 1)
    )
    with engine.connect() as conn:
        top = head(conn, node)
        _check_after(node, after, top)
        rows = conn.execute(q).all()
    more = len(rows) > limit
    rows = rows[:limit]
    latest: dict[str, Entry] = {}
    for seq, key, handle, prefix, record in rows:  # a key twice in a page: its last entry
        latest.pop(key, None)
        latest[key] = Entry(int(seq), key, handle, prefix, record)
    nxt = int(rows[-1][0]) if rows else after
    return Page(top, list(latest.values()), nxt, more)


def _check_after(node: str, after: int, top: Head) -> None:
    if after < top.pruned:
        raise ChangesExpired(
            f"the changes of node {node} after {after} are no longer kept (kept: after "
            f"{top.pruned}); copy the whole node again (GET /api/v1/ids/snapshot)",
            reason="changes_expired",
            params={"node": node, "after": after, "kept": top.pruned},
        )
    if after > top.last:
        raise ChangesExpired(
            f"node {node} has no change {after}: its log ends at {top.last} (a database "
            "restored or replaced); copy the whole node again (GET /api/v1/ids/snapshot)",
            reason="changes_ahead",
            params={"node": node, "after": after, "last": top.last},
        )


def snapshot(engine: sa.Engine, node: str, after: str = "", limit: int = MAX_PAGE) -> Snapshot:
    """Up to ``limit`` records of ``node`` whose key sorts after ``after``, by key.

    ``head`` is read before the records: a copy made page by page and then brought up to
    date with the entries after the first page's ``head.last`` misses nothing."""
    limit = max(1, min(limit, MAX_PAGE))
    h = handles.c
    q = (
        sa.select(h.hkey, h.handle, h.prefix, h.record)
        .where(h.node == node, h.hkey > after)
        .order_by(h.hkey)
        .limit(limit + 1)
    )
    with engine.connect() as conn:
        top = head(conn, node)
        rows = conn.execute(q).all()
    more = len(rows) > limit
    rows = rows[:limit]
    records = [Entry(top.last, r[0], r[1], r[2], r[3]) for r in rows]
    return Snapshot(top, records, rows[-1][0] if more else None)


def prune(engine: sa.Engine, keep_s: float, *, now: float | None = None) -> int:
    """Delete entries older than ``keep_s`` seconds, each node's oldest first; return how
    many went. The head remembers the highest number deleted (see ``read``)."""
    cutoff = (time.time() if now is None else now) - keep_s
    c = changelog.c
    gone = 0
    with engine.begin() as conn:
        tops = conn.execute(
            sa.select(c.node, sa.func.max(c.seq)).where(c.at < cutoff).group_by(c.node)
        ).all()
        for node, top in tops:
            res = conn.execute(changelog.delete().where(c.node == node, c.seq <= top))
            gone += int(res.rowcount or 0)
            conn.execute(
                changelog_heads.update()
                .where(changelog_heads.c.node == node, changelog_heads.c.pruned < top)
                .values(pruned=top)
            )
    return gone
