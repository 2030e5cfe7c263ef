"""Intake: masked text, location status and pipeline decisions on reports; channel API keys.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-08
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from gridgov.store.types import UtcDateTime

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Nullable columns: SQLite adds them in place, and reports stored before intake keep NULL.
    op.add_column("reports", sa.Column("text_masked", sa.Text(), nullable=True))
    op.add_column("reports", sa.Column("location_status", sa.String(length=16), nullable=True))
    op.add_column("reports", sa.Column("intake", sa.JSON(), nullable=True))
    op.create_index("ix_reports_location_status", "reports", ["location_status"])
    op.create_table(
        "intake_keys",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("channel", sa.String(length=32), nullable=False),
        sa.Column("key_hash", sa.String(length=64), nullable=False),
        sa.Column("label", sa.String(length=200), nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("revoked_at", UtcDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_intake_keys")),
        sa.UniqueConstraint("key_hash", name=op.f("uq_intake_keys_key_hash")),
    )


def downgrade() -> None:
    op.drop_table("intake_keys")
    op.drop_index("ix_reports_location_status", table_name="reports")
    with op.batch_alter_table("reports") as batch:
        batch.drop_column("intake")
        batch.drop_column("location_status")
        batch.drop_column("text_masked")
