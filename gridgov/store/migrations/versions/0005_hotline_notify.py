"""Status back to 12345: one delivery per (event, order) and the notifier's checkpoint on the log.

The checkpoint starts at the current head of the log, so a database that already holds cases
sends only what happens from now on instead of replaying its whole history to the platform.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-20
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from gridgov.store.types import UtcDateTime

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "hotline_deliveries",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("global_seq", sa.Integer(), nullable=False),
        sa.Column("order_id", sa.String(length=128), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("hotline_status", sa.String(length=32), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("at", UtcDateTime(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("next_attempt_at", UtcDateTime(), nullable=False),
        sa.Column("delivered_at", UtcDateTime(), nullable=True),
        sa.CheckConstraint(
            "status in ('pending', 'delivered', 'failed')",
            name=op.f("ck_hotline_deliveries_status"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_hotline_deliveries")),
        sa.UniqueConstraint(
            "global_seq", "order_id", name=op.f("uq_hotline_deliveries_global_seq_order_id")
        ),
    )
    op.create_index(
        "ix_hotline_deliveries_status_order_id_global_seq",
        "hotline_deliveries",
        ["status", "order_id", "global_seq"],
    )
    op.create_index(
        "ix_hotline_deliveries_status_next_attempt_at",
        "hotline_deliveries",
        ["status", "next_attempt_at"],
    )
    op.create_table(
        "hotline_checkpoint",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("global_seq", sa.Integer(), nullable=False),
        sa.CheckConstraint("id = 1", name=op.f("ck_hotline_checkpoint_single_row")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_hotline_checkpoint")),
    )
    op.execute(
        "insert into hotline_checkpoint (id, global_seq) select 1, global_seq from audit_head"
    )


def downgrade() -> None:
    op.drop_table("hotline_checkpoint")
    op.drop_table("hotline_deliveries")
