"""The history of identifier records: who created, changed or deleted one, when, and the
values it held before.

A node writes one entry per ``put`` and ``delete``, in the same transaction as the change, so
a change is never without its entry (the bulk import, which writes thousands of records in one
statement, records none). The values before are kept as the stored JSON, at most
``MAX_BEFORE_BYTES``; a larger record keeps only its values' indexes and types.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import orjson
import sqlalchemy as sa

from indunet.ids.tables import handle_history
from indunet.ids.values import HandleValue

MAX_BEFORE_BYTES = 65_536
ACTIONS = ("handle.create", "handle.modify", "handle.delete", "handle.remove_values")


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


def _before(values: list[HandleValue] | None) -> str | None:
    if values is None:
        return None
    full = orjson.dumps([v.to_json() for v in values if v.public_read])
    if len(full) <= MAX_BEFORE_BYTES:
        return full.decode()
    brief = [{"index": v.index, "type": v.type} for v in values[:256]]
    return orjson.dumps({"cut": True, "values": brief}).decode()


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
    conn.execute(
        handle_history.insert().values(
            node=node,
            hkey=hkey,
            handle=handle,
            action=action,
            actor=actor[:200],
            at=datetime.now(UTC),
            before=_before(before),
        )
    )


def _change(row: Any) -> Change:
    raw = orjson.loads(row.before) if row.before else None
    cut = isinstance(raw, dict) and bool(raw.get("cut"))
    values = raw["values"] if isinstance(raw, dict) else raw
    return Change(row.id, row.handle, row.action, row.actor, row.at, values, cut)


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
