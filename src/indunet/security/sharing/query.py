"""Reading a collection as TAXII 2.1 asks: filters, versions, pages with an opaque cursor.

Filters (TAXII 2.1 §3.5): ``added_after`` (exclusive), ``match[id]``, ``match[type]``,
``match[version]`` (``last`` — the default —, ``first``, ``all``, or timestamps; several
comma-separated, an object matching any), ``match[spec_version]``. Pages follow
``(date_added, seq)``; ``next`` is the position after the page's last object and the
filters it was made for, sealed (``core.sealed``: encrypted and authenticated), so it can
neither be read nor altered nor reused with other filters.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson
import sqlalchemy as sa

from indunet.core import InvalidInput
from indunet.core.sealed import Sealer
from indunet.security.sharingtables import objects

from .stixids import TYPE_RE, id_type, normal_stamp
from .store import Stored

MAX_PAGE = 1000
"""Objects in one page, at most (a larger ``limit`` is lowered to it)."""
DEFAULT_PAGE = 100
MAX_MATCH = 100
"""Values of one ``match[...]`` filter, at most."""


def _bad(param: str, why: str) -> InvalidInput:
    return InvalidInput(
        f"{param}: {why}", reason="taxii_bad_filter", params={"param": param, "why": why}
    )


@dataclass(frozen=True, slots=True)
class Filters:
    """The filters of one request, read and checked."""

    added_after: str | None = None
    ids: tuple[str, ...] = ()
    types: tuple[str, ...] = ()
    versions: tuple[str, ...] = ("last",)
    spec_versions: tuple[str, ...] = ()

    def key(self) -> str:
        """The filters as a short text (the cursor is tied to it)."""
        return orjson.dumps(
            [self.added_after, self.ids, self.types, self.versions, self.spec_versions]
        ).decode()


def _values(raw: str | None, param: str) -> tuple[str, ...]:
    if raw is None or raw == "":
        return ()
    values = tuple(v.strip() for v in raw.split(","))
    if len(values) > MAX_MATCH:
        raise _bad(param, f"give {MAX_MATCH} values at most")
    return values


def read_filters(params: dict[str, str], *, allow: frozenset[str]) -> Filters:
    """The filters of a query string (``allow``: which filters this endpoint takes)."""
    added_after = params.get("added_after")
    if added_after is not None:
        try:
            added_after = normal_stamp(added_after)
        except ValueError as exc:
            raise _bad("added_after", str(exc)) from None
    ids = _values(params.get("match[id]"), "match[id]") if "id" in allow else ()
    for v in ids:
        if id_type(v) is None:
            raise _bad("match[id]", f"{v[:100]!r} is not a STIX id")
    types = _values(params.get("match[type]"), "match[type]") if "type" in allow else ()
    for v in types:
        if not TYPE_RE.match(v):
            raise _bad("match[type]", f"{v[:100]!r} is not a STIX type")
    versions = _values(params.get("match[version]"), "match[version]") or ("last",)
    checked: list[str] = []
    for v in versions:
        if v in ("last", "first", "all"):
            checked.append(v)
            continue
        try:
            checked.append(normal_stamp(v))
        except ValueError:
            raise _bad(
                "match[version]", f"{v[:100]!r}: give last, first, all or a timestamp"
            ) from None
    specs = _values(params.get("match[spec_version]"), "match[spec_version]")
    for v in specs:
        if v not in ("2.0", "2.1"):
            raise _bad("match[spec_version]", f"{v[:20]!r} is not a STIX version")
    return Filters(added_after, ids, types, tuple(checked), specs)


def read_limit(raw: str | None) -> int:
    """The page size asked (``limit``), within 1..``MAX_PAGE``; 0 or none: the default."""
    if raw is None or raw == "":
        return DEFAULT_PAGE
    if not raw.isdigit() or len(raw) > 9:
        raise _bad("limit", "give a whole number")
    n = int(raw)
    return DEFAULT_PAGE if n == 0 else min(n, MAX_PAGE)


def seal_cursor(sealer: Sealer, collection_id: str, scope: str, f: Filters, last: Stored) -> str:
    """The ``next`` of a page ending at ``last``."""
    text = orjson.dumps([collection_id, scope, f.key(), last.date_added, last.seq]).decode()
    return sealer.seal(text).removeprefix("sealed:v1:")


def open_cursor(
    sealer: Sealer, token: str, collection_id: str, scope: str, f: Filters
) -> tuple[str, int]:
    """The position a ``next`` token holds, if it was made here for these filters."""
    try:
        if len(token) > 2000:
            raise ValueError
        data = orjson.loads(sealer.open("sealed:v1:" + token))
        c, s, k, added, seq = data
        if (c, s, k) != (collection_id, scope, f.key()):
            raise ValueError
        return str(added), int(seq)
    except Exception:
        raise _bad("next", "is not a cursor this server gave for these filters") from None


def versions_clause(versions: tuple[str, ...]) -> sa.ColumnElement[bool] | None:
    if "all" in versions:
        return None
    o2 = objects.alias("o2")
    same = sa.and_(o2.c.collection_id == objects.c.collection_id, o2.c.stix_id == objects.c.stix_id)
    parts: list[sa.ColumnElement[bool]] = []
    if "last" in versions:
        parts.append(
            objects.c.version == sa.select(sa.func.max(o2.c.version)).where(same).scalar_subquery()
        )
    if "first" in versions:
        parts.append(
            objects.c.version == sa.select(sa.func.min(o2.c.version)).where(same).scalar_subquery()
        )
    stamps = [v for v in versions if v not in ("last", "first")]
    if stamps:
        parts.append(objects.c.version.in_(stamps))
    return sa.or_(*parts)


def page(
    conn: sa.Connection,
    collection_id: str,
    f: Filters,
    limit: int,
    after: tuple[str, int] | None = None,
    *,
    stix_id: str | None = None,
) -> tuple[list[Stored], bool]:
    """One page of the collection's objects matching ``f``, and whether more follow."""
    q = sa.select(objects).where(objects.c.collection_id == collection_id)
    if stix_id is not None:
        q = q.where(objects.c.stix_id == stix_id)
    if f.added_after is not None:
        q = q.where(objects.c.date_added > f.added_after)
    if f.ids:
        q = q.where(objects.c.stix_id.in_(f.ids))
    if f.types:
        q = q.where(objects.c.type.in_(f.types))
    if f.spec_versions:
        q = q.where(objects.c.spec_version.in_(f.spec_versions))
    clause = versions_clause(f.versions)
    if clause is not None:
        q = q.where(clause)
    if after is not None:
        q = q.where(sa.tuple_(objects.c.date_added, objects.c.seq) > sa.tuple_(*after))
    q = q.order_by(objects.c.date_added, objects.c.seq).limit(limit + 1)
    rows = [_stored(r) for r in conn.execute(q)]
    return rows[:limit], len(rows) > limit


def _stored(row: Any) -> Stored:
    return Stored(
        row.seq,
        row.stix_id,
        row.type,
        row.version,
        row.spec_version,
        row.date_added,
        row.body.encode(),
    )


def exists(conn: sa.Connection, collection_id: str, stix_id: str) -> bool:
    """Whether the collection holds any version of ``stix_id``."""
    return (
        conn.execute(
            sa.select(objects.c.seq)
            .where(objects.c.collection_id == collection_id, objects.c.stix_id == stix_id)
            .limit(1)
        ).first()
        is not None
    )


def delete(conn: sa.Connection, collection_id: str, stix_id: str, f: Filters) -> int:
    """Remove the versions of ``stix_id`` that ``f`` selects (``match[version]``, default
    every version; ``match[spec_version]``); how many were removed."""
    q = sa.select(objects.c.seq).where(
        objects.c.collection_id == collection_id, objects.c.stix_id == stix_id
    )
    if f.spec_versions:
        q = q.where(objects.c.spec_version.in_(f.spec_versions))
    clause = versions_clause(f.versions)
    if clause is not None:
        q = q.where(clause)
    seqs = list(conn.execute(q).scalars())
    if seqs:
        conn.execute(objects.delete().where(objects.c.seq.in_(seqs)))
    return len(seqs)
