"""`gridgov analytics`: the rollups' state, a rebuild that asks for --commit, and the partitions."""

from __future__ import annotations

from pathlib import Path

from gridgov.store.migrate import upgrade
from tests.cli.test_worker_cli import runner_for


def test_rollups_are_reported_never_built_until_rebuilt_with_commit(
    db_url: str, tmp_path: Path
) -> None:
    upgrade(db_url)
    invoke = runner_for(db_url, tmp_path)
    before = invoke("analytics", "rollups")
    assert before.exit_code == 0, before.output
    assert "never built" in before.output
    partitioned = db_url.startswith("postgresql")
    assert ("cases_default" in before.output) == partitioned
    assert ("cases is one table" in before.output) == (not partitioned)

    preview = invoke("analytics", "rebuild-rollups")
    assert preview.exit_code == 0 and "--commit" in preview.output
    assert "never built" in invoke("analytics", "rollups").output

    done = invoke("analytics", "rebuild-rollups", "--commit")
    assert done.exit_code == 0 and "rebuilt up to event 0" in done.output
    after = invoke("analytics", "rollups").output
    assert "at event 0 of 0 (0 behind" in after and "UTC+8 days" in after
