"""Leases on background jobs: one row per job, so that workers on any number of machines take turns.

A worker claims a job with one conditional UPDATE — the lease is free (never taken, released, or
run out) and, unless asked to run now, the job is due — and owns it only if that UPDATE changed
the row. The statement is atomic on both stores: PostgreSQL re-checks the condition on the row it
waited for (so the second of two claimers finds the lease taken and changes nothing), and SQLite
runs it under its database write lock. No advisory locks, no lock held while the job runs: a
worker killed mid-job simply stops renewing, and its lease runs out.

`next_run_at` lives here too, so a schedule ("sweep every minute") is one schedule for the whole
deployment, not one per worker. The caller owns the transaction, as for the other repositories.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Integer, String, Text, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Mapped, Session, mapped_column

from gridgov.store.tables import Base


class JobLeaseRow(Base):
    __tablename__ = "job_leases"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    holder: Mapped[str | None] = mapped_column(String(200))
    lease_until: Mapped[datetime | None]
    next_run_at: Mapped[datetime]
    runs: Mapped[int] = mapped_column(Integer, default=0)
    last_holder: Mapped[str | None] = mapped_column(String(200))
    last_started_at: Mapped[datetime | None]
    last_finished_at: Mapped[datetime | None]
    last_outcome: Mapped[str | None] = mapped_column(String(16))
    last_summary: Mapped[str | None] = mapped_column(Text)


@dataclass(frozen=True, slots=True)
class JobLease:
    """A job's row: who holds it until when, when it is next due, and how its last run went."""

    name: str
    holder: str | None
    lease_until: datetime | None
    next_run_at: datetime
    runs: int
    last_holder: str | None
    last_started_at: datetime | None
    last_finished_at: datetime | None
    last_outcome: str | None
    last_summary: str | None

    def held(self, now: datetime) -> bool:
        return self.lease_until is not None and self.lease_until > now


class JobLeaseRepository:
    """Job rows and their leases; the caller owns the transaction."""

    def __init__(self, session: Session) -> None:
        self._session = session

    def ensure(self, names: Iterable[str], first_run_at: datetime) -> None:
        """Create the rows of jobs never seen before, due at `first_run_at`; keep existing ones."""
        rows = [{"name": n, "next_run_at": first_run_at, "runs": 0} for n in sorted(set(names))]
        if not rows:
            return
        # Two workers starting at once both insert: the loser's rows are skipped, not an error.
        dialect = postgresql if self._session.get_bind().dialect.name == "postgresql" else sqlite
        self._session.execute(dialect.insert(JobLeaseRow).on_conflict_do_nothing(), rows)

    def claim(
        self, name: str, holder: str, now: datetime, until: datetime, *, due_only: bool = True
    ) -> bool:
        """Take the lease on `name` until `until` if it is free (and the job due); True if taken."""
        free = or_(JobLeaseRow.lease_until.is_(None), JobLeaseRow.lease_until <= now)
        query = update(JobLeaseRow).where(JobLeaseRow.name == name, free)
        if due_only:
            query = query.where(JobLeaseRow.next_run_at <= now)
        result = self._session.execute(
            query.values(holder=holder, lease_until=until, last_started_at=now)
        )
        return bool(result.rowcount)  # type: ignore[attr-defined]

    def renew(self, name: str, holder: str, until: datetime) -> bool:
        """Push the lease forward; False when `holder` no longer holds it (it ran out and was taken)."""
        result = self._session.execute(
            update(JobLeaseRow)
            .where(JobLeaseRow.name == name, JobLeaseRow.holder == holder)
            .values(lease_until=until)
        )
        return bool(result.rowcount)  # type: ignore[attr-defined]

    def release(
        self,
        name: str,
        holder: str,
        *,
        finished_at: datetime,
        next_run_at: datetime,
        outcome: str,
        summary: str,
    ) -> bool:
        """Give the lease back and schedule the next run; False if it had been taken over."""
        result = self._session.execute(
            update(JobLeaseRow)
            .where(JobLeaseRow.name == name, JobLeaseRow.holder == holder)
            .values(
                holder=None,
                lease_until=None,
                next_run_at=next_run_at,
                runs=JobLeaseRow.runs + 1,
                last_holder=holder,
                last_finished_at=finished_at,
                last_outcome=outcome,
                last_summary=summary,
            )
        )
        return bool(result.rowcount)  # type: ignore[attr-defined]

    def lease(self, name: str) -> JobLease | None:
        query = select(JobLeaseRow).where(JobLeaseRow.name == name)
        row = self._session.scalars(query.execution_options(populate_existing=True)).one_or_none()
        return None if row is None else _lease(row)

    def leases(self) -> list[JobLease]:
        query = select(JobLeaseRow).order_by(JobLeaseRow.name)
        rows = self._session.scalars(query.execution_options(populate_existing=True))
        return [_lease(r) for r in rows]


def _lease(row: JobLeaseRow) -> JobLease:
    return JobLease(
        name=row.name,
        holder=row.holder,
        lease_until=row.lease_until,
        next_run_at=row.next_run_at,
        runs=row.runs,
        last_holder=row.last_holder,
        last_started_at=row.last_started_at,
        last_finished_at=row.last_finished_at,
        last_outcome=row.last_outcome,
        last_summary=row.last_summary,
    )
