"""What intake stores beyond the case loop: reports stored many at a time, the queue of reports
waiting for manual location, and the channels' API keys (their SHA-256 only).

The caller owns the transaction, as for `CaseRepository`; a batch takes the locks in the order
that module documents (write lock, case rows, audit head), starting with `new_case_ids` and
`begin_intake`.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import psycopg
from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from gridgov.core.errors import NotFound
from gridgov.store.cases import (
    RESERVE_IDS,
    CaseRepository,
    ConcurrentChange,
    ReportExists,
    StoredReport,
    among,
    core_table,
    driver_of,
    insert_many,
    merge_lock,
    merge_locked,
    pipelined,
    read_together,
    reserve_ids,
    stored_report,
    violated_table,
)
from gridgov.store.tables import CaseRow, IntakeKeyRow, ReportRow
from gridgov.workflow.events import CaseEvent, ChainHead

# pg_advisory_xact_lock key: intake batches take turns across processes ("gridgov intake").
INTAKE_LOCK_KEY = 0x67726964_696E7461

LOCATED = "located"
AWAITING_MANUAL = "awaiting_manual"
LOCATION_STATUSES = (LOCATED, AWAITING_MANUAL)


@dataclass(frozen=True, slots=True)
class StoredSignature:
    """What the duplicate index needs of a stored report and its case."""

    id: int
    case_id: int
    merged_into: int | None
    channel: str
    external_id: str
    lon: float
    lat: float
    reported_at: datetime
    category_code: str | None
    text: str
    intake: dict[str, Any] | None


SIGNATURE_COLUMNS = tuple(f for f in StoredSignature.__slots__ if f != "merged_into")


@dataclass(frozen=True, slots=True)
class IntakeKey:
    id: int
    channel: str
    key_hash: str
    label: str
    created_at: datetime
    revoked_at: datetime | None


class IntakeRepository:
    """Batched report rows, the manual location queue and API keys."""

    def __init__(self, session: Session) -> None:
        self._session = session
        self.cases = CaseRepository(session)

    def new_case_ids(self, count: int) -> list[int]:
        """Ids for `count` cases the batch will open; must be the transaction's first call. They
        need no turn on PostgreSQL (the sequence hands each out once), so a batch can decide its
        duplicates with them before it takes the turn (`begin_intake`); on SQLite the database
        write lock, taken here, is the turn, and the ids follow the highest stored."""
        if self._session.get_bind().dialect.name != "postgresql":
            self.cases.begin_write()
        return self.cases.reserve_case_ids(count)

    def begin_intake(
        self,
        *,
        new_reports: int,
        since: datetime,
        after_id: int,
        merging: Mapping[int, int] | None = None,
        head: bool = False,
    ) -> Turn:
        """Become the intake writer until commit, after `new_case_ids` and before anything else.
        Reserves ids for `new_reports` reports, and reads the reports other processes stored
        above `after_id` since `since` (`reports_since`). `merging` names the cases the batch
        expects to merge reports into, each with the sequence number its state is known to:
        their rows are locked and their events since read (`CaseRepository.lock_for_merge`);
        they, or `head`, lock the audit head too.

        On PostgreSQL an advisory lock makes intake batches of every process take turns from
        here on, not only at the audit chain's head (which they reach later anyway): each sees
        every report the ones before it committed, and reserves its report ids after them. All
        of it goes as one round trip (`read_together`). On SQLite the write lock `new_case_ids`
        took does it.
        """
        merging = merging or {}
        events: Mapping[int, list[CaseEvent]] = {}
        chain: ChainHead | None = None
        if self._session.get_bind().dialect.name != "postgresql":
            report_ids = self.reserve_report_ids(new_reports)
            caught_up = self.reports_since(after_id, since)
            if merging:
                events, chain = self.cases.lock_for_merge(merging)
            elif head:
                chain = self.cases.lock_head()
            return Turn(report_ids, caught_up, events, chain)
        together = len(merging) <= 500 and bool(merging or head)
        answers = read_together(
            self._session,
            [
                ("select pg_advisory_xact_lock(%s)", (INTAKE_LOCK_KEY,)),
                (_CAUGHT_UP, (after_id, since)),
                (RESERVE_IDS, ("reports", new_reports)),
                *(merge_lock(merging) if together else ()),
            ],
        )
        if together:
            events, chain = merge_locked(merging, answers[3:])
        elif merging:
            events, chain = self.cases.lock_for_merge(merging)
        return Turn(
            sorted(row.id for row in answers[2]),
            [_caught_up(row) for row in answers[1]],
            events,
            chain,
        )

    # Reports

    def highest_report_id(self) -> int:
        return int(self._session.scalar(select(func.max(ReportRow.id))) or 0)

    def by_keys(self, keys: Sequence[tuple[str, str]]) -> dict[tuple[str, str], StoredReport]:
        """The stored reports among (channel, external_id) keys."""
        found: dict[tuple[str, str], StoredReport] = {}
        by_channel: dict[str, list[str]] = {}
        for channel, external_id in sorted(set(keys)):
            by_channel.setdefault(channel, []).append(external_id)
        # One channel per query: SQLite answers `(channel, external_id) IN (VALUES …)` by reading
        # the whole table, but `channel = ? AND external_id IN (…)` from the unique index.
        # Core rows, not ORM objects: this runs before every batch, usually to find nothing.
        reports = core_table(ReportRow)
        for channel, ids in by_channel.items():
            for start in range(0, len(ids), 500):
                rows = self._session.execute(
                    select(reports).where(
                        reports.c.channel == channel,
                        among(self._session, reports.c.external_id, ids[start : start + 500]),
                    )
                )
                for row in rows:
                    found[(row.channel, row.external_id)] = stored_report(row)
        return found

    def reserve_report_ids(self, count: int) -> list[int]:
        """Ids for `count` reports stored later in this transaction (see `reserve_ids`)."""
        return reserve_ids(self._session, core_table(ReportRow), count)

    @contextmanager
    def writes_together(self, case_ids: Iterable[str]) -> Iterator[None]:
        """Run a batch's last statements, its inserts and updates, and commit it, as one round
        trip on PostgreSQL (`pipelined`); nothing may follow in the transaction. On SQLite the
        caller's transaction commits as usual. A unique key taken meanwhile shows only at the
        end; it is answered as the statement alone would be: a report key as `ReportExists`, an
        event sequence of `case_ids` as `ConcurrentChange`, and nothing is stored."""
        try:
            with pipelined(self._session):
                yield
                if self._session.get_bind().dialect.name == "postgresql":
                    # The commit goes with the writes: psycopg sends COMMIT down the pipeline and
                    # waits for all of it at once. The session's own commit then finds the
                    # transaction over and does nothing.
                    driver_of(self._session).commit()
        except (IntegrityError, psycopg.IntegrityError) as exc:
            table = violated_table(exc)
            if table == "reports":
                raise _report_exists() from None
            if table == "case_events":
                raise ConcurrentChange(case_ids) from None
            raise

    def add_reports(self, rows: Sequence[Mapping[str, Any]]) -> None:
        """Insert many reports, each with its reserved `id`, in one statement; `ReportExists` if
        any key arrived meanwhile (the caller's transaction is then to be rolled back)."""
        if not rows:
            return
        # Core, not the ORM bulk path (see `CaseRepository.insert_cases`).
        try:
            insert_many(self._session, core_table(ReportRow), rows)
        except IntegrityError as exc:
            if violated_table(exc) not in (None, "reports"):
                raise  # an earlier write of a pipeline (see `writes_together`)
            raise _report_exists() from None

    def report(self, report_id: int) -> StoredReport:
        row = self._session.get(ReportRow, report_id)
        if row is None:
            raise NotFound("report 上报", report_id)
        return stored_report(row)

    def lock_report(self, report_id: int) -> StoredReport:
        """The report, locked until commit (PostgreSQL), for locating it by hand."""
        query = select(ReportRow).where(ReportRow.id == report_id)
        if self._session.get_bind().dialect.name == "postgresql":
            query = query.with_for_update()
        row = self._session.scalars(query).one_or_none()
        if row is None:
            raise NotFound("report 上报", report_id)
        return stored_report(row)

    def awaiting_location(self, limit: int) -> list[StoredReport]:
        """Reports waiting for manual location, oldest first."""
        rows = self._session.scalars(
            select(ReportRow)
            .where(ReportRow.location_status == AWAITING_MANUAL)
            .order_by(ReportRow.id)
            .limit(limit)
        )
        return [stored_report(r) for r in rows]

    def set_located(
        self, report_id: int, lon: float, lat: float, case_id: int, intake: Mapping[str, Any]
    ) -> None:
        self._session.execute(
            update(ReportRow)
            .where(ReportRow.id == report_id)
            .values(lon=lon, lat=lat, case_id=case_id, location_status=LOCATED, intake=dict(intake))
        )

    def set_intake(self, report_id: int, intake: Mapping[str, Any]) -> None:
        self._session.execute(
            update(ReportRow).where(ReportRow.id == report_id).values(intake=dict(intake))
        )

    def open_case_signatures(
        self, since: datetime, open_states: Sequence[str]
    ) -> list[StoredSignature]:
        """Located reports since `since` whose case (or the case it merged into) is open, for
        warming the dedup index."""
        columns = [getattr(ReportRow, name) for name in SIGNATURE_COLUMNS]
        rows = self._session.execute(
            select(*columns, CaseRow.merged_into)
            .join(CaseRow, CaseRow.id == ReportRow.case_id)
            .where(
                ReportRow.reported_at >= since,
                ReportRow.lon.is_not(None),
                CaseRow.state.in_([*open_states, "merged"]),
            )
            .order_by(ReportRow.id)
        )
        return [StoredSignature(**row._mapping) for row in rows]

    def reports_since(self, after_id: int, since: datetime) -> list[StoredSignature]:
        """Located reports with a case, above `after_id` and since `since`, for catching up with
        other processes inside the intake turn, which every process waits for. Only the reports
        are read: each was stored moments ago by a batch that recorded the case it joined
        (`duplicate_of`), and its case is open but for one closed in those moments, which a
        merge finds closed when it locks it. (Joined with the cases, PostgreSQL hashed every
        open case to find the cases of a dozen reports.)"""
        columns = [getattr(ReportRow, name) for name in SIGNATURE_COLUMNS]
        rows = self._session.execute(
            select(*columns)
            .where(
                ReportRow.id > after_id,
                ReportRow.reported_at >= since,
                ReportRow.lon.is_not(None),
                ReportRow.case_id.is_not(None),
            )
            .order_by(ReportRow.id)
        )
        return [_caught_up(row) for row in rows]

    # API keys

    def add_key(self, channel: str, key_hash: str, label: str, at: datetime) -> int:
        row = IntakeKeyRow(channel=channel, key_hash=key_hash, label=label, created_at=at)
        self._session.add(row)
        self._session.flush()
        return row.id

    def key_by_hash(self, key_hash: str) -> IntakeKey | None:
        row = self._session.scalars(
            select(IntakeKeyRow).where(IntakeKeyRow.key_hash == key_hash)
        ).one_or_none()
        return None if row is None else _key(row)

    def keys(self) -> list[IntakeKey]:
        rows = self._session.scalars(select(IntakeKeyRow).order_by(IntakeKeyRow.id))
        return [_key(r) for r in rows]

    def revoke_key(self, key_id: int, at: datetime) -> IntakeKey:
        row = self._session.get(IntakeKeyRow, key_id)
        if row is None:
            raise NotFound("intake key 接入密钥", key_id)
        if row.revoked_at is None:
            row.revoked_at = at
            self._session.flush()
        return _key(row)


@dataclass(frozen=True, slots=True)
class Turn:
    """What `begin_intake` hands the batch that now holds the intake turn."""

    report_ids: list[int]
    caught_up: list[StoredSignature]  # other processes' reports since the batch's `after_id`
    events: Mapping[int, list[CaseEvent]]  # of the cases it merges into, by case
    head: ChainHead | None  # the audit head, locked


# `begin_intake`'s catch-up on PostgreSQL, as `reports_since` writes it.
_CAUGHT_UP = (
    f"select {', '.join(SIGNATURE_COLUMNS)} from reports where id > %s and reported_at >= %s"
    " and lon is not null and case_id is not null order by id"
)


def _caught_up(row: Any) -> StoredSignature:
    """A report another process stored, indexed under the case its batch said it joined."""
    fields = {name: getattr(row, name) for name in SIGNATURE_COLUMNS}
    # The driver's own rows (`read_together`) come in the session's zone.
    fields["reported_at"] = row.reported_at.astimezone(UTC)
    return StoredSignature(**fields, merged_into=(row.intake or {}).get("duplicate_of"))


def _report_exists() -> ReportExists:
    return ReportExists("a report of this batch was stored by another request")


def _key(row: IntakeKeyRow) -> IntakeKey:
    return IntakeKey(row.id, row.channel, row.key_hash, row.label, row.created_at, row.revoked_at)
