"""`gridgov ai evaluate` and `gridgov ai train` on small made-up files."""

from __future__ import annotations

import csv
import json
from pathlib import Path

from click.testing import CliRunner

from gridgov.cli.ai import LABELLED, PACKAGE_DATA, UNLABELLED, ai
from tests.ai.synthetic import corpus

NAMES = {"H01": "城乡建设", "H14": "教育文体", "H15": "劳动和社会保障"}
HEADER = ["留言编号", "留言主题", "留言详情", "一级标签"]


def write_csv(path: Path, header: list[str], rows: list[list[str]]) -> Path:
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def labelled_rows(per_class: int = 12) -> list[list[str]]:
    return [[str(i), e.title, e.body, NAMES[e.label]] for i, e in enumerate(corpus(per_class))]


def test_evaluate_prints_one_json_object_with_the_scores(tmp_path: Path) -> None:
    data = write_csv(tmp_path / "eval.csv", HEADER, labelled_rows(per_class=2))
    result = CliRunner().invoke(ai, ["evaluate", "--data", str(data)])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert set(report) == {"accuracy", "macro_f1", "per_class", "n", "texts_per_s"}
    assert report["n"] == 6
    assert set(report["per_class"]) >= set(NAMES.values())
    assert set(report["per_class"]["教育文体"]) == {"precision", "recall", "f1", "support"}


def test_evaluate_names_the_missing_column_and_exits_2(tmp_path: Path) -> None:
    data = write_csv(tmp_path / "bad.csv", ["留言主题", "留言详情"], [["路灯坏了", "路灯坏了"]])
    result = CliRunner().invoke(ai, ["evaluate", "--data", str(data)])
    assert result.exit_code == 2
    assert "一级标签" in result.stderr and "bad.csv line 1" in result.stderr


def test_evaluate_names_the_line_of_an_unknown_label(tmp_path: Path) -> None:
    rows = [*labelled_rows(per_class=1), ["9", "路灯坏了", "路灯坏了", "不存在的类"]]
    data = write_csv(tmp_path / "bad.csv", HEADER, rows)
    result = CliRunner().invoke(ai, ["evaluate", "--data", str(data)])
    assert result.exit_code == 2
    assert "line 5, column 一级标签" in result.stderr


def test_train_without_commit_reports_and_writes_only_to_out(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    write_csv(data_dir / LABELLED, HEADER, labelled_rows())
    for name in UNLABELLED:
        write_csv(data_dir / name, HEADER[:3], [["900", "工资拖欠", "公司拖欠工资"]])
    shipped = {p.name: p.read_bytes() for p in PACKAGE_DATA.glob("hotline_model.*")}
    out = tmp_path / "model"
    args = ["train", "--data-dir", str(data_dir), "--out", str(out), "--repeats", "1"]
    result = CliRunner().invoke(ai, args)
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["cross_validation"]["folds"] == 5
    assert sorted(p.name for p in out.iterdir()) == ["hotline_model.json", "hotline_model.npz"]
    assert {p.name: p.read_bytes() for p in PACKAGE_DATA.glob("hotline_model.*")} == shipped

    evaluated = CliRunner().invoke(
        ai, ["evaluate", "--data", str(data_dir / LABELLED), "--model-dir", str(out)]
    )
    assert json.loads(evaluated.stdout)["accuracy"] >= 0.9


def test_train_names_a_missing_data_file(tmp_path: Path) -> None:
    result = CliRunner().invoke(ai, ["train", "--data-dir", str(tmp_path)])
    assert result.exit_code == 2
    assert LABELLED in result.stderr
