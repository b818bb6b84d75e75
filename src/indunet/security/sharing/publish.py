"""Putting our own records into an enterprise's collection, and reading a collection back
as one bundle (the console's download).

``publish`` is what the alert store and the vulnerability part call (the lead wires them):
it exports the records (``export``), then imports the objects into the enterprise's
collection (``importing``), so TAXII readers see them; publishing the same records again
changes nothing (ids and ``modified`` are stable).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from typing import Any

import orjson
import sqlalchemy as sa

from indunet.core import get_enterprise_by_id
from indunet.security.alerts import Alert
from indunet.security.sharingtables import objects

from .export import Producer, VulnerabilityMatch, export_objects
from .importing import Imported, import_objects
from .query import Filters, versions_clause
from .rights import own_collection
from .validate import MAX_OBJECTS


def producer_of(conn: sa.Connection, enterprise_id: int | None, installation: str) -> Producer:
    """The producing identity: the enterprise, else the installation named ``installation``."""
    if enterprise_id is None:
        return Producer(f"installation:{installation}", installation, 0.0)
    found = get_enterprise_by_id(conn, enterprise_id)
    return Producer(f"enterprise:{enterprise_id}", found.name, found.created_at.timestamp())


def publish(
    engine: sa.Engine,
    enterprise_id: int | None,
    alerts: Iterable[Alert] = (),
    vulnerabilities: Iterable[VulnerabilityMatch] = (),
    *,
    installation: str = "Indunet",
) -> Imported:
    """Export ``alerts`` and ``vulnerabilities`` into the collection of ``enterprise_id``."""
    with engine.begin() as conn:
        producer = producer_of(conn, enterprise_id, installation)
        collection = own_collection(conn, enterprise_id)
        made = export_objects(producer, alerts, vulnerabilities)
        return import_objects(conn, collection.id, made)


def collection_bundle(conn: sa.Connection, collection_id: str, limit: int = MAX_OBJECTS) -> bytes:
    """The newest version of each object of a collection (the ``limit`` last added), as a
    STIX 2.1 bundle's JSON."""
    clause = versions_clause(Filters().versions)
    q = sa.select(objects.c.body).where(objects.c.collection_id == collection_id)
    if clause is not None:
        q = q.where(clause)
    rows = conn.execute(q.order_by(objects.c.date_added.desc(), objects.c.seq.desc()).limit(limit))
    bodies = [r[0].encode() for r in rows]
    bodies.reverse()
    head: dict[str, Any] = {"type": "bundle", "id": f"bundle--{uuid.uuid4()}"}
    return orjson.dumps(head)[:-1] + b',"objects":[' + b",".join(bodies) + b"]}"
