"""Daily rollups of the cases (both stores) and, on PostgreSQL, `cases` partitioned by month.

`cases` becomes a table partitioned by range of `created_at`, one partition per Beijing-time
month plus a default partition (gridgov/store/partitions.py). PostgreSQL needs the partition key
in every unique key of a partitioned table, so the primary key becomes (id, created_at); ids
still come from the one sequence, which is what keeps them unique. A foreign key must point at a
unique key, so the three that pointed at `cases.id` — from `reports`, `case_events` and
`category_labels` — are dropped on PostgreSQL (SQLite keeps them). They pointed the wrong way
anyway: the event log is the truth and `cases` its rebuildable projection; every writer inserts
the case row before, and in the same transaction as, the rows naming it, and no case row is ever
deleted. `case_events` and `reports` stay unpartitioned: their unique keys ((case_id, seq),
global_seq, (channel, external_id)) are what stops two deciders and double intake.

The existing rows are copied into the partitioned table (this takes a while on a big store), and
the indexes are built again with the same definitions.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-30
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime, time
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from alembic import op

from gridgov.store.types import UtcDateTime

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ZONE = ZoneInfo("Asia/Shanghai")
MONTHS_AHEAD = 3
# (table, constraint, column) of every foreign key to cases.id when this was written.
CASE_FOREIGN_KEYS = (
    ("reports", "fk_reports_case_id_cases", "case_id"),
    ("case_events", "fk_case_events_case_id_cases", "case_id"),
    ("category_labels", "fk_category_labels_case_id_cases", "case_id"),
)
STATES = (
    "reported",
    "filed",
    "rejected",
    "dispatched",
    "accepted",
    "returned",
    "handled",
    "verified",
    "reopened",
    "closed",
    "evaluated",
    "merged",
)
COHORT_COUNTS = (
    "created",
    "filed",
    "filed_done",
    "closed",
    "closed_on_time",
    "public_filed",
    "dispatched",
    "returned",
    "handled",
    "reworked",
    "evaluated",
    "satisfied",
    "dispatched_handled",
    "handled_on_time",
    "unhandled_shut",
)
PATH = ("city_code", "district_code", "street_code")


def upgrade() -> None:
    _create_rollups()
    if op.get_bind().dialect.name == "postgresql":
        _partition_cases()


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        _unpartition_cases()
    op.drop_table("rollup_state")
    op.drop_table("closing_rollups")
    op.drop_table("case_rollups")


def _counts(names: Sequence[str]) -> list[sa.Column[int]]:
    return [sa.Column(name, sa.Integer(), nullable=False) for name in names]


def _path() -> list[sa.Column[str]]:
    return [sa.Column(name, sa.String(length=64), nullable=False) for name in PATH]


def _create_rollups() -> None:
    op.create_table(
        "case_rollups",
        sa.Column("day", sa.Date(), nullable=False),
        *_path(),
        sa.Column("department", sa.String(length=128), nullable=False),
        *_counts(COHORT_COUNTS),
        *_counts([f"state_{s}" for s in STATES]),
        sa.PrimaryKeyConstraint("day", *PATH, "department", name=op.f("pk_case_rollups")),
    )
    op.create_index("ix_case_rollups_district_code_day", "case_rollups", ["district_code", "day"])
    op.create_index("ix_case_rollups_street_code_day", "case_rollups", ["street_code", "day"])
    op.create_table(
        "closing_rollups",
        sa.Column("day", sa.Date(), nullable=False),
        *_path(),
        sa.Column("closed_day", sa.Date(), nullable=False),
        sa.Column("due_day", sa.Date(), nullable=False),
        *_counts(("closed", "closed_on_time", "late")),
        sa.PrimaryKeyConstraint(
            "day", *PATH, "closed_day", "due_day", name=op.f("pk_closing_rollups")
        ),
    )
    op.create_index("ix_closing_rollups_closed_day", "closing_rollups", ["closed_day"])
    op.create_index(
        "ix_closing_rollups_district_code_closed_day",
        "closing_rollups",
        ["district_code", "closed_day"],
    )
    op.create_index(
        "ix_closing_rollups_street_code_closed_day",
        "closing_rollups",
        ["street_code", "closed_day"],
    )
    op.create_table(
        "rollup_state",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("utc_offset", sa.Integer(), nullable=True),
        sa.Column("built_at", UtcDateTime(), nullable=True),
        sa.Column("refreshed_at", UtcDateTime(), nullable=True),
        sa.CheckConstraint("id = 1", name=op.f("ck_rollup_state_single_row")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_rollup_state")),
    )
    op.execute("insert into rollup_state (id, seq) values (1, 0)")


def _index_definitions(table: str) -> list[tuple[str, str]]:
    """(name, CREATE INDEX …) of the table's own indexes other than its primary key."""
    rows = op.get_bind().execute(
        sa.text(
            "select i.relname, pg_get_indexdef(i.oid) from pg_index x "
            "join pg_class i on i.oid = x.indexrelid "
            "where x.indrelid = to_regclass(:table) and not x.indisprimary order by i.relname"
        ),
        {"table": table},
    )
    # A partitioned table's index reads "ON ONLY cases"; rebuilt, it must reach every partition.
    return [(name, definition.replace(" ON ONLY ", " ON ", 1)) for name, definition in rows]


def _swap_table(partitioned: bool) -> None:
    """Rebuild `cases` as the other kind of table, keeping columns, rows, ids and indexes."""
    indexes = _index_definitions("cases")
    for name, _ in indexes:
        op.execute(f'drop index "{name}"')
    op.execute("alter table cases rename to cases_old")
    op.execute("alter table cases_old rename constraint pk_cases to pk_cases_old")
    sequence = op.get_bind().scalar(sa.text("select pg_get_serial_sequence('cases_old', 'id')"))
    kind = " partition by range (created_at)" if partitioned else ""
    op.execute(
        f"create table cases (like cases_old including defaults including constraints){kind}"
    )
    key = "id, created_at" if partitioned else "id"
    op.execute(f"alter table cases add constraint pk_cases primary key ({key})")
    if sequence is not None:
        op.execute(f"alter sequence {sequence} owned by cases.id")
    if partitioned:
        _create_partitions()
    op.execute("insert into cases select * from cases_old")
    op.execute("drop table cases_old cascade")
    # Built after the copy, as a bulk load would: much faster than maintaining them row by row.
    for _, definition in indexes:
        op.execute(definition)


def _partition_cases() -> None:
    for table, constraint, _ in CASE_FOREIGN_KEYS:
        op.execute(f"alter table {table} drop constraint if exists {constraint}")
    _swap_table(partitioned=True)


def _unpartition_cases() -> None:
    _swap_table(partitioned=False)
    for table, constraint, column in CASE_FOREIGN_KEYS:
        op.create_foreign_key(constraint, table, "cases", [column], ["id"])


def _create_partitions() -> None:
    """A default partition, and one per month from the oldest case to three months ahead."""
    op.execute("create table cases_default partition of cases default")
    oldest, newest = (
        op.get_bind()
        .execute(sa.text("select min(created_at), max(created_at) from cases_old"))
        .one()
    )
    now = datetime.now(UTC)
    first = _month_of(min(oldest or now, now))
    last = _month_of(max(newest or now, now))
    for _ in range(MONTHS_AHEAD):
        last = _next_month(last)
    month = first
    while month <= last:
        following = _next_month(month)
        op.execute(
            f"create table cases_{month:%Y_%m} partition of cases for values from "
            f"('{_start(month).isoformat()}') to ('{_start(following).isoformat()}')"
        )
        month = following


def _month_of(at: datetime) -> date:
    return at.astimezone(ZONE).date().replace(day=1)


def _next_month(month: date) -> date:
    return date(month.year + (month.month == 12), month.month % 12 + 1, 1)


def _start(month: date) -> datetime:
    return datetime.combine(month, time(0), tzinfo=ZONE).astimezone(UTC)
