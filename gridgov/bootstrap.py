"""The one wiring function: settings in, a runtime with every service out."""

from __future__ import annotations

import importlib
from dataclasses import dataclass

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from gridgov.ai.classifier import classifier
from gridgov.ai.duplicates import DuplicateFinder
from gridgov.config import Settings
from gridgov.core.clock import Clock, SystemClock
from gridgov.core.errors import InvalidInput
from gridgov.services.accounts import AccountService
from gridgov.services.cases import CaseService
from gridgov.services.grid_admin import GridAdmin
from gridgov.services.intake import IntakeOptions, IntakeService
from gridgov.services.intake_locate import Placer, PlacesProvider
from gridgov.services.learning import LearningOptions, LearningService, learned_classifier
from gridgov.services.locating import GridLocating, IndexParameters
from gridgov.services.people import PeopleService
from gridgov.store.db import make_engine, session_factory
from gridgov.store.files import FileStore
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
    intake: IntakeService
    accounts: AccountService
    learning: LearningService

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
    learning = LearningService(
        sessions,
        clock,
        taxonomy=taxonomy,
        models_dir=settings.models_dir,
        options=LearningOptions(
            margin=settings.learning_promotion_margin,
            max_recall_drop=settings.learning_max_recall_drop,
            min_eval_examples=settings.learning_min_eval_examples,
            min_per_class=settings.learning_min_per_class,
        ),
    )
    cases = CaseService(
        sessions,
        locating,
        clock,
        taxonomy=taxonomy,
        responsibilities=load_responsibilities(taxonomy),
        calendar=WorkingCalendar.default(),
        on_filed=learning.record,
    )
    intake = IntakeService(
        sessions,
        cases,
        Placer(
            locating,
            threshold=settings.intake_address_min_confidence,
            places=load_places(settings.intake_places),
        ),
        clock,
        classifier=learned_classifier(
            classifier(settings.intake_classifier, taxonomy), settings.models_dir, taxonomy
        ),
        finder=DuplicateFinder(taxonomy=taxonomy),
        files=FileStore(settings.files_dir),
        options=IntakeOptions(
            trusted_channels=settings.trusted_channels,
            address_min_confidence=settings.intake_address_min_confidence,
            auto_file_min_confidence=settings.intake_auto_file_min_confidence,
            photo_max_bytes=settings.intake_photo_max_bytes,
            batch_size=settings.intake_batch_size,
        ),
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
        intake=intake,
        accounts=AccountService(
            sessions,
            clock,
            departments={d.code: d.serves for d in cases.responsibilities.departments},
        ),
        learning=learning,
    )


def load_places(spec: str) -> PlacesProvider | None:
    """The gazetteer's roads and POIs source named `module:function`, or None for none.

    Named in settings rather than imported here because the demo city's generator lives above
    this layer (gridgov.sim), and a real city plugs in its own loader the same way.
    """
    if not spec.strip():
        return None
    module_name, _, attribute = spec.partition(":")
    try:
        provider = getattr(importlib.import_module(module_name.strip()), attribute.strip())
    except (ImportError, AttributeError, ValueError):
        raise InvalidInput(
            "GRIDGOV_INTAKE_PLACES", f"cannot load {spec!r}; expected module:function"
        ) from None
    if not callable(provider):
        raise InvalidInput("GRIDGOV_INTAKE_PLACES", f"{spec!r} is not callable")
    loaded: PlacesProvider = provider
    return loaded
