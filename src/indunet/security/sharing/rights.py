"""Who reads and writes which collection (``core.access``, the one rule):

- each enterprise has one collection, made the first time one of its users (or an
  overseer, for the installation's own) asks; the installation's has no enterprise;
- an enterprise's users read theirs; its admins and platform admins write it;
- overseers (platform admins, regulators) read every collection;
- another enterprise's collection is 404, exactly like one that does not exist.
"""

from __future__ import annotations

import sqlalchemy as sa

from indunet.core import NotFound, User, access, get_enterprise_by_id

from . import store
from .store import Collection

INSTALLATION_TITLE = "Indunet installation"


def own_collection(conn: sa.Connection, enterprise_id: int | None) -> Collection:
    """The collection of ``enterprise_id`` (None: the installation's), made if missing."""
    if enterprise_id is None:
        return store.ensure_collection(conn, None, INSTALLATION_TITLE)
    name = get_enterprise_by_id(conn, enterprise_id).name
    return store.ensure_collection(conn, enterprise_id, name)


def visible(conn: sa.Connection, user: User) -> list[Collection]:
    """The collections ``user`` may read (their own made if it is missing)."""
    if access.sees_all(user):
        own_collection(conn, None)
        return store.list_collections(conn, None, every=True)
    eid = access.scope(user)
    return [own_collection(conn, eid)]


def readable(conn: sa.Connection, user: User, collection_id: str) -> Collection:
    """Collection ``collection_id`` if ``user`` may read it, else ``NotFound``."""
    found = store.collection(conn, collection_id)
    if found is None or not access.can_see(user, found.enterprise_id):
        raise NotFound(f"no collection {collection_id[:100]}")
    return found


def can_write(user: User, collection: Collection) -> bool:
    """Whether ``user`` may add objects to ``collection``."""
    return access.can_change(user, collection.enterprise_id)


def writable(conn: sa.Connection, user: User, collection_id: str) -> Collection:
    """Collection ``collection_id`` if ``user`` may write it (404 unseen, 403 read-only)."""
    found = readable(conn, user, collection_id)
    access.check_change(user, found.enterprise_id, f"collection {found.id}")
    return found
