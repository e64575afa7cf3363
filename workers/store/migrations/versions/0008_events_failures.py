"""the event log (what BigCommerce told us about each product and what became of it) and who
paused a store (an operator until resumed, or a configuration error until a time)

Revision ID: 0008
Revises: 0005
"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "events",
        sa.Column(
            "id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), primary_key=True, autoincrement=True
        ),
        sa.Column("store_hash", sa.String(64), nullable=False),
        sa.Column("at", sa.Float(), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("entity", sa.String(16), nullable=True),
        sa.Column("entity_id", sa.BigInteger(), nullable=True),
        sa.Column("ref", sa.String(128), nullable=True),
        sa.Column("detail", sa.JSON(), nullable=True),
    )
    op.create_index("ix_events_at", "events", ["at"])
    op.create_index("ix_events_entity", "events", ["store_hash", "entity", "entity_id", "at"])
    with op.batch_alter_table("store_state") as batch:
        batch.add_column(sa.Column("pause_kind", sa.String(16), nullable=True))
        batch.add_column(sa.Column("paused_at", sa.Float(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("store_state") as batch:
        batch.drop_column("paused_at")
        batch.drop_column("pause_kind")
    op.drop_index("ix_events_entity", table_name="events")
    op.drop_index("ix_events_at", table_name="events")
    op.drop_table("events")
