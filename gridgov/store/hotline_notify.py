"""What the 12345 notifier has planned and sent: one delivery per (event, order), and a checkpoint.

The append-only `case_events` log is the outbox. Planning reads the events past the checkpoint,
stores a pending delivery for each status the platform must hear, and moves the checkpoint, in one
transaction whose first statement locks the checkpoint row, so two notifiers never plan the same
event twice.

Sending never holds a database lock across the HTTP call: `claim_next` takes the oldest pending
delivery of one order (PostgreSQL `FOR UPDATE SKIP LOCKED`) and leases it by pushing its
`next_attempt_at` forward, in a short transaction of its own. Another notifier skips it until the
lease runs out, and skips the later deliveries of the same order because they are not the head.
A notifier that dies mid-send leaves the lease to expire and the delivery is sent again: at least
once, under the same Idempotency-Key.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import (
    CheckConstraint,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    and_,
    exists,
    func,
    insert,
    select,
    update,
)
from sqlalchemy.orm import Mapped, Session, aliased, mapped_column

from gridgov.store.tables import Base, CaseEventRow, CaseRow, ReportRow

DELIVERY_STATUSES = ("pending", "delivered", "failed")


class HotlineDeliveryRow(Base):
    __tablename__ = "hotline_deliveries"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    global_seq: Mapped[int] = mapped_column(Integer)
    order_id: Mapped[str] = mapped_column(String(128))
    case_id: Mapped[int] = mapped_column(Integer)
    hotline_status: Mapped[str] = mapped_column(String(32))
    note: Mapped[str] = mapped_column(Text)
    at: Mapped[datetime]
    status: Mapped[str] = mapped_column(String(16))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    next_attempt_at: Mapped[datetime]
    delivered_at: Mapped[datetime | None]

    __table_args__ = (
        UniqueConstraint("global_seq", "order_id"),
        Index(
            "ix_hotline_deliveries_status_order_id_global_seq", "status", "order_id", "global_seq"
        ),
        Index("ix_hotline_deliveries_status_next_attempt_at", "status", "next_attempt_at"),
        CheckConstraint(
            f"status in ({', '.join(repr(s) for s in DELIVERY_STATUSES)})", name="status"
        ),
    )


class HotlineCheckpointRow(Base):
    __tablename__ = "hotline_checkpoint"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    global_seq: Mapped[int] = mapped_column(Integer)

    __table_args__ = (CheckConstraint("id = 1", name="single_row"),)


@dataclass(frozen=True, slots=True)
class HotlineOrder:
    """A report the 12345 platform pushed: our report id and its order number."""

    report_id: int
    order_id: str


@dataclass(frozen=True, slots=True)
class PlannedDelivery:
    global_seq: int
    order_id: str
    case_id: int
    hotline_status: str
    note: str
    at: datetime


@dataclass(frozen=True, slots=True)
class Delivery:
    id: int
    global_seq: int
    order_id: str
    case_id: int
    hotline_status: str
    note: str
    at: datetime
    status: str
    attempts: int
    last_error: str | None
    next_attempt_at: datetime
    delivered_at: datetime | None


class HotlineDeliveryRepository:
    """Deliveries, the checkpoint and the reads planning needs; the caller owns the transaction."""

    def __init__(self, session: Session) -> None:
        self._session = session

    @property
    def _postgres(self) -> bool:
        return self._session.get_bind().dialect.name == "postgresql"

    # Planning

    def lock_checkpoint(self) -> int:
        """The checkpoint, locked until commit; must be the transaction's first statement.

        On SQLite the no-op UPDATE takes the database write lock at once (as `begin_write` does
        for cases), so a second planner waits here instead of failing on upgrade later.
        """
        if self._postgres:
            query = select(HotlineCheckpointRow.global_seq).where(HotlineCheckpointRow.id == 1)
            return self._session.scalars(query.with_for_update()).one()
        self._session.execute(
            update(HotlineCheckpointRow)
            .where(HotlineCheckpointRow.id == 1)
            .values(global_seq=HotlineCheckpointRow.global_seq)
        )
        return self.checkpoint()

    def checkpoint(self) -> int:
        return self._session.get_one(HotlineCheckpointRow, 1).global_seq

    def move_checkpoint(self, global_seq: int) -> None:
        self._session.execute(
            update(HotlineCheckpointRow)
            .where(HotlineCheckpointRow.id == 1)
            .values(global_seq=global_seq)
        )

    def events_after(self, global_seq: int, limit: int) -> list[tuple[int, int]]:
        """(global_seq, case_id) of the next events on the log, oldest first."""
        rows = self._session.execute(
            select(CaseEventRow.global_seq, CaseEventRow.case_id)
            .where(CaseEventRow.global_seq > global_seq)
            .order_by(CaseEventRow.global_seq)
            .limit(limit)
        )
        return [(g, c) for g, c in rows]

    def cases_with_channel(self, case_ids: Iterable[int], channel: str) -> set[int]:
        """Those of `case_ids` holding a report of `channel`, their own or one merged into them."""
        wanted = set(case_ids)
        found: set[int] = set()
        # Walk merges backwards from the wanted cases: a chain is short (a merged case is closed).
        frontier = {c: c for c in wanted}
        while frontier:
            ids = list(frontier)
            direct = self._session.scalars(
                select(ReportRow.case_id)
                .where(ReportRow.channel == channel, ReportRow.case_id.in_(ids))
                .distinct()
            )
            found.update(frontier[c] for c in direct if c is not None)
            merged = self._session.execute(
                select(CaseRow.id, CaseRow.merged_into).where(CaseRow.merged_into.in_(ids))
            )
            frontier = {
                source: frontier[target]
                for source, target in merged
                if target is not None and frontier[target] not in found
            }
        return found

    def orders(self, report_ids: Iterable[int], channel: str) -> dict[int, str]:
        """Report id → the channel's order number, for those of `report_ids` from `channel`."""
        ids = sorted(set(report_ids))
        if not ids:
            return {}
        rows = self._session.execute(
            select(ReportRow.id, ReportRow.external_id).where(
                ReportRow.channel == channel, ReportRow.id.in_(ids)
            )
        )
        return {r: e for r, e in rows}

    def add_deliveries(self, planned: Sequence[PlannedDelivery], due: datetime) -> None:
        if not planned:
            return
        rows = [
            {
                "global_seq": p.global_seq,
                "order_id": p.order_id,
                "case_id": p.case_id,
                "hotline_status": p.hotline_status,
                "note": p.note,
                "at": p.at,
                "status": "pending",
                "attempts": 0,
                "next_attempt_at": due,
            }
            for p in planned
        ]
        self._session.execute(insert(HotlineDeliveryRow), rows)

    # Sending

    def claim_next(self, now: datetime, lease_until: datetime) -> Delivery | None:
        """Lease the oldest due delivery that heads its order's queue; None when none is due.

        A delivery heads its order's queue when no earlier delivery of that order is pending, so a
        status waiting out a backoff holds back only the later statuses of the same order.
        """
        if not self._postgres:
            # Take SQLite's write lock first: a read-then-write transaction could not upgrade.
            self.lock_checkpoint()
        earlier = aliased(HotlineDeliveryRow)
        query = (
            select(HotlineDeliveryRow)
            .where(
                HotlineDeliveryRow.status == "pending",
                HotlineDeliveryRow.next_attempt_at <= now,
                ~exists().where(
                    and_(
                        earlier.order_id == HotlineDeliveryRow.order_id,
                        earlier.status == "pending",
                        earlier.global_seq < HotlineDeliveryRow.global_seq,
                    )
                ),
            )
            .order_by(HotlineDeliveryRow.global_seq, HotlineDeliveryRow.order_id)
            .limit(1)
        )
        if self._postgres:
            query = query.with_for_update(skip_locked=True)
        row = self._session.scalars(query).one_or_none()
        if row is None:
            return None
        row.attempts += 1
        row.next_attempt_at = lease_until
        self._session.flush()
        return _delivery(row)

    def mark_delivered(self, delivery_id: int, at: datetime) -> None:
        self._session.execute(
            update(HotlineDeliveryRow)
            .where(HotlineDeliveryRow.id == delivery_id, HotlineDeliveryRow.status == "pending")
            .values(status="delivered", delivered_at=at, last_error=None)
        )

    def mark_failed(self, delivery_id: int, error: str) -> None:
        self._session.execute(
            update(HotlineDeliveryRow)
            .where(HotlineDeliveryRow.id == delivery_id, HotlineDeliveryRow.status == "pending")
            .values(status="failed", last_error=error)
        )

    def postpone(self, delivery_id: int, until: datetime, error: str) -> None:
        self._session.execute(
            update(HotlineDeliveryRow)
            .where(HotlineDeliveryRow.id == delivery_id, HotlineDeliveryRow.status == "pending")
            .values(next_attempt_at=until, last_error=error)
        )

    # Reading

    def deliveries(
        self, *, statuses: Sequence[str] = (), order_id: str | None = None, limit: int = 1000
    ) -> list[Delivery]:
        """Deliveries in log order, optionally of some statuses or one order."""
        query = select(HotlineDeliveryRow)
        if statuses:
            query = query.where(HotlineDeliveryRow.status.in_(statuses))
        if order_id is not None:
            query = query.where(HotlineDeliveryRow.order_id == order_id)
        query = query.order_by(HotlineDeliveryRow.global_seq, HotlineDeliveryRow.order_id)
        return [_delivery(r) for r in self._session.scalars(query.limit(limit))]

    def counts(self) -> dict[str, int]:
        """How many deliveries are in each status."""
        rows = self._session.execute(
            select(HotlineDeliveryRow.status, func.count()).group_by(HotlineDeliveryRow.status)
        )
        return {s: 0 for s in DELIVERY_STATUSES} | {s: n for s, n in rows}


def _delivery(row: HotlineDeliveryRow) -> Delivery:
    return Delivery(
        id=row.id,
        global_seq=row.global_seq,
        order_id=row.order_id,
        case_id=row.case_id,
        hotline_status=row.hotline_status,
        note=row.note,
        at=row.at,
        status=row.status,
        attempts=row.attempts,
        last_error=row.last_error,
        next_attempt_at=row.next_attempt_at,
        delivered_at=row.delivered_at,
    )
