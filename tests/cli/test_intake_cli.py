"""`gridgov intake` in-process against a real store, on both dialects."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from gridgov.bootstrap import build_runtime
from gridgov.cli.main import cli
from gridgov.config import load_settings
from gridgov.store.migrate import upgrade
from tests.factories import sample_grids
from tests.intake.channel_samples import sample

Invoke = Callable[..., Result]


@pytest.fixture
def run(db_url: str, tmp_path: Path) -> Invoke:
    upgrade(db_url)
    env = {
        "GRIDGOV_DATABASE_URL": db_url,
        "GRIDGOV_DATA_DIR": str(tmp_path / "var"),
        "GRIDGOV_INTAKE_PLACES": "",
    }
    runtime = build_runtime(load_settings(database_url=db_url, data_dir=tmp_path / "var"))
    layer = runtime.grids.import_grids(sample_grids(), name="v1", source="t", commit=True).layer
    assert layer is not None
    runtime.grids.activate(layer.id, commit=True)
    runtime.close()
    runner = CliRunner(env=env)

    def invoke(*args: str) -> Result:
        return runner.invoke(cli, list(args), catch_exceptions=False)

    return invoke


def write(tmp_path: Path, payload: dict[str, object]) -> str:
    path = tmp_path / "payload.json"
    path.write_text(json.dumps(payload, ensure_ascii=False), encoding="utf-8")
    return str(path)


def test_receive_previews_without_writing_then_stores_once(run: Invoke, tmp_path: Path) -> None:
    file = write(tmp_path, sample("police_110"))
    preview = run("intake", "receive", "police_110", file)
    assert preview.exit_code == 0 and "--commit" in preview.output
    assert '"located_by": "coordinates"' in preview.output
    assert "0371-65432178" not in preview.output.split('"decisions"')[0]
    stored = run("intake", "receive", "police_110", file, "--commit")
    receipt = json.loads(stored.output)
    assert receipt["created"] is True and receipt["case_id"] is not None
    again = json.loads(run("intake", "receive", "police_110", file, "--commit").output)
    assert again == {**receipt, "created": False}


def test_an_unlocatable_report_is_queued_and_located_by_hand(run: Invoke, tmp_path: Path) -> None:
    payload = {**sample("heating"), "address": "老地方那边，大树旁边"}
    receipt = json.loads(
        run("intake", "receive", "heating", write(tmp_path, payload), "--commit").output
    )
    assert receipt["case_id"] is None
    queue = run("intake", "manual-queue").output
    assert f"{receipt['report_id']:>8}  heating" in queue
    assert "13903716688" not in queue
    preview = run("intake", "locate", str(receipt["report_id"]), "113.61", "34.71")
    assert "410102001001" in preview.output and "--commit" in preview.output
    located = run(
        "intake", "locate", str(receipt["report_id"]), "113.61", "34.71", "--commit",
        "--as", "intake_operator",
    )  # fmt: skip
    assert located.exit_code == 0 and "case" in located.output
    assert "no report waits" in run("intake", "manual-queue").output


def test_keys_are_created_once_listed_and_revoked(run: Invoke) -> None:
    assert "--commit" in run("intake", "keys", "create", "hotline_12345").output
    assert "no keys" in run("intake", "keys", "list").output
    created = run("intake", "keys", "create", "hotline_12345", "--label", "12345", "--commit")
    token = created.output.strip().splitlines()[-1]
    assert token.startswith("ggk_")
    listed = run("intake", "keys", "list").output
    assert "hotline_12345" in listed and token not in listed and "revoked -" in listed
    assert run("intake", "keys", "revoke", "1", "--commit").exit_code == 0
    assert "revoked -" not in run("intake", "keys", "list").output


def test_an_unknown_channel_exits_2_naming_it(run: Invoke) -> None:
    result = run("intake", "keys", "create", "fax")
    assert result.exit_code == 2
    assert "fax" in result.output
