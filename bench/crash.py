"""Benchmark: kill -9 the server and the worker at random moments under load; nothing lost.

    .venv/bin/python bench/crash.py [--kills 100] [--scale 0.1] [--clients 6] [--deadlines 200]
                                    [--seed 1] [--no-doc]

Runs `devtools.crashlab` (PostgreSQL, `gridgov serve --workers 2`, `gridgov worker`, channel
clients retrying over HTTP, a fake 12345 platform), prints what it checked and replaces the
"## Crashes" section of docs/benchmarks.md. Exits 1 if any check failed. The short version
(5 kills) runs in `make test` as tests/test_crash.py.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import re
import signal
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from devtools.crashlab import CrashConfig, CrashReport, run_crashes  # noqa: E402

DOC = ROOT / "docs" / "benchmarks.md"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kills", type=int, default=100)
    parser.add_argument("--scale", type=float, default=0.1)
    parser.add_argument("--clients", type=int, default=6)
    parser.add_argument("--deadlines", type=int, default=200)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--no-doc", action="store_true", help="leave docs/benchmarks.md as it is")
    args = parser.parse_args()
    # Stopped with SIGTERM, still tear down the cluster and the processes it started.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    cfg = CrashConfig(
        kills=args.kills,
        scale=args.scale,
        clients=args.clients,
        deadlines=args.deadlines,
        seed=args.seed,
        drain_s=180.0,
    )
    report = run_crashes(cfg, say=lambda m: print(m, flush=True))
    for line in report.lines():
        print(line)
    if not args.no_doc:
        write_doc(report, args)
    sys.exit(0 if report.ok else 1)


def write_doc(report: CrashReport, args: argparse.Namespace) -> None:
    r = report
    cfg = r.config
    kinds = {
        k: sum(1 for x in r.kills if x.target == k) for k in ("server", "server_process", "worker")
    }
    lines = [
        "## Crashes",
        "",
        f"`bench/crash.py --kills {args.kills} --scale {args.scale} --clients {args.clients} "
        f"--deadlines {args.deadlines} --seed {args.seed}`, {dt.date.today().isoformat()}, "
        f"{platform.machine()} × {os.cpu_count()} cores, Python {platform.python_version()}; "
        f"the machine was shared with other work (1-minute load average {os.getloadavg()[0]:.1f} "
        "at the end, on 2 cores), so times are noisy. PostgreSQL (throwaway "
        f"cluster), `gridgov serve --workers {cfg.server_workers}`, `gridgov worker` (sweep every "
        f"{cfg.sweep_s:g} s, lease {cfg.lease_s:g} s, 12345 status every 1 s to a fake platform), "
        f"{cfg.clients} channel clients pushing all eight channels over HTTP and retrying each "
        "report with the same external id after a timeout, a lost connection or a 5xx until it "
        f"is acknowledged. {len(r.kills)} `kill -9` at random moments, each {cfg.gap_s[0]:g}–"
        f"{cfg.gap_s[1]:g} s after reports flowed again following the previous one, and each "
        f"followed by a restart after {cfg.down_s[0]:g}–"
        f"{cfg.down_s[1]:g} s: the whole server (master and workers) {kinds['server']}×, one "
        f"uvicorn worker process (its supervisor starts another) {kinds['server_process']}×, the "
        f"background worker {kinds['worker']}×. Method and definitions: `devtools/crashlab.py`.",
        "",
        "| check | result |",
        "|---|---:|",
        f"| run | {r.seconds:.0f} s; {r.cases:,} cases, {r.events:,} events |",
        f"| reports pushed / acknowledged | {r.pushes:,} / {r.acked:,} |",
        f"| acknowledged 201 (new) / 200 (a retry answered from the store) | {r.created:,} / {r.answered_from_store:,} |",
        f"| pushes that needed a retry | {r.retried:,} |",
        f"| acknowledged report missing | **{r.missing}** |",
        f"| acknowledged report stored twice, or under another id | **{r.duplicates + r.wrong_id}** |",
        f"| acknowledged report not opened as exactly one case | **{r.report_events_not_one}** |",
        f"| never acknowledged / refused / stored but unacknowledged | {r.unacked} / {len(r.refused)} / {r.stored_unacked} |",
        f"| cases stuck between states | **{r.stuck}** |",
        f"| 12345 statuses pending / lost / sent again under the same key | {r.hotline_pending} / {r.hotline_lost} / {r.hotline_redelivered} |",
        f"| deadlines seeded / missed / escalated twice / early | {r.deadlines} / {r.deadlines_missed} / {r.deadlines_doubled} / {r.deadlines_early} |",
        f"| deadlines late by more than the downtime (+ the sweeper's measured cadence + 0.5 s) | **{r.deadlines_late}** |",
        f"| max lateness; max beyond the sweeper's downtime | {r.max_lateness_s:.2f} s; {r.max_excess_s:.2f} s (allowed {r.allowed_excess_s:.2f} s) |",
        f"| server restart → ready, median / max | {_fmt(r.server_ready_s, 'median')} / {_fmt(r.server_ready_s, 'max')} s |",
        f"| sweeper down after a worker kill (kill → next sweep), median / max | {_fmt(r.worker_down_s, 'median')} / {_fmt(r.worker_down_s, 'max')} s |",
        f"| `gridgov audit verify` | {'intact' if r.audit_ok else '**broken**'} |",
        f"| worker exit status on SIGTERM | {r.worker_exit} |",
        f"| verdict | **{'OK' if r.ok else 'FAILED'}** |",
        "",
        "Client errors retried: "
        + (", ".join(f"{k} {v:,}" for k, v in sorted(r.client_failures.items())) or "none")
        + ".",
        "",
    ]
    section = "\n".join(lines) + "\n"
    text = DOC.read_text(encoding="utf-8") if DOC.exists() else "# Benchmarks\n\n"
    pattern = re.compile(r"^## Crashes\n.*?(?=^## |\Z)", re.S | re.M)
    text = (
        pattern.sub(lambda _: section, text)
        if pattern.search(text)
        else text.rstrip() + "\n\n" + section
    )
    DOC.write_text(text, encoding="utf-8")
    print(f"wrote the Crashes section of {DOC.relative_to(ROOT)}")


def _fmt(values: list[float], how: str) -> str:
    if not values:
        return "-"
    import statistics

    return f"{statistics.median(values) if how == 'median' else max(values):.2f}"


if __name__ == "__main__":
    main()
