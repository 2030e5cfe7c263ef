"""Benchmark: the intake pipeline end to end, on SQLite and PostgreSQL, on the demo city.

    .venv/bin/python bench/intake.py [--reports 20000] [--batch 500] [--runs 3] [--single 1000]
                                     [--scale 1.0] [--no-postgres] [--gc-default] [--dedup]
                                     [--profile N] [--no-doc]

Generates a day of reports from the channel samples in docs/channels/*.json, with the locations,
texts and cross-channel duplicates of `gridgov.ai.bursts` (a fifth of the hotline orders carry an
address only, as most real calls do), then, on a fresh copy of a store holding the demo city:

1. pushes them through `IntakeService.receive_many` in each channel's batches, interleaved as the
   channels would deliver them: validate → locate → classify → deduplicate → route → store → audit
   (`--runs` times; the median run is reported, the others shown);
2. the baseline in the same run: `--single` more reports sent one at a time through
   `IntakeService.receive` into the same store (the path of a channel that pushes one by one);
3. with `--gc-default`, one more batch run at Python's default collector thresholds instead of
   those `Runtime.warm_up` sets (`GRIDGOV_GC_YOUNG_THRESHOLD`), to show what they are worth;
4. with `--dedup`, duplicate precision and recall on the labelled bursts (seeds 1–5, 900 problems,
   keyword classifier), the evaluation of docs/ai.md.

Everything the first report would otherwise wait for (locate index, gazetteer, duplicate index,
jieba) is built by `Runtime.warm_up` before the clock starts, as a server does before taking
connections; it also sets the collector's young-generation threshold. The process holds what a server
would: the payloads wait as the JSON bodies the channels would POST (parsed untimed, just before
each push), receipts are counted and dropped, and the generated city is dropped once stored. PostgreSQL runs with fsync and
synchronous commit on, as production does. Prints reports/s (wall and per CPU second of this
process), time per stage and in the garbage collector, and replaces the measured part of the
"## Intake" section of docs/benchmarks.md (its "### …" notes stay).
"""

from __future__ import annotations

import argparse
import copy
import cProfile
import datetime as dt
import gc
import json
import os
import platform
import pstats
import random
import re
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from devtools.pg_cluster import TempCluster  # noqa: E402
from gridgov.ai.bursts import BurstReport, generate_bursts, measure  # noqa: E402
from gridgov.ai.classifier import KeywordClassifier  # noqa: E402
from gridgov.ai.duplicates import DuplicateFinder  # noqa: E402
from gridgov.bootstrap import build_runtime  # noqa: E402
from gridgov.config import load_settings  # noqa: E402
from gridgov.core.clock import FixedClock  # noqa: E402
from gridgov.core.errors import InvalidInput  # noqa: E402
from gridgov.grids.model import Grid, GridLevel  # noqa: E402
from gridgov.services.intake import STAGES, IntakeReceipt  # noqa: E402
from gridgov.sim.city import generate_city  # noqa: E402
from gridgov.store.migrate import upgrade  # noqa: E402
from gridgov.workflow.categories import load_taxonomy  # noqa: E402

DOC = ROOT / "docs" / "benchmarks.md"
SAMPLES = ROOT / "docs" / "channels"
START = dt.datetime(2026, 3, 2, tzinfo=dt.UTC)
TARGET_PER_S = 2_000
DAY = 20_000
Work = list[tuple[str, dict[str, Any]]]


def say(message: str) -> None:
    print(message, flush=True)


def sample(channel: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((SAMPLES / f"{channel}.json").read_text(encoding="utf-8"))
    return data


def payloads(n: int, grids: list[Grid], seed: int = 7, prefix: str = "") -> Work:
    """`n` channel payloads: the bursts' reports, as their channels would send them; `prefix`
    starts every external id."""
    bursts: list[BurstReport] = []
    problems = n // 2
    while len(bursts) < n:
        bursts = generate_bursts(seed, problems, start=START, span=dt.timedelta(hours=20))
        problems = int(problems * 1.2) + 1
    rng = random.Random(seed)
    addresses = _compound_addresses(grids)
    out = []
    for i, b in enumerate(bursts[:n]):
        at = b.at.isoformat()
        where = {"lon": round(b.lon, 6), "lat": round(b.lat, 6), "crs": "wgs84"}
        if b.channel == "hotline_12345":
            p = sample("hotline_12345")
            p.update(order_no=f"{prefix}H{i}", accepted_at=at, content=b.text, title=None)
            p.pop("deadline", None)
            if rng.random() < 0.2:
                p["address"] = rng.choice(addresses)
            else:
                p["location"] = where
        elif b.channel == "police_110":
            p = sample("police_110")
            p.update(incident_no=f"{prefix}P{i}", reported_at=at, transferred_at=at, summary=b.text)
            p["location"] = {**where, "address": p["location"]["address"]}
        elif b.channel == "citizen_app":
            p = sample("citizen_app")
            p.update(
                submission_id=f"{prefix}A{i}", submitted_at=at, text=b.text, photos=[], gps=where
            )
        else:
            p = sample("grid_patrol")
            p.update(report_id=f"{prefix}G{i}", patrolled_at=at, text=b.text, gps=where, photos=[])
            p["category_code"] = b.category_code or p["category_code"]
        out.append((b.channel, copy.deepcopy(p)))
    return out


def _compound_addresses(grids: list[Grid]) -> list[str]:
    by_code = {g.code: g for g in grids}
    found = []
    for g in grids:
        if g.level is not GridLevel.COMPOUND:
            continue
        community = by_code[g.parent_code or ""]
        street = by_code[community.parent_code or ""]
        district = by_code[street.parent_code or ""]
        found.append(f"{district.name}{street.name}{community.name}{g.name}3号楼")
    return found


class Store:
    """A store holding the demo city, copied fresh for every run (file copy, or a PostgreSQL
    database created from a template)."""

    def __init__(self, name: str, fresh: Callable[[], str], data: Path) -> None:
        self.name = name
        self._fresh = fresh
        self.data = data

    def copy(self) -> str:
        return self._fresh()


def prepare_store(url: str, grids: list[Grid], data: Path) -> float:
    """Migrate, import and activate the city, and build the locate index cache; seconds taken."""
    started = time.perf_counter()
    upgrade(url)
    settings = load_settings(database_url=url, data_dir=data)
    runtime = build_runtime(settings, clock=FixedClock(START))
    layer = runtime.grids.import_grids(grids, name="demo", source="bench", commit=True).layer
    assert layer is not None
    runtime.grids.activate(layer.id, commit=True)
    runtime.locating.index(runtime.locating.layer())  # written to DATA_DIR/index for the runs
    runtime.close()
    return time.perf_counter() - started


@contextmanager
def collector_time() -> Iterator[dict[str, float]]:
    """Seconds the cyclic garbage collector runs inside the block."""
    spent = {"seconds": 0.0, "full": 0.0}
    began = [0.0]

    def watch(phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            began[0] = time.perf_counter()
        else:
            spent["seconds"] += time.perf_counter() - began[0]
            spent["full"] += info["generation"] == 2

    gc.callbacks.append(watch)
    try:
        yield spent
    finally:
        gc.callbacks.remove(watch)


def pushes_of(work: Work, batch: int) -> list[tuple[str, str]]:
    """Each channel's batches as the JSON bodies it would POST, interleaved as they would arrive.

    Kept as text until sent, as a server receives them: a day of parsed payloads held in memory
    would be a heap no server has, and would make the collector's every full pass longer.
    """
    by_channel: dict[str, list[dict[str, Any]]] = {}
    for channel, payload in work:
        by_channel.setdefault(channel, []).append(payload)
    queues = {
        c: [json.dumps(ps[i : i + batch], ensure_ascii=False) for i in range(0, len(ps), batch)]
        for c, ps in by_channel.items()
    }
    pushes = []
    while any(queues.values()):
        for channel, bodies in queues.items():
            if bodies:
                pushes.append((channel, bodies.pop(0)))
    return pushes


def run(
    store: Store,
    pushes: list[tuple[str, str]],
    single: list[tuple[str, str]],
    batch: int,
    *,
    default_gc: bool = False,
    profile: int = 0,
) -> dict[str, Any]:
    """One run on a fresh copy of the store: the day in batches, then `single` one by one. Only
    the service's work is timed, not reading the JSON bodies. `default_gc` keeps Python's
    collector thresholds instead of those `Runtime.warm_up` sets."""
    url = store.copy()
    data = Path(tempfile.mkdtemp(prefix="intake-bench-"))
    shutil.copytree(store.data, data, dirs_exist_ok=True)
    settings = load_settings(database_url=url, data_dir=data, intake_batch_size=batch)
    runtime = build_runtime(settings, clock=FixedClock(START + dt.timedelta(hours=21)))
    thresholds = gc.get_threshold()
    started = time.perf_counter()
    runtime.warm_up()
    warm = time.perf_counter() - started
    if default_gc:
        gc.set_threshold(*thresholds)
    service = runtime.intake
    service.stage_seconds = dict.fromkeys(STAGES, 0.0)
    profiler = cProfile.Profile() if profile else None
    tally = {"reports": 0, "stored": 0, "merged": 0, "manual": 0, "by_address": 0}
    elapsed = cpu = 0.0
    with collector_time() as collected:
        for channel, body in pushes:
            payloads = json.loads(body)
            if profiler is not None:
                profiler.enable()
            started, cpu_started = time.perf_counter(), time.process_time()
            answers = service.receive_many(channel, payloads)
            elapsed += time.perf_counter() - started
            cpu += time.process_time() - cpu_started
            if profiler is not None:
                profiler.disable()
            _count(tally, answers)
    stages = dict(service.stage_seconds)
    single_elapsed = 0.0
    for channel, body in single:
        payload = json.loads(body)
        started = time.perf_counter()
        service.receive(channel, payload)
        single_elapsed += time.perf_counter() - started
    gc.set_threshold(*thresholds)
    if profiler is not None:
        pstats.Stats(profiler).sort_stats("tottime").print_stats(profile)
        pstats.Stats(profiler).sort_stats("cumulative").print_stats(profile)
    audit = runtime.cases.verify_audit()
    runtime.close()
    shutil.rmtree(data, ignore_errors=True)
    return {
        **tally,
        "seconds": elapsed,
        "per_s": tally["reports"] / elapsed,
        "cpu_per_s": tally["reports"] / cpu,
        "gc_s": collected["seconds"],
        "gc_full": int(collected["full"]),
        "single": len(single),
        "single_per_s": len(single) / single_elapsed if single else 0.0,
        "warm_s": warm,
        "stages": stages,
        "audit_ok": audit.intact,
    }


def _count(tally: dict[str, int], answers: list[IntakeReceipt | InvalidInput]) -> None:
    """What a channel would note of its receipts before dropping them."""
    tally["reports"] += len(answers)
    for answer in answers:
        if isinstance(answer, IntakeReceipt):
            tally["stored"] += 1
            tally["merged"] += answer.duplicate_of is not None
            tally["manual"] += answer.case_id is None
            tally["by_address"] += answer.located_by == "address"


def median_run(runs: list[dict[str, Any]]) -> dict[str, Any]:
    ordered = sorted(runs, key=lambda r: r["per_s"])
    chosen = dict(ordered[len(ordered) // 2])
    chosen["all_per_s"] = [r["per_s"] for r in runs]
    chosen["single_per_s"] = statistics.median(r["single_per_s"] for r in runs)
    return chosen


def dedup_quality() -> dict[str, tuple[float, float]]:
    """Precision and recall (mean, sd) on seeds 1–5 as docs/ai.md measures them."""
    taxonomy = load_taxonomy()
    keywords = KeywordClassifier.from_file(taxonomy=taxonomy)
    scores = [
        measure(DuplicateFinder(taxonomy=taxonomy), generate_bursts(seed, 900), classifier=keywords)
        for seed in range(1, 6)
    ]
    return {
        name: (
            statistics.mean(getattr(s, name) for s in scores),
            statistics.stdev(getattr(s, name) for s in scores),
        )
        for name in ("precision", "recall")
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reports", type=int, default=DAY, help="reports in the batch run")
    parser.add_argument("--batch", type=int, default=500, help="reports per channel push")
    parser.add_argument("--runs", type=int, default=3, help="batch runs per store (median kept)")
    parser.add_argument("--single", type=int, default=1000, help="reports sent one at a time")
    parser.add_argument("--scale", type=float, default=1.0, help="demo city scale")
    parser.add_argument("--no-postgres", action="store_true", help="SQLite only")
    parser.add_argument(
        "--gc-default",
        action="store_true",
        help="one more SQLite run at Python's default collector thresholds",
    )
    parser.add_argument("--dedup", action="store_true", help="duplicate precision and recall")
    parser.add_argument(
        "--profile", type=int, default=0, metavar="N", help="print the N costliest functions"
    )
    parser.add_argument("--no-doc", action="store_true", help="leave docs/benchmarks.md as it is")
    args = parser.parse_args()
    t = time.perf_counter()
    grids = generate_city(scale=args.scale)
    n_grids = len(grids)
    say(f"demo city at scale {args.scale}: {n_grids:,} grids in {time.perf_counter() - t:.1f} s")
    work = payloads(args.reports, grids)
    single = payloads(args.single, grids, seed=8, prefix="S") if args.single else []
    say(f"{len(work):,} + {len(single):,} payloads from {sorted({c for c, _ in work})}")
    pushes = pushes_of(work, args.batch)
    one_by_one = [(channel, json.dumps(p, ensure_ascii=False)) for channel, p in single]
    del work, single
    results: dict[str, dict[str, Any]] = {}
    cluster = None
    with tempfile.TemporaryDirectory() as tmp:
        try:
            template = Path(tmp) / "city.sqlite"
            took = prepare_store(f"sqlite:///{template}", grids, Path(tmp) / "sqlite-data")
            say(f"SQLite store with the city in {took:.0f} s")
            if not args.no_postgres:
                settings = {"fsync": "on", "synchronous_commit": "on", "full_page_writes": "on"}
                cluster = TempCluster.start(settings=settings)
                cluster.create_database("city", postgis=True)
                took = prepare_store(cluster.url_for("city"), grids, Path(tmp) / "pg-data")
                say(f"PostgreSQL store with the city in {took:.0f} s")
            # A server holds the city in its indexes only, not also as a list of generated grids.
            del grids
            gc.collect()
            copies = iter(range(1_000))

            def sqlite_copy() -> str:
                target = Path(tmp) / f"run-{next(copies)}.sqlite"
                shutil.copy(template, target)
                return f"sqlite:///{target}"

            sqlite = Store("SQLite", sqlite_copy, Path(tmp) / "sqlite-data")
            results["SQLite"] = measured(sqlite, pushes, one_by_one, args)
            if args.gc_default:
                untuned = run(sqlite, pushes, [], args.batch, default_gc=True)
                say(_line("SQLite, Python's collector thresholds", untuned))
                results["SQLite, Python's default collector"] = {
                    **untuned,
                    "all_per_s": [untuned["per_s"]],
                }
            if cluster is not None:
                pg = cluster

                def pg_copy() -> str:
                    return pg.url_for(pg.clone_database("city"))

                postgres = Store("PostgreSQL", pg_copy, Path(tmp) / "pg-data")
                results["PostgreSQL"] = measured(postgres, pushes, one_by_one, args)
        finally:
            if cluster is not None:
                cluster.stop()
    quality = dedup_quality() if args.dedup else None
    if quality is not None:
        say(
            "duplicates, seeds 1–5: "
            + ", ".join(f"{k} {m:.3f} ± {s:.3f}" for k, (m, s) in quality.items())
        )
    if not args.no_doc:
        write_doc(results, quality, args, n_grids)


def measured(
    store: Store,
    pushes: list[tuple[str, str]],
    single: list[tuple[str, str]],
    args: argparse.Namespace,
) -> dict[str, Any]:
    runs = []
    for n in range(args.runs):
        result = run(store, pushes, single, args.batch, profile=args.profile if n == 0 else 0)
        say(_line(f"{store.name} run {n + 1}", result))
        runs.append(result)
    return median_run(runs)


def _line(name: str, r: dict[str, Any]) -> str:
    stages = ", ".join(f"{k} {1e6 * v / r['reports']:.0f}" for k, v in r["stages"].items())
    single = f"; one at a time {r['single_per_s']:,.0f}/s" if r["single"] else ""
    return (
        f"{name}: {r['reports']:,} reports in {r['seconds']:.2f} s = {r['per_s']:,.0f}/s "
        f"({r['cpu_per_s']:,.0f} per CPU second; collector {r['gc_s']:.2f} s, "
        f"{r['gc_full']} full){single}; merged {r['merged']:,}, by address "
        f"{r['by_address']:,}, manual {r['manual']:,}; stages µs/report: {stages}; "
        f"audit intact: {r['audit_ok']}"
    )


def write_doc(
    results: dict[str, dict[str, Any]],
    quality: dict[str, tuple[float, float]] | None,
    args: argparse.Namespace,
    n_grids: int,
) -> None:
    names = list(results)

    def row(label: str, cell: Callable[[dict[str, Any]], str]) -> str:
        return f"| {label} | " + " | ".join(cell(results[n]) for n in names) + " |"

    lines = [
        "## Intake",
        "",
        f"`bench/intake.py --reports {args.reports} --batch {args.batch} --runs {args.runs} "
        f"--single {args.single} --scale {args.scale}"
        + (" --gc-default" if args.gc_default else "")
        + (" --dedup" if args.dedup else "")
        + f"`, {dt.date.today().isoformat()}, {platform.machine()} × {os.cpu_count()} cores, "
        f"Python {platform.python_version()}, load average "
        f"{' / '.join(f'{x:.1f}' for x in os.getloadavg())} at the end. The demo city "
        f"({n_grids:,} grids); payloads from the channel samples with `gridgov.ai.bursts` "
        "locations, texts and cross-channel duplicates (hotline, 110, citizen app, grid patrol; a "
        "fifth of hotline orders address only), pushed through `IntakeService.receive_many` in "
        "each channel's batches (validate → locate → classify → deduplicate → route → store → "
        "audit, one transaction per batch) on a fresh copy of the store, after "
        "`Runtime.warm_up` (indexes, gazetteer, jieba; collector threshold "
        "`GRIDGOV_GC_YOUNG_THRESHOLD`). The baseline of the same run sends more reports one at a time "
        "through `IntakeService.receive`. PostgreSQL with fsync and synchronous commit on, on the "
        "same two cores. Median of the runs; every run's figure in brackets.",
        "",
        "| | " + " | ".join(names) + " |",
        "|---|" + "---:|" * len(names),
        row(
            "reports/s, batches",
            lambda r: f"**{r['per_s']:,.0f}** ({', '.join(f'{x:,.0f}' for x in r['all_per_s'])})",
        ),
        row("× the 2,000/s target", lambda r: f"{r['per_s'] / TARGET_PER_S:.2f}"),
        row("20,000-report day", lambda r: f"{DAY / r['per_s']:.1f} s"),
        row("reports per CPU second of the process", lambda r: f"{r['cpu_per_s']:,.0f}"),
        row(
            "of the run, in the garbage collector",
            lambda r: f"{r['gc_s']:.1f} s ({r['gc_full']} full collections)",
        ),
        row(
            "reports/s one at a time (baseline)",
            lambda r: f"{r['single_per_s']:,.0f}" if r["single"] else "–",
        ),
        row(
            "batches ÷ one at a time",
            lambda r: f"{r['per_s'] / r['single_per_s']:.1f}×" if r["single"] else "–",
        ),
        row("merged as duplicates", lambda r: f"{r['merged']:,}"),
        row("located by address", lambda r: f"{r['by_address']:,}"),
        row("manual location queue", lambda r: f"{r['manual']:,}"),
        row("audit chain intact", lambda r: "yes" if r["audit_ok"] else "**no**"),
        row("warm-up (indexes, gazetteer, jieba)", lambda r: f"{r['warm_s']:.1f} s"),
        "",
        "Time per stage, µs per report (the median run):",
        "",
        "| stage | " + " | ".join(names) + " |",
        "|---|" + "---:|" * len(names),
    ]
    for stage in STAGES:
        lines.append(row(stage, lambda r, s=stage: f"{1e6 * r['stages'][s] / r['reports']:.0f}"))
    lines.append(row("total", lambda r: f"{1e6 * sum(r['stages'].values()) / r['reports']:.0f}"))
    if quality is not None:
        p, r = quality["precision"], quality["recall"]
        lines += [
            "",
            f"Duplicate detection on the labelled bursts (seeds 1–5, 900 problems, keyword "
            f"classifier; docs/ai.md): precision {p[0]:.3f} ± {p[1]:.3f}, recall "
            f"{r[0]:.3f} ± {r[1]:.3f}.",
        ]
    lines.append("")
    section = "\n".join(lines) + "\n"
    text = DOC.read_text(encoding="utf-8") if DOC.exists() else "# Benchmarks\n\n"
    # The measured part only: a "### …" subsection after it holds notes written by hand.
    pattern = re.compile(r"^## Intake\n.*?(?=^### |^## |\Z)", re.S | re.M)
    text = (
        pattern.sub(lambda _: section, text)
        if pattern.search(text)
        else text.rstrip() + "\n\n" + section
    )
    DOC.write_text(text, encoding="utf-8")
    say(f"wrote the Intake section of {DOC.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
