"""The history of identifier records: who created, changed or deleted one, when, and the
values it held before.

Every writer of a record writes one entry per identifier in the same transaction as the
change, so a change is never without its entry: ``Node.put``/``delete`` (the API, the console,
active identifiers, devices), prefix allocation, revocation and key rotation, and the bulk
import (one entry per registered or replaced row, written with the batch's records at once by
``record_many``). The values before are kept as the stored JSON, at most ``MAX_BEFORE_BYTES``;
a larger record keeps only its values' indexes and types.

Each entry carries the prefix its record is under (the prefix a ``0.NA/<prefix>`` record
describes) and the enterprise that prefix was allocated to when written, so ``search`` and
``export`` (the 备案 records of a licensed node) are scoped by ``core.access.scope`` like the
audit log: an enterprise reads its prefixes' entries only.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import orjson
import sqlalchemy as sa

from indunet.core import IndunetError, NotFound, User, access
from indunet.ids.owners import prefix_owner
from indunet.ids.syntax import handle as hdl
from indunet.ids.tables import handle_history
from indunet.ids.values import HandleValue

MAX_BEFORE_BYTES = 65_536
ACTIONS = ("handle.create", "handle.modify", "handle.delete", "handle.remove_values")
#: Entries one export may hold; a wider export stops there (narrow the filters).
EXPORT_LIMIT = 100_000
#: Entries read from the database at a time while exporting.
EXPORT_CHUNK = 1_000
_ACTOR_LEN = 200


@dataclass(frozen=True, slots=True)
class Change:
    """One entry of a record's history. ``before`` is ``None`` for a creation; ``cut`` says
    the values were too large to keep whole (only index and type remain)."""

    id: int
    handle: str
    action: str
    actor: str
    at: datetime
    before: list[dict[str, Any]] | None
    cut: bool = False
    node: str = ""
    prefix: str = ""


def _before(values: list[HandleValue] | None) -> str | None:
    if values is None:
        return None
    full = orjson.dumps([v.to_json() for v in values if v.public_read])
    if len(full) <= MAX_BEFORE_BYTES:
        return full.decode()
    brief = [{"index": v.index, "type": v.type} for v in values[:256]]
    return orjson.dumps({"cut": True, "values": brief}).decode()


def prefix_of(hkey: str) -> str:
    """The prefix a record is under, from its lookup key: the prefix a ``0.NA/<prefix>``
    record describes, else the part before the first ``/``."""
    head, _, rest = hkey.partition("/")
    return (rest if head == "0.NA" else head)[:128]


def record(
    conn: sa.Connection,
    *,
    node: str,
    hkey: str,
    handle: str,
    action: str,
    actor: str,
    before: list[HandleValue] | None,
) -> None:
    """Add an entry inside the caller's write transaction (secret values are never kept)."""
    prefix = prefix_of(hkey)
    conn.execute(
        handle_history.insert().values(
            node=node,
            hkey=hkey,
            handle=handle,
            action=action,
            actor=actor[:_ACTOR_LEN],
            at=datetime.now(UTC),
            before=_before(before),
            prefix=prefix,
            enterprise_id=prefix_owner(conn, prefix),
        )
    )


@dataclass(frozen=True, slots=True)
class Written:
    """One record a batch wrote: its key and text, and the values it held before (``None``:
    it is new)."""

    hkey: str
    handle: str
    before: list[HandleValue] | None


def record_many(conn: sa.Connection, *, node: str, actor: str, written: Sequence[Written]) -> None:
    """One entry per record of a batch (``handle.create`` or ``handle.modify``), inside the
    batch's transaction, written at once: PostgreSQL by ``COPY``, others by one prepared
    ``executemany``. Owners are looked up once per prefix."""
    if not written:
        return
    now = datetime.now(UTC)
    owners: dict[str, int | None] = {}
    rows: list[tuple[Any, ...]] = []
    who = actor[:_ACTOR_LEN]
    for w in written:
        prefix = prefix_of(w.hkey)
        if prefix not in owners:
            owners[prefix] = prefix_owner(conn, prefix)
        action = "handle.create" if w.before is None else "handle.modify"
        rows.append(
            (node, w.hkey, w.handle, action, who, now, _before(w.before), prefix, owners[prefix])
        )
    cols = "node, hkey, handle, action, actor, at, before, prefix, enterprise_id"
    if conn.dialect.driver == "psycopg":
        sql = f"COPY ids_handle_history ({cols}) FROM STDIN"
        cursor = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
        dbapi_error = conn.dialect.loaded_dbapi.Error
        try:
            with cursor.copy(sql) as copy:
                for row in rows:
                    copy.write_row(row)
        except dbapi_error as exc:  # the same exception types as the SQLAlchemy paths
            raise sa.exc.DBAPIError.instance(sql, None, exc, dbapi_error) from exc
        return
    mark = {"qmark": "?", "format": "%s", "pyformat": "%s"}.get(conn.dialect.paramstyle)
    if mark is None:
        names = [c.strip() for c in cols.split(",")]
        conn.execute(handle_history.insert(), [dict(zip(names, r, strict=True)) for r in rows])
        return
    render = handle_history.c.at.type.dialect_impl(conn.dialect).bind_processor(conn.dialect)
    stamp = render(now) if render is not None else now
    marks = ", ".join([mark] * 9)
    sql = f"INSERT INTO ids_handle_history ({cols}) VALUES ({marks})"  # noqa: S608
    conn.exec_driver_sql(sql, [(*r[:5], stamp, *r[6:]) for r in rows])


def _change(row: Any) -> Change:
    raw = orjson.loads(row.before) if row.before else None
    cut = isinstance(raw, dict) and bool(raw.get("cut"))
    values = raw["values"] if isinstance(raw, dict) else raw
    at = row.at.replace(tzinfo=UTC) if row.at.tzinfo is None else row.at
    return Change(row.id, row.handle, row.action, row.actor, at, values, cut, row.node, row.prefix)


def changes(
    engine: sa.Engine, node: str, hkey: str, *, offset: int = 0, limit: int = 20
) -> tuple[int, list[Change]]:
    """One page of the history of record ``hkey`` on ``node``, newest first, and the total."""
    where = sa.and_(handle_history.c.node == node, handle_history.c.hkey == hkey)
    with engine.connect() as conn:
        total = conn.execute(
            sa.select(sa.func.count()).select_from(handle_history).where(where)
        ).scalar_one()
        rows = conn.execute(
            sa.select(handle_history)
            .where(where)
            .order_by(handle_history.c.id.desc())
            .offset(offset)
            .limit(limit)
        ).all()
    return int(total), [_change(r) for r in rows]


@dataclass(frozen=True, slots=True)
class RecordFilter:
    """Which entries a reader asks for. ``q`` is contained in the identifier (any ASCII
    case); ``handle`` (one identifier), ``prefix``, ``action`` and ``actor`` match exactly;
    ``since`` inclusive, ``until`` exclusive. ``enterprise_id`` limits to one enterprise's
    prefixes (``None``: all) and comes from ``core.access.scope``; a named prefix or
    identifier is checked by ``seen_prefix`` first."""

    q: str = ""
    handle: str = ""
    prefix: str = ""
    action: str = ""
    actor: str = ""
    since: datetime | None = None
    until: datetime | None = None
    enterprise_id: int | None = None


def utc(at: datetime) -> datetime:
    """``at`` (aware; naive is taken as UTC) in UTC; a time that UTC cannot hold (year 1 with
    a positive offset, year 9999 with a negative one) becomes the earliest or latest time,
    which filters the same."""
    if at.tzinfo is None:
        return at.replace(tzinfo=UTC)
    try:
        return at.astimezone(UTC)
    except OverflowError:
        return (datetime.min if at.year == 1 else datetime.max).replace(tzinfo=UTC)


def _like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _where(f: RecordFilter) -> list[sa.ColumnElement[bool]]:
    c = handle_history.c
    out: list[sa.ColumnElement[bool]] = []
    if f.enterprise_id is not None:
        out.append(c.enterprise_id == f.enterprise_id)
    if f.prefix:
        out.append(c.prefix == f.prefix.translate(_UPPER))
    if f.handle:
        out.append(c.hkey == f.handle.translate(_UPPER))
    if f.q:
        out.append(c.hkey.like(f"%{_like(f.q.translate(_UPPER))}%", escape="\\"))
    if f.action:
        out.append(c.action == f.action)
    if f.actor:
        out.append(c.actor == f.actor)
    if f.since is not None:
        out.append(c.at >= f.since)
    if f.until is not None:
        out.append(c.at < f.until)
    return out


_UPPER = str.maketrans("abcdefghijklmnopqrstuvwxyz", "ABCDEFGHIJKLMNOPQRSTUVWXYZ")


def seen_prefix(engine: sa.Engine, user: User, prefix: str) -> str:
    """``prefix`` (normalised) if ``user`` may read its records: overseers any, others the
    prefixes allocated to their enterprise (and those under them); else ``NotFound``, as for
    a prefix that does not exist."""
    norm = prefix.translate(_UPPER)[:128]
    if not access.sees_all(user):
        with engine.connect() as conn:
            owner = prefix_owner(conn, norm) if norm else None
        access.check_see(user, owner, f"prefix {norm}")
    return norm


def seen_handle(engine: sa.Engine, user: User, text: str) -> str:
    """The lookup key of identifier ``text`` if ``user`` may read its records (see
    ``seen_prefix``); a malformed identifier is ``NotFound`` too."""
    try:
        key = hdl.parse(text).key
    except IndunetError:
        raise NotFound(f"no identifier {text[:100]}") from None
    seen_prefix(engine, user, prefix_of(key))
    return key


def search(
    engine: sa.Engine, f: RecordFilter, *, offset: int = 0, limit: int = 20
) -> tuple[int, list[Change]]:
    """One page of the entries ``f`` matches, newest first, and how many match in all."""
    where = _where(f)
    with engine.connect() as conn:
        total = conn.execute(
            sa.select(sa.func.count()).select_from(handle_history).where(*where)
        ).scalar_one()
        rows = conn.execute(
            sa.select(handle_history)
            .where(*where)
            .order_by(handle_history.c.id.desc())
            .offset(offset)
            .limit(limit)
        ).all()
    return int(total), [_change(r) for r in rows]


def export(engine: sa.Engine, f: RecordFilter, *, limit: int = EXPORT_LIMIT) -> Iterator[Change]:
    """The entries ``f`` matches, newest first, at most ``limit``, read ``EXPORT_CHUNK`` at a
    time (each chunk on its own short connection, continuing below the last id seen)."""
    where = _where(f)
    below: int | None = None
    left = limit
    while left > 0:
        q = sa.select(handle_history).where(*where).order_by(handle_history.c.id.desc())
        if below is not None:
            q = q.where(handle_history.c.id < below)
        with engine.connect() as conn:
            chunk = [_change(r) for r in conn.execute(q.limit(min(EXPORT_CHUNK, left)))]
        if not chunk:
            return
        yield from chunk
        left -= len(chunk)
        below = chunk[-1].id
