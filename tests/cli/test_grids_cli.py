"""The `gridgov` command line, run in-process against a real store on both dialects."""

from __future__ import annotations

import csv
import json
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from gridgov.cli.main import cli
from gridgov.grids import formats
from tests.factories import sample_grids

Invoke = Callable[..., Result]


@pytest.fixture
def run(db_url: str, tmp_path: Path) -> Invoke:
    env = {"GRIDGOV_DATABASE_URL": db_url, "GRIDGOV_DATA_DIR": str(tmp_path / "var")}
    runner = CliRunner(env=env)

    def invoke(*args: str) -> Result:
        return runner.invoke(cli, list(args), catch_exceptions=False)

    assert invoke("db", "upgrade").exit_code == 0
    return invoke


@pytest.fixture
def layer_file(tmp_path: Path) -> Path:
    path = tmp_path / "city.geojson"
    formats.write_layer(sample_grids(), path)
    return path


def test_import_previews_by_default_and_stores_a_draft_with_commit(
    run: Invoke, layer_file: Path
) -> None:
    preview = run("grids", "import", str(layer_file), "--name", "v1")
    assert preview.exit_code == 0
    assert "--commit" in preview.output
    assert run("grids", "list").output.strip() == ""
    stored = run("grids", "import", str(layer_file), "--name", "v1", "--commit")
    assert stored.exit_code == 0
    assert "draft" in run("grids", "list").output


def test_activate_then_locate_prints_every_level_and_the_special_grid(
    run, layer_file: Path
) -> None:
    run("grids", "import", str(layer_file), "--name", "v1", "--commit")
    assert "--commit" in run("grids", "activate", "1").output
    assert run("grids", "activate", "1", "--commit").exit_code == 0
    table = run("grids", "locate", "113.635", "34.73")
    assert table.exit_code == 0
    for expected in (
        "410100",
        "410102",
        "410102001",
        "410102001001",
        "SP-SCHOOL-1",
        "第一实验小学",
    ):
        assert expected in table.output
    data = json.loads(run("grids", "locate", "113.635", "34.73", "--json").output)
    assert data["layer"]["id"] == 1
    assert data["grids"]["street"]["code"] == "410102001"
    assert [s["code"] for s in data["specials"]] == ["SP-SCHOOL-1"]


def test_a_point_outside_the_city_exits_2_with_a_message_in_both_languages(
    run, layer_file: Path
) -> None:
    run("grids", "import", str(layer_file), "--name", "v1", "--commit")
    run("grids", "activate", "1", "--commit")
    result = run("grids", "locate", "116.4", "39.9")
    assert result.exit_code == 2
    assert "错误" in result.output and "outside every grid" in result.output


def test_import_of_a_broken_file_exits_2_and_stores_nothing(run: Invoke, tmp_path: Path) -> None:
    broken = tmp_path / "broken.geojson"
    broken.write_text("{not json", encoding="utf-8")
    result = run("grids", "import", str(broken), "--name", "x", "--commit")
    assert result.exit_code == 2
    assert "broken.geojson" in result.output
    assert run("grids", "list").output.strip() == ""


def test_export_writes_a_file_that_imports_again(
    run: Invoke, layer_file: Path, tmp_path: Path
) -> None:
    run("grids", "import", str(layer_file), "--name", "v1", "--commit")
    out = tmp_path / "out.gpkg"
    result = run("grids", "export", "1", str(out))
    assert result.exit_code == 0 and out.exists()
    assert len(formats.read_layer(out).grids) == len(sample_grids())


def test_people_assigned_to_a_grid_are_found_by_a_point_inside_it(
    run: Invoke, layer_file: Path
) -> None:
    run("grids", "import", str(layer_file), "--name", "v1", "--commit")
    run("grids", "activate", "1", "--commit")
    assert run("people", "add", "王网格", "--phone", "13800000000", "--commit").exit_code == 0
    assert run("people", "add", "李民警", "--commit").exit_code == 0
    run("people", "assign", "1", "410102001001", "--role", "grid_worker", "--commit")
    run("people", "assign", "2", "410102001", "--role", "police_officer", "--commit")
    result = run("people", "responsible", "113.635", "34.73")
    assert result.exit_code == 0
    lines = result.output.splitlines()
    assert "王网格" in lines[0] and "网格员" in lines[0]
    assert "李民警" in lines[1] and "民警" in lines[1]


def test_assigning_to_a_code_that_is_not_in_the_active_layer_is_refused(
    run, layer_file: Path
) -> None:
    run("grids", "import", str(layer_file), "--name", "v1", "--commit")
    run("grids", "activate", "1", "--commit")
    run("people", "add", "王网格", "--commit")
    result = run("people", "assign", "1", "999999", "--commit")
    assert result.exit_code == 2
    assert "999999" in result.output


def test_sim_city_unless_active_does_nothing_once_a_layer_is_active(
    run: Invoke, layer_file: Path
) -> None:
    run("grids", "import", str(layer_file), "--name", "v1", "--commit")
    run("grids", "activate", "1", "--commit")
    result = run("sim", "city", "--scale", "0.01", "--commit", "--unless-active")
    assert result.exit_code == 0 and "nothing built" in result.output
    assert len(run("grids", "list").output.strip().splitlines()) == 1


def test_sim_city_builds_activates_and_staffs_a_small_city(run: Invoke) -> None:
    from gridgov.grids.model import GridLevel
    from gridgov.sim.city import generate_city

    result = run("sim", "city", "--scale", "0.01", "--commit")
    assert result.exit_code == 0, result.output
    assert "0 个错误" in result.output and "party branches" in result.output
    compound = next(g for g in generate_city(scale=0.01) if g.level is GridLevel.COMPOUND)
    point = compound.geometry.representative_point()
    located = json.loads(run("grids", "locate", str(point.x), str(point.y), "--json").output)
    assert located["grids"]["compound"]["code"] == compound.code
    who = run("people", "responsible", str(point.x), str(point.y)).output
    assert "网格员" in who and "网格长" in who and "网格党支部" in who


def test_locate_file_writes_every_level_for_every_row(
    run: Invoke, layer_file: Path, tmp_path: Path
) -> None:
    run("grids", "import", str(layer_file), "--name", "v1", "--commit")
    run("grids", "activate", "1", "--commit")
    source = tmp_path / "points.csv"
    source.write_text("id,lon,lat\na,113.635,34.73\nb,116.4,39.9\n", encoding="utf-8")
    target = tmp_path / "located.csv"
    assert run("grids", "locate-file", str(source), str(target)).exit_code == 0
    rows = list(csv.DictReader(target.read_text(encoding="utf-8-sig").splitlines()))
    assert rows[0]["id"] == "a" and rows[0]["match"] == "inside"
    assert rows[0]["community"] == "410102001001" and rows[0]["specials"] == "SP-SCHOOL-1"
    assert rows[1]["match"] == "outside" and rows[1]["street"] == ""


def test_locate_file_names_the_line_of_a_bad_coordinate_and_writes_nothing(
    run: Invoke, layer_file: Path, tmp_path: Path
) -> None:
    run("grids", "import", str(layer_file), "--name", "v1", "--commit")
    run("grids", "activate", "1", "--commit")
    source = tmp_path / "points.csv"
    source.write_text("lon,lat\n113.635,34.73\n113.6,北纬\n", encoding="utf-8")
    target = tmp_path / "located.csv"
    result = run("grids", "locate-file", str(source), str(target))
    assert result.exit_code == 2 and "line 3, column lat" in result.output
    assert not target.exists()


def test_import_applies_official_names_from_a_csv_by_code(
    run: Invoke, layer_file: Path, tmp_path: Path
) -> None:
    names = tmp_path / "names.csv"
    names.write_text("code,name\n410102001,碧沙岗街道\n", encoding="utf-8")
    run("grids", "import", str(layer_file), "--name", "v1", "--names", str(names), "--commit")
    run("grids", "activate", "1", "--commit")
    assert "碧沙岗街道" in run("grids", "locate", "113.635", "34.73").output
    names.write_text("code,name\n999,不存在\n", encoding="utf-8")
    refused = run("grids", "import", str(layer_file), "--name", "v2", "--names", str(names))
    assert refused.exit_code == 2 and "999" in refused.output


def test_volunteer_tasks_go_only_to_party_members_registered_with_the_grid(run: Invoke) -> None:
    from gridgov.grids.model import GridLevel
    from gridgov.sim.city import generate_city

    run("sim", "city", "--scale", "0.01", "--commit")
    community = next(g for g in generate_city(scale=0.01) if g.level is GridLevel.COMMUNITY)
    party = run("people", "party", community.code).output
    assert "网格党支部" in party and "registered party members: 3" in party
    member_id = party.strip().splitlines()[-1].split()[0]
    assert run("people", "task-add", community.code, "清理楼道杂物", "--commit").exit_code == 0
    outsider = run("people", "add", "路人甲", "--commit").output.split()[1]
    refused = run("people", "task-assign", "1", outsider, "--commit")
    assert refused.exit_code == 2 and "not a party member registered" in refused.output
    assert run("people", "task-assign", "1", member_id, "--commit").exit_code == 0
    assert run("people", "task-done", "1", "--commit").exit_code == 0
    assert "已完成" in run("people", "tasks", community.code).output
