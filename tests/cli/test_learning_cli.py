"""`gridgov ai train --from-cases` against a real store, on both dialects."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner
from sqlalchemy.orm import Session, sessionmaker

from gridgov.cli.ai import ai
from tests.case_world import build_world
from tests.services.test_learning import label_many, learning


def test_from_cases_previews_without_writing_and_promotes_with_commit(
    db_url: str, sessions: sessionmaker[Session], tmp_path: Path
) -> None:
    world = build_world(sessions, tmp_path)
    service = learning(world, tmp_path)
    label_many(world, service, "E0101", 25, seed=1)
    label_many(world, service, "E0102", 25, seed=1)
    runner = CliRunner(
        env={
            "GRIDGOV_DATABASE_URL": db_url,
            "GRIDGOV_DATA_DIR": str(tmp_path / "var"),
            "GRIDGOV_INTAKE_PLACES": "",
        }
    )
    args = ["train", "--from-cases", "--taxonomy", "urban", "--repeats", "1"]
    preview = runner.invoke(ai, args, catch_exceptions=False)
    assert preview.exit_code == 0, preview.output
    report = json.loads(preview.stdout)
    assert report["promoted"] and report["path"] is None and not report["committed"]
    assert "nothing written" in preview.stderr
    assert not (tmp_path / "var" / "models").exists()
    done = runner.invoke(ai, [*args, "--commit"], catch_exceptions=False)
    assert done.exit_code == 0, done.output
    assert json.loads(done.stdout)["path"] == str(tmp_path / "var" / "models" / "urban_model.json")
    assert (tmp_path / "var" / "models" / "urban_model.npz").is_file()
