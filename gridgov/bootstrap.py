"""The one wiring function: settings in, a runtime with every service out."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from gridgov.config import Settings
from gridgov.core.clock import Clock, SystemClock
from gridgov.services.cases import CaseService
from gridgov.services.grid_admin import GridAdmin
from gridgov.services.locating import GridLocating, IndexParameters
from gridgov.services.people import PeopleService
from gridgov.store.db import make_engine, session_factory
from gridgov.workflow.calendar import WorkingCalendar
from gridgov.workflow.categories import load_taxonomy
from gridgov.workflow.routing import load_responsibilities


@dataclass
class Runtime:
    settings: Settings
    engine: Engine
    sessions: sessionmaker[Session]
    clock: Clock
    grids: GridAdmin
    locating: GridLocating
    people: PeopleService
    cases: CaseService

    def close(self) -> None:
        self.engine.dispose()


def build_runtime(settings: Settings, *, clock: Clock | None = None) -> Runtime:
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    engine = make_engine(settings.resolved_database_url)
    sessions = session_factory(engine)
    clock = clock or SystemClock()
    locating = GridLocating(
        sessions,
        parameters=IndexParameters(
            cell_size_deg=settings.locate_cell_size_deg,
            edge_tolerance_m=settings.locate_edge_tolerance_m,
        ),
        cache_dir=settings.index_dir,
    )
    # The shipped category taxonomy, responsibility list and holiday table; a city edits those files.
    taxonomy = load_taxonomy()
    cases = CaseService(
        sessions,
        locating,
        clock,
        taxonomy=taxonomy,
        responsibilities=load_responsibilities(taxonomy),
        calendar=WorkingCalendar.default(),
    )
    return Runtime(
        settings=settings,
        engine=engine,
        sessions=sessions,
        clock=clock,
        grids=GridAdmin(sessions, clock, on_activate=locating.active_layer_changed),
        locating=locating,
        people=PeopleService(sessions, locating, clock),
        cases=cases,
    )
