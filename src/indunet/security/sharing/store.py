"""The collection store: TAXII collections and the STIX objects in them, every version kept.

Each enterprise has one collection (made on first use), the installation one of its own.
Objects are kept by (collection, STIX id, version) where the version is ``modified`` (else
``created``; Cyber-observables have neither and keep their first arrival). Adding is
idempotent: the same id and version again changes nothing; a newer version is kept beside
the older ones; a version older than the newest held is not kept (``Outcome.OLDER``).

``date_added`` is when this store first held the version (microseconds, ``Z``), written in
strictly increasing order per collection so that ``added_after`` paging never skips.
"""

from __future__ import annotations

import enum
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from indunet.security.sharingtables import collections, objects, statuses

from .stixids import normal_stamp, now_stamp

#: Namespace of the collections' ids (a fixed random UUID).
COLLECTION_NAMESPACE = uuid.UUID("3f9e6a52-1c7b-4d8e-b0a4-6e2d9c1f7a35")


class Outcome(enum.StrEnum):
    """What became of one object given to ``add``."""

    ADDED = "added"
    SAME = "same"  # this id and version was held already
    OLDER = "older"  # a newer version is held; this one is not kept


@dataclass(frozen=True, slots=True)
class Collection:
    """A TAXII collection: its id, owner, title and description."""

    id: str
    enterprise_id: int | None
    title: str
    description: str


@dataclass(frozen=True, slots=True)
class Stored:
    """One stored version of an object."""

    seq: int
    stix_id: str
    type: str
    version: str
    spec_version: str
    date_added: str
    body: bytes


def version_of(obj: dict[str, Any], date_added: str) -> str:
    """The TAXII version of ``obj``: ``modified``, else ``created``, else when it was added."""
    stamp = obj.get("modified") or obj.get("created")
    return normal_stamp(stamp) if isinstance(stamp, str) else date_added


def _collection(row: Any) -> Collection:
    return Collection(row.id, row.enterprise_id, row.title, row.description)


def collection(conn: sa.Connection, collection_id: str) -> Collection | None:
    """The collection ``collection_id`` (None if there is none)."""
    row = conn.execute(sa.select(collections).where(collections.c.id == collection_id[:36])).first()
    return _collection(row) if row is not None else None


def list_collections(
    conn: sa.Connection, enterprise_id: int | None, *, every: bool
) -> list[Collection]:
    """The collections of ``enterprise_id`` (or, with ``every``, all of them), oldest first."""
    q = sa.select(collections).order_by(collections.c.created_at, collections.c.id)
    if not every:
        q = q.where(
            collections.c.enterprise_id.is_(None)
            if enterprise_id is None
            else collections.c.enterprise_id == enterprise_id
        )
    return [_collection(r) for r in conn.execute(q)]


def collection_id_of(enterprise_id: int | None) -> str:
    """The id of the collection of ``enterprise_id`` (None: the installation's): derived, so
    two requests making it at once make the same one."""
    return str(uuid.uuid5(COLLECTION_NAMESPACE, f"collection:{enterprise_id}"))


def ensure_collection(conn: sa.Connection, enterprise_id: int | None, title: str) -> Collection:
    """The collection of ``enterprise_id`` (None: the installation's), made if it has none."""
    cid = collection_id_of(enterprise_id)
    found = collection(conn, cid)
    if found is not None:
        return found
    values = {
        "id": cid,
        "enterprise_id": enterprise_id,
        "title": title[:200],
        "description": "",
        "created_at": datetime.now(UTC),
    }
    if conn.dialect.name == "postgresql":
        conn.execute(pg_insert(collections).values(**values).on_conflict_do_nothing())
    elif conn.dialect.name == "sqlite":
        conn.execute(sqlite_insert(collections).values(**values).on_conflict_do_nothing())
    else:
        conn.execute(collections.insert().values(**values))
    made = collection(conn, cid)
    assert made is not None
    return made


def _last_added(conn: sa.Connection, collection_id: str) -> str | None:
    return conn.execute(
        sa.select(sa.func.max(objects.c.date_added)).where(objects.c.collection_id == collection_id)
    ).scalar()


def _after(last: str | None) -> str:
    """Now, or just after ``last`` if the clock has not passed it (strictly increasing)."""
    now = now_stamp()
    if last is None or now > last:
        return now
    held = datetime.strptime(last, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)
    return (held + timedelta(microseconds=1)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def add(
    conn: sa.Connection, collection_id: str, items: Sequence[dict[str, Any]]
) -> list[tuple[str, str, Outcome]]:
    """Keep ``items`` (checked, ordered) in ``collection_id``; ``(id, version, outcome)`` each.

    Call inside one transaction: all are kept or none."""
    if not items:
        return []
    ids = list({o["id"] for o in items})
    held: dict[str, set[str]] = {}
    for i in range(0, len(ids), 500):
        rows = conn.execute(
            sa.select(objects.c.stix_id, objects.c.version).where(
                objects.c.collection_id == collection_id, objects.c.stix_id.in_(ids[i : i + 500])
            )
        )
        for r in rows:
            held.setdefault(r.stix_id, set()).add(r.version)
    added = _after(_last_added(conn, collection_id))
    out: list[tuple[str, str, Outcome]] = []
    rows_in: list[dict[str, Any]] = []
    for obj in items:
        versions = held.setdefault(obj["id"], set())
        # an object with neither modified nor created (an SCO) has one version: its first
        version = version_of(obj, min(versions) if versions else added)
        if version in versions:
            out.append((obj["id"], version, Outcome.SAME))
            continue
        if versions and version < max(versions):
            out.append((obj["id"], version, Outcome.OLDER))
            continue
        versions.add(version)
        rows_in.append(
            {
                "collection_id": collection_id,
                "stix_id": obj["id"],
                "type": obj["type"],
                "version": version,
                "spec_version": obj.get("spec_version", "2.1"),
                "date_added": added,
                "body": orjson.dumps(obj).decode(),
            }
        )
        out.append((obj["id"], version, Outcome.ADDED))
    if rows_in:
        conn.execute(objects.insert(), rows_in)
    return out


def known_ids(conn: sa.Connection, collection_id: str, ids: Sequence[str]) -> set[str]:
    """Which of ``ids`` the collection holds (any version)."""
    found: set[str] = set()
    unique = list(set(ids))
    for i in range(0, len(unique), 500):
        found.update(
            conn.execute(
                sa.select(objects.c.stix_id)
                .distinct()
                .where(
                    objects.c.collection_id == collection_id,
                    objects.c.stix_id.in_(unique[i : i + 500]),
                )
            ).scalars()
        )
    return found


def counts(conn: sa.Connection, ids: Sequence[str]) -> dict[str, tuple[int, str | None]]:
    """Per collection of ``ids``: how many object versions it holds and the last date added."""
    if not ids:
        return {}
    rows = conn.execute(
        sa.select(objects.c.collection_id, sa.func.count(), sa.func.max(objects.c.date_added))
        .where(objects.c.collection_id.in_(list(ids)))
        .group_by(objects.c.collection_id)
    )
    return {r[0]: (int(r[1]), r[2]) for r in rows}


def status_resource(
    status_id: str, request_timestamp: str, results: Sequence[tuple[str, str, Outcome]]
) -> dict[str, Any]:
    """The TAXII 2.1 status resource (§4.3.1) of a finished add: every object succeeded (an
    add is all or nothing), those not kept because a newer version is held say so."""
    successes: list[dict[str, Any]] = []
    for stix_id, version, outcome in results:
        item: dict[str, Any] = {"id": stix_id, "version": version}
        if outcome is Outcome.SAME:
            item["message"] = "this version was held already"
        elif outcome is Outcome.OLDER:
            item["message"] = "a newer version is held; this one was not kept"
        successes.append(item)
    return {
        "id": status_id,
        "status": "complete",
        "request_timestamp": request_timestamp,
        "total_count": len(results),
        "success_count": len(results),
        "successes": successes,
        "failure_count": 0,
        "failures": [],
        "pending_count": 0,
        "pendings": [],
    }


def save_status(conn: sa.Connection, collection: Collection, resource: dict[str, Any]) -> None:
    """Keep a status resource (read back by ``status``)."""
    conn.execute(
        statuses.insert().values(
            id=resource["id"],
            collection_id=collection.id,
            enterprise_id=collection.enterprise_id,
            request_timestamp=resource["request_timestamp"],
            body=orjson.dumps(resource).decode(),
        )
    )


def status(conn: sa.Connection, status_id: str) -> tuple[int | None, bytes] | None:
    """The owner and JSON of status ``status_id`` (None if there is none)."""
    row = conn.execute(
        sa.select(statuses.c.enterprise_id, statuses.c.body).where(statuses.c.id == status_id[:36])
    ).first()
    return (row[0], row[1].encode()) if row is not None else None
