"""Indexes for the trend charts at 100,000 alarms: alarms raised per bucket and severity are
counted one index range at a time (time, then severity: the index holds every value the
count needs, and leads with time so that counts per severity elsewhere keep their plans), and the devices with most alarms are
counted in device order without sorting the window's rows (device, time); each also with
the enterprise first, for one enterprise's charts.

Revision ID: ar0003
"""

from alembic import op

revision = "ar0003"
down_revision = "ar0002"
branch_labels = None
depends_on = None

INDEXES = {
    "ix_tel_alarms_raised_severity": ["raised_at", "severity"],
    "ix_tel_alarms_enterprise_raised_severity": ["enterprise_id", "raised_at", "severity"],
    "ix_tel_alarms_device_raised": ["device_id", "raised_at"],
    "ix_tel_alarms_enterprise_device_raised": ["enterprise_id", "device_id", "raised_at"],
}


def upgrade() -> None:
    for name, columns in INDEXES.items():
        op.create_index(name, "tel_alarms", columns)


def downgrade() -> None:
    for name in INDEXES:
        op.drop_index(name, "tel_alarms")
