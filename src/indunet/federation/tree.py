"""Where this instance stands in the tree, for subsystems that route their own messages:
its name and level, its parent, the role and level of a peer, its children.

The statements are built once: a relay asks for them with every message it passes on."""

from __future__ import annotations

import sqlalchemy as sa

from .tables import identity, peers

_ME = sa.select(identity.c.name, identity.c.level)
_PARENT = sa.select(peers.c.name).where(peers.c.role == "parent", peers.c.status == "active")
_ACTIVE = sa.and_(peers.c.name == sa.bindparam("name"), peers.c.status == "active")
_ROLE = sa.select(peers.c.role).where(_ACTIVE)
_LEVEL = sa.select(peers.c.level).where(_ACTIVE)
_CHILDREN = (
    sa.select(peers.c.name)
    .where(peers.c.role == "child", peers.c.status == "active")
    .order_by(peers.c.name)
)
_CHILDREN_AT = _CHILDREN.where(peers.c.level == sa.bindparam("level"))


def me(conn: sa.Connection) -> tuple[str, str] | None:
    """This instance's name and level (None before ``indunet federation init``)."""
    row = conn.execute(_ME).first()
    return None if row is None else (str(row.name), str(row.level))


def parent(conn: sa.Connection) -> str | None:
    """The active parent's name, if any."""
    name = conn.execute(_PARENT).scalar()
    return None if name is None else str(name)


def role_of(conn: sa.Connection, name: str) -> str | None:
    """``parent`` or ``child`` for an active peer, None for anyone else."""
    role = conn.execute(_ROLE, {"name": name}).scalar()
    return None if role is None else str(role)


def level_of(conn: sa.Connection, name: str) -> str | None:
    """An active peer's level (None for anyone else)."""
    level = conn.execute(_LEVEL, {"name": name}).scalar()
    return None if level is None else str(level)


def children(conn: sa.Connection) -> list[str]:
    """The active children's names."""
    return [str(n) for n in conn.execute(_CHILDREN).scalars()]


def children_at(conn: sa.Connection, level: str) -> list[str]:
    """The active children of ``level``."""
    return [str(n) for n in conn.execute(_CHILDREN_AT, {"level": level}).scalars()]
