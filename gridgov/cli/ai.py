"""`gridgov ai`: evaluate the text classifier on labelled messages; retrain the shipped model."""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import click

from gridgov.ai.model import SHIPPED, LinearTextModel, evaluate
from gridgov.cli.common import progress_printer, reports_errors
from gridgov.core.errors import InvalidInput
from gridgov.workflow.categories import CategorySource, load_taxonomy

TITLE, BODY, LABEL, ID = "留言主题", "留言详情", "一级标签", "留言编号"
LEVELS = ("一级分类", "二级分类", "三级分类")
LABELLED = "fj2_messages_labeled_921.csv"
TAXONOMY = "fj1_label_taxonomy.csv"
UNLABELLED = ("fj3_messages_with_votes.csv", "fj4_messages_with_replies.csv")
PACKAGE_DATA = Path(__file__).resolve().parent.parent / "ai" / "data"
DEFAULT_DATA_DIR = Path("../shared/data/tipdm2020c-gov-messages")


@click.group()
def ai() -> None:
    """智能辅助 · AI assistance: the text classifier's evaluation and training."""


def hotline_codes() -> dict[str, str]:
    """First-level hotline class name (城乡建设 …) → taxonomy code (H01 …)."""
    return {
        c.name_zh: c.code
        for c in load_taxonomy().roots()
        if c.source == CategorySource.HOTLINE and c.code[1:].isdigit()
    }


def read_rows(path: Path, required: tuple[str, ...]) -> Iterator[tuple[int, dict[str, str]]]:
    """(line, row) of a UTF-8 CSV with a header; a missing column or bad line is refused."""
    try:
        handle = path.open(encoding="utf-8-sig", newline="")
    except OSError as exc:
        raise InvalidInput(str(path), f"cannot be read: {exc.strerror}") from None
    with handle:
        reader = csv.DictReader(handle)
        try:
            header = reader.fieldnames or []
            for column in required:
                if column not in header:
                    raise InvalidInput(
                        f"{path.name} line 1, column {column}",
                        f"missing; the header has {', '.join(header) or 'nothing'}",
                    )
            for row in reader:
                if None in row or any(v is None for v in row.values()):
                    raise InvalidInput(
                        f"{path.name} line {reader.line_num}", "has a different number of fields"
                    )
                yield reader.line_num, row
        except UnicodeDecodeError:
            raise InvalidInput(
                f"{path.name} line {reader.line_num + 1}", "is not UTF-8 text"
            ) from None
        except csv.Error as exc:
            raise InvalidInput(f"{path.name} line {reader.line_num}", str(exc)) from None


def read_labelled(path: Path, codes: Mapping[str, str]) -> list[tuple[str, str, str]]:
    """(title, body, code) of every row; an unknown 一级标签 names its line."""
    out = []
    for line, row in read_rows(path, (TITLE, BODY, LABEL)):
        name = row[LABEL].strip()
        if name not in codes:
            raise InvalidInput(
                f"{path.name} line {line}, column {LABEL}",
                f"{name!r} is not a class the model knows ({', '.join(codes)})",
            )
        out.append((row[TITLE], row[BODY], codes[name]))
    if not out:
        raise InvalidInput(path.name, "has no rows")
    return out


def read_taxonomy_docs(path: Path, codes: Mapping[str, str]) -> list[tuple[str, str, str]]:
    """(title, body, code) of one weak example per leaf of the source taxonomy: the leaf's name as
    title, its second- and third-level names as body; 其他 (other) names nothing and is dropped.
    Leaves of a first-level class the model does not know are skipped."""
    out = []
    for _, row in read_rows(path, LEVELS):
        first, second, third = (row[c].strip() for c in LEVELS)
        if first not in codes:
            continue
        names = [n for n in (second, third) if n and n != "其他"]
        if names:
            out.append((names[-1], " ".join(names), codes[first]))
    return out


@ai.command("evaluate")
@click.option(
    "--data",
    "data_path",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help=f"UTF-8 CSV with the columns {TITLE}, {BODY} and {LABEL} (the class name, e.g. 城乡建设).",
)
@click.option(
    "--model-dir",
    type=click.Path(file_okay=False, exists=True, path_type=Path),
    help="Directory holding hotline_model.npz/.json (default: the model shipped in the package).",
)
@reports_errors
def evaluate_command(data_path: Path, model_dir: Path | None) -> None:
    """Classify every row and print one JSON object: accuracy, macro_f1, per_class, n, texts_per_s."""
    model = LinearTextModel.load(model_dir)
    names = model.metadata.get("label_names") or {v: k for k, v in hotline_codes().items()}
    codes = {name: code for code, name in names.items()}
    rows = read_labelled(data_path, codes)
    report = evaluate(model, [(t, b) for t, b, _ in rows], [c for _, _, c in rows])
    report["per_class"] = {names.get(c, c): s for c, s in report["per_class"].items()}
    click.echo(json.dumps(report, ensure_ascii=False))


@ai.command("train")
@click.option(
    "--data-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=DEFAULT_DATA_DIR,
    show_default=True,
    help=f"Folder with {LABELLED}, the unlabelled {' / '.join(UNLABELLED)} and the taxonomy "
    f"{TAXONOMY} (optional: its leaves become weak examples).",
)
@click.option(
    "--out",
    "out_dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="Also write hotline_model.npz/.json into this directory.",
)
@click.option("--commit", is_flag=True, help="Replace the model shipped in the package.")
@click.option("--repeats", type=int, default=None, help="Cross-validation repeats (default 3).")
@click.option("--ablation", is_flag=True, help="Cross-validate each step of the model card too.")
@click.option(
    "--from-cases",
    is_flag=True,
    help="Retrain from operators' labels (plus --data-dir when present); --commit promotes the "
    "model into DATA_DIR/models only if it beats the current one. See docs/ai.md.",
)
@click.option(
    "--taxonomy",
    type=click.Choice(["hotline", "urban"]),
    default="hotline",
    show_default=True,
    help="With --from-cases: which taxonomy's model to retrain.",
)
@reports_errors
def train_command(
    data_dir: Path,
    out_dir: Path | None,
    commit: bool,
    repeats: int | None,
    ablation: bool,
    from_cases: bool,
    taxonomy: str,
) -> None:
    """Cross-validate and fit the hotline model from the TipDM files; print the scores as JSON.

    Fixed seeds: the same files give the same model bytes. Nothing is written unless --out or
    --commit is given.
    """
    from dataclasses import replace

    from gridgov.ai import training

    if from_cases:
        from gridgov.cli.learning import train_from_cases

        return train_from_cases(taxonomy, data_dir, commit=commit, repeats=repeats)
    config = training.TrainConfig()
    if repeats is not None:
        config = replace(config, repeats=repeats)
    names = hotline_codes()
    path = data_dir / LABELLED
    labelled = [training.LabelledText(t, b, c) for t, b, c in read_labelled(path, names)]
    seen = {row[ID] for _, row in read_rows(path, (ID,))}
    unlabelled = [
        (row[TITLE], row[BODY])
        for name in UNLABELLED
        for _, row in read_rows(data_dir / name, (ID, TITLE, BODY))
        if row[ID] not in seen  # a few ids recur across attachments; never count one twice
    ]
    weak: list[training.LabelledText] = []
    if (data_dir / TAXONOMY).is_file():
        weak = [
            training.LabelledText(t, b, c)
            for t, b, c in read_taxonomy_docs(data_dir / TAXONOMY, names)
        ]
    else:
        click.echo(
            f"未找到 {TAXONOMY}，不用分类体系弱标注 / {TAXONOMY} not found: training without "
            "taxonomy documents",
            err=True,
        )
    progress = progress_printer("train")
    report: dict[str, Any] = {}
    if ablation:
        report["ablation"] = ablation_table(labelled, unlabelled, weak, config)
    result = training.train(
        labelled,
        unlabelled=unlabelled,
        taxonomy_docs=weak,
        config=config,
        metadata={
            "label_names": {code: name for name, code in names.items()},
            "data": [LABELLED, *UNLABELLED, *([TAXONOMY] if weak else [])],
            "training_code_commit": _commit(),
        },
        progress=progress,
    )
    report["cross_validation"] = result.cv.summary()
    report["model"] = {"features": result.model.vectorizer.size, "labels": result.model.labels}
    targets = [d for d in (out_dir, PACKAGE_DATA if commit else None) if d is not None]
    for target in targets:
        written = result.model.save(target, SHIPPED)
        report.setdefault("written", []).extend(str(p) for p in written)
    if not targets:
        click.echo(
            "预览，未写入；加 --commit 或 --out / nothing written: add --commit or --out", err=True
        )
    click.echo(json.dumps(report, ensure_ascii=False, indent=1))


def ablation_table(labelled: Any, unlabelled: Any, weak: Any, config: Any) -> list[dict[str, Any]]:
    """One cross-validated row per step of the model card's ablation."""
    from gridgov.ai import training

    rows = []
    for name, step in training.ablation_steps(config):
        result = training.train(labelled, unlabelled=unlabelled, taxonomy_docs=weak, config=step)
        cv = result.cv.summary()
        keep = (
            "accuracy_mean",
            "accuracy_sd",
            "macro_f1_mean",
            "ece_calibrated",
            "threshold",
            "auto_file_share",
            "auto_file_accuracy",
        )
        rows.append({"step": name} | {k: cv[k] for k in keep})
        click.echo(json.dumps(rows[-1], ensure_ascii=False), err=True)
    return rows


def _commit() -> str:
    """The git commit of the training code, with '+dirty' when it has uncommitted changes."""
    root = Path(__file__).resolve().parents[2]
    try:
        head = subprocess.run(
            ["git", "-C", str(root), "rev-parse", "HEAD"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "-C", str(root), "status", "--porcelain", "gridgov/ai"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        print("git unavailable: training commit not recorded", file=sys.stderr)
        return "unknown"
    return head + ("+dirty" if dirty else "")
