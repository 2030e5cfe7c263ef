"""`gridgov ai train --from-cases`: retrain from operators' labels, promote only a better model."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import click

from gridgov.cli.ai import (
    BODY,
    ID,
    LABELLED,
    TAXONOMY,
    TITLE,
    UNLABELLED,
    hotline_codes,
    read_labelled,
    read_rows,
    read_taxonomy_docs,
)
from gridgov.cli.common import runtime_from
from gridgov.services.learning import LearningService


def train_from_cases(taxonomy: str, data_dir: Path, *, commit: bool, repeats: int | None) -> None:
    """Retrain `taxonomy` from the stored labels; print the decision as JSON; write only on commit."""
    from gridgov.ai import training

    runtime = runtime_from(click.get_current_context())
    config = training.TrainConfig()
    if repeats is not None:
        config = replace(config, repeats=repeats)
    service = LearningService(
        runtime.sessions,
        runtime.clock,
        taxonomy=runtime.cases.taxonomy,
        models_dir=runtime.settings.models_dir,
        options=replace(runtime.learning.options, config=config),
    )
    shipped: list[training.LabelledText] = []
    unlabelled: list[tuple[str, str]] = []
    weak: list[training.LabelledText] = []
    # The shipped model's training files are optional: a deployment learns from its own labels.
    if taxonomy == "hotline" and (data_dir / LABELLED).is_file():
        path = data_dir / LABELLED
        shipped = [
            training.LabelledText(t, b, c) for t, b, c in read_labelled(path, hotline_codes())
        ]
        seen = {row[ID] for _, row in read_rows(path, (ID,))}
        unlabelled = [
            (row[TITLE], row[BODY])
            for name in UNLABELLED
            if (data_dir / name).is_file()
            for _, row in read_rows(data_dir / name, (ID, TITLE, BODY))
            if row[ID] not in seen
        ]
    elif taxonomy == "hotline":
        click.echo(
            f"未找到 {data_dir / LABELLED}，仅用工单标注训练 / {data_dir / LABELLED} not found: "
            "training on operators' labels only",
            err=True,
        )
    # The fj1 leaves, as in `gridgov ai train`: words the labels never used still point somewhere.
    if taxonomy == "hotline" and (data_dir / TAXONOMY).is_file():
        weak = [
            training.LabelledText(t, b, c)
            for t, b, c in read_taxonomy_docs(data_dir / TAXONOMY, hotline_codes())
        ]
    result = service.retrain(
        taxonomy, shipped=shipped, unlabelled=unlabelled, taxonomy_docs=weak, commit=commit
    )
    report = result.as_dict() | {"shipped_examples": len(shipped), "committed": commit}
    if not commit:
        click.echo(
            "预览，未写入；加 --commit 提升模型 / preview, nothing written: add --commit", err=True
        )
    click.echo(json.dumps(report, ensure_ascii=False, indent=1))
