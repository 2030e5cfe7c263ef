"""Labelled examples from operators: one row per filed case, the category it was filed under and
what intake had proposed, with the report's masked text.

Only masked text is stored: these rows feed model files and exports, which must never carry a
phone or ID number. The caller owns the transaction, as for the other repositories.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import (
    CheckConstraint,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    select,
)
from sqlalchemy.orm import Mapped, Session, mapped_column

from gridgov.store.tables import Base, ReportRow

TAXONOMIES = ("hotline", "urban")
OUTCOMES = ("confirmed", "corrected", "manual")


def _one_of(column: str, values: tuple[str, ...]) -> str:
    return f"{column} in ({', '.join(repr(v) for v in values)})"


class CategoryLabelRow(Base):
    __tablename__ = "category_labels"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    report_id: Mapped[int] = mapped_column(ForeignKey("reports.id"))
    # One label per case: filing again (after a return) replaces the earlier answer.
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), unique=True)
    taxonomy: Mapped[str] = mapped_column(String(16))
    text: Mapped[str] = mapped_column(Text)
    proposed_code: Mapped[str | None] = mapped_column(String(32))
    proposed_confidence: Mapped[float | None] = mapped_column(Float)
    final_code: Mapped[str] = mapped_column(String(32))
    outcome: Mapped[str] = mapped_column(String(16))
    actor_id: Mapped[str] = mapped_column(String(64))
    at: Mapped[datetime]

    __table_args__ = (
        Index("ix_category_labels_taxonomy_id", "taxonomy", "id"),
        CheckConstraint(_one_of("taxonomy", TAXONOMIES), name="taxonomy"),
        CheckConstraint(_one_of("outcome", OUTCOMES), name="outcome"),
    )


@dataclass(frozen=True, slots=True)
class LabelSource:
    """The report a case was opened from: its text (masked and not) and intake's decisions."""

    report_id: int
    text: str
    text_masked: str | None
    intake: Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class CategoryLabel:
    id: int
    report_id: int
    case_id: int
    taxonomy: str
    text: str
    proposed_code: str | None
    proposed_confidence: float | None
    final_code: str
    outcome: str
    actor_id: str
    at: datetime


class LabelRepository:
    """Stored labels and the report each one is taken from."""

    def __init__(self, session: Session) -> None:
        self._session = session

    def source_of(self, case_id: int) -> LabelSource | None:
        """The case's first report (the one that opened it), or None for a case without one."""
        row = self._session.scalars(
            select(ReportRow).where(ReportRow.case_id == case_id).order_by(ReportRow.id).limit(1)
        ).first()
        if row is None:
            return None
        return LabelSource(row.id, row.text, row.text_masked, dict(row.intake or {}))

    def put(
        self,
        *,
        report_id: int,
        case_id: int,
        taxonomy: str,
        text: str,
        proposed_code: str | None,
        proposed_confidence: float | None,
        final_code: str,
        outcome: str,
        actor_id: str,
        at: datetime,
    ) -> CategoryLabel:
        """Store the case's label, replacing an earlier one for the same case (it keeps its id)."""
        row = self._session.scalars(
            select(CategoryLabelRow).where(CategoryLabelRow.case_id == case_id).with_for_update()
        ).first()
        if row is None:
            row = CategoryLabelRow(case_id=case_id)
            self._session.add(row)
        row.report_id = report_id
        row.taxonomy = taxonomy
        row.text = text
        row.proposed_code = proposed_code
        row.proposed_confidence = proposed_confidence
        row.final_code = final_code
        row.outcome = outcome
        row.actor_id = actor_id
        row.at = at
        self._session.flush()
        return _label(row)

    def labels(self, taxonomy: str, since: datetime | None = None) -> list[CategoryLabel]:
        """A taxonomy's labels, oldest id first; `since` keeps those recorded at or after it."""
        query = select(CategoryLabelRow).where(CategoryLabelRow.taxonomy == taxonomy)
        if since is not None:
            query = query.where(CategoryLabelRow.at >= since)
        return [_label(r) for r in self._session.scalars(query.order_by(CategoryLabelRow.id))]


def _label(row: CategoryLabelRow) -> CategoryLabel:
    return CategoryLabel(
        id=row.id,
        report_id=row.report_id,
        case_id=row.case_id,
        taxonomy=row.taxonomy,
        text=row.text,
        proposed_code=row.proposed_code,
        proposed_confidence=row.proposed_confidence,
        final_code=row.final_code,
        outcome=row.outcome,
        actor_id=row.actor_id,
        at=row.at,
    )
