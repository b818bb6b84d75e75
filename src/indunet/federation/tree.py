"""Where this instance stands in the tree, for subsystems that route their own messages:
its name and level, its parent, the role of a peer (``parent``, ``child`` or none)."""

from __future__ import annotations

import sqlalchemy as sa

from .tables import identity, peers


def me(conn: sa.Connection) -> tuple[str, str] | None:
    """This instance's name and level (None before ``indunet federation init``)."""
    row = conn.execute(sa.select(identity.c.name, identity.c.level)).first()
    return None if row is None else (str(row.name), str(row.level))


def parent(conn: sa.Connection) -> str | None:
    """The active parent's name, if any."""
    name = conn.execute(
        sa.select(peers.c.name).where(peers.c.role == "parent", peers.c.status == "active")
    ).scalar()
    return None if name is None else str(name)


def role_of(conn: sa.Connection, name: str) -> str | None:
    """``parent`` or ``child`` for an active peer, None for anyone else."""
    role = conn.execute(
        sa.select(peers.c.role).where(peers.c.name == name, peers.c.status == "active")
    ).scalar()
    return None if role is None else str(role)


def children(conn: sa.Connection) -> list[str]:
    """The active children's names."""
    return list(
        conn.execute(
            sa.select(peers.c.name)
            .where(peers.c.role == "child", peers.c.status == "active")
            .order_by(peers.c.name)
        ).scalars()
    )


def level_of(conn: sa.Connection, name: str) -> str | None:
    """An active peer's level (None for anyone else)."""
    level = conn.execute(
        sa.select(peers.c.level).where(peers.c.name == name, peers.c.status == "active")
    ).scalar()
    return None if level is None else str(level)


def children_at(conn: sa.Connection, level: str) -> list[str]:
    """The active children of ``level``."""
    return list(
        conn.execute(
            sa.select(peers.c.name).where(
                peers.c.role == "child", peers.c.status == "active", peers.c.level == level
            )
        ).scalars()
    )
