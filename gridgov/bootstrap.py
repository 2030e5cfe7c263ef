"""The one wiring function: settings in, a runtime with every service out."""

from __future__ import annotations

import gc
import importlib
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from gridgov.ai.classifier import classifier
from gridgov.ai.duplicates import DuplicateFinder
from gridgov.ai.llm import ChatCompletionsWriter
from gridgov.ai.vision import choose_analyzer
from gridgov.config import Settings
from gridgov.core.clock import Clock, SystemClock
from gridgov.core.errors import InvalidInput
from gridgov.services.accounts import AccountService
from gridgov.services.analytics import AnalyticsService
from gridgov.services.briefing import BriefingOptions, BriefingService
from gridgov.services.cases import CaseService
from gridgov.services.dispatch_learning import DispatchLearning, DispatchLearningOptions
from gridgov.services.grid_admin import GridAdmin
from gridgov.services.grid_browse import GridBrowse
from gridgov.services.insights import Insights, InsightsOptions, SuggestionService
from gridgov.services.insights_warnings import EarlyWarningService
from gridgov.services.intake import IntakeOptions, IntakeService
from gridgov.services.intake_locate import Placer, PlacesProvider
from gridgov.services.learning import LearningOptions, LearningService, learned_classifier
from gridgov.services.locating import GridLocating, IndexParameters
from gridgov.services.people import PeopleService
from gridgov.services.people_directory import PeopleDirectory
from gridgov.services.report_desk import ReportDesk
from gridgov.services.tiles import TileService
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
    browse: GridBrowse  # the grid tree, geometry and exports within a scope
    directory: PeopleDirectory  # people in grids within a scope
    desk: ReportDesk  # reports for staff, and placing unlocated ones
    analytics: AnalyticsService  # dashboard figures and GB/T 30428 evaluations
    tiles: TileService  # the grid layer as vector tiles, prepared on first use
    insights: Insights  # AI proposals for a case, early warning, the daily briefing

    def close(self) -> None:
        self.insights.dispatch.close()
        self.engine.dispose()

    def warm_up(self) -> None:
        """Before serving: set the collector for a server's heap (`gc_young_threshold`), then
        build what the first report would wait for (`IntakeService.warm_up`; NotFound without an
        active layer) and put it out of the collector's sight."""
        tuned = bool(self.settings.gc_young_threshold)
        if tuned:
            # The indexes are hundreds of thousands of long-lived objects; at Python's default a
            # batch's short-lived ones reach the oldest generation and set off full passes. A
            # middle-generation pass walks the survivors of the young passes since the last one:
            # after ten (Python's default), ~90 ms at full intake load, a pause for every
            # process's intake when it falls inside the intake turn; after two, ~30 ms.
            gc.set_threshold(
                self.settings.gc_young_threshold, _MIDDLE_PASSES, gc.get_threshold()[2]
            )
        # In the background: smart dispatch learns from the log while the server starts serving.
        self.insights.dispatch.warm_up()
        self.intake.warm_up()
        if tuned:
            # What stands now lives as long as the process. Frozen, it is left out of the full
            # passes that the quicker promotion above sets off (160 ms each without this).
            gc.collect()
            gc.freeze()


# Young-generation passes between two middle-generation passes (Python's default is 10).
_MIDDLE_PASSES = 2


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
    browse = GridBrowse(sessions, locating)
    tiles = TileService(sessions, locating, cache_tiles=settings.tiles_cache_tiles)

    def layer_activated() -> None:
        locating.active_layer_changed()
        tiles.active_layer_changed()

    return Runtime(
        settings=settings,
        engine=engine,
        sessions=sessions,
        clock=clock,
        grids=GridAdmin(sessions, clock, on_activate=layer_activated),
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
        browse=browse,
        directory=PeopleDirectory(sessions, browse, clock),
        desk=ReportDesk(sessions, cases, intake, browse),
        analytics=AnalyticsService(
            sessions,
            locating,
            clock,
            time_zone=ZoneInfo(settings.timezone),
            departments={d.code: d.name_zh for d in cases.responsibilities.departments},
        ),
        tiles=tiles,
        insights=build_insights(settings, sessions, clock, cases),
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


def build_insights(
    settings: Settings, sessions: sessionmaker[Session], clock: Clock, cases: CaseService
) -> Insights:
    """The AI insight services as the settings configure them (docs/ai.md); an ONNX model that
    does not load stops the start here, not on the first photo."""
    zone = ZoneInfo(settings.timezone)
    taxonomy = cases.taxonomy
    kind = {"chat_completions": "llm"}.get(settings.ai_image_analyzer, settings.ai_image_analyzer)
    analyzer = choose_analyzer(
        kind,
        llm_base_url=settings.ai_chat_url or None,
        llm_model=settings.ai_chat_model or None,
        llm_api_key=settings.ai_chat_api_key or None,
        llm_timeout=settings.ai_chat_timeout_seconds,
        onnx_model_path=settings.ai_onnx_model_path or None,
        onnx_embeddings_path=settings.ai_onnx_embeddings_path or None,
    )
    writer = None
    if settings.ai_writer_url:
        writer = ChatCompletionsWriter(
            settings.ai_writer_url,
            settings.ai_writer_model,
            api_key=settings.ai_writer_api_key or settings.ai_chat_api_key or None,
            timeout=max(settings.ai_chat_timeout_seconds, 60.0),
        )
    dispatch = DispatchLearning(
        sessions,
        clock,
        taxonomy=taxonomy,
        responsibilities=cases.responsibilities,
        time_zone=zone,
        options=DispatchLearningOptions(enabled=settings.ai_dispatch_learning),
    )
    text_classifier = learned_classifier(
        classifier(settings.intake_classifier, taxonomy), settings.models_dir, taxonomy
    )
    return Insights(
        suggestions=SuggestionService(
            sessions,
            cases,
            classifier=text_classifier,
            analyzer=analyzer,
            files=FileStore(settings.files_dir),
            dispatch=dispatch,
            options=InsightsOptions(settings.intake_auto_file_min_confidence, zone),
        ),
        early_warning=EarlyWarningService(sessions, clock, taxonomy=taxonomy),
        briefing=BriefingService(
            sessions, clock, taxonomy=taxonomy, writer=writer, options=BriefingOptions(zone)
        ),
        dispatch=dispatch,
    )
