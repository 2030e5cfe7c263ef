"""Reports, the append-only case event log with its audit chain, and the `cases` projection.

Appending is one transaction with the decision that produced the events: lock the case, read its
events, decide, then `append` (lock the chain head, `seal`, insert, move the head) and
`save_projection`. A crash therefore never leaves an event without its projection or half a chain.

Locks, always taken in this order so that two writers never wait on each other in a circle:

    1. on SQLite, the database write lock, taken by `begin_write` as the transaction's first
       statement (what BEGIN IMMEDIATE does): a deferred transaction that read first could not
       upgrade to a writer once another connection had committed, and would fail instead of waiting
    2. the case rows (PostgreSQL `FOR UPDATE`, in id order; the sweeper uses `SKIP LOCKED`)
    3. the single `audit_head` row (PostgreSQL `FOR UPDATE`), held until commit

Nothing here UPDATEs or DELETEs `case_events`; migration 0002 makes the database refuse it too.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import psycopg
from psycopg.rows import namedtuple_row
from sqlalchemy import (
    JSON,
    Dialect,
    Row,
    Table,
    and_,
    any_,
    bindparam,
    func,
    insert,
    or_,
    select,
    update,
)
from sqlalchemy.dialects import postgresql
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm import Session
from sqlalchemy.types import TypeEngine

from gridgov.core.errors import Conflict, NotFound
from gridgov.store.tables import (
    AuditAnchorRow,
    AuditHeadRow,
    CaseEventRow,
    CaseRow,
    ReportRow,
)
from gridgov.store.types import UtcDateTime
from gridgov.workflow.events import CaseEvent, ChainHead, PendingEvent, seal
from gridgov.workflow.model import Action, Case, Role

# The grid levels a case's path may name, each with its own projection column.
PATH_COLUMNS = {
    "city": "city_code",
    "district": "district_code",
    "street": "street_code",
    "community": "community_code",
    "compound": "compound_code",
    "micro": "micro_code",
}
# Special grids are kept in the grid path under "special.1", "special.2" … in locator order.
SPECIAL_KEY_PREFIX = "special."

SweepAt = Callable[[Case], datetime | None]


@dataclass(frozen=True, slots=True)
class NewCase:
    """A case to insert: its reserved id, its point, and its state once its first events are
    decided (None leaves a placeholder row that the events and projection fill in later)."""

    id: int
    lon: float | None
    lat: float | None
    created_at: datetime
    case: Case | None = None
    sweep_at: datetime | None = None


class ReportExists(Conflict):
    """Another transaction stored a report with the same channel and external id first."""


class ConcurrentChange(Conflict):
    """Another writer appended to the case first; the whole command was undone."""

    def __init__(self, case_ids: Iterable[str]) -> None:
        self.case_ids = tuple(case_ids)
        names = ", ".join(self.case_ids)
        super().__init__(
            f"工单 {names} 已被他人同时修改，请刷新后重试 / case {names} was changed at the same "
            "time by someone else; reload it and try again"
        )


@dataclass(frozen=True, slots=True)
class StoredReport:
    """A stored report with what intake decided about it (the case loop, intake and report lists
    all read this one record)."""

    id: int
    channel: str
    external_id: str
    received_at: datetime
    reported_at: datetime
    text: str
    text_masked: str | None
    address: str | None
    lon: float | None
    lat: float | None
    crs: str
    reporter_name: str | None
    reporter_phone: str | None
    category_code: str | None
    payload: Mapping[str, Any]
    case_id: int | None
    location_status: str | None
    intake: Mapping[str, Any]


def reserve_ids(session: Session, table: Table, count: int) -> list[int]:
    """`count` unused ids of `table`, in ascending order, for rows inserted later in this
    transaction; they let a batch decide and seal its events before writing any row.

    On SQLite the caller must hold the write lock (`CaseRepository.begin_write`): the ids follow
    the highest stored one, as SQLite's own choice would, and no other writer can take them until
    commit. On PostgreSQL they come from the column's sequence, as a default would.
    """
    if count <= 0:
        return []
    if session.get_bind().dialect.name == "postgresql":
        rows = driver_of(session).execute(RESERVE_IDS, (table.name, count)).fetchall()
        return sorted(row[0] for row in rows)
    highest = session.scalar(select(func.max(table.c.id))) or 0
    return list(range(highest + 1, highest + 1 + count))


def insert_many(session: Session, table: Table, rows: Sequence[Mapping[str, Any]]) -> None:
    """INSERT `rows`, which all name the same columns, as one executemany of the driver.

    Why not `session.execute(insert(table), rows)`: SQLAlchemy builds and type-processes each
    row's parameters through its general machinery, which cost more per row than SQLite takes to
    store it. Here the statement is compiled once per table and columns, and each column's own
    bind processor (the same one SQLAlchemy would apply: UTC times, JSON) runs in one loop.
    """
    if not rows:
        return
    connection = session.connection()
    dialect = connection.dialect
    keys = tuple(rows[0])
    cache_key = (table.name, keys, dialect.name, dialect.paramstyle)
    prepared = _PREPARED_INSERTS.get(cache_key)
    if prepared is None:
        compiled = insert(table).compile(dialect=dialect, column_keys=keys, for_executemany=True)
        names = tuple(compiled.positiontup or ()) if compiled.positional else keys
        processors = tuple(_bind_processor(table.c[n].type, dialect) for n in names)
        prepared = _PREPARED_INSERTS[cache_key] = (
            compiled.string,
            names,
            processors,
            compiled.positional,
        )
    sql, names, processors, positional = prepared
    # Column by column: one comprehension per column beats a generator per row.
    columns = [
        [row[n] for row in rows] if p is None else [p(row[n]) for row in rows]
        for n, p in zip(names, processors, strict=True)
    ]
    params: list[Any] = list(zip(*columns, strict=True))
    if not positional:
        params = [dict(zip(names, values, strict=True)) for values in params]
    connection.exec_driver_sql(sql, params)


def driver_of(session: Session) -> psycopg.Connection[Any]:
    """The psycopg connection under a PostgreSQL session, inside its transaction."""
    driver = session.connection().connection.driver_connection
    assert isinstance(driver, psycopg.Connection)
    return driver


@contextmanager
def pipelined(session: Session) -> Iterator[None]:
    """Send the statements run inside to PostgreSQL without waiting for each one's answer, and
    wait once at the end (psycopg's pipeline mode): a batch's dozen writes cost one round trip
    instead of a dozen, which matters most where writers take turns.

    Only for statements whose answers nobody reads (INSERT and UPDATE without RETURNING). A
    statement's error surfaces later, not where the statement was run: at a later statement
    (as SQLAlchemy's wrapper) or when the block ends (as the driver's own exception), and
    `violated_table` tells whose it was. On SQLite, where a statement costs no round trip, the
    block runs as it is.
    """
    if session.get_bind().dialect.name != "postgresql":
        yield
        return
    with driver_of(session).pipeline():
        yield


def among(session: Session, column: Any, values: Sequence[Any]) -> Any:
    """`column IN values`, written on PostgreSQL as `column = ANY(array)`: one statement text
    however many values there are, which the driver prepares once per connection and PostgreSQL
    plans once (planning over the partitions of `cases` costs more than the lookup), where an
    IN list is a new statement for every length. SQLite's IN as it is."""
    if session.get_bind().dialect.name != "postgresql":
        return column.in_(values)
    return column == any_(bindparam(None, list(values), type_=postgresql.ARRAY(column.type)))


def read_together(
    session: Session, statements: Sequence[tuple[str, Sequence[Any]]]
) -> list[list[Any]]:
    """Run PostgreSQL statements, in order, as one round trip (a psycopg pipeline) and return
    each one's rows as named tuples. Each runs as it would alone: a lock one of them waits for
    is held when the next runs, and the next one's snapshot is taken after it was granted. The
    driver's own types come back (an aware datetime in the session's zone, JSON parsed)."""
    driver = driver_of(session)
    cursors = []
    with driver.pipeline():
        for sql, params in statements:
            cursor = driver.cursor(row_factory=namedtuple_row)
            cursor.execute(sql, params)
            cursors.append(cursor)
    return [cursor.fetchall() for cursor in cursors]


def violated_table(error: BaseException) -> str | None:
    """The table whose constraint a driver error (or SQLAlchemy's wrapper of one) broke, as
    PostgreSQL names it; None from SQLite, whose errors name no table but surface at the
    statement that caused them."""
    diag = getattr(getattr(error, "orig", error), "diag", None)
    return None if diag is None else diag.table_name


def _bind_processor(column_type: TypeEngine[Any], dialect: Dialect) -> Callable[[Any], Any] | None:
    if isinstance(column_type, JSON):
        # Chinese text kept as it is, not as \uXXXX escapes: a third of the bytes, and encoded
        # in half the time. Reading is the same `json.loads` either way.
        return _COMPACT_JSON.encode
    processor: Callable[[Any], Any] | None = column_type.dialect_impl(dialect).bind_processor(
        dialect
    )
    return processor


_COMPACT_JSON = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))

# Compiled INSERT statements of `insert_many`, by table, columns and dialect: a handful.
_PREPARED_INSERTS: dict[
    tuple[str, tuple[str, ...], str, str], tuple[str, tuple[str, ...], tuple[Any, ...], bool]
] = {}


def core_table(model: type[Any]) -> Table:
    """The Core table under a mapped class, for statements that skip the ORM's bookkeeping."""
    table = model.__table__
    assert isinstance(table, Table)
    return table


def special_codes(grid_codes: Mapping[str, str]) -> list[str]:
    """The special grids on a case's grid path, in the order they were located."""
    keys = sorted(
        (k for k in grid_codes if k.startswith(SPECIAL_KEY_PREFIX)),
        key=lambda k: int(k.removeprefix(SPECIAL_KEY_PREFIX)),
    )
    return [grid_codes[k] for k in keys]


class CaseRepository:
    """Reports, events and the projection; the caller owns the transaction."""

    def __init__(self, session: Session) -> None:
        self._session = session

    @property
    def _postgres(self) -> bool:
        return self._session.get_bind().dialect.name == "postgresql"

    def begin_write(self) -> None:
        """Become the writer now; must be the transaction's first statement (see module doc)."""
        if not self._postgres:
            self._session.execute(
                update(AuditHeadRow)
                .where(AuditHeadRow.id == 1)
                .values(global_seq=AuditHeadRow.global_seq)
            )

    # Reports

    def report_by_key(self, channel: str, external_id: str) -> StoredReport | None:
        row = self._session.scalars(
            select(ReportRow).where(
                ReportRow.channel == channel, ReportRow.external_id == external_id
            )
        ).one_or_none()
        return None if row is None else stored_report(row)

    def report(self, report_id: int) -> StoredReport:
        row = self._session.get(ReportRow, report_id)
        if row is None:
            raise NotFound("report 上报", report_id)
        return stored_report(row)

    def reports_of(self, case_id: int) -> list[StoredReport]:
        rows = self._session.scalars(
            select(ReportRow).where(ReportRow.case_id == case_id).order_by(ReportRow.id)
        )
        return [stored_report(r) for r in rows]

    def add_report(self, **values: Any) -> int:
        """Store a report; `ReportExists` if its (channel, external_id) arrived meanwhile."""
        row = ReportRow(**values)
        try:
            with self._session.begin_nested():
                self._session.add(row)
                self._session.flush()
        except IntegrityError:
            raise ReportExists(f"report {values['channel']}/{values['external_id']}") from None
        return row.id

    @contextmanager
    def savepoint(self) -> Iterator[None]:
        """Undo only what the block wrote if it fails, keeping the transaction usable."""
        with self._session.begin_nested():
            yield

    def link_report(self, report_id: int, case_id: int) -> None:
        self._session.execute(
            update(ReportRow).where(ReportRow.id == report_id).values(case_id=case_id)
        )

    # Cases

    def open_case(self, created_at: datetime, lon: float | None, lat: float | None) -> int:
        """Reserve a case id with a placeholder projection row; its first event follows."""
        row = CaseRow(
            state="reported",
            special_codes=[],
            owning_level="grid",
            created_at=created_at,
            updated_at=created_at,
            return_count=0,
            escalation_count=0,
            supervised_count=0,
            last_seq=0,
            lon=lon,
            lat=lat,
        )
        self._session.add(row)
        self._session.flush()
        return row.id

    def reserve_case_ids(self, count: int) -> list[int]:
        """Ids for `count` new cases, for `insert_cases`; call it as the writer (`begin_write`)."""
        return reserve_ids(self._session, core_table(CaseRow), count)

    def insert_cases(self, cases: Sequence[NewCase]) -> None:
        """Store new cases with their projection in one statement, before the events naming them."""
        if cases:
            # Core, not the ORM bulk path: the ORM's per-row bookkeeping cost as much as the
            # database. One INSERT of the finished row instead of a placeholder and an UPDATE
            # halves the writes to the table's eleven indexes.
            insert_many(self._session, core_table(CaseRow), [_new_case_values(c) for c in cases])

    def lock_cases(self, case_ids: Iterable[int], *, wait: bool = True) -> None:
        """Lock the cases' rows until commit (PostgreSQL), in id order; NotFound names a
        missing case. Without `wait`, a row another transaction holds is a `ConcurrentChange`."""
        wanted = sorted(set(case_ids))
        query = select(CaseRow.id).where(among(self._session, CaseRow.id, wanted))
        query = query.order_by(CaseRow.id)
        if self._postgres:
            query = query.with_for_update(nowait=not wait)
        try:
            found = set(self._session.scalars(query))
        except OperationalError as exc:
            if isinstance(exc.orig, psycopg.errors.LockNotAvailable):
                raise ConcurrentChange(str(case_id) for case_id in wanted) from exc
            raise
        _require(wanted, found)

    def exists(self, case_id: int) -> bool:
        return self._session.get(CaseRow, case_id) is not None

    def events(self, case_id: int) -> list[CaseEvent]:
        """One case's events, oldest first."""
        rows = self._session.scalars(
            select(CaseEventRow).where(CaseEventRow.case_id == case_id).order_by(CaseEventRow.seq)
        )
        return [_event(r) for r in rows]

    def events_of(self, case_ids: Sequence[int]) -> dict[int, list[CaseEvent]]:
        """The events of several cases, each case's oldest first."""
        grouped: dict[int, list[CaseEvent]] = defaultdict(list)
        events = core_table(CaseEventRow)
        wanted = sorted(set(case_ids))
        for chunk_start in range(0, len(wanted), 500):
            rows = self._session.execute(
                select(events)
                .where(
                    among(self._session, events.c.case_id, wanted[chunk_start : chunk_start + 500])
                )
                .order_by(events.c.case_id, events.c.seq)
            )
            for row in rows:
                grouped[row.case_id].append(_event(row))
        return grouped

    def events_after(self, after: Mapping[int, int]) -> dict[int, list[CaseEvent]]:
        """Each case's events after the sequence number `after` gives it (0 for all of them),
        oldest first: what a caller holding an earlier state of the case has yet to apply."""
        grouped: dict[int, list[CaseEvent]] = defaultdict(list)
        events = core_table(CaseEventRow)
        wanted = sorted(after.items())
        for chunk_start in range(0, len(wanted), 500):
            chunk = wanted[chunk_start : chunk_start + 500]
            rows = self._session.execute(
                select(events)
                .where(or_(*(and_(events.c.case_id == c, events.c.seq > s) for c, s in chunk)))
                .order_by(events.c.case_id, events.c.seq)
            )
            for row in rows:
                grouped[row.case_id].append(_event(row))
        return grouped

    def lock_for_merge(
        self, after: Mapping[int, int], *, wait: bool = True
    ) -> tuple[dict[int, list[CaseEvent]], ChainHead]:
        """Before merging reports into existing cases: lock their rows (`lock_cases`), read
        their events after the sequence number `after` gives each (`events_after`), then lock
        the audit head (`lock_head`), in the store's lock order. On PostgreSQL the three are
        one round trip (`read_together`). Without `wait`, a case row another transaction holds
        is a `ConcurrentChange` at once: for a caller that holds the audit head already, which
        must not wait for a row behind it."""
        if not self._postgres or len(after) > 500:
            self.lock_cases(after, wait=wait)
            return self.events_after(after), self.lock_head()
        try:
            return merge_locked(after, read_together(self._session, merge_lock(after, wait=wait)))
        except psycopg.errors.LockNotAvailable as exc:
            raise ConcurrentChange(str(case_id) for case_id in sorted(after)) from exc

    def case(self, case_id: int) -> Case:
        """The case its events describe (the events, not the projection, are the truth)."""
        events = self.events(case_id)
        if not events:
            raise NotFound("case 工单", case_id)
        return Case.replay(events)

    def case_ids(
        self,
        *,
        scope_code: str | None = None,
        states: Sequence[str] = (),
        owning_code: str | None = None,
        limit: int = 100,
    ) -> list[int]:
        """Ids of cases in a scope (a grid code on their path), newest first."""
        query = select(CaseRow.id).where(CaseRow.last_seq > 0)
        if scope_code is not None:
            columns = [getattr(CaseRow, column) for column in PATH_COLUMNS.values()]
            query = query.where(or_(*(column == scope_code for column in columns)))
        if states:
            query = query.where(CaseRow.state.in_(states))
        if owning_code is not None:
            query = query.where(CaseRow.owning_code == owning_code)
        return list(self._session.scalars(query.order_by(CaseRow.id.desc()).limit(limit)))

    def count(self, model: type[Any]) -> int:
        return self._session.scalar(select(func.count()).select_from(model)) or 0

    def sweep_candidates(self, now: datetime, limit: int) -> list[int]:
        """Cases due a look from the sweeper, locked; those another sweeper holds are skipped."""
        query = (
            select(CaseRow.id)
            .where(CaseRow.sweep_at <= now)
            .order_by(CaseRow.sweep_at, CaseRow.id)
            .limit(limit)
        )
        if self._postgres:
            query = query.with_for_update(skip_locked=True)
        return list(self._session.scalars(query))

    def set_sweep_at(self, case_id: int, at: datetime | None) -> None:
        self._session.execute(update(CaseRow).where(CaseRow.id == case_id).values(sweep_at=at))

    # The log

    def lock_head(self) -> ChainHead:
        """The audit chain's head, locked until commit (PostgreSQL; on SQLite the write lock
        holds it). Take it after any case rows (see the module's lock order)."""
        if self._postgres:
            row = driver_of(self._session).execute(_LOCK_HEAD).fetchone()
            assert row is not None
            return ChainHead(row[0], row[1])
        return self.head()

    def append(
        self, pending: Sequence[PendingEvent], head: ChainHead | None = None
    ) -> list[CaseEvent]:
        """Seal `pending` onto the chain and store it; the head stays locked until commit.

        `head` is the one this transaction locked with `lock_head`, if it did: then nothing here
        waits for an answer, and the whole append can go out with other writes (`pipelined`).
        `ConcurrentChange` leaves the transaction to be rolled back (PostgreSQL refuses anything
        more after the failed insert); a caller that carries on after one wraps the call in
        `savepoint`, as the sweeper does.
        """
        sealed = seal(pending, head or self.lock_head())
        try:
            # The unique (case_id, seq) is the last guard against two deciders on one case.
            insert_many(self._session, core_table(CaseEventRow), [_event_values(e) for e in sealed])
        except IntegrityError as exc:
            if violated_table(exc) not in (None, "case_events"):
                raise  # an earlier write of a pipeline (see `pipelined`)
            raise ConcurrentChange({e.case_id for e in sealed}) from None
        self._session.execute(_MOVE_HEAD, {"seq": sealed[-1].global_seq, "hash": sealed[-1].hash})
        return sealed

    def record_anchor(self, at: datetime) -> None:
        """Copy the current head to the anchors, so that a later cut of the tail shows."""
        # One statement, not a read then an insert, and nothing to answer: every writing
        # transaction ends with this, intake's inside a pipeline.
        self._session.execute(_COPY_HEAD, {"at": at})

    def head(self) -> ChainHead:
        global_seq, head_hash = self._session.execute(
            select(AuditHeadRow.global_seq, AuditHeadRow.hash).where(AuditHeadRow.id == 1)
        ).one()
        return ChainHead(global_seq, head_hash)

    def anchors(self) -> list[ChainHead]:
        """Every recorded head, and the head row itself, for `verify_chain`."""
        rows = self._session.execute(
            select(AuditAnchorRow.global_seq, AuditAnchorRow.hash).order_by(AuditAnchorRow.id)
        )
        return [*(ChainHead(g, h) for g, h in rows), self.head()]

    def all_events(self) -> list[CaseEvent]:
        """The whole log in storage order, which is what verification must look at."""
        rows = self._session.scalars(select(CaseEventRow).order_by(CaseEventRow.id))
        return [_event(r) for r in rows]

    # The projection

    def save_projection(self, case_id: int, case: Case, sweep_at: datetime | None) -> None:
        """Write the read model of one case from its replayed state."""
        values = _projection_values(case, sweep_at)
        self._session.execute(update(CaseRow).where(CaseRow.id == case_id).values(**values))

    def save_projections(self, cases: Sequence[tuple[Case, datetime | None]]) -> None:
        """`save_projection` for many cases as one executemany (a batch of intake)."""
        if cases:
            # Core executemany keyed on a bind parameter: the ORM's bulk UPDATE by primary key
            # does the same statement with per-row bookkeeping that costs more than SQLite does.
            rows = [{"case_id": int(case.id), **_projection_values(case, at)} for case, at in cases]
            self._session.execute(_UPDATE_PROJECTION, rows)

    def rebuild_projection(self, case_id: int, sweep_at: SweepAt) -> Case:
        """Rewrite one case's projection from its events; returns the replayed case."""
        case = self.case(case_id)
        self.save_projection(case_id, case, sweep_at(case))
        return case

    def projection(self, case_id: int) -> dict[str, Any]:
        """The projection row as plain values, for dashboards and tests."""
        row = self._session.get(CaseRow, case_id)
        if row is None:
            raise NotFound("case 工单", case_id)
        return {c.key: getattr(row, c.key) for c in CaseRow.__mapper__.column_attrs}


def _new_case_values(new: NewCase) -> dict[str, Any]:
    if new.case is None:
        values: dict[str, Any] = dict.fromkeys(_PROJECTED_COLUMNS)
        values.update(
            state="reported",
            special_codes=[],
            owning_level="grid",
            created_at=new.created_at,
            updated_at=new.created_at,
            return_count=0,
            escalation_count=0,
            supervised_count=0,
            last_seq=0,
        )
    else:
        values = _projection_values(new.case, new.sweep_at)
    values.update(id=new.id, lon=new.lon, lat=new.lat)
    return values


def _projection_values(case: Case, sweep_at: datetime | None) -> dict[str, Any]:
    codes = case.grid_codes
    values: dict[str, Any] = {column: codes.get(level) for level, column in PATH_COLUMNS.items()}
    values.update(
        state=case.state.value,
        category_code=case.category_code,
        layer_id=case.layer_id,
        special_codes=special_codes(codes),
        owning_level=case.owning_level.value,
        owning_code=case.owning_code,
        assignee_department=case.assignee_department,
        assignee_person=case.assignee_person,
        accept_due=case.accept_due,
        handle_due=case.handle_due,
        created_at=case.reported_at,
        updated_at=case.updated_at,
        filed_at=case.filed_at,
        dispatched_at=case.dispatched_at,
        closed_at=case.closed_at,
        return_count=case.return_count,
        escalation_count=len(case.escalations),
        supervised_count=case.supervise_count,
        satisfaction=case.satisfaction.value if case.satisfaction else None,
        merged_into=int(case.merged_into) if case.merged_into else None,
        last_seq=case.seq,
        sweep_at=sweep_at,
    )
    return values


# Every column `_projection_values` writes; a placeholder row names them all too, so that one
# INSERT statement serves a batch that mixes both.
_PROJECTED_COLUMNS = (
    *PATH_COLUMNS.values(),
    "state",
    "category_code",
    "layer_id",
    "special_codes",
    "owning_level",
    "owning_code",
    "assignee_department",
    "assignee_person",
    "accept_due",
    "handle_due",
    "created_at",
    "updated_at",
    "filed_at",
    "dispatched_at",
    "closed_at",
    "return_count",
    "escalation_count",
    "supervised_count",
    "satisfaction",
    "merged_into",
    "last_seq",
    "sweep_at",
)


def stored_report(row: ReportRow | Row[Any]) -> StoredReport:
    """A report as stored, from its ORM row or a Core row of `reports`."""
    return StoredReport(
        id=row.id,
        channel=row.channel,
        external_id=row.external_id,
        received_at=row.received_at,
        reported_at=row.reported_at,
        text=row.text,
        text_masked=row.text_masked,
        address=row.address,
        lon=row.lon,
        lat=row.lat,
        crs=row.crs,
        reporter_name=row.reporter_name,
        reporter_phone=row.reporter_phone,
        category_code=row.category_code,
        payload=dict(row.payload),
        case_id=row.case_id,
        location_status=row.location_status,
        intake=dict(row.intake or {}),
    )


# Statements every writing transaction runs, built once: SQLAlchemy keys its cache of compiled
# statements on the statement object, and working out that key anew for each call cost more than
# PostgreSQL takes to run them.
_HEAD = core_table(AuditHeadRow)
_MOVE_HEAD = (
    update(_HEAD).where(_HEAD.c.id == 1).values(global_seq=bindparam("seq"), hash=bindparam("hash"))
)
_COPY_HEAD = insert(core_table(AuditAnchorRow)).from_select(
    ["global_seq", "hash", "recorded_at"],
    select(_HEAD.c.global_seq, _HEAD.c.hash, bindparam("at", type_=UtcDateTime())).where(
        _HEAD.c.id == 1
    ),
)
_CASES = core_table(CaseRow)
_UPDATE_PROJECTION = update(_CASES).where(_CASES.c.id == bindparam("case_id"))

# `lock_head` on PostgreSQL, and `lock_for_merge`'s statements, as `lock_cases` and
# `events_after` write them.
_LOCK_CASES = "select id from cases where id = any(%s) order by id for update"
_EVENTS_AFTER = (
    "select e.id, e.global_seq, e.case_id, e.seq, e.action, e.kind, e.actor_id, e.role, e.at,"
    " e.reason, e.payload, e.prev_hash, e.hash from case_events e"
    " join unnest(%s::integer[], %s::integer[]) as wanted(case_id, after)"
    " on e.case_id = wanted.case_id and e.seq > wanted.after order by e.case_id, e.seq"
)
_LOCK_HEAD = "select global_seq, hash from audit_head where id = 1 for update"
# `reserve_ids` on PostgreSQL: (table, count).
RESERVE_IDS = "select nextval(pg_get_serial_sequence(%s, 'id')) as id from generate_series(1, %s)"


def merge_lock(after: Mapping[int, int], *, wait: bool = True) -> list[tuple[str, Sequence[Any]]]:
    """`lock_for_merge`'s statements on PostgreSQL, for a caller's pipeline (`read_together`):
    the cases' rows locked in id order, their events after `after`, the audit head locked; only
    the head when `after` is empty. `merge_locked` reads their answers."""
    ids = sorted(after)
    if not ids:
        return [(_LOCK_HEAD, ())]
    lock = _LOCK_CASES if wait else _LOCK_CASES + " nowait"
    return [(lock, (ids,)), (_EVENTS_AFTER, (ids, [after[i] for i in ids])), (_LOCK_HEAD, ())]


def merge_locked(
    after: Mapping[int, int], answers: Sequence[list[Any]]
) -> tuple[dict[int, list[CaseEvent]], ChainHead]:
    """The events by case and the audit head from the answers to `merge_lock(after)`;
    NotFound names a case that is not stored."""
    *cases, head = answers
    grouped: dict[int, list[CaseEvent]] = defaultdict(list)
    if cases:
        locked, rows = cases
        _require(sorted(after), {row.id for row in locked})
        for row in rows:
            grouped[row.case_id].append(_event(row))
    return grouped, ChainHead(head[0].global_seq, head[0].hash)


def _require(wanted: Iterable[int], found: set[int]) -> None:
    """NotFound for the first of the `wanted` case ids that was not `found`."""
    for case_id in wanted:
        if case_id not in found:
            raise NotFound("case 工单", case_id)


def _event_values(event: CaseEvent) -> dict[str, Any]:
    return {
        "global_seq": event.global_seq,
        "case_id": int(event.case_id),
        "seq": event.seq,
        "action": event.action.value,
        "kind": event.kind,
        "actor_id": event.actor_id,
        "role": event.role.value,
        "at": event.at,
        "reason": event.reason,
        "payload": dict(event.payload),
        "prev_hash": event.prev_hash,
        "hash": event.hash,
    }


def _event(row: Any) -> CaseEvent:
    """An event from its row: mapped (`CaseEventRow`), Core, or the driver's own (its time in
    the session's zone)."""
    return CaseEvent(
        case_id=str(row.case_id),
        seq=row.seq,
        action=Action(row.action),
        actor_id=row.actor_id,
        role=Role(row.role),
        at=row.at.astimezone(UTC),
        reason=row.reason,
        payload=row.payload,
        global_seq=row.global_seq,
        prev_hash=row.prev_hash,
        hash=row.hash,
    )
