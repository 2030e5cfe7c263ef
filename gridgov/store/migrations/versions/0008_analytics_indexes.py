"""Indexes for the dashboard figures: cases by city and by closing time per scope level, open
cases by their path (a partial index), and the event log by action and time.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-29
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

INDEXES = (
    ("ix_cases_city_code_created_at", "cases", ["city_code", "created_at"]),
    ("ix_cases_city_code_closed_at", "cases", ["city_code", "closed_at"]),
    ("ix_cases_district_code_closed_at", "cases", ["district_code", "closed_at"]),
    ("ix_cases_street_code_closed_at", "cases", ["street_code", "closed_at"]),
    ("ix_case_events_action_at", "case_events", ["action", "at", "case_id"]),
)
# The states of a case not yet closed when this migration was written.
OPEN = (
    "state in ('reported', 'filed', 'dispatched', 'accepted', 'returned', 'handled', "
    "'verified', 'reopened')"
)


def upgrade() -> None:
    for name, table, columns in INDEXES:
        op.create_index(name, table, columns)
    op.create_index(
        "ix_cases_open_path",
        "cases",
        ["city_code", "district_code", "street_code", "community_code", "handle_due"],
        sqlite_where=sa.text(OPEN),
        postgresql_where=sa.text(OPEN),
    )


def downgrade() -> None:
    op.drop_index("ix_cases_open_path", table_name="cases")
    for name, table, _ in reversed(INDEXES):
        op.drop_index(name, table_name=table)
