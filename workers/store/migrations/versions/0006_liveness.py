"""liveness: when each store last flushed, pushed and had its hooks checked, when each process
started, when the BigCommerce quota was last seen; incidents (one row per condition, changed by
compare-and-set) and the alert outbox (messages to ALERT_WEBHOOK_URL, retried until delivered)

Revision ID: 0006
Revises: 0005
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("store_state") as batch:
        batch.add_column(sa.Column("last_flush_at", sa.Float(), nullable=False, server_default="0"))
        batch.add_column(sa.Column("last_push_at", sa.Float(), nullable=False, server_default="0"))
        batch.add_column(sa.Column("hooks_checked_at", sa.Float(), nullable=False, server_default="0"))
        batch.add_column(sa.Column("hooks_inactive", sa.Integer(), nullable=False, server_default="0"))
    with op.batch_alter_table("heartbeats") as batch:
        batch.add_column(sa.Column("started_at", sa.Float(), nullable=False, server_default="0"))
    with op.batch_alter_table("rate_budget") as batch:
        batch.add_column(sa.Column("observed_at", sa.Float(), nullable=False, server_default="0"))
    op.create_table(
        "incidents",
        sa.Column("key", sa.String(160), primary_key=True),
        sa.Column("is_open", sa.Boolean(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("opened_at", sa.Float(), nullable=False),
        sa.Column("closed_at", sa.Float(), nullable=False),
        sa.Column("changed_at", sa.Float(), nullable=False),
        sa.Column("value", sa.Float(), nullable=False),
        sa.Column("detail", sa.Text(), nullable=False),
    )
    op.create_table(
        "alert_outbox",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("incident", sa.String(160), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.Float(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", sa.Float(), nullable=False),
        sa.Column("lease_until", sa.Float(), nullable=False),
        sa.Column("sent_at", sa.Float(), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
    )
    op.create_index("ix_alert_outbox_pending", "alert_outbox", ["sent_at", "next_attempt_at"])


def downgrade() -> None:
    op.drop_index("ix_alert_outbox_pending", table_name="alert_outbox")
    op.drop_table("alert_outbox")
    op.drop_table("incidents")
    with op.batch_alter_table("rate_budget") as batch:
        batch.drop_column("observed_at")
    with op.batch_alter_table("heartbeats") as batch:
        batch.drop_column("started_at")
    with op.batch_alter_table("store_state") as batch:
        for name in ("hooks_inactive", "hooks_checked_at", "last_push_at", "last_flush_at"):
            batch.drop_column(name)
