"""The running app over the demo-coded city with one staff account per role, each with a bearer
token, and a dispatched case inside street 1 and another in the other district."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from argon2 import PasswordHasher
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from gridgov.api.app import create_app
from gridgov.bootstrap import Runtime, build_runtime
from gridgov.config import load_settings
from gridgov.core.clock import FixedClock
from gridgov.services.accounts import AccountRole, AccountService
from gridgov.store.migrate import upgrade
from gridgov.store.tables import CaseEventRow
from tests.case_world import (
    COMMUNITY_1,
    ERQI_POINT,
    FRIDAY_AFTERNOON,
    PLAIN_POINT,
    STREET_1,
    ZHONGYUAN,
    CaseWorld,
    demo_coded_grids,
)

PASSWORD = "green-tea-at-dawn"
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

    def headers(self, role: str, **extra: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[role]}", **extra}

    def events(self) -> int:
        with self.runtime.sessions() as session:
            return session.scalar(select(func.count()).select_from(CaseEventRow)) or 0


def build_staff_world(db_url: str, data_dir: Path) -> Iterator[StaffWorld]:
    upgrade(db_url)
    clock = FixedClock(FRIDAY_AFTERNOON)
    settings = load_settings(database_url=db_url, data_dir=data_dir, intake_places="")
    runtime = build_runtime(settings, clock=clock)
    # Cheap argon2 parameters: the tests are about scope, not about hashing cost.
    runtime.accounts = AccountService(
        runtime.sessions,
        clock,
        hasher=PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1),
        departments={d.code: d.serves for d in runtime.cases.responsibilities.departments},
    )
    layer = runtime.grids.import_grids(
        demo_coded_grids(), name="demo", source="test", commit=True
    ).layer
    assert layer is not None
    runtime.grids.activate(layer.id, commit=True)
    world = CaseWorld(runtime.cases, clock, runtime.sessions, layer.id)
    inside, outside = world.dispatched_case(PLAIN_POINT), world.dispatched_case(ERQI_POINT)
    app = create_app(runtime)
    with TestClient(app) as client:
        staff = StaffWorld(app, client, runtime, clock, world, inside, outside)
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


def module_db_url(request: pytest.FixtureRequest, tmp: Path) -> Iterator[str]:
    """A fresh database for a whole module, on the dialect `request.param` names."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp / 'gridgov.db'}"
        return
    cluster = request.getfixturevalue("pg_cluster")
    name = cluster.clone_database()
    try:
        yield cluster.url_for(name)
    finally:
        cluster.drop_database(name)
