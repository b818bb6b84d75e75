"""Handle records of one node in SQL: SQLite by default, PostgreSQL by URL.

Reads are the hot path: one primary-key lookup with a prepared statement, no ORM. Records are
stored as the JSON list of values (with permissions). Writes take a connection so that the
caller can put the audit entry in the same transaction.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

import orjson
import sqlalchemy as sa

from indunet.ids.errors import ReadOnlyCopy
from indunet.ids.syntax import handle as hdl
from indunet.ids.tables import handles
from indunet.ids.values import HandleValue

_GET = sa.text("SELECT handle, record FROM ids_handles WHERE node = :node AND hkey = :hkey")
_GET_SQL = "SELECT handle, record FROM ids_handles WHERE node = ? AND hkey = ?"  # sqlite3 markers
_EXISTING_PG = (
    "SELECT h.hkey, h.record FROM unnest(%s::text[]) AS k(hkey) CROSS JOIN LATERAL "
    "(SELECT hkey, record FROM ids_handles WHERE node = %s AND hkey = k.hkey LIMIT 1) AS h"
)


@dataclass(frozen=True, slots=True)
class StoredRecord:
    """A handle and its values as stored."""

    handle: str
    values: list[HandleValue]


def encode_values(values: Iterable[HandleValue]) -> str:
    """Serialise values for storage."""
    return orjson.dumps([v.to_json(with_permissions=True) for v in values]).decode()


def decode_values(record: str | bytes) -> list[HandleValue]:
    """Rebuild stored values."""
    return [HandleValue.from_stored(d) for d in orjson.loads(record)]


@dataclass(frozen=True, slots=True)
class Listed:
    """A record in a listing: its handle and when it last changed."""

    handle: str
    updated_at: datetime


class HandleStore:
    """The records a node holds, in the shared ``ids_handles`` table under the node's name.

    ``copy_of`` (a primary's URL) makes the store a disaster-recovery copy's: every write
    method refuses with ``ReadOnlyCopy`` before touching the database, whichever code path
    (API, bulk, CLI, wire protocol) reached it. The replica applies changes through a store
    of its own without ``copy_of``.
    """

    def __init__(self, engine: sa.Engine, node: str, *, copy_of: str | None = None) -> None:
        self.engine = engine
        self.node = node
        self.copy_of = copy_of
        self.offload = engine.dialect.name != "sqlite"
        # Reads are single statements: on SQLite they go straight to the pooled DB-API
        # connection (the SQLAlchemy Connection/Result layers cost ~25 µs, twice the lookup);
        # on a server database they run in autocommit, saving the BEGIN and ROLLBACK round trips.
        self._raw_get = None if self.offload else _GET_SQL
        self._reader = (
            engine.execution_options(isolation_level="AUTOCOMMIT") if self.offload else engine
        )

    # -- reads ---------------------------------------------------------------------------
    def get(self, hkey: str) -> StoredRecord | None:
        """Fetch one record by its normalised key."""
        if self._raw_get is not None:
            raw = self.engine.raw_connection()
            try:
                cur = raw.cursor()
                try:
                    cur.execute(self._raw_get, (self.node, hkey))
                    row = cur.fetchone()
                finally:
                    cur.close()
            finally:
                raw.close()
        else:
            with self._reader.connect() as conn:
                row = conn.execute(_GET, {"node": self.node, "hkey": hkey}).first()
        if row is None:
            return None
        return StoredRecord(row[0], decode_values(row[1]))

    async def aget(self, hkey: str) -> StoredRecord | None:
        """``get`` for the event loop: inline on SQLite (microseconds), in a thread otherwise."""
        if self.offload:
            return await asyncio.to_thread(self.get, hkey)
        return self.get(hkey)

    def get_for_update(self, conn: sa.Connection, hkey: str) -> StoredRecord | None:
        """Fetch a record inside a write transaction, locking its row where the database can."""
        q = sa.select(handles.c.handle, handles.c.record).where(
            handles.c.node == self.node, handles.c.hkey == hkey
        )
        if conn.dialect.name != "sqlite":
            q = q.with_for_update()
        row = conn.execute(q).first()
        return None if row is None else StoredRecord(row[0], decode_values(row[1]))

    def existing(self, conn: sa.Connection, hkeys: Sequence[str]) -> dict[str, str]:
        """Map each of ``hkeys`` that exists to its stored record JSON (bulk path: raw SQL)."""
        out: dict[str, str] = {}
        mark = _placeholder(conn)
        for i in range(0, len(hkeys), 500):
            chunk = list(hkeys[i : i + 500])
            if mark is None:
                rows: Iterable[Sequence[str]] = conn.execute(
                    sa.select(handles.c.hkey, handles.c.record).where(
                        handles.c.node == self.node, handles.c.hkey.in_(chunk)
                    )
                )
            elif mark == "%s":
                # PostgreSQL: one primary-key probe per key, whatever the statistics say. A
                # table filled by an import has none until ANALYZE; the planner then takes
                # "node = …" as selective and filters every row of the node per batch, which
                # made imports quadratic (300 ms per 500 keys at 20,000 rows; this: 3 ms).
                rows = conn.exec_driver_sql(_EXISTING_PG, (chunk, self.node))
            else:
                marks = ", ".join([mark] * len(chunk))
                sql = f"SELECT hkey, record FROM ids_handles WHERE node = {mark} AND hkey IN ({marks})"  # noqa: S608
                rows = conn.exec_driver_sql(sql, (self.node, *chunk))
            out.update({r[0]: r[1] for r in rows})
        return out

    def list_page(
        self, prefix: str, *, page: int = 0, page_size: int = 100
    ) -> tuple[int, list[str]]:
        """Handles under exactly ``prefix`` (normalised), sorted, one page, with the total."""
        where = sa.and_(handles.c.node == self.node, handles.c.prefix == prefix)
        with self.engine.connect() as conn:
            total = conn.execute(
                sa.select(sa.func.count()).select_from(handles).where(where)
            ).scalar_one()
            rows = conn.execute(
                sa.select(handles.c.handle)
                .where(where)
                .order_by(handles.c.hkey)
                .offset(page * page_size)
                .limit(page_size)
            )
            return int(total), [r[0] for r in rows]

    def count_under(self, prefix: str) -> int:
        """How many handles are registered under exactly ``prefix`` (normalised)."""
        where = sa.and_(handles.c.node == self.node, handles.c.prefix == prefix)
        with self.engine.connect() as conn:
            return int(
                conn.execute(
                    sa.select(sa.func.count()).select_from(handles).where(where)
                ).scalar_one()
            )

    def handles_after(self, prefix: str, after: str, limit: int) -> list[tuple[str, str]]:
        """Up to ``limit`` ``(key, handle)`` under exactly ``prefix`` whose key sorts after
        ``after`` (``""``: from the first), in key order: one batch of a keyset walk."""
        where = sa.and_(
            handles.c.node == self.node, handles.c.prefix == prefix, handles.c.hkey > after
        )
        with self.engine.connect() as conn:
            rows = conn.execute(
                sa.select(handles.c.hkey, handles.c.handle)
                .where(where)
                .order_by(handles.c.hkey)
                .limit(limit)
            )
            return [(r[0], r[1]) for r in rows]

    def browse(
        self, prefix: str, *, search: str = "", offset: int = 0, limit: int = 20, desc: bool = False
    ) -> tuple[int, list[Listed]]:
        """Records under exactly ``prefix`` (normalised) whose lookup key contains ``search``
        (upper-cased, as keys are), one page by key, with the total matching.

        Served by the index (node, prefix, hkey): paging walks it in key order, and a search
        filters the prefix's keys without reading their records.
        """
        where = sa.and_(handles.c.node == self.node, handles.c.prefix == prefix)
        if search:
            needle = hdl.upper_ascii(search)
            needle = needle.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
            where = sa.and_(where, handles.c.hkey.like(f"{prefix}/%{needle}%", escape="\\"))
        order = handles.c.hkey.desc() if desc else handles.c.hkey
        with self.engine.connect() as conn:
            total = conn.execute(
                sa.select(sa.func.count()).select_from(handles).where(where)
            ).scalar_one()
            rows = conn.execute(
                sa.select(handles.c.handle, handles.c.updated_at)
                .where(where)
                .order_by(order)
                .offset(offset)
                .limit(limit)
            ).all()
        return int(total), [Listed(r[0], r[1]) for r in rows]

    def count(self) -> int:
        """How many records this node holds."""
        with self.engine.connect() as conn:
            q = sa.select(sa.func.count()).select_from(handles).where(handles.c.node == self.node)
            return int(conn.execute(q).scalar_one())

    def prefix_handles(self) -> list[StoredRecord]:
        """Every ``0.NA/…`` record this node holds (to load delegations at start)."""
        with self.engine.connect() as conn:
            rows = conn.execute(
                sa.select(handles.c.handle, handles.c.record).where(
                    handles.c.node == self.node, handles.c.hkey.like("0.NA/%")
                )
            )
            return [StoredRecord(r[0], decode_values(r[1])) for r in rows]

    # -- writes (inside the caller's transaction) ----------------------------------------
    def check_writable(self) -> None:
        """Raise ``ReadOnlyCopy`` if this is a disaster-recovery copy's store."""
        if self.copy_of is not None:
            raise ReadOnlyCopy(
                f"node {self.node} is a disaster-recovery copy (read-only) of {self.copy_of}; "
                "write at the primary",
                reason="dr_read_only",
                params={"node": self.node, "primary": self.copy_of},
            )

    def insert(
        self,
        conn: sa.Connection,
        hkey: str,
        handle: str,
        prefix: str,
        values: Sequence[HandleValue],
    ) -> None:
        """Add a new record."""
        self.check_writable()
        now = datetime.now(UTC)
        conn.execute(
            handles.insert().values(
                node=self.node,
                hkey=hkey,
                handle=handle,
                prefix=prefix,
                record=encode_values(values),
                created_at=now,
                updated_at=now,
            )
        )

    def insert_many(self, conn: sa.Connection, rows: Sequence[tuple[str, str, str, str]]) -> None:
        """Add many new records at once: ``(hkey, handle, prefix, record_json)`` each."""
        self.check_writable()
        if not rows:
            return
        now: object = datetime.now(UTC)
        mark = _placeholder(conn)
        if mark is None:
            conn.execute(
                handles.insert(),
                [
                    {
                        "node": self.node,
                        "hkey": k,
                        "handle": h,
                        "prefix": p,
                        "record": r,
                        "created_at": now,
                        "updated_at": now,
                    }
                    for k, h, p, r in rows
                ],
            )
            return
        if conn.dialect.driver == "psycopg":
            # PostgreSQL: COPY in the caller's transaction, about 3x executemany.
            cols = "node, hkey, handle, prefix, record, created_at, updated_at"
            sql = f"COPY ids_handles ({cols}) FROM STDIN"
            cursor = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
            dbapi_error = conn.dialect.loaded_dbapi.Error
            try:
                with cursor.copy(sql) as copy:
                    for k, h, p, r in rows:
                        copy.write_row((self.node, k, h, p, r, now, now))
            except dbapi_error as exc:  # same exception types as the SQLAlchemy paths
                raise sa.exc.DBAPIError.instance(sql, None, exc, dbapi_error) from exc
            return
        # The fast path: one prepared statement, parameters as plain tuples, the timestamp
        # rendered once the way the dialect stores it (SQLAlchemy's per-row processing costs
        # more than SQLite's own insert).
        render = handles.c.created_at.type.dialect_impl(conn.dialect).bind_processor(conn.dialect)
        if render is not None:
            now = render(now)
        marks = ", ".join([mark] * 7)
        sql = f"INSERT INTO ids_handles (node, hkey, handle, prefix, record, created_at, updated_at) VALUES ({marks})"  # noqa: S608
        node = self.node
        conn.exec_driver_sql(sql, [(node, k, h, p, r, now, now) for k, h, p, r in rows])

    def replace(self, conn: sa.Connection, hkey: str, values: Sequence[HandleValue]) -> None:
        """Overwrite the values of an existing record."""
        self.check_writable()
        conn.execute(
            handles.update()
            .where(handles.c.node == self.node, handles.c.hkey == hkey)
            .values(record=encode_values(values), updated_at=datetime.now(UTC))
        )

    def delete(self, conn: sa.Connection, hkey: str) -> bool:
        """Remove a record; return whether it existed."""
        self.check_writable()
        res = conn.execute(
            handles.delete().where(handles.c.node == self.node, handles.c.hkey == hkey)
        )
        return bool(res.rowcount)


def _placeholder(conn: sa.Connection) -> str | None:
    """The driver's positional parameter marker, or ``None`` to go through SQLAlchemy."""
    return {"qmark": "?", "format": "%s", "pyformat": "%s"}.get(conn.dialect.paramstyle)
