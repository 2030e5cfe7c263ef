"""A small demo city (scale 0.02, real Zhengzhou districts) with the intake pipeline over it.

The channel samples in docs/channels/*.json carry real Zhengzhou coordinates and addresses, so
they land in this city's grids and its gazetteer knows their roads. Building the locate index
takes seconds, so one index folder is shared by the whole test session: every fresh database
imports the same city as layer 1, which is what the cache key names.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from gridgov.ai.classifier import KeywordClassifier, TextClassifier
from gridgov.ai.duplicates import DuplicateFinder
from gridgov.core.clock import FixedClock
from gridgov.grids.model import Grid
from gridgov.intake.gazetteer import GazetteerEntry
from gridgov.services.cases import CaseService
from gridgov.services.grid_admin import GridAdmin
from gridgov.services.intake import IntakeOptions, IntakeService
from gridgov.services.intake_locate import Placer
from gridgov.services.locating import GridLocating, IndexParameters
from gridgov.sim.places import generate_places
from gridgov.store.files import FileStore
from gridgov.store.tables import CaseEventRow, CaseRow, ReportRow
from tests.case_world import FRIDAY_AFTERNOON, case_service


@functools.cache
def _generated_places(codes: tuple[str, ...]) -> list[GazetteerEntry]:
    return generate_places(_GRIDS[codes])


_GRIDS: dict[tuple[str, ...], list[Grid]] = {}


def _places(grids: Sequence[Grid]) -> list[GazetteerEntry]:
    """The demo city's places, generated once per city for the whole test process."""
    codes = tuple(g.code for g in grids)
    _GRIDS.setdefault(codes, list(grids))
    return _generated_places(codes)


@dataclass
class IntakeWorld:
    service: IntakeService
    cases: CaseService
    clock: FixedClock
    sessions: sessionmaker[Session]
    files: FileStore

    def counts(self) -> tuple[int, int, int]:
        """(reports, cases, events) stored."""
        with self.sessions() as session:
            return tuple(  # type: ignore[return-value]
                session.scalar(select(func.count()).select_from(t)) or 0
                for t in (ReportRow, CaseRow, CaseEventRow)
            )


def build_intake_world(
    sessions: sessionmaker[Session],
    tmp_path: Path,
    index_dir: Path,
    grids: list[Grid],
    *,
    options: IntakeOptions | None = None,
    classifier: TextClassifier | None = None,
) -> IntakeWorld:
    clock = FixedClock(FRIDAY_AFTERNOON)
    locating = GridLocating(sessions, parameters=IndexParameters(), cache_dir=index_dir)
    admin = GridAdmin(sessions, clock, on_activate=locating.active_layer_changed)
    layer = admin.import_grids(grids, name="demo", source="test", commit=True).layer
    assert layer is not None and layer.id == 1, "the shared index cache assumes layer 1"
    admin.activate(layer.id, commit=True)
    cases = case_service(sessions, locating, clock)
    files = FileStore(tmp_path / "files")
    service = IntakeService(
        sessions,
        cases,
        Placer(locating, threshold=0.6, places=_places),
        clock,
        classifier=classifier or KeywordClassifier.from_file(taxonomy=cases.taxonomy),
        finder=DuplicateFinder(taxonomy=cases.taxonomy),
        files=files,
        options=options,
    )
    return IntakeWorld(service, cases, clock, sessions, files)
