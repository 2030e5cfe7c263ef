"""`gridgov sim staff` and `sim events --unless-cases`: what `make demo` runs, twice in a row."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from gridgov.cli.main import cli

Invoke = Callable[..., Result]


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Invoke:
    folder = tmp_path_factory.mktemp("sim-cli")
    env = {
        "GRIDGOV_DATABASE_URL": f"sqlite:///{folder / 'gridgov.db'}",
        "GRIDGOV_DATA_DIR": str(folder / "var"),
    }
    runner = CliRunner(env=env)

    def invoke(*args: str) -> Result:
        return runner.invoke(cli, list(args), catch_exceptions=False)

    assert invoke("db", "upgrade").exit_code == 0
    assert invoke("sim", "city", "--scale", "0.02", "--commit").exit_code == 0
    return invoke


def test_a_command_on_a_store_that_was_never_migrated_says_to_run_db_upgrade(
    tmp_path: Path,
) -> None:
    runner = CliRunner(env={"GRIDGOV_DATABASE_URL": f"sqlite:///{tmp_path / 'empty.db'}"})
    result = runner.invoke(cli, ["grids", "locate", "113.66", "34.75"])
    assert result.exit_code != 0
    assert "gridgov db upgrade" in result.output
    assert "never migrated" in result.output


def test_sim_staff_previews_then_creates_every_desk_then_leaves_them_alone(run: Invoke) -> None:
    preview = run("sim", "staff")
    assert preview.exit_code == 0
    assert "would create" in preview.output
    assert "还没有账号" in run("accounts", "list").output

    created = run("sim", "staff", "--commit")
    assert created.exit_code == 0
    assert "gridgov-demo-2026" in created.output
    listing = run("accounts", "list").output
    for username, role in [
        ("admin", "city_admin"),
        ("district", "district_operator"),
        ("street", "street_operator"),
        ("worker", "grid_worker"),
        ("handler", "department_handler"),
        ("auditor", "auditor"),
    ]:
        assert any(line.split()[0] == username and role in line for line in listing.splitlines()), (
            username
        )
    # The street desk works in 淮河路街道 of 二七区, the street the demo point lies in.
    street_line = next(line for line in listing.splitlines() if line.startswith("street "))
    assert "410103001000" in street_line

    again = run("sim", "staff", "--commit")
    assert again.exit_code == 0
    assert "created" not in again.output
    assert again.output.count("exists") == 8


def test_sim_staff_refuses_to_create_demo_accounts_in_production(tmp_path: Path) -> None:
    env = {
        "GRIDGOV_DATABASE_URL": f"sqlite:///{tmp_path / 'gridgov.db'}",
        "GRIDGOV_DATA_DIR": str(tmp_path / "var"),
    }
    assert CliRunner(env=env).invoke(cli, ["db", "upgrade"]).exit_code == 0
    prod = CliRunner(env={**env, "GRIDGOV_ENV": "prod", "GRIDGOV_SECRET_KEY": "s" * 48})

    refused = prod.invoke(cli, ["sim", "staff", "--commit"])

    assert refused.exit_code != 0
    assert "refusing to create demo accounts in prod" in refused.output
    listing = CliRunner(env=env).invoke(cli, ["accounts", "list"], catch_exceptions=False)
    assert "还没有账号" in listing.output  # nothing was created


def test_sim_events_unless_cases_simulates_once_and_then_does_nothing(run: Invoke) -> None:
    first = run("sim", "events", "--days", "1", "--per-day", "5", "--commit", "--unless-cases")
    assert first.exit_code == 0
    assert "nothing simulated" not in first.output
    listed = run("cases", "list")
    assert listed.exit_code == 0
    assert len(listed.output.strip().splitlines()) >= 1

    second = run("sim", "events", "--days", "1", "--per-day", "5", "--commit", "--unless-cases")
    assert second.exit_code == 0
    assert "nothing simulated" in second.output
