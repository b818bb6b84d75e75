"""The security subsystem's branch: its root, on which each part's tables build
(assets, events, detection, vulnerabilities, cases, sharing).

Revision ID: s0001
"""

revision = "s0001"
down_revision = None
branch_labels = ("security",)
depends_on = "c0002"


def upgrade() -> None:
    """Nothing of its own: the parts' revisions follow."""


def downgrade() -> None:
    """Nothing of its own."""
