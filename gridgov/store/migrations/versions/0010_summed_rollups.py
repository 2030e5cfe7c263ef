"""Rollups summed from `case_rollups`: `street_rollups` and `department_rollups`.

`case_rollups` has a row per unit (a local day × a street path) and department. Most figures want
one of those two dimensions only, and read an order of magnitude fewer rows from a table summed
over the other: `street_rollups` (per unit, over the departments) for the overview, the trend
and the evaluations of districts and streets; `department_rollups` (per day, district and
department, over the streets) for the department evaluations of a city or district. Their columns
are those of `case_rollups` without the one summed over, read from the database as 0009 left
it, and their rows are summed from the `case_rollups` already built, so the rollups' watermark
stays true.

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-27
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# (table, the column of case_rollups summed over, its key, its indexes' columns)
SUMMED = (
    (
        "street_rollups",
        "department",
        ("day", "city_code", "district_code", "street_code"),
        (("district_code", "day"), ("street_code", "day")),
    ),
    (
        "department_rollups",
        "street_code",
        ("day", "city_code", "district_code", "department"),
        (("district_code", "day"),),
    ),
)


def upgrade() -> None:
    found = sa.inspect(op.get_bind()).get_columns("case_rollups")
    for table, summed_over, key, indexes in SUMMED:
        columns = [c for c in found if c["name"] != summed_over]
        counts = [c["name"] for c in columns if c["name"] not in key]
        op.create_table(
            table,
            *(sa.Column(c["name"], c["type"], nullable=False) for c in columns),
            sa.PrimaryKeyConstraint(*key, name=op.f(f"pk_{table}")),
        )
        for index in indexes:
            op.create_index(f"ix_{table}_{'_'.join(index)}", table, list(index))
        names = ", ".join([*key, *counts])
        sums = ", ".join([*key, *(f"sum({n})" for n in counts)])
        op.execute(
            f"insert into {table} ({names}) "
            f"select {sums} from case_rollups group by {', '.join(key)}"
        )


def downgrade() -> None:
    for table, *_ in SUMMED:
        op.drop_table(table)
