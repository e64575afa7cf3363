"""storefronts: product metafields of the configured namespaces (kept current by the metafield
callbacks and a date_modified sweep, so a flush reads them without a call per product), and which
product each variant belongs to (a price-list callback names a variant), and where each store's
rolling resync is

Revision ID: 0009
Revises: 0007
"""

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "product_metafields",
        sa.Column("store_hash", sa.String(64), primary_key=True),
        sa.Column("product_id", sa.BigInteger(), primary_key=True),
        sa.Column("name", sa.String(128), primary_key=True),  # "<namespace>.<key>"
        sa.Column("value", sa.Text(), nullable=False),
        sa.Column("metafield_id", sa.BigInteger(), nullable=True),
    )
    op.create_table(
        "variant_products",
        sa.Column("store_hash", sa.String(64), primary_key=True),
        sa.Column("variant_id", sa.BigInteger(), primary_key=True),
        sa.Column("product_id", sa.BigInteger(), nullable=False),
    )
    op.create_index("ix_variant_products_product_id", "variant_products", ["product_id"])
    op.create_table(
        "rolling_resync",
        sa.Column("store_hash", sa.String(64), primary_key=True),
        sa.Column("cursor", sa.BigInteger(), nullable=False, server_default="0"),
        sa.Column("lap_started_at", sa.Float(), nullable=False, server_default="0"),
        sa.Column("done", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("hour_started_at", sa.Float(), nullable=False, server_default="0"),
        sa.Column("hour_calls", sa.Integer(), nullable=False, server_default="0"),
    )


def downgrade() -> None:
    op.drop_table("rolling_resync")
    op.drop_index("ix_variant_products_product_id", table_name="variant_products")
    op.drop_table("variant_products")
    op.drop_table("product_metafields")
