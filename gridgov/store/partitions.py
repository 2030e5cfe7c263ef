"""Monthly partitions of the `cases` projection on PostgreSQL (SQLite keeps one table).

    cases                      partitioned by range of created_at (migration 0009)
    ├── cases_2026_11          [2026-11-01, 2026-12-01) Beijing time
    ├── cases_2026_12          …one per month, created ahead by the worker
    └── cases_default          anything no month partition covers: an insert never fails

Only `cases` is partitioned. `case_events` and `reports` keep one table each, because their
unique keys are what keeps the data right — (case_id, seq) stops two deciders on one case,
global_seq orders the chain, (channel, external_id) makes intake exactly-once — and PostgreSQL
enforces a unique key on a partitioned table only if it contains the partition key.

Months are Beijing-time months (`PARTITION_ZONE`), so that an evaluation month reads exactly one
partition. A month partition is added as a plain table and then attached, which locks the parent
only in SHARE UPDATE EXCLUSIVE mode (readers and writers go on); rows that had landed in the
default partition for that month are moved into it first. A month that would overlap an existing
partition (bounds made under another rule) is skipped: its rows stay in the default partition.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from zoneinfo import ZoneInfo

from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

PARENT = "cases"
DEFAULT_PARTITION = "cases_default"
PARTITION_ZONE = ZoneInfo("Asia/Shanghai")
PARTITION_NAME = re.compile(r"^cases_(\d{4})_(\d{2})$")
# Any table that is a partition of `cases`, for leaving them out of model comparisons.
PARTITION_TABLE = re.compile(r"^cases_(\d{4}_\d{2}|default)$")
# Ahead of the current month: a worker that stops for two months still leaves room.
MONTHS_AHEAD = 3
# Waiting longer than this for the parent's lock would stall every query queued behind us.
LOCK_TIMEOUT = "5s"
# pg_advisory_xact_lock key: one partition maker at a time ("gridgov partitions").
ADVISORY_KEY = 0x67726964_70617274
# SQLSTATE invalid_object_definition: "partition … would overlap partition …".
OVERLAP = "42P17"


@dataclass(frozen=True, slots=True)
class Partition:
    name: str
    bounds: str  # PostgreSQL's own words: FOR VALUES FROM (…) TO (…), or DEFAULT
    rows: int  # the planner's estimate (reltuples), -1 before the first ANALYZE


def partition_name(month: date) -> str:
    return f"cases_{month.year:04d}_{month.month:02d}"


def month_start(month: date, zone: ZoneInfo = PARTITION_ZONE) -> datetime:
    """The first instant of `month` (its day is ignored) in `zone`, as UTC."""
    return datetime.combine(month.replace(day=1), time(0), tzinfo=zone).astimezone(UTC)


def next_month(month: date) -> date:
    return date(month.year + (month.month == 12), month.month % 12 + 1, 1)


def months_from(first: date, count: int) -> list[date]:
    found, month = [], first.replace(day=1)
    for _ in range(count):
        found.append(month)
        month = next_month(month)
    return found


def is_partitioned(session: Session) -> bool:
    """Whether `cases` is a partitioned table (PostgreSQL after migration 0009)."""
    if session.get_bind().dialect.name != "postgresql":
        return False
    kind = session.scalar(
        text("select relkind from pg_class where oid = to_regclass(:name)"), {"name": PARENT}
    )
    return bool(kind == "p")


def partitions(session: Session) -> list[Partition]:
    """Every partition of `cases`, oldest month first and the default last."""
    if not is_partitioned(session):
        return []
    rows = session.execute(
        text(
            "select c.relname, pg_get_expr(c.relpartbound, c.oid), c.reltuples::bigint "
            "from pg_inherits i join pg_class c on c.oid = i.inhrelid "
            "where i.inhparent = to_regclass(:name) order by c.relname"
        ),
        {"name": PARENT},
    )
    found = [Partition(name, bounds, int(estimate)) for name, bounds, estimate in rows]
    return sorted(found, key=lambda p: (p.name == DEFAULT_PARTITION, p.name))


def ensure_months(session: Session, months: Iterable[date]) -> list[str]:
    """Add the month partitions of `months` that are missing; returns the names added.

    The caller owns the transaction; on SQLite or an unpartitioned store this does nothing.
    """
    if not is_partitioned(session):
        return []
    session.execute(text(f"set local lock_timeout = '{LOCK_TIMEOUT}'"))
    session.execute(text("select pg_advisory_xact_lock(:key)"), {"key": ADVISORY_KEY})
    existing = {p.name for p in partitions(session)}
    added = []
    for month in months:
        name = partition_name(month)
        if name in existing:
            continue
        try:
            with session.begin_nested():
                _add_month(session, name, month_start(month), month_start(next_month(month)))
        except DBAPIError as exc:
            if getattr(exc.orig, "sqlstate", None) != OVERLAP:
                raise
            continue
        added.append(name)
    return added


def ensure_ahead(session: Session, now: datetime, months_ahead: int = MONTHS_AHEAD) -> list[str]:
    """The current month's partition and the next `months_ahead` months'."""
    this_month = now.astimezone(PARTITION_ZONE).date().replace(day=1)
    return ensure_months(session, months_from(this_month, months_ahead + 1))


def _add_month(session: Session, name: str, start: datetime, end: datetime) -> None:
    bounds = f"from ('{start.isoformat()}') to ('{end.isoformat()}')"
    session.execute(
        text(f'create table "{name}" (like {PARENT} including defaults including constraints)')
    )
    # Rows that arrived before the month had its partition wait in the default one; the attach
    # below would refuse to cover them there.
    session.execute(
        text(
            f"with moved as (delete from {DEFAULT_PARTITION} "
            "where created_at >= :start and created_at < :end returning *) "
            f'insert into "{name}" select * from moved'
        ),
        {"start": start, "end": end},
    )
    session.execute(text(f'alter table {PARENT} attach partition "{name}" for values {bounds}'))
