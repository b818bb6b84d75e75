"""Per-identifier records searchable by prefix and owner: ``prefix`` and ``enterprise_id`` on
``ids_handle_history``, with indexes for the search (newest first) by owner, prefix and time.

Existing rows are filled in primary-key batches: the prefix from the lookup key (the prefix a
``0.NA/<prefix>`` record describes, else the part before the first ``/``) and the enterprise
the prefix (or the nearest allocated prefix above it) is allocated to now.

Revision ID: ih0002
"""

import sqlalchemy as sa
from alembic import op

revision = "ih0002"
down_revision = "ih0001"
branch_labels = None
depends_on = None  # ih0001 depends on i0001 (ids_prefixes)

BATCH = 2000
history = sa.table(
    "ids_handle_history",
    sa.column("id"),
    sa.column("hkey"),
    sa.column("prefix"),
    sa.column("enterprise_id"),
)
prefixes = sa.table("ids_prefixes", sa.column("prefix"), sa.column("enterprise_id"))


def _prefix(hkey: str) -> str:
    head, _, rest = hkey.partition("/")
    return rest if head == "0.NA" else head


def _owner(owners: dict[str, int | None], prefix: str) -> int | None:
    parts = prefix.split(".")
    for n in range(len(parts), 0, -1):
        above = ".".join(parts[:n])
        if above in owners:
            return owners[above]
    return None


def upgrade() -> None:
    with op.batch_alter_table("ids_handle_history") as batch:
        batch.add_column(sa.Column("prefix", sa.String(128), nullable=False, server_default=""))
        batch.add_column(sa.Column("enterprise_id", sa.Integer, nullable=True))
    conn = op.get_bind()
    owners = {
        str(r.prefix): (int(r.enterprise_id) if r.enterprise_id is not None else None)
        for r in conn.execute(sa.select(prefixes.c.prefix, prefixes.c.enterprise_id))
    }
    after = 0
    while True:
        rows = conn.execute(
            sa.select(history.c.id, history.c.hkey)
            .where(history.c.id > after)
            .order_by(history.c.id)
            .limit(BATCH)
        ).all()
        if not rows:
            break
        params = []
        for r in rows:
            p = _prefix(str(r.hkey))[:128]
            params.append({"i": r.id, "p": p, "e": _owner(owners, p)})
        conn.execute(
            history.update()
            .where(history.c.id == sa.bindparam("i"))
            .values(prefix=sa.bindparam("p"), enterprise_id=sa.bindparam("e")),
            params,
        )
        after = rows[-1].id
    op.create_index("ix_ids_handle_history_owner", "ids_handle_history", ["enterprise_id", "id"])
    op.create_index("ix_ids_handle_history_prefix", "ids_handle_history", ["prefix", "id"])
    op.create_index("ix_ids_handle_history_at", "ids_handle_history", ["at"])


def downgrade() -> None:
    op.drop_index("ix_ids_handle_history_at", "ids_handle_history")
    op.drop_index("ix_ids_handle_history_prefix", "ids_handle_history")
    op.drop_index("ix_ids_handle_history_owner", "ids_handle_history")
    with op.batch_alter_table("ids_handle_history") as batch:
        batch.drop_column("enterprise_id")
        batch.drop_column("prefix")
