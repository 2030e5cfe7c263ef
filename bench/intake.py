"""Benchmark: the intake pipeline end to end, on SQLite and PostgreSQL, on the demo city.

    .venv/bin/python bench/intake.py [--reports 20000] [--batch 500] [--scale 1.0] [--no-postgres]
                                     [--profile N] [--no-doc]

Generates a day of reports from the channel samples in docs/channels/*.json, with the locations,
texts and cross-channel duplicates of `gridgov.ai.bursts` (a fifth of the hotline orders carry an
address only, as most real calls do), then pushes them through `IntakeService.receive_many` in
batches: validate → locate → classify → deduplicate → route → store → audit. Prints reports/s and
the time spent in each stage, and replaces the "## Intake" section of docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import copy
import cProfile
import datetime as dt
import json
import os
import platform
import pstats
import random
import re
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from devtools.pg_cluster import TempCluster  # noqa: E402
from gridgov.ai.bursts import BurstReport, generate_bursts  # noqa: E402
from gridgov.bootstrap import build_runtime  # noqa: E402
from gridgov.config import load_settings  # noqa: E402
from gridgov.core.clock import FixedClock  # noqa: E402
from gridgov.grids.model import Grid, GridLevel  # noqa: E402
from gridgov.services.intake import STAGES, IntakeReceipt  # noqa: E402
from gridgov.sim.city import generate_city  # noqa: E402
from gridgov.store.migrate import upgrade  # noqa: E402

DOC = ROOT / "docs" / "benchmarks.md"
SAMPLES = ROOT / "docs" / "channels"
START = dt.datetime(2026, 3, 2, tzinfo=dt.UTC)


def say(message: str) -> None:
    print(message, flush=True)


def sample(channel: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((SAMPLES / f"{channel}.json").read_text(encoding="utf-8"))
    return data


def payloads(n: int, grids: list[Grid], seed: int = 7) -> list[tuple[str, dict[str, Any]]]:
    """About `n` channel payloads: the bursts' reports, as their channels would send them."""
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
            p.update(order_no=f"H{i}", accepted_at=at, content=b.text, title=None)
            p.pop("deadline", None)
            if rng.random() < 0.2:
                p["address"] = rng.choice(addresses)
            else:
                p["location"] = where
        elif b.channel == "police_110":
            p = sample("police_110")
            p.update(incident_no=f"P{i}", reported_at=at, transferred_at=at, summary=b.text)
            p["location"] = {**where, "address": p["location"]["address"]}
        elif b.channel == "citizen_app":
            p = sample("citizen_app")
            p.update(submission_id=f"A{i}", submitted_at=at, text=b.text, photos=[], gps=where)
        else:
            p = sample("grid_patrol")
            p.update(report_id=f"G{i}", patrolled_at=at, text=b.text, gps=where, photos=[])
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


def run(
    url: str,
    grids: list[Grid],
    work: list[tuple[str, dict[str, Any]]],
    batch: int,
    data: Path,
    profile: int = 0,
) -> dict[str, Any]:
    upgrade(url)
    clock = FixedClock(START + dt.timedelta(hours=21))
    settings = load_settings(database_url=url, data_dir=data, intake_batch_size=batch)
    runtime = build_runtime(settings, clock=clock)
    layer = runtime.grids.import_grids(grids, name="demo", source="bench", commit=True).layer
    assert layer is not None
    runtime.grids.activate(layer.id, commit=True)
    started = time.perf_counter()
    warmup = {**sample("police_110"), "reported_at": START.isoformat(), "transferred_at": None}
    runtime.intake.preview("police_110", warmup)  # builds the locate index
    # An address-only order builds the gazetteer, which would otherwise be timed with the run.
    address = {**sample("hotline_12345"), "accepted_at": START.isoformat()}
    runtime.intake.preview("hotline_12345", address)
    warm = time.perf_counter() - started
    service = runtime.intake
    service.stage_seconds = dict.fromkeys(STAGES, 0.0)
    profiler = cProfile.Profile() if profile else None
    started = time.perf_counter()
    answers: list[Any] = []
    by_channel: dict[str, list[dict[str, Any]]] = {}
    for channel, payload in work:
        by_channel.setdefault(channel, []).append(payload)
    # Channels push in their own batches; interleave them as they would arrive.
    queues = {
        c: [ps[i : i + batch] for i in range(0, len(ps), batch)] for c, ps in by_channel.items()
    }
    if profiler is not None:
        profiler.enable()
    while any(queues.values()):
        for channel, chunks in queues.items():
            if chunks:
                answers += service.receive_many(channel, chunks.pop(0))
    elapsed = time.perf_counter() - started
    if profiler is not None:
        profiler.disable()
        pstats.Stats(profiler).sort_stats("tottime").print_stats(profile)
        pstats.Stats(profiler).sort_stats("cumulative").print_stats(profile)
    receipts = [a for a in answers if isinstance(a, IntakeReceipt)]
    stats = {
        "reports": len(work),
        "stored": len(receipts),
        "refused": len(answers) - len(receipts),
        "seconds": elapsed,
        "per_s": len(work) / elapsed,
        "warm_s": warm,
        "stages": dict(service.stage_seconds),
        "merged": sum(r.duplicate_of is not None for r in receipts),
        "manual": sum(r.case_id is None for r in receipts),
        "by_address": sum(r.located_by == "address" for r in receipts),
        "audit_ok": runtime.cases.verify_audit(),
    }
    runtime.close()
    return stats


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reports", type=int, default=20_000)
    parser.add_argument("--batch", type=int, default=500)
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument("--no-postgres", action="store_true")
    parser.add_argument(
        "--profile", type=int, default=0, metavar="N", help="print the N costliest functions"
    )
    parser.add_argument("--no-doc", action="store_true", help="leave docs/benchmarks.md as it is")
    args = parser.parse_args()
    t = time.perf_counter()
    grids = generate_city(scale=args.scale)
    say(f"demo city at scale {args.scale}: {len(grids):,} grids in {time.perf_counter() - t:.1f} s")
    work = payloads(args.reports, grids)
    say(f"{len(work):,} payloads from {sorted({c for c, _ in work})}")
    results: dict[str, dict[str, Any]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        results["SQLite"] = run(
            f"sqlite:///{tmp}/bench.sqlite",
            grids,
            work,
            args.batch,
            Path(tmp) / "sqlite",
            args.profile,
        )
        say(_line("SQLite", results["SQLite"]))
        if not args.no_postgres:
            cluster = TempCluster.start()
            try:
                cluster.create_database("bench", postgis=True)
                results["PostgreSQL"] = run(
                    cluster.url_for("bench"),
                    grids,
                    work,
                    args.batch,
                    Path(tmp) / "pg",
                    args.profile,
                )
                say(_line("PostgreSQL", results["PostgreSQL"]))
            finally:
                cluster.stop()
    if not args.no_doc:
        write_doc(results, args, len(grids))


def _line(name: str, r: dict[str, Any]) -> str:
    stages = ", ".join(f"{k} {v:.2f}s" for k, v in r["stages"].items())
    return (
        f"{name}: {r['reports']:,} reports in {r['seconds']:.2f} s = {r['per_s']:,.0f}/s "
        f"(stored {r['stored']:,}, merged {r['merged']:,}, manual {r['manual']:,}, by address "
        f"{r['by_address']:,}); stages: {stages}; audit intact: {r['audit_ok'].intact}"
    )


def write_doc(results: dict[str, dict[str, Any]], args: argparse.Namespace, n_grids: int) -> None:
    names = list(results)
    lines = [
        "## Intake",
        "",
        f"`bench/intake.py --reports {args.reports} --batch {args.batch} --scale {args.scale}`, "
        f"{dt.date.today().isoformat()}, {platform.machine()} × {os.cpu_count()} cores, "
        f"Python {platform.python_version()}. The demo city ({n_grids:,} grids); payloads from "
        "the channel samples with `gridgov.ai.bursts` locations, texts and cross-channel "
        "duplicates (hotline, 110, citizen app, grid patrol; a fifth of hotline orders address "
        "only). End to end through `IntakeService.receive_many` (validate → locate → classify → "
        "deduplicate → route → store → audit), one transaction per batch; the locate index and "
        "gazetteer built beforehand.",
        "",
        "| | " + " | ".join(names) + " |",
        "|---|" + "---:|" * len(names),
        "| reports/s | " + " | ".join(f"{results[n]['per_s']:,.0f}" for n in names) + " |",
        "| 20,000-report day | "
        + " | ".join(f"{20_000 / results[n]['per_s']:.1f} s" for n in names)
        + " |",
        "| merged as duplicates | " + " | ".join(f"{results[n]['merged']:,}" for n in names) + " |",
        "| located by address | "
        + " | ".join(f"{results[n]['by_address']:,}" for n in names)
        + " |",
        "| manual location queue | "
        + " | ".join(f"{results[n]['manual']:,}" for n in names)
        + " |",
        "| index + gazetteer warm-up | "
        + " | ".join(f"{results[n]['warm_s']:.1f} s" for n in names)
        + " |",
        "",
        "Time per stage over the run (seconds, and µs per report):",
        "",
        "| stage | " + " | ".join(names) + " |",
        "|---|" + "---:|" * len(names),
    ]
    for stage in STAGES:
        cells = []
        for n in names:
            seconds = results[n]["stages"][stage]
            cells.append(f"{seconds:.2f} s ({1e6 * seconds / results[n]['reports']:.0f} µs)")
        lines.append(f"| {stage} | " + " | ".join(cells) + " |")
    lines.append("")
    section = "\n".join(lines) + "\n"
    text = DOC.read_text(encoding="utf-8") if DOC.exists() else "# Benchmarks\n\n"
    pattern = re.compile(r"^## Intake\n.*?(?=^## |\Z)", re.S | re.M)
    text = (
        pattern.sub(lambda _: section, text)
        if pattern.search(text)
        else text.rstrip() + "\n\n" + section
    )
    DOC.write_text(text, encoding="utf-8")
    say(f"wrote the Intake section of {DOC.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
