"""Users and access operations (issue 9): disabled accounts, temporary passwords, token use,
and an audit log an enterprise can read.

- ``core_users``: ``disabled``, ``must_change_password`` with ``password_expires_at`` (a
  temporary password set by an administrator or ``indunet user reset-password`` works once,
  until then), ``last_login_at``; indexed by enterprise for the users page.
- ``core_tokens``: ``last_used_at`` (moved at most every few minutes) and ``source`` (the
  address a console session logged in from).
- ``core_audit_log``: ``enterprise_id``, the enterprise an entry belongs to (the acting user's,
  or the changed user's), filled for existing entries from their actor; indexes for the
  filters of the audit page (actor, action, target, enterprise; time has one since c0001).

Revision ID: cu0001
"""

import sqlalchemy as sa
from alembic import op

revision = "cu0001"
down_revision = None
branch_labels = ("core_users_ops",)
depends_on = ("c0002",)


def upgrade() -> None:
    for table, column in (
        (
            "core_users",
            sa.Column("disabled", sa.Boolean, nullable=False, server_default=sa.false()),
        ),
        (
            "core_users",
            sa.Column(
                "must_change_password", sa.Boolean, nullable=False, server_default=sa.false()
            ),
        ),
        ("core_users", sa.Column("password_expires_at", sa.DateTime(timezone=True))),
        ("core_users", sa.Column("last_login_at", sa.DateTime(timezone=True))),
        ("core_tokens", sa.Column("last_used_at", sa.DateTime(timezone=True))),
        ("core_tokens", sa.Column("source", sa.String(100), nullable=False, server_default="")),
        ("core_audit_log", sa.Column("enterprise_id", sa.Integer)),
    ):
        op.add_column(table, column)
    op.create_index("ix_core_users_enterprise_id", "core_users", ["enterprise_id", "username"])
    op.execute(
        "UPDATE core_audit_log SET enterprise_id = (SELECT u.enterprise_id FROM core_users u "
        "WHERE 'user:' || u.username = core_audit_log.actor) WHERE actor LIKE 'user:%'"
    )
    op.create_index("ix_core_audit_log_enterprise", "core_audit_log", ["enterprise_id", "id"])
    op.create_index("ix_core_audit_log_actor", "core_audit_log", ["actor", "id"])
    op.create_index("ix_core_audit_log_action", "core_audit_log", ["action", "id"])
    op.create_index("ix_core_audit_log_target", "core_audit_log", ["target", "id"])


def downgrade() -> None:
    for name in ("target", "action", "actor", "enterprise"):
        op.drop_index(f"ix_core_audit_log_{name}", "core_audit_log")
    op.drop_index("ix_core_users_enterprise_id", "core_users")
    op.drop_column("core_audit_log", "enterprise_id")
    for column in ("source", "last_used_at"):
        op.drop_column("core_tokens", column)
    for column in ("last_login_at", "password_expires_at", "must_change_password", "disabled"):
        op.drop_column("core_users", column)
