"""HS_ADMIN permission strings in Handle.Net's order: reverse the 12-character strings stored.

Before this revision Indunet read an HS_ADMIN ``permissions`` string from the left (first
character = add handle); Handle.Net writes it highest bit first (last character = add handle).
Reversing every stored string keeps the rights each identity held, now written the way the
code reads them. Records (``ids_handles.record``) and the values kept in the history
(``ids_handle_history.before``) are both rewritten; only ``admin``-format values with a string
of exactly 12 zeros and ones change. Reversal is its own inverse, so the downgrade is the same
walk. Rows are read in primary-key batches, so memory stays bounded on large tables.

Revision ID: ia0001
"""

from typing import Any

import orjson
import sqlalchemy as sa
from alembic import op

revision = "ia0001"
down_revision = None
branch_labels = ("ids_admin_bits",)
depends_on = ("i0001", "ih0001")

BATCH = 500
#: Stored JSON is compact (orjson): every admin value contains this text.
ADMIN_MARK = '%"format":"admin"%'

handles = sa.table("ids_handles", sa.column("node"), sa.column("hkey"), sa.column("record"))
history = sa.table("ids_handle_history", sa.column("id"), sa.column("before"))


def _flip(values: Any) -> bool:
    """Reverse the admin permission strings in a list of stored values; True if one changed."""
    changed = False
    if not isinstance(values, list):  # the history's {"cut": true, ...} keeps no data
        return False
    for v in values:
        data = v.get("data") if isinstance(v, dict) else None
        if not isinstance(data, dict) or data.get("format") != "admin":
            continue
        admin = data.get("value")
        if not isinstance(admin, dict):
            continue
        bits = admin.get("permissions")
        if isinstance(bits, str) and len(bits) == 12 and set(bits) <= {"0", "1"}:
            admin["permissions"] = bits[::-1]
            changed = changed or bits != bits[::-1]
    return changed


def _rewrite(text: str | None) -> str | None:
    """The stored JSON with admin strings reversed, or None if nothing changes."""
    if not text:
        return None
    values = orjson.loads(text)
    return orjson.dumps(values).decode() if _flip(values) else None


def _records(conn: sa.Connection) -> None:
    after: tuple[str, str] | None = None
    while True:
        query = sa.select(handles.c.node, handles.c.hkey, handles.c.record).where(
            handles.c.record.like(ADMIN_MARK)
        )
        if after is not None:
            query = query.where(sa.tuple_(handles.c.node, handles.c.hkey) > after)
        rows = conn.execute(query.order_by(handles.c.node, handles.c.hkey).limit(BATCH)).all()
        if not rows:
            return
        updates = []
        for node, hkey, record in rows:
            new = _rewrite(record)
            if new is not None:
                updates.append({"n": node, "k": hkey, "r": new})
        if updates:
            conn.execute(
                handles.update()
                .where(handles.c.node == sa.bindparam("n"), handles.c.hkey == sa.bindparam("k"))
                .values(record=sa.bindparam("r")),
                updates,
            )
        after = (rows[-1][0], rows[-1][1])


def _history(conn: sa.Connection) -> None:
    after = 0
    while True:
        rows = conn.execute(
            sa.select(history.c.id, history.c.before)
            .where(history.c.id > after, history.c.before.like(ADMIN_MARK))
            .order_by(history.c.id)
            .limit(BATCH)
        ).all()
        if not rows:
            return
        updates = []
        for entry_id, before in rows:
            new = _rewrite(before)
            if new is not None:
                updates.append({"i": entry_id, "b": new})
        if updates:
            conn.execute(
                history.update()
                .where(history.c.id == sa.bindparam("i"))
                .values(before=sa.bindparam("b")),
                updates,
            )
        after = rows[-1][0]


def upgrade() -> None:
    conn = op.get_bind()
    _records(conn)
    _history(conn)


def downgrade() -> None:
    upgrade()  # reversing twice is the identity
