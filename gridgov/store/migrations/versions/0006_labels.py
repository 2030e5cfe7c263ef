"""Category labels: what operators filed each case under, beside what intake proposed, for
retraining the text classifiers.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-22
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from gridgov.store.types import UtcDateTime

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "category_labels",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("report_id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("taxonomy", sa.String(length=16), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("proposed_code", sa.String(length=32), nullable=True),
        sa.Column("proposed_confidence", sa.Float(), nullable=True),
        sa.Column("final_code", sa.String(length=32), nullable=False),
        sa.Column("outcome", sa.String(length=16), nullable=False),
        sa.Column("actor_id", sa.String(length=64), nullable=False),
        sa.Column("at", UtcDateTime(), nullable=False),
        sa.CheckConstraint(
            "taxonomy in ('hotline', 'urban')", name=op.f("ck_category_labels_taxonomy")
        ),
        sa.CheckConstraint(
            "outcome in ('confirmed', 'corrected', 'manual')",
            name=op.f("ck_category_labels_outcome"),
        ),
        sa.ForeignKeyConstraint(
            ["case_id"], ["cases.id"], name=op.f("fk_category_labels_case_id_cases")
        ),
        sa.ForeignKeyConstraint(
            ["report_id"], ["reports.id"], name=op.f("fk_category_labels_report_id_reports")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_category_labels")),
        sa.UniqueConstraint("case_id", name=op.f("uq_category_labels_case_id")),
    )
    op.create_index("ix_category_labels_taxonomy_id", "category_labels", ["taxonomy", "id"])


def downgrade() -> None:
    op.drop_table("category_labels")
