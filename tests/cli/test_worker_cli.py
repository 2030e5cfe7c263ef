"""`gridgov worker` and `gridgov serve --workers` in-process against a real store, on both dialects."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from sqlalchemy import Engine

from gridgov.cli.main import cli
from gridgov.store.db import make_engine, session_factory
from gridgov.store.migrate import upgrade
from gridgov.workflow.model import EscalationReason
from tests.case_world import LEADER, SHANGHAI, build_world

Invoke = Callable[..., Result]
# Long past in real time, so the worker (on the system clock) finds the case overdue.
LONG_AGO = datetime(2025, 3, 3, 15, 0, tzinfo=SHANGHAI)


@pytest.fixture
def store(db_url: str) -> Iterator[Engine]:
    upgrade(db_url)
    engine = make_engine(db_url)
    try:
        yield engine
    finally:
        engine.dispose()


def runner_for(db_url: str, tmp_path: Path, **env: str) -> Invoke:
    runner = CliRunner(
        env={
            "GRIDGOV_DATABASE_URL": db_url,
            "GRIDGOV_DATA_DIR": str(tmp_path / "var"),
            "GRIDGOV_INTAKE_PLACES": "",
            "GRIDGOV_WORKER_RETRAIN_HOURS": "0",
            **env,
        }
    )

    def invoke(*args: str) -> Result:
        return runner.invoke(cli, list(args), catch_exceptions=False)

    return invoke


def test_worker_once_escalates_an_overdue_case_and_status_shows_the_run(
    store: Engine, db_url: str, tmp_path: Path
) -> None:
    world = build_world(session_factory(store), tmp_path, start=LONG_AGO)
    case_id = world.dispatched_case()
    invoke = runner_for(db_url, tmp_path)
    result = invoke("worker", "--once")
    assert result.exit_code == 0, result.output
    assert "sweep ok" in result.output and "escalated 1" in result.output
    case = world.service.case(case_id, LEADER)
    assert [e.grounds for e in case.escalations] == [EscalationReason.OVERDUE]
    again = invoke("worker", "--once", "--jobs", "sweep")
    assert "escalated 0" in again.output
    status = invoke("worker", "status")
    assert status.exit_code == 0
    assert "sweep" in status.output and "runs 2" in status.output and "last ok" in status.output


def test_worker_refuses_an_unknown_job_naming_the_option(
    store: Engine, db_url: str, tmp_path: Path
) -> None:
    result = runner_for(db_url, tmp_path)("worker", "--once", "--jobs", "sweep,nap")
    assert result.exit_code == 2
    assert "--jobs" in result.output and "nap" in result.output


def test_worker_refuses_notifying_12345_without_a_platform(
    store: Engine, db_url: str, tmp_path: Path
) -> None:
    result = runner_for(db_url, tmp_path)("worker", "--once", "--jobs", "hotline_notify")
    assert result.exit_code == 2
    assert "GRIDGOV_HOTLINE_CALLBACK_URL" in result.output


def test_worker_refuses_retraining_when_it_is_turned_off(
    store: Engine, db_url: str, tmp_path: Path
) -> None:
    result = runner_for(db_url, tmp_path)("worker", "--once", "--jobs", "retrain")
    assert result.exit_code == 2
    assert "GRIDGOV_WORKER_RETRAIN_HOURS" in result.output


def test_serve_refuses_several_processes_on_sqlite(tmp_path: Path) -> None:
    invoke = runner_for(f"sqlite:///{tmp_path / 'one.db'}", tmp_path)
    result = invoke("serve", "--workers", "2", "--port", "1")
    assert result.exit_code == 2
    assert "--workers" in result.output and "PostgreSQL" in result.output


def test_each_server_process_builds_its_app_from_the_environment(
    store: Engine, db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from fastapi.testclient import TestClient

    from gridgov.cli.serve import app_from_environment

    build_world(session_factory(store), tmp_path)  # an active layer, whose index is loaded first
    monkeypatch.setenv("GRIDGOV_DATABASE_URL", db_url)
    monkeypatch.setenv("GRIDGOV_DATA_DIR", str(tmp_path / "var"))
    app = app_from_environment()
    try:
        with TestClient(app) as client:
            assert client.get("/healthz").json()["status"] == "ok"
            located = client.get("/api/v1/grids/locate", params={"lon": 113.61, "lat": 34.71})
            assert located.status_code == 200
        assert app.state.runtime.settings.database_url == db_url
    finally:
        app.state.runtime.close()
