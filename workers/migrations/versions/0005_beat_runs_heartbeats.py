"""beat runs and heartbeats: the beat schedule kept in the database (shared by every beat), and
each long-running process's last sign of life

Revision ID: 0005
Revises: 0004
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "beat_runs",
        sa.Column("name", sa.String(64), primary_key=True),
        sa.Column("last_run_at", sa.Float(), nullable=False),
        sa.Column("beat", sa.String(128), nullable=False),
    )
    op.create_table(
        "heartbeats",
        sa.Column("part", sa.String(16), primary_key=True),
        sa.Column("process", sa.String(128), primary_key=True),
        sa.Column("last_seen", sa.Float(), nullable=False),
    )
    op.create_index("ix_heartbeats_last_seen", "heartbeats", ["last_seen"])


def downgrade() -> None:
    op.drop_index("ix_heartbeats_last_seen", table_name="heartbeats")
    op.drop_table("heartbeats")
    op.drop_table("beat_runs")
