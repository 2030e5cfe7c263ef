"""A small city whose codes match the shipped departments and responsibility list, with its services.

The grids are `sample_grids()` with their codes written the demo city's way (district 410102 →
410102000000, street 410102001 → 410102001000), so routing resolves to real rows of
gridgov/workflow/data/departments.csv.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session, sessionmaker

from gridgov.core.clock import FixedClock
from gridgov.grids.model import Grid
from gridgov.services.cases import CaseService, NewReport
from gridgov.services.grid_admin import GridAdmin
from gridgov.services.locating import GridLocating, IndexParameters
from gridgov.workflow.calendar import WorkingCalendar
from gridgov.workflow.categories import load_taxonomy
from gridgov.workflow.model import Actor, Role
from gridgov.workflow.routing import load_responsibilities
from tests.factories import sample_grids

SHANGHAI = ZoneInfo("Asia/Shanghai")
FRIDAY_AFTERNOON = datetime(2026, 11, 27, 15, 0, tzinfo=SHANGHAI)

CITY = "410100000000"
ZHONGYUAN = "410102000000"
ERQI = "410103000000"
STREET_1 = "410102001000"  # west district, south street
COMMUNITY_1 = "410102001001"

PLAIN_POINT = (113.61, 34.71)  # street 1, community 1, in no special grid
SCHOOL_POINT = (113.635, 34.73)  # street 1, inside the school SP-SCHOOL-1
ERQI_POINT = (113.70, 34.72)  # the east district, street 3
OUTSIDE_POINT = (116.4, 39.9)  # Beijing

INTAKE = Actor("intake-1", Role.INTAKE_OPERATOR, "受理员甲")
SHIFT = Actor("shift-1", Role.SHIFT_LEADER, "值班长乙")
DISPATCHER = Actor("dispatch-1", Role.DISPATCHER, "派遣员丙")
HANDLER = Actor("handler-1", Role.HANDLER, "处置员丁")
WORKER = Actor("worker-1", Role.GRID_WORKER, "网格员戊")
CITIZEN = Actor("citizen-1", Role.REPORTER, "市民")
LEADER = Actor("leader-1", Role.CENTRE_LEADER, "中心主任")


def demo_code(code: str) -> str:
    """A sample grid code written as the demo city writes it."""
    if code.startswith("SP-"):
        return code
    if len(code) == 6:
        return code + "000000"
    if len(code) == 9:
        return code + "000"
    return code


def demo_coded_grids() -> list[Grid]:
    return [
        replace(
            g,
            code=demo_code(g.code),
            parent_code=demo_code(g.parent_code) if g.parent_code else None,
        )
        for g in sample_grids()
    ]


@dataclass
class CaseWorld:
    service: CaseService
    clock: FixedClock
    sessions: sessionmaker[Session]
    layer_id: int
    serial: int = 0

    def report(
        self,
        point: tuple[float, float] = PLAIN_POINT,
        *,
        category: str | None = "E0102",
        external_id: str | None = None,
        channel: str = "hotline_12345",
    ) -> NewReport:
        self.serial += 1
        return NewReport(
            channel=channel,
            external_id=external_id or f"ext-{self.serial}",
            text="小区门口有暴露垃圾 / exposed garbage at the gate",
            reported_at=self.clock.now(),
            lon=point[0],
            lat=point[1],
            category_code=category,
            reporter_name="张三",
            reporter_phone="13800000000",
        )

    def dispatched_case(self, point: tuple[float, float] = PLAIN_POINT) -> int:
        """A new case of exposed garbage, filed and dispatched now; returns its id."""
        _, case = self.service.submit_report(self.report(point), INTAKE)
        case_id = int(case.id)
        self.service.file(case_id, SHIFT)
        self.service.dispatch(case_id, DISPATCHER)
        return case_id


def build_world(
    sessions: sessionmaker[Session], tmp_path: Path, start: datetime = FRIDAY_AFTERNOON
) -> CaseWorld:
    clock = FixedClock(start)
    locating = GridLocating(sessions, parameters=IndexParameters(), cache_dir=tmp_path / "index")
    admin = GridAdmin(sessions, clock, on_activate=locating.active_layer_changed)
    layer_id = activate_demo_layer(admin)
    return CaseWorld(case_service(sessions, locating, clock), clock, sessions, layer_id)


def activate_demo_layer(admin: GridAdmin) -> int:
    """Store the demo city's coded grids as a layer and switch it on; its id."""
    layer = admin.import_grids(demo_coded_grids(), name="demo", source="test", commit=True).layer
    assert layer is not None
    admin.activate(layer.id, commit=True)
    return layer.id


def case_service(
    sessions: sessionmaker[Session], locating: GridLocating, clock: FixedClock
) -> CaseService:
    taxonomy = load_taxonomy()
    return CaseService(
        sessions,
        locating,
        clock,
        taxonomy=taxonomy,
        responsibilities=load_responsibilities(taxonomy),
        calendar=WorkingCalendar.default(),
    )
