"""`gridgov ai evaluate` and `gridgov ai train` on small made-up files and a real store."""

from __future__ import annotations

import csv
import json
from pathlib import Path

from click.testing import CliRunner
from sqlalchemy.orm import Session, sessionmaker

from gridgov.ai.model import LinearTextModel
from gridgov.cli.ai import LABELLED, PACKAGE_DATA, TAXONOMY, UNLABELLED, ai, read_taxonomy_docs
from tests.ai.synthetic import corpus
from tests.case_world import build_world
from tests.services.test_learning import file_case, learning

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


def test_train_reads_the_taxonomy_file_as_weak_examples_when_present(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    write_csv(data_dir / LABELLED, HEADER, labelled_rows())
    for name in UNLABELLED:
        write_csv(data_dir / name, HEADER[:3], [["900", "工资拖欠", "公司拖欠工资"]])
    levels = ["一级分类", "二级分类", "三级分类"]
    rows = [
        ["教育文体", "学生服务", "校车安全"],
        ["教育文体", "学生服务", "校车接送"],
        ["教育文体", "学生服务", "其他"],
        ["交通运输", "出租车管理", "网约车问题"],  # a class without messages: skipped
        ["不存在", "某类", "某项"],
    ]
    write_csv(data_dir / TAXONOMY, levels, rows)
    out = tmp_path / "model"
    args = ["train", "--data-dir", str(data_dir), "--out", str(out), "--repeats", "1"]
    result = CliRunner().invoke(ai, args)
    assert result.exit_code == 0, result.output
    model = LinearTextModel.load(out)
    assert model.metadata["taxonomy_docs"] == 3
    assert TAXONOMY in model.metadata["data"]
    assert model.predict([("校车", "校车")]) == ["H14"]
    assert read_taxonomy_docs(data_dir / TAXONOMY, {"教育文体": "H14"})[2] == (
        "学生服务",
        "学生服务",
        "H14",
    )


def test_train_without_the_taxonomy_file_says_so_and_still_trains(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    write_csv(data_dir / LABELLED, HEADER, labelled_rows())
    for name in UNLABELLED:
        write_csv(data_dir / name, HEADER[:3], [["900", "工资拖欠", "公司拖欠工资"]])
    result = CliRunner().invoke(ai, ["train", "--data-dir", str(data_dir), "--repeats", "1"])
    assert result.exit_code == 0, result.output
    assert f"{TAXONOMY} not found" in result.stderr
    assert json.loads(result.stdout)["cross_validation"]["folds"] == 5


def test_train_from_cases_retrains_the_hotline_model_from_stored_confirmations(
    db_url: str, sessions: sessionmaker[Session], tmp_path: Path
) -> None:
    runner, data_dir = thirty_confirmations(db_url, sessions, tmp_path)
    args = ["train", "--from-cases", "--data-dir", str(data_dir), "--repeats", "1", "--commit"]
    result = runner.invoke(ai, args, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["taxonomy"] == "hotline" and report["shipped_examples"] == 36
    # 30 labels: every 5th (6) is held out, the other 24 join the 36 shipped examples.
    assert report["evaluated_on"] == 6 and report["trained_on"] == 60
    assert report["classes"] == ["H01", "H14", "H15"]
    # Compared with the shipped model on too few held-out labels: refused, nothing written.
    assert not report["promoted"] and "too few evaluation examples: 6" in report["reason"]
    assert report["current_score"] is not None
    assert not (tmp_path / "var" / "models").exists()


def test_train_from_cases_gives_the_hotline_candidate_the_taxonomy_leaves_when_present(
    db_url: str, sessions: sessionmaker[Session], tmp_path: Path
) -> None:
    runner, data_dir = thirty_confirmations(db_url, sessions, tmp_path)
    levels = ["一级分类", "二级分类", "三级分类"]
    rows = [
        ["教育文体", "学生服务", "校车安全"],
        ["劳动和社会保障", "劳动关系", "欠薪"],
        ["交通运输", "出租车管理", "网约车问题"],  # no label of 交通运输: left out
    ]
    write_csv(data_dir / TAXONOMY, levels, rows)
    args = ["train", "--from-cases", "--data-dir", str(data_dir), "--repeats", "1"]
    result = runner.invoke(ai, args, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    # The two leaves of the classes with examples join the candidate, as in `gridgov ai train`.
    assert report["shipped_examples"] == 36 and report["taxonomy_docs"] == 2
    assert report["classes"] == ["H01", "H14", "H15"]
    (data_dir / TAXONOMY).unlink()
    again = json.loads(runner.invoke(ai, args, catch_exceptions=False).stdout)
    assert again["taxonomy_docs"] == 0


def thirty_confirmations(
    db_url: str, sessions: sessionmaker[Session], tmp_path: Path
) -> tuple[CliRunner, Path]:
    """A store with 30 hotline cases filed as proposed, a data folder with the labelled CSV, and a
    CLI runner on both."""
    world = build_world(sessions, tmp_path)
    service = learning(world, tmp_path)
    for example in corpus(per_class=10, seed=3):
        file_case(
            world, service, f"{example.title}\n{example.body}", example.label, (example.label, 0.9)
        )
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    write_csv(data_dir / LABELLED, HEADER, labelled_rows())
    runner = CliRunner(
        env={
            "GRIDGOV_DATABASE_URL": db_url,
            "GRIDGOV_DATA_DIR": str(tmp_path / "var"),
            "GRIDGOV_INTAKE_PLACES": "",
        }
    )
    return runner, data_dir
