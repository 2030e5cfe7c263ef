"""Keeping the analytics store ahead of the cases: month partitions and daily rollups.

The worker's `rollups` job calls `keep_up` every minute: it adds the month partitions of `cases`
that will soon be needed (PostgreSQL) and brings the rollups up to the event log's head. Writers
pay nothing for either — intake stores thousands of reports a second and must not recompute
figures on the way — and the figures stay exact meanwhile, because readers count the cases
touched since the last refresh from the projection (gridgov/store/rollups.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session, sessionmaker

from gridgov.core.clock import Clock
from gridgov.core.errors import InvalidInput
from gridgov.store import partitions
from gridgov.store.partitions import Partition
from gridgov.store.rollups import Refresh, RollupRepository, RollupState, constant_offset


@dataclass(frozen=True, slots=True)
class RollupStatus:
    state: RollupState | None
    head: int
    offset: int | None  # the configured zone's, None when it has daylight saving
    partitions: list[Partition]

    @property
    def behind(self) -> int:
        """Events not yet in the rollups."""
        return self.head - (self.state.seq if self.state else 0)


@dataclass(frozen=True, slots=True)
class KeptUp:
    partitions_added: list[str]
    refresh: Refresh | None  # None: the zone has daylight saving, so no rollups


class RollupService:
    def __init__(self, sessions: sessionmaker[Session], clock: Clock, *, time_zone: ZoneInfo):
        self._sessions = sessions
        self._clock = clock
        self.time_zone = time_zone

    @property
    def offset(self) -> int | None:
        return constant_offset(self.time_zone)

    def keep_up(self) -> KeptUp:
        """Partitions for this month and the next ones, then the rollups up to the log's head."""
        with self._sessions.begin() as session:
            added = partitions.ensure_ahead(session, self._clock.now())
        return KeptUp(added, self.refresh())

    def refresh(self) -> Refresh | None:
        """Recompute the units touched since the last refresh (or build the rollups once)."""
        offset = self.offset
        if offset is None:
            return None
        with self._sessions.begin() as session:
            return RollupRepository(session).refresh(offset, self._clock.now())

    def rebuild(self) -> Refresh:
        """Recompute every unit from the projection, e.g. after rebuilding projections."""
        offset = self.offset
        if offset is None:
            raise InvalidInput(
                "GRIDGOV_TIMEZONE",
                f"{self.time_zone.key} 有夏令时，不建汇总表，统计直接读工单 / {self.time_zone.key} has "
                "daylight saving: no rollups are kept and figures read the cases directly",
            )
        with self._sessions.begin() as session:
            return RollupRepository(session).rebuild(offset, self._clock.now())

    def status(self) -> RollupStatus:
        with self._sessions() as session:
            repo = RollupRepository(session)
            return RollupStatus(
                repo.state(), repo.head(), self.offset, partitions.partitions(session)
            )
