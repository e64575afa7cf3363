"""seen_webhooks keyed by store + the SHA-256 of the whole webhook id (was: the id cut to 128
characters, alone), keeping the rows already there

Until now a webhook id was remembered alone (one store's id made another store's genuine callback
with the same id a "replay") and cut to 128 characters (two ids sharing their first 128 characters
collided). Each old row already names the store that recorded it (`store_hash`), so it becomes
(store_hash, sha256(webhook_id)) and keeps protecting that store from replays of that id. The one
thing an old row cannot give back is the end of an id longer than 128 characters: such an id,
replayed after the upgrade, is recorded once more (a harmless extra re-fetch), and only within the
±5 minutes the signature's timestamp is accepted anyway.

On PostgreSQL the digest is computed in SQL (sha256(), PostgreSQL 11+); on SQLite by a function the
migration registers on its connection. Downgrading restores the old shape without rows (a digest
cannot be turned back into an id); the timestamp check still refuses replays older than 5 minutes.

Revision ID: 0007
Revises: 0005
"""

import hashlib

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def _sha256_hex(value: str | None) -> str | None:
    if value is None:
        return None
    return hashlib.sha256(value.encode("utf-8", "surrogatepass")).hexdigest()


def upgrade() -> None:
    bind = op.get_bind()
    postgres = bind.dialect.name == "postgresql"
    op.drop_index("ix_seen_webhooks_received_at", table_name="seen_webhooks")
    op.rename_table("seen_webhooks", "seen_webhooks_0005")
    if postgres:  # free the primary key's name for the new table
        op.execute(
            "ALTER TABLE seen_webhooks_0005 RENAME CONSTRAINT seen_webhooks_pkey TO seen_webhooks_0005_pkey"
        )
    op.create_table(
        "seen_webhooks",
        sa.Column("store_hash", sa.String(64), nullable=False),
        sa.Column("digest", sa.String(64), nullable=False),
        sa.Column("received_at", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("store_hash", "digest"),
    )
    # the old primary key was the id: each (store, digest) comes once
    if postgres:
        op.execute(
            "INSERT INTO seen_webhooks (store_hash, digest, received_at)"
            " SELECT store_hash, encode(sha256(convert_to(webhook_id, 'UTF8')), 'hex'), received_at"
            " FROM seen_webhooks_0005"
        )
    else:
        raw = bind.connection.driver_connection
        assert raw is not None, "an open SQLite connection"
        raw.create_function("bcsync_sha256_hex", 1, _sha256_hex, deterministic=True)
        op.execute(
            "INSERT INTO seen_webhooks (store_hash, digest, received_at)"
            " SELECT store_hash, bcsync_sha256_hex(webhook_id), received_at FROM seen_webhooks_0005"
        )
    op.drop_table("seen_webhooks_0005")
    op.create_index("ix_seen_webhooks_received_at", "seen_webhooks", ["received_at"])


def downgrade() -> None:
    op.drop_index("ix_seen_webhooks_received_at", table_name="seen_webhooks")
    op.drop_table("seen_webhooks")
    op.create_table(
        "seen_webhooks",
        sa.Column("webhook_id", sa.String(128), nullable=False),
        sa.Column("store_hash", sa.String(64), nullable=False),
        sa.Column("received_at", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("webhook_id"),
    )
    op.create_index("ix_seen_webhooks_received_at", "seen_webhooks", ["received_at"])
