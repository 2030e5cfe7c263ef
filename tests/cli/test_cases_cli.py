"""`gridgov cases` and `gridgov audit` in-process against a real store, on both dialects."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from sqlalchemy import text
from sqlalchemy.orm import Session, sessionmaker

from gridgov.cli.main import cli
from gridgov.workflow.model import ReturnCase
from tests.case_world import HANDLER, STREET_1, CaseWorld, build_world

Invoke = Callable[..., Result]


@pytest.fixture
def world(sessions: sessionmaker[Session], tmp_path: Path) -> CaseWorld:
    # Ten days ago in real time, so that the CLI's own clock finds the cases overdue.
    built = build_world(sessions, tmp_path, start=datetime.now(UTC) - timedelta(days=10))
    first = built.dispatched_case()
    built.service.perform(first, ReturnCase(reason="不属本部门，请改派"), HANDLER)
    built.dispatched_case()
    return built


@pytest.fixture
def run(db_url: str, tmp_path: Path, world: CaseWorld) -> Invoke:
    env = {"GRIDGOV_DATABASE_URL": db_url, "GRIDGOV_DATA_DIR": str(tmp_path / "var")}
    runner = CliRunner(env=env)

    def invoke(*args: str) -> Result:
        return runner.invoke(cli, list(args), catch_exceptions=False)

    return invoke


def test_cases_list_shows_the_cases_of_the_actors_subtree(run: Invoke) -> None:
    everything = run("cases", "list")
    assert everything.exit_code == 0
    assert len(everything.output.strip().splitlines()) == 2
    assert "returned" in run("cases", "list", "--state", "returned").output
    assert "no cases" in run("cases", "list", "--as", "centre_leader:410103000000").output
    assert STREET_1 in run("cases", "list", "--as", f"centre_leader:{STREET_1}").output


def test_cases_show_prints_grids_deadlines_and_the_history_with_reasons(run: Invoke) -> None:
    returned = run("cases", "show", "1")
    assert returned.exit_code == 0
    for expected in (
        STREET_1,
        "returned",
        "CaseDispatched",
        "CaseReturned",
        "不属本部门",
        "dispatch-1",
    ):
        assert expected in returned.output
    dispatched = run("cases", "show", "2").output
    assert "410102000000.urban_management" in dispatched
    assert "handle 20" in dispatched  # a deadline, in local time


def test_cases_show_out_of_scope_or_unknown_exits_2(run: Invoke) -> None:
    refused = run("cases", "show", "1", "--as", "handler:410103000000")
    assert refused.exit_code == 2
    assert "410103000000" in refused.output
    assert run("cases", "show", "99").exit_code == 2
    assert run("cases", "list", "--as", "mayor").exit_code == 2


def test_cases_sweep_previews_then_escalates_with_commit(run: Invoke) -> None:
    # Case 2 is overdue; case 1 was returned once, which is no reason to escalate yet.
    preview = run("cases", "sweep")
    assert "escalate  case 2" in preview.output and "--commit" in preview.output
    assert "would act on 1 cases" in run("cases", "sweep").output
    done = run("cases", "sweep", "--commit")
    assert "1 escalated" in done.output
    assert "would act on 0 cases" in run("cases", "sweep").output


def test_audit_verify_exits_0_when_intact_and_2_naming_a_tampered_event(
    run: Invoke, world: CaseWorld
) -> None:
    intact = run("audit", "verify")
    assert intact.exit_code == 0
    assert "audit chain intact: 7 events" in intact.output
    with world.sessions.begin() as session:
        conn = session.connection()
        if conn.dialect.name == "postgresql":
            conn.execute(text("alter table case_events disable trigger case_events_append_only"))
        else:
            conn.execute(text("drop trigger case_events_no_update"))
        conn.execute(text("update case_events set actor_id = 'someone' where global_seq = 3"))
    broken = run("audit", "verify")
    assert broken.exit_code == 2
    assert "edited: global_seq 3 (case 1 seq 3)" in broken.output
