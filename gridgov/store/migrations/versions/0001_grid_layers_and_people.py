"""Grid layers with their grids, and the people assigned to grids.

Revision ID: 0001
Revises:
Create Date: 2026-11-27
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from gridgov.store.types import Geometry, UtcDateTime

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "grid_layers",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("source", sa.Text(), nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("activated_at", UtcDateTime(), nullable=True),
        sa.Column("retired_at", UtcDateTime(), nullable=True),
        sa.Column("validation", sa.JSON(), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.CheckConstraint(
            "status in ('draft', 'active', 'retired')", name=op.f("ck_grid_layers_status")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_grid_layers")),
    )
    op.create_index(
        "uq_grid_layers_one_active",
        "grid_layers",
        ["status"],
        unique=True,
        sqlite_where=sa.text("status = 'active'"),
        postgresql_where=sa.text("status = 'active'"),
    )

    op.create_table(
        "grids",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("layer_id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("level", sa.String(length=16), nullable=False),
        sa.Column("parent_code", sa.String(length=64), nullable=True),
        sa.Column("special_kind", sa.String(length=32), nullable=True),
        sa.Column("responsible_unit", sa.String(length=200), nullable=True),
        sa.Column("geom", Geometry(), nullable=False),
        sa.Column("area_m2", sa.Float(), nullable=False),
        sa.Column("min_lon", sa.Float(), nullable=False),
        sa.Column("min_lat", sa.Float(), nullable=False),
        sa.Column("max_lon", sa.Float(), nullable=False),
        sa.Column("max_lat", sa.Float(), nullable=False),
        sa.CheckConstraint(
            "level in ('city', 'district', 'street', 'community', 'compound', 'micro', 'special')",
            name=op.f("ck_grids_level"),
        ),
        sa.ForeignKeyConstraint(
            ["layer_id"],
            ["grid_layers.id"],
            name=op.f("fk_grids_layer_id_grid_layers"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_grids")),
        sa.UniqueConstraint("layer_id", "code", name=op.f("uq_grids_layer_id_code")),
    )
    op.create_index("ix_grids_layer_id_level", "grids", ["layer_id", "level"])
    if op.get_bind().dialect.name == "postgresql":
        op.create_index("ix_grids_geom_gist", "grids", ["geom"], postgresql_using="gist")

    op.create_table(
        "people",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("phone", sa.String(length=32), nullable=True),
        sa.Column("role_title", sa.String(length=100), nullable=True),
        sa.Column("organisation", sa.String(length=200), nullable=True),
        sa.Column("party_member", sa.Boolean(), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_people")),
    )

    op.create_table(
        "grid_assignments",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("person_id", sa.Integer(), nullable=False),
        sa.Column("grid_code", sa.String(length=64), nullable=False),
        sa.Column("role", sa.String(length=32), nullable=False),
        sa.Column("valid_from", UtcDateTime(), nullable=False),
        sa.Column("valid_to", UtcDateTime(), nullable=True),
        sa.CheckConstraint(
            "role in ('grid_worker', 'grid_leader', 'police_officer', 'party_member_volunteer')",
            name=op.f("ck_grid_assignments_role"),
        ),
        sa.CheckConstraint(
            "valid_to is null or valid_to > valid_from", name=op.f("ck_grid_assignments_period")
        ),
        sa.ForeignKeyConstraint(
            ["person_id"],
            ["people.id"],
            name=op.f("fk_grid_assignments_person_id_people"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_grid_assignments")),
    )
    op.create_index("ix_grid_assignments_grid_code_role", "grid_assignments", ["grid_code", "role"])
    op.create_index(op.f("ix_grid_assignments_person_id"), "grid_assignments", ["person_id"])

    op.create_table(
        "party_organisations",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("grid_code", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("secretary_id", sa.Integer(), nullable=True),
        sa.CheckConstraint("kind in ('branch', 'group')", name=op.f("ck_party_organisations_kind")),
        sa.ForeignKeyConstraint(
            ["secretary_id"],
            ["people.id"],
            name=op.f("fk_party_organisations_secretary_id_people"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_party_organisations")),
    )
    op.create_index(op.f("ix_party_organisations_grid_code"), "party_organisations", ["grid_code"])

    op.create_table(
        "party_registrations",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("person_id", sa.Integer(), nullable=False),
        sa.Column("grid_code", sa.String(length=64), nullable=False),
        sa.Column("organisation_id", sa.Integer(), nullable=True),
        sa.Column("registered_at", UtcDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["organisation_id"],
            ["party_organisations.id"],
            name=op.f("fk_party_registrations_organisation_id_party_organisations"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["person_id"],
            ["people.id"],
            name=op.f("fk_party_registrations_person_id_people"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_party_registrations")),
        sa.UniqueConstraint(
            "person_id", "grid_code", name=op.f("uq_party_registrations_person_id_grid_code")
        ),
    )
    op.create_index(op.f("ix_party_registrations_grid_code"), "party_registrations", ["grid_code"])

    op.create_table(
        "volunteer_tasks",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("grid_code", sa.String(length=64), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("assignee_id", sa.Integer(), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("due_at", UtcDateTime(), nullable=True),
        sa.CheckConstraint(
            "status in ('open', 'assigned', 'done')", name=op.f("ck_volunteer_tasks_status")
        ),
        sa.ForeignKeyConstraint(
            ["assignee_id"],
            ["people.id"],
            name=op.f("fk_volunteer_tasks_assignee_id_people"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_volunteer_tasks")),
    )
    op.create_index(op.f("ix_volunteer_tasks_grid_code"), "volunteer_tasks", ["grid_code"])


def downgrade() -> None:
    for table in (
        "volunteer_tasks",
        "party_registrations",
        "party_organisations",
        "grid_assignments",
        "people",
        "grids",
        "grid_layers",
    ):
        # Dropping a table drops its indexes and constraints with it on both dialects.
        op.drop_table(table)
