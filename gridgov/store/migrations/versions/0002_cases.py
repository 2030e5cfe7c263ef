"""Reports, cases (a projection), the append-only case event log and its audit head and anchors.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-01
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from gridgov.store.types import UtcDateTime

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

GENESIS_HASH = "0" * 64
REFUSAL = "case_events is append-only / 工单事件只能追加"


def upgrade() -> None:
    op.create_table(
        "cases",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("category_code", sa.String(length=32), nullable=True),
        sa.Column("layer_id", sa.Integer(), nullable=True),
        sa.Column("city_code", sa.String(length=64), nullable=True),
        sa.Column("district_code", sa.String(length=64), nullable=True),
        sa.Column("street_code", sa.String(length=64), nullable=True),
        sa.Column("community_code", sa.String(length=64), nullable=True),
        sa.Column("compound_code", sa.String(length=64), nullable=True),
        sa.Column("micro_code", sa.String(length=64), nullable=True),
        sa.Column("special_codes", sa.JSON(), nullable=False),
        sa.Column("owning_level", sa.String(length=16), nullable=False),
        sa.Column("owning_code", sa.String(length=64), nullable=True),
        sa.Column("assignee_department", sa.String(length=128), nullable=True),
        sa.Column("assignee_person", sa.String(length=128), nullable=True),
        sa.Column("accept_due", UtcDateTime(), nullable=True),
        sa.Column("handle_due", UtcDateTime(), nullable=True),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("updated_at", UtcDateTime(), nullable=False),
        sa.Column("filed_at", UtcDateTime(), nullable=True),
        sa.Column("dispatched_at", UtcDateTime(), nullable=True),
        sa.Column("closed_at", UtcDateTime(), nullable=True),
        sa.Column("return_count", sa.Integer(), nullable=False),
        sa.Column("escalation_count", sa.Integer(), nullable=False),
        sa.Column("supervised_count", sa.Integer(), nullable=False),
        sa.Column("satisfaction", sa.String(length=32), nullable=True),
        sa.Column("merged_into", sa.Integer(), nullable=True),
        sa.Column("last_seq", sa.Integer(), nullable=False),
        sa.Column("sweep_at", UtcDateTime(), nullable=True),
        sa.Column("lon", sa.Float(), nullable=True),
        sa.Column("lat", sa.Float(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_cases")),
    )
    op.create_index("ix_cases_state_handle_due", "cases", ["state", "handle_due"])
    op.create_index("ix_cases_sweep_at", "cases", ["sweep_at"])
    op.create_index("ix_cases_district_code_created_at", "cases", ["district_code", "created_at"])
    op.create_index("ix_cases_street_code_created_at", "cases", ["street_code", "created_at"])
    op.create_index("ix_cases_community_code", "cases", ["community_code"])
    op.create_index("ix_cases_owning_code_state", "cases", ["owning_code", "state"])

    op.create_table(
        "reports",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("channel", sa.String(length=32), nullable=False),
        sa.Column("external_id", sa.String(length=128), nullable=False),
        sa.Column("received_at", UtcDateTime(), nullable=False),
        sa.Column("reported_at", UtcDateTime(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("address", sa.Text(), nullable=True),
        sa.Column("lon", sa.Float(), nullable=True),
        sa.Column("lat", sa.Float(), nullable=True),
        sa.Column("crs", sa.String(length=16), nullable=False),
        sa.Column("reporter_name", sa.String(length=100), nullable=True),
        sa.Column("reporter_phone", sa.String(length=32), nullable=True),
        sa.Column("category_code", sa.String(length=32), nullable=True),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(["case_id"], ["cases.id"], name=op.f("fk_reports_case_id_cases")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_reports")),
        sa.UniqueConstraint("channel", "external_id", name=op.f("uq_reports_channel_external_id")),
    )
    op.create_index(op.f("ix_reports_case_id"), "reports", ["case_id"])

    op.create_table(
        "case_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("global_seq", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("action", sa.String(length=32), nullable=False),
        sa.Column("kind", sa.String(length=48), nullable=False),
        sa.Column("actor_id", sa.String(length=128), nullable=False),
        sa.Column("role", sa.String(length=32), nullable=False),
        sa.Column("at", UtcDateTime(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("prev_hash", sa.String(length=64), nullable=False),
        sa.Column("hash", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(
            ["case_id"], ["cases.id"], name=op.f("fk_case_events_case_id_cases")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_case_events")),
        sa.UniqueConstraint("case_id", "seq", name=op.f("uq_case_events_case_id_seq")),
        sa.UniqueConstraint("global_seq", name=op.f("uq_case_events_global_seq")),
    )

    op.create_table(
        "audit_head",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("global_seq", sa.Integer(), nullable=False),
        sa.Column("hash", sa.String(length=64), nullable=False),
        sa.CheckConstraint("id = 1", name=op.f("ck_audit_head_single_row")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_head")),
    )
    op.execute(
        sa.text("insert into audit_head (id, global_seq, hash) values (1, 0, :h)").bindparams(
            h=GENESIS_HASH
        )
    )

    op.create_table(
        "audit_anchors",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("global_seq", sa.Integer(), nullable=False),
        sa.Column("hash", sa.String(length=64), nullable=False),
        sa.Column("recorded_at", UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_anchors")),
    )
    op.create_index(op.f("ix_audit_anchors_global_seq"), "audit_anchors", ["global_seq"])
    _refuse_changes_to_events()


def _refuse_changes_to_events() -> None:
    """Make the database itself refuse UPDATE and DELETE on the event log."""
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            f"""
            create function case_events_append_only() returns trigger language plpgsql as $$
            begin
                raise exception '{REFUSAL}';
            end $$
            """
        )
        op.execute(
            "create trigger case_events_append_only before update or delete on case_events "
            "for each row execute function case_events_append_only()"
        )
        return
    for verb in ("update", "delete"):
        op.execute(
            f"create trigger case_events_no_{verb} before {verb} on case_events "
            f"begin select raise(abort, '{REFUSAL}'); end"
        )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("drop trigger if exists case_events_append_only on case_events")
        op.execute("drop function if exists case_events_append_only()")
    for table in ("audit_anchors", "audit_head", "case_events", "reports", "cases"):
        op.drop_table(table)
