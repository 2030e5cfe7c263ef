"""The running app over the demo-coded city with one staff account per role, each with a bearer
token; a dispatched case inside street 1 and another in the other district, with their reports;
and a grid worker in community 1 and another in the other district."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from argon2 import PasswordHasher
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from gridgov.api.app import create_app
from gridgov.bootstrap import Runtime, build_runtime
from gridgov.config import load_settings
from gridgov.core.clock import FixedClock
from gridgov.grids.people import AssignmentRole
from gridgov.services.accounts import AccountRole, AccountService
from gridgov.store.migrate import upgrade
from gridgov.store.tables import CaseEventRow
from gridgov.workflow.model import Actor, Role
from tests.case_world import (
    COMMUNITY_1,
    ERQI_POINT,
    FRIDAY_AFTERNOON,
    PLAIN_POINT,
    STREET_1,
    ZHONGYUAN,
    CaseWorld,
    activate_demo_layer,
)
from tests.intake.channel_samples import sample

PASSWORD = "green-tea-at-dawn"
OTHER_COMMUNITY = "410103003001"  # in the other district
OTHER_STREET = "410103003000"
READER = Actor("staff-world", Role.CENTRE_LEADER)
DEPARTMENT = "410102000000.urban_management"  # where exposed garbage in street 1 is dispatched

# Who stands where: (account role, scope, department). The sample city's finest grid is the
# community, so the grid worker and the community worker share one.
STAFF: dict[str, tuple[AccountRole, str | None, str | None]] = {
    "city_admin": (AccountRole.CITY_ADMIN, None, None),
    "district_operator": (AccountRole.DISTRICT_OPERATOR, ZHONGYUAN, None),
    "street_operator": (AccountRole.STREET_OPERATOR, STREET_1, None),
    "community_worker": (AccountRole.COMMUNITY_WORKER, COMMUNITY_1, None),
    "grid_worker": (AccountRole.GRID_WORKER, COMMUNITY_1, None),
    "department_handler": (AccountRole.DEPARTMENT_HANDLER, None, DEPARTMENT),
    "police_liaison": (AccountRole.POLICE_LIAISON, STREET_1, None),
    "auditor": (AccountRole.AUDITOR, ZHONGYUAN, None),
}
ROLES = tuple(STAFF)


@dataclass
class StaffWorld:
    app: FastAPI
    client: TestClient
    runtime: Runtime
    clock: FixedClock
    cases: CaseWorld
    inside: int  # a dispatched case in street 1
    outside: int  # a dispatched case in the other district
    tokens: dict[str, str] = field(default_factory=dict)
    people: dict[str, int] = field(default_factory=dict)  # "inside", "outside" → person id
    reports: dict[str, int] = field(default_factory=dict)  # the first report of each case
    serial: int = 0

    def headers(self, role: str, **extra: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[role]}", **extra}

    def events(self) -> int:
        with self.runtime.sessions() as session:
            return session.scalar(select(func.count()).select_from(CaseEventRow)) or 0

    def unlocated_report(self) -> int:
        """A new 12345 order whose address matches no place: it waits for manual location."""
        self.serial += 1
        payload = {
            **sample("hotline_12345"),
            "order_no": f"ZZ12345-UNPLACED-{self.serial}",
            "address": "老地方那边，大树旁边",
        }
        receipt = self.runtime.intake.receive("hotline_12345", payload)
        assert receipt.case_id is None
        return receipt.report_id


def fast_accounts(runtime: Runtime, clock: FixedClock) -> AccountService:
    """The runtime's account service with cheap argon2 parameters: the tests are about scope and
    sessions, not about hashing cost."""
    return AccountService(
        runtime.sessions,
        clock,
        hasher=PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1),
        departments={d.code: d.serves for d in runtime.cases.responsibilities.departments},
    )


def build_staff_world(db_url: str, data_dir: Path) -> Iterator[StaffWorld]:
    upgrade(db_url)
    clock = FixedClock(FRIDAY_AFTERNOON)
    settings = load_settings(database_url=db_url, data_dir=data_dir, intake_places="")
    runtime = build_runtime(settings, clock=clock)
    runtime.accounts = fast_accounts(runtime, clock)
    layer_id = activate_demo_layer(runtime.grids)
    world = CaseWorld(runtime.cases, clock, runtime.sessions, layer_id)
    inside, outside = world.dispatched_case(PLAIN_POINT), world.dispatched_case(ERQI_POINT)
    app = create_app(runtime)
    with TestClient(app) as client:
        staff = StaffWorld(app, client, runtime, clock, world, inside, outside)
        for where, grid, phone in (
            ("inside", COMMUNITY_1, "13911112222"),
            ("outside", OTHER_COMMUNITY, "13933334444"),
        ):
            person = runtime.people.add_person(f"网格员{where}", phone=phone)
            runtime.people.assign(person.id, grid, AssignmentRole.GRID_WORKER)
            staff.people[where] = person.id
        for where, case_id in (("inside", inside), ("outside", outside)):
            staff.reports[where] = int(runtime.cases.reports(case_id, READER)[0]["id"])
        for name, (role, scope, department) in STAFF.items():
            username = name.replace("_", ".")
            account = runtime.accounts.create(
                username,
                PASSWORD,
                role,
                scope_code=scope,
                department_code=department,
            )
            staff.tokens[name] = runtime.accounts.issue_token(account, "tests").token
        yield staff
    runtime.close()
