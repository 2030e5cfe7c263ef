"""schemathesis over the whole OpenAPI document, in-process through the ASGI app, on SQLite.

Every documented operation gets a bounded number of generated requests, schema-conforming and
schema-violating, sent as a signed-in city admin; each answer must be no 5xx and, where its status
is documented, match the documented schema (schemathesis's `not_a_server_error` and
`response_schema_conformance` checks).

So that the generated requests reach the code behind the front checks:
- half the case ids are swapped for the world's real cases, so workflow actions really run;
- Open311 requests mostly ask for json or xml, the formats that exist;
- intake requests go to a real channel with its API key, so payloads reach the intake service;
- grid codes, people, reports (and an unlocated one to place) and scopes are often real ones;
- revoking a token never revokes the admin's own, which would make the rest of the run 401s.
- the analytics live stream is always asked with once=1, or it would never end.

Why not `schemathesis.pytest.from_fixture(...).parametrize()`: in schemathesis 4.32.5 it sets
`request.node._nodeid`, which pytest 9.2 no longer has (AttributeError on every run). The
operations are listed here instead, and `test_every_documented_operation_is_fuzzed` keeps the list
equal to the OpenAPI document, so a new route cannot escape the fuzzing.

Exclusions: none. A limit worth knowing: the Open311 routes parse their form themselves (so that a
malformed field is refused in the spec's error format), so their OpenAPI documents no request body
and schemathesis sends none; their bodies are covered by tests/api/test_open311.py.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error
from schemathesis.generation.modes import GenerationMode
from schemathesis.specs.openapi.checks import response_schema_conformance

from tests.api.staff_world import StaffWorld, build_staff_world

INTAKE_CHANNEL = "police_110"
MAX_EXAMPLES = 40  # per operation, valid and invalid requests mixed

OPERATIONS = [
    ("GET", "/healthz"),
    ("POST", "/api/v1/auth/sign-in"),
    ("POST", "/api/v1/auth/sign-out"),
    ("POST", "/api/v1/auth/tokens"),
    ("DELETE", "/api/v1/auth/tokens/{token_id}"),
    ("GET", "/api/v1/auth/me"),
    ("GET", "/api/v1/grid-layers"),
    ("GET", "/api/v1/grids/locate"),
    ("GET", "/api/v1/grids/tree"),
    ("GET", "/api/v1/grids/export"),
    ("GET", "/api/v1/grids/{code}"),
    ("GET", "/api/v1/grids/{code}/geometry"),
    ("GET", "/api/v1/people"),
    ("GET", "/api/v1/people/{person_id}"),
    ("GET", "/api/v1/reports"),
    ("GET", "/api/v1/reports/{report_id}"),
    ("POST", "/api/v1/reports/{report_id}/locate"),
    ("GET", "/api/v1/categories"),
    ("GET", "/api/v1/departments"),
    ("GET", "/api/v1/analytics/early-warning"),
    ("GET", "/api/v1/cases/{case_id}/suggestions"),
    ("GET", "/api/v1/briefing/daily"),
    ("GET", "/api/v1/cases"),
    ("GET", "/api/v1/cases/{case_id}"),
    ("GET", "/api/v1/cases/{case_id}/reports"),
    ("POST", "/api/v1/cases/{case_id}/actions/{action}"),
    ("GET", "/api/v1/queue/manual"),
    ("POST", "/api/v1/intake/{channel}"),
    ("POST", "/api/v1/intake/{channel}/batch"),
    ("GET", "/open311/v2/discovery.{fmt}"),
    ("GET", "/open311/v2/services.{fmt}"),
    ("GET", "/open311/v2/services/{service_code}.{fmt}"),
    ("POST", "/open311/v2/requests.{fmt}"),
    ("GET", "/open311/v2/requests.{fmt}"),
    ("GET", "/open311/v2/requests/{service_request_id}.{fmt}"),
    ("GET", "/open311/v2/tokens/{token}.{fmt}"),
    ("POST", "/api/v1/residents/cases/{case_id}/follow"),
    ("POST", "/api/v1/residents/cases/{case_id}/rating"),
    ("GET", "/api/v1/analytics/overview"),
    ("GET", "/api/v1/analytics/trend"),
    ("GET", "/api/v1/analytics/children"),
    ("GET", "/api/v1/analytics/departments"),
    ("GET", "/api/v1/analytics/cases-map"),
    ("GET", "/api/v1/analytics/party"),
    ("GET", "/api/v1/analytics/live"),
    ("GET", "/tiles/grids/{z}/{x}/{y}.mvt"),
    ("GET", "/tiles/grids.json"),
]

# Real objects to aim at: a grid inside street 1, its street, its district, and a street of the
# other district.
GRID_CODES = ["410102001001", "410102001000", "410102000000", "410103003000"]


@dataclass
class Fuzz:
    world: StaffWorld
    schema: schemathesis.schemas.BaseSchema
    intake_key: str
    admin_token_ids: frozenset[int]


@pytest.fixture(scope="module")
def fuzz(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Fuzz]:
    tmp: Path = tmp_path_factory.mktemp("fuzz")
    for world in build_staff_world(f"sqlite:///{tmp / 'gridgov.db'}", tmp / "var"):
        key = world.runtime.intake.keys.create(INTAKE_CHANNEL).token
        accounts = world.runtime.accounts
        protected = frozenset(t.id for t in accounts.tokens(accounts.get("city.admin")))
        schema = schemathesis.openapi.from_asgi("/openapi.json", world.app)
        yield Fuzz(world, schema, key, protected)


def test_every_documented_operation_is_fuzzed(fuzz: Fuzz) -> None:
    documented = {
        (method.upper(), path)
        for path, item in fuzz.world.app.openapi()["paths"].items()
        for method in item
    }
    assert documented == set(OPERATIONS)


@pytest.mark.parametrize(("method", "path"), OPERATIONS)
def test_no_server_error_and_every_answer_matches_the_schema(
    fuzz: Fuzz, method: str, path: str
) -> None:
    operation = fuzz.schema[path][method]
    # Negative cases cannot be drawn for operations with nothing to violate (no parameters, or
    # only free strings); hypothesis then retries the positive branch.
    cases = operation.as_strategy(GenerationMode.POSITIVE) | operation.as_strategy(
        GenerationMode.NEGATIVE
    )

    @given(case=cases, data=st.data())
    @settings(
        max_examples=MAX_EXAMPLES,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    def fuzz_operation(case: schemathesis.Case, data: st.DataObject) -> None:
        _aim(fuzz, case, data)
        case.call_and_validate(
            headers=fuzz.world.headers("city_admin"),
            checks=[not_a_server_error, response_schema_conformance],
        )

    fuzz_operation()


def _aim(fuzz: Fuzz, case: schemathesis.Case, data: st.DataObject) -> None:
    """Point a generated request at real objects, often enough for the code behind to run."""
    world = fuzz.world
    params: dict[str, Any] = case.path_parameters if case.path_parameters is not None else {}
    if "case_id" in params and data.draw(st.booleans()):
        params["case_id"] = data.draw(st.sampled_from([world.inside, world.outside]))
    if "code" in params and data.draw(st.booleans()):
        params["code"] = data.draw(st.sampled_from(GRID_CODES))
    if "person_id" in params and data.draw(st.booleans()):
        params["person_id"] = data.draw(st.sampled_from(sorted(world.people.values())))
    if "report_id" in params and data.draw(st.booleans()):
        reports = sorted(world.reports.values())
        if case.operation.path.endswith("/locate"):
            reports.append(world.unlocated_report())
        params["report_id"] = data.draw(st.sampled_from(reports))
    if isinstance(case.query, dict) and "scope" in case.query and data.draw(st.booleans()):
        case.query["scope"] = data.draw(st.sampled_from(GRID_CODES))
    if "fmt" in params and data.draw(st.booleans()):
        params["fmt"] = data.draw(st.sampled_from(["json", "xml"]))
    if case.operation.path.startswith("/api/v1/intake/") and data.draw(st.booleans()):
        params["channel"] = INTAKE_CHANNEL
        case.headers = {**(case.headers or {}), "X-Api-Key": fuzz.intake_key}
    if case.operation.path == "/api/v1/analytics/live":
        # Without once=1 the stream is endless by design; the fuzzing waits for each answer.
        case.query = {**(case.query or {}), "once": "1"}
    if params.get("token_id") in fuzz.admin_token_ids:
        accounts = world.runtime.accounts
        params["token_id"] = accounts.issue_token(accounts.get("city.admin"), "fuzz").id
