"""The relational schema, as declarative rows. Repositories turn these into domain values.

At most one grid layer is active: a partial unique index on `grid_layers.status` where it is
'active' enforces it on both SQLite and PostgreSQL, and `LayerRepository.activate` also locks the
rows it changes so that concurrent activations fail cleanly instead of deadlocking.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, ClassVar

from shapely.geometry.base import BaseGeometry
from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from gridgov.store.types import Geometry, UtcDateTime
from gridgov.workflow.model import CLOSED_STATES, CaseState

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

# Only PostgreSQL has a spatial index; the migration creates it there and the model comparison
# leaves it out, because the SQLite schema answers bbox queries from plain columns instead.
GRIDS_GEOM_GIST_INDEX = "ix_grids_geom_gist"


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map: ClassVar[dict[Any, Any]] = {
        datetime: UtcDateTime(),
        dict[str, Any]: JSON(),
    }


def _one_of(column: str, values: tuple[str, ...]) -> str:
    return f"{column} in ({', '.join(repr(v) for v in values)})"


LAYER_STATUSES = ("draft", "active", "retired")
GRID_LEVELS = ("city", "district", "street", "community", "compound", "micro", "special")
ASSIGNMENT_ROLES = ("grid_worker", "grid_leader", "police_officer", "party_member_volunteer")
PARTY_ORG_KINDS = ("branch", "group")
TASK_STATUSES = ("open", "assigned", "done")
# The states of a case not yet closed, in CaseState order (the partial index below names them).
OPEN_CASE_STATES = tuple(s.value for s in CaseState if s not in CLOSED_STATES)


class LayerRow(Base):
    __tablename__ = "grid_layers"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(16))
    source: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime]
    activated_at: Mapped[datetime | None]
    retired_at: Mapped[datetime | None]
    validation: Mapped[dict[str, Any]] = mapped_column(default=dict)
    note: Mapped[str | None] = mapped_column(Text)

    __table_args__ = (
        CheckConstraint(_one_of("status", LAYER_STATUSES), name="status"),
        Index(
            "uq_grid_layers_one_active",
            "status",
            unique=True,
            sqlite_where=text("status = 'active'"),
            postgresql_where=text("status = 'active'"),
        ),
    )


class GridRow(Base):
    __tablename__ = "grids"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    layer_id: Mapped[int] = mapped_column(ForeignKey("grid_layers.id", ondelete="CASCADE"))
    code: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(200))
    level: Mapped[str] = mapped_column(String(16))
    parent_code: Mapped[str | None] = mapped_column(String(64))
    special_kind: Mapped[str | None] = mapped_column(String(32))
    responsible_unit: Mapped[str | None] = mapped_column(String(200))
    geom: Mapped[BaseGeometry] = mapped_column(Geometry())
    area_m2: Mapped[float] = mapped_column(Float)
    min_lon: Mapped[float] = mapped_column(Float)
    min_lat: Mapped[float] = mapped_column(Float)
    max_lon: Mapped[float] = mapped_column(Float)
    max_lat: Mapped[float] = mapped_column(Float)

    __table_args__ = (
        UniqueConstraint("layer_id", "code"),
        Index("ix_grids_layer_id_level", "layer_id", "level"),
        CheckConstraint(_one_of("level", GRID_LEVELS), name="level"),
    )


class PersonRow(Base):
    __tablename__ = "people"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    phone: Mapped[str | None] = mapped_column(String(32))
    role_title: Mapped[str | None] = mapped_column(String(100))
    organisation: Mapped[str | None] = mapped_column(String(200))
    party_member: Mapped[bool] = mapped_column(Boolean, default=False)
    note: Mapped[str | None] = mapped_column(Text)


class AssignmentRow(Base):
    __tablename__ = "grid_assignments"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id", ondelete="CASCADE"), index=True)
    grid_code: Mapped[str] = mapped_column(String(64))
    role: Mapped[str] = mapped_column(String(32))
    valid_from: Mapped[datetime]
    valid_to: Mapped[datetime | None]

    __table_args__ = (
        Index("ix_grid_assignments_grid_code_role", "grid_code", "role"),
        CheckConstraint(_one_of("role", ASSIGNMENT_ROLES), name="role"),
        CheckConstraint("valid_to is null or valid_to > valid_from", name="period"),
    )


class PartyOrganisationRow(Base):
    __tablename__ = "party_organisations"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    grid_code: Mapped[str] = mapped_column(String(64), index=True)
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(16))
    secretary_id: Mapped[int | None] = mapped_column(ForeignKey("people.id", ondelete="SET NULL"))

    __table_args__ = (CheckConstraint(_one_of("kind", PARTY_ORG_KINDS), name="kind"),)


class PartyRegistrationRow(Base):
    __tablename__ = "party_registrations"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id", ondelete="CASCADE"))
    grid_code: Mapped[str] = mapped_column(String(64), index=True)
    organisation_id: Mapped[int | None] = mapped_column(
        ForeignKey("party_organisations.id", ondelete="SET NULL")
    )
    registered_at: Mapped[datetime]

    __table_args__ = (UniqueConstraint("person_id", "grid_code"),)


class VolunteerTaskRow(Base):
    __tablename__ = "volunteer_tasks"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    grid_code: Mapped[str] = mapped_column(String(64), index=True)
    title: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    assignee_id: Mapped[int | None] = mapped_column(ForeignKey("people.id", ondelete="SET NULL"))
    status: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime]
    due_at: Mapped[datetime | None]

    __table_args__ = (CheckConstraint(_one_of("status", TASK_STATUSES), name="status"),)


# Cases. `case_events` is the source of truth and is append-only: the store only ever INSERTs into
# it (migration 0002 adds triggers that refuse UPDATE and DELETE). `cases` is a projection of the
# events for queries and dashboards, rewritten after every append and rebuildable from the events.
# `audit_head` is one row holding the chain head; appending locks it, so the chain has one writer.


class ReportRow(Base):
    __tablename__ = "reports"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    channel: Mapped[str] = mapped_column(String(32))
    external_id: Mapped[str] = mapped_column(String(128))
    received_at: Mapped[datetime]
    reported_at: Mapped[datetime]
    text: Mapped[str] = mapped_column(Text)
    address: Mapped[str | None] = mapped_column(Text)
    lon: Mapped[float | None] = mapped_column(Float)
    lat: Mapped[float | None] = mapped_column(Float)
    crs: Mapped[str] = mapped_column(String(16))
    reporter_name: Mapped[str | None] = mapped_column(String(100))
    reporter_phone: Mapped[str | None] = mapped_column(String(32))
    category_code: Mapped[str | None] = mapped_column(String(32))
    payload: Mapped[dict[str, Any]] = mapped_column(default=dict)
    case_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id"), index=True)
    # Added by migration 0003 (intake): the masked text roles without the right see, whether the
    # report is located or waits for a person to place it, and what the pipeline decided.
    text_masked: Mapped[str | None] = mapped_column(Text)
    location_status: Mapped[str | None] = mapped_column(String(16))  # located | awaiting_manual
    intake: Mapped[dict[str, Any] | None] = mapped_column(JSON)

    __table_args__ = (
        UniqueConstraint("channel", "external_id"),
        Index("ix_reports_location_status", "location_status"),
    )


class CaseRow(Base):
    __tablename__ = "cases"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    state: Mapped[str] = mapped_column(String(16))
    category_code: Mapped[str | None] = mapped_column(String(32))
    layer_id: Mapped[int | None] = mapped_column(Integer)
    city_code: Mapped[str | None] = mapped_column(String(64))
    district_code: Mapped[str | None] = mapped_column(String(64))
    street_code: Mapped[str | None] = mapped_column(String(64))
    community_code: Mapped[str | None] = mapped_column(String(64))
    compound_code: Mapped[str | None] = mapped_column(String(64))
    micro_code: Mapped[str | None] = mapped_column(String(64))
    special_codes: Mapped[list[str]] = mapped_column(JSON, default=list)
    owning_level: Mapped[str] = mapped_column(String(16))
    owning_code: Mapped[str | None] = mapped_column(String(64))
    assignee_department: Mapped[str | None] = mapped_column(String(128))
    assignee_person: Mapped[str | None] = mapped_column(String(128))
    accept_due: Mapped[datetime | None]
    handle_due: Mapped[datetime | None]
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    filed_at: Mapped[datetime | None]
    dispatched_at: Mapped[datetime | None]
    closed_at: Mapped[datetime | None]
    return_count: Mapped[int] = mapped_column(Integer, default=0)
    escalation_count: Mapped[int] = mapped_column(Integer, default=0)
    supervised_count: Mapped[int] = mapped_column(Integer, default=0)
    satisfaction: Mapped[str | None] = mapped_column(String(32))
    merged_into: Mapped[int | None] = mapped_column(Integer)
    last_seq: Mapped[int] = mapped_column(Integer, default=0)
    # When the sweeper should next look at the case (warning or escalation); null: never.
    sweep_at: Mapped[datetime | None]
    lon: Mapped[float | None] = mapped_column(Float)
    lat: Mapped[float | None] = mapped_column(Float)

    __table_args__ = (
        Index("ix_cases_state_handle_due", "state", "handle_due"),
        Index("ix_cases_sweep_at", "sweep_at"),
        Index("ix_cases_district_code_created_at", "district_code", "created_at"),
        Index("ix_cases_street_code_created_at", "street_code", "created_at"),
        Index("ix_cases_community_code", "community_code"),
        Index("ix_cases_owning_code_state", "owning_code", "state"),
        # Migration 0008, for the dashboard figures (gridgov/store/analytics.py).
        Index("ix_cases_city_code_created_at", "city_code", "created_at"),
        Index("ix_cases_city_code_closed_at", "city_code", "closed_at"),
        Index("ix_cases_district_code_closed_at", "district_code", "closed_at"),
        Index("ix_cases_street_code_closed_at", "street_code", "closed_at"),
        # Open cases only, by their path: a dashboard's open and overdue counts for any scope
        # read a prefix of it and nothing else. Queries must spell the state list exactly so.
        Index(
            "ix_cases_open_path",
            "city_code",
            "district_code",
            "street_code",
            "community_code",
            "handle_due",
            sqlite_where=text(_one_of("state", OPEN_CASE_STATES)),
            postgresql_where=text(_one_of("state", OPEN_CASE_STATES)),
        ),
    )


class CaseEventRow(Base):
    __tablename__ = "case_events"

    # `id` is the storage order, which verification reads the log in; `global_seq` is the chain's.
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    global_seq: Mapped[int] = mapped_column(Integer, unique=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"))
    seq: Mapped[int] = mapped_column(Integer)
    action: Mapped[str] = mapped_column(String(32))
    kind: Mapped[str] = mapped_column(String(48))
    actor_id: Mapped[str] = mapped_column(String(128))
    role: Mapped[str] = mapped_column(String(32))
    at: Mapped[datetime]
    reason: Mapped[str] = mapped_column(Text)
    payload: Mapped[dict[str, Any]]
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))

    __table_args__ = (
        UniqueConstraint("case_id", "seq"),
        # Migration 0008: rework and handling times; with case_id the dashboards read it alone.
        Index("ix_case_events_action_at", "action", "at", "case_id"),
    )


class AuditHeadRow(Base):
    __tablename__ = "audit_head"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    global_seq: Mapped[int] = mapped_column(Integer)
    hash: Mapped[str] = mapped_column(String(64))

    __table_args__ = (CheckConstraint("id = 1", name="single_row"),)


class AuditAnchorRow(Base):
    __tablename__ = "audit_anchors"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    global_seq: Mapped[int] = mapped_column(Integer, index=True)
    hash: Mapped[str] = mapped_column(String(64))
    recorded_at: Mapped[datetime]


# Intake. Pushing channels authenticate with a per-channel API key; only its SHA-256 is stored.


class IntakeKeyRow(Base):
    __tablename__ = "intake_keys"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    channel: Mapped[str] = mapped_column(String(32))
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    label: Mapped[str] = mapped_column(String(200), default="")
    created_at: Mapped[datetime]
    revoked_at: Mapped[datetime | None]
