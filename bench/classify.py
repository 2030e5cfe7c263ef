"""Benchmark: texts/s of the shipped hotline model on one core, against the keyword baseline.

    .venv/bin/python bench/classify.py [--texts 2000] [--previous DIR]

Texts are the TipDM messages beside the checkout (../shared/data/tipdm2020c-gov-messages, fj3 and
fj4, unlabelled — never in the repository) when present, else made-up messages of similar length.
Measures, in one run and one thread: `predict` in batches (the evaluate path), `suggest` one text
at a time (the intake path), and the KeywordClassifier's `suggest` as the baseline; prints the
ratios and replaces the "## Classify" section of docs/benchmarks.md. `--previous DIR` also times
another model's `predict` (e.g. the last commit's files, `git show HEAD:gridgov/ai/data/…`) in the
same run.
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import os
import platform
import re
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
# One core: BLAS threads would otherwise flatter the batch path.
os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

from gridgov.ai.classifier import KeywordClassifier  # noqa: E402
from gridgov.ai.model import LinearTextModel, TrainedClassifier  # noqa: E402
from gridgov.workflow.categories import load_taxonomy  # noqa: E402

DOC = ROOT / "docs" / "benchmarks.md"
DATA = ROOT.parent / "shared" / "data" / "tipdm2020c-gov-messages"
FILES = ("fj3_messages_with_votes.csv", "fj4_messages_with_replies.csv")


def messages(n: int) -> tuple[list[tuple[str, str]], str]:
    """`n` (title, body) pairs and where they came from."""
    if all((DATA / f).exists() for f in FILES):
        out: list[tuple[str, str]] = []
        for name in FILES:
            with (DATA / name).open(encoding="utf-8", newline="") as handle:
                out.extend((r["留言主题"], r["留言详情"]) for r in csv.DictReader(handle))
        return out[:n], f"first {min(n, len(out)):,} TipDM fj3/fj4 messages"
    body = "小区门口的道路破损严重，下雨天积水，居民出行很不方便，希望有关部门尽快维修。" * 8
    return [(f"道路破损{i}", body) for i in range(n)], f"{n:,} made-up messages"


def rate(run: Callable[[], object], count: int, times: int = 3) -> tuple[float, list[float]]:
    """Median texts/s over `times` runs, and the run times."""
    elapsed = []
    for _ in range(times):
        start = time.perf_counter()
        run()
        elapsed.append(time.perf_counter() - start)
    return count / statistics.median(elapsed), elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--texts", type=int, default=2000)
    parser.add_argument(
        "--previous", type=Path, help="folder with another hotline_model.npz/.json to compare"
    )
    args = parser.parse_args()
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})
    texts, source = messages(args.texts)
    joined = [f"{t}\n{b}" for t, b in texts]
    taxonomy = load_taxonomy()
    start = time.perf_counter()
    model = LinearTextModel.load()
    load_s = time.perf_counter() - start
    trained = TrainedClassifier(model, taxonomy)
    keywords = KeywordClassifier.from_file(taxonomy=taxonomy)
    trained.suggest("预热 / warm-up: 加载 jieba")
    keywords.suggest("预热")

    batch, batch_t = rate(lambda: model.predict(texts), len(texts))
    single, single_t = rate(lambda: [trained.suggest(t) for t in joined], len(texts))
    base, base_t = rate(lambda: [keywords.suggest(t) for t in joined], len(texts))
    compared = []
    if args.previous is not None:
        previous = LinearTextModel.load(args.previous)
        previous.predict(texts[:10])
        old, old_t = rate(lambda: previous.predict(texts), len(texts))
        compared = [
            (
                "previous model `predict` (`--previous`), same batch",
                f"{old:,.0f} texts/s ({', '.join(f'{t:.2f}' for t in old_t)} s)",
            ),
            ("ratio, model batch rate / previous model batch rate", f"{batch / old:.2f}×"),
        ]
    size = sum(p.stat().st_size for p in (ROOT / "gridgov/ai/data").glob("hotline_model.*"))
    chars = statistics.mean(len(t) for t in joined)
    rows = [
        ("model load (npz + json, vocabularies indexed)", f"{load_s:.2f} s"),
        ("model files (npz + json)", f"{size / 1e6:.1f} MB, {model.vectorizer.size:,} features"),
        (
            f"`predict`, batch of {len(texts):,} (the evaluate path)",
            f"**{batch:,.0f} texts/s** ({', '.join(f'{t:.2f}' for t in batch_t)} s)",
        ),
        (
            "`suggest`, one text at a time, top-3 with evidence (the intake path)",
            f"**{single:,.0f} texts/s** ({', '.join(f'{t:.2f}' for t in single_t)} s)",
        ),
        (
            "baseline: `KeywordClassifier.suggest`, one at a time",
            f"{base:,.0f} texts/s ({', '.join(f'{t:.2f}' for t in base_t)} s)",
        ),
        ("**ratio, keyword baseline rate / model batch rate**", f"**{base / batch:.1f}×**"),
        ("ratio, keyword baseline rate / model `suggest` rate", f"{base / single:.1f}×"),
        *compared,
    ]
    for label, value in rows:
        print(f"{label}: {value}")
    section = "\n".join(
        [
            "## Classify",
            "",
            "Text → hotline class with the shipped model (`gridgov.ai.model`), one core",
            "(`sched_setaffinity` to one CPU, BLAS single-threaded). Rerun with",
            "`.venv/bin/python bench/classify.py`; each run rewrites this section.",
            "",
            f"- Date {dt.date.today():%Y-%m-%d}; machine: {os.cpu_count()} cores, "
            f"{platform.machine()}, Python {platform.python_version()}; medians of 3.",
            f"- Texts: {source}, title + body, mean {chars:.0f} characters "
            "(the model reads the title, n-grams of the first 300 body characters, and looks up "
            "lexicon words in the first 1,000; no jieba at inference).",
            "",
            "| measure | value |",
            "| --- | --- |",
            *[f"| {label} | {value} |" for label, value in rows],
            "",
        ]
    )
    write_section(section)


def write_section(section: str) -> None:
    text = DOC.read_text(encoding="utf-8")
    pattern = re.compile(r"## Classify\n.*?(?=\n## |\Z)", re.S)
    if pattern.search(text):
        text = pattern.sub(lambda _: section.rstrip("\n") + "\n", text)
    else:
        text = text.rstrip("\n") + "\n\n" + section
    DOC.write_text(text.rstrip("\n") + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
