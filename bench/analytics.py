"""Benchmark: the dashboard figures (gridgov/services/analytics.py) over a million cases.

    .venv/bin/python bench/analytics.py [--cases 1000000] [--days 365] [--postgres] [--no-doc]

Builds the demo city into a temporary store (SQLite, or PostgreSQL 15 + PostGIS in a throwaway
cluster with --postgres), writes N cases straight into the `cases` projection with one report
each, a handling event for every handled case and a rework event for some, then times every
dashboard figure at city, district and street scope, median of 5 calls. The baseline, in the same
run, is the same calls after the scope and time indexes are dropped, so that every query reads
the whole `cases` table (median of 3); the answers must not change. Replaces the "## Analytics" section of
docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import re
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import insert, inspect, text  # noqa: E402

from devtools.pg_cluster import TempCluster  # noqa: E402
from gridgov.analytics.indicators import (  # noqa: E402
    HANDLED_STATES,
)
from gridgov.analytics.scope import GridCatalogue  # noqa: E402
from gridgov.bootstrap import Runtime, build_runtime  # noqa: E402
from gridgov.config import load_settings  # noqa: E402
from gridgov.grids.model import GridLevel  # noqa: E402
from gridgov.services.analytics import AnalyticsService  # noqa: E402
from gridgov.sim.city import generate_city  # noqa: E402
from gridgov.store.cases import PATH_COLUMNS, core_table  # noqa: E402
from gridgov.store.migrate import upgrade  # noqa: E402
from gridgov.store.tables import CaseEventRow, CaseRow, ReportRow  # noqa: E402
from gridgov.workflow.model import Actor, Role  # noqa: E402

DOC = ROOT / "docs" / "benchmarks.md"
HEADING = "## Analytics"
ZONE = ZoneInfo("Asia/Shanghai")
NOW = dt.datetime(2026, 12, 27, 15, 0, tzinfo=ZONE)
CITY_ACTOR = Actor("bench", Role.CENTRE_LEADER, "bench")
CHANNELS = ("hotline_12345", "police_110", "city_management", "citizen_app", "grid_patrol")
CHUNK = 50_000


class Clock:
    def now(self) -> dt.datetime:
        return NOW


# Data


def generate_cases(runtime: Runtime, catalogue: GridCatalogue, count: int, days: int) -> None:
    """`count` cases spread over the `days` days before NOW, as a busy city's would look."""
    rng = np.random.default_rng(20261227)
    micro = [e.code for e in sorted(_level(catalogue, GridLevel.MICRO), key=lambda e: e.code)]
    paths = [catalogue.scope(code) for code in micro]
    departments = ("urban_management", "housing", "market", "environment", "water")
    start = NOW - dt.timedelta(days=days)
    cases, reports, events = core_table(CaseRow), core_table(ReportRow), core_table(CaseEventRow)
    seq = 0
    for first in range(0, count, CHUNK):
        n = min(CHUNK, count - first)
        where = rng.integers(0, len(micro), n)
        # Sorted, so that ids grow with time as the case services number them.
        created = np.sort(rng.uniform(first, first + n, n)) * days * 86400 / count
        age = days * 86400 - created
        handle_after = rng.uniform(2, 5, n) * 86400
        close_after = rng.uniform(0.5, 6, n) * 86400
        draw = rng.random((6, n))
        case_rows, report_rows, event_rows = [], [], []
        for i in range(n):
            scope = paths[where[i]]
            assert scope is not None
            made = start + dt.timedelta(seconds=float(created[i]))
            done = close_after[i] < age[i] and draw[0, i] < 0.995  # a few stay open for good
            state = (
                "merged"
                if draw[1, i] < 0.03
                else "rejected"
                if draw[1, i] < 0.05
                else ("evaluated" if draw[2, i] < 0.6 else "closed")
                if done
                else ("handled" if draw[2, i] < 0.3 else "dispatched")
            )
            filed = state != "rejected"
            dispatched = state not in ("rejected", "merged")
            handled = state in HANDLED_STATES
            reworked = handled and draw[3, i] < 0.06
            case_id = first + i + 1
            case_rows.append(
                {
                    "id": case_id,
                    "state": state,
                    "category_code": "E0102",
                    "special_codes": [],
                    "owning_level": "grid",
                    **{PATH_COLUMNS[level]: code for level, code in scope.path.items()},
                    "assignee_department": f"{scope.path['district']}."
                    f"{departments[int(draw[4, i] * len(departments))]}"
                    if dispatched
                    else None,
                    "created_at": made,
                    "updated_at": made,
                    "filed_at": made if filed else None,
                    "dispatched_at": made if dispatched else None,
                    "handle_due": made + dt.timedelta(seconds=float(handle_after[i]))
                    if dispatched
                    else None,
                    "closed_at": made + dt.timedelta(seconds=float(close_after[i]))
                    if done
                    else None,
                    "return_count": int(dispatched and draw[5, i] < 0.08),
                    "escalation_count": 0,
                    "supervised_count": 0,
                    "satisfaction": ("satisfied" if draw[5, i] < 0.8 else "dissatisfied")
                    if state == "evaluated"
                    else None,
                    "last_seq": 1,
                    "lon": 113.4 + draw[3, i] * 0.5,
                    "lat": 34.6 + draw[4, i] * 0.3,
                }
            )
            report_rows.append(
                {
                    "channel": CHANNELS[int(draw[2, i] * 97) % len(CHANNELS)],
                    "external_id": str(case_id),
                    "received_at": made,
                    "reported_at": made,
                    "text": "",
                    "crs": "wgs84",
                    "payload": {},
                    "case_id": case_id,
                }
            )
            for action, after in (("handle", 0.9), ("verify_fail", 0.95)):
                if handled and (action == "handle" or reworked):
                    seq += 1
                    spent = float(min(close_after[i], age[i]))
                    event_rows.append(_event(seq, case_id, action, made, after, spent))
        with runtime.sessions.begin() as session:
            session.execute(insert(cases), case_rows)
            session.execute(insert(reports), report_rows)
            if event_rows:
                session.execute(insert(events), event_rows)
        print(f"  {first + n:,} cases", end="\r", flush=True)
    with runtime.engine.begin() as conn:
        conn.exec_driver_sql("ANALYZE")
    print()


def _event(
    seq: int, case_id: int, action: str, made: dt.datetime, share: float, close_after: float
) -> dict[str, Any]:
    return {
        "global_seq": seq,
        "case_id": case_id,
        "seq": 1 if action == "handle" else 2,
        "action": action,
        "kind": action,
        "actor_id": "bench",
        "role": "handler",
        "at": made + dt.timedelta(seconds=close_after * share),
        "reason": "",
        "payload": {},
        "prev_hash": "",
        "hash": "",
    }


def _level(catalogue: GridCatalogue, level: GridLevel) -> Iterator[Any]:
    stack = list(catalogue.cities())
    while stack:
        entry = stack.pop()
        if entry.level is level:
            yield entry
        stack.extend(catalogue.children(entry.code))


# Timing


def median_ms(fn: Callable[[], Any], reps: int) -> tuple[float, Any]:
    samples, result = [], None
    for _ in range(reps):
        started = time.perf_counter()
        result = fn()
        samples.append((time.perf_counter() - started) * 1000)
    return statistics.median(samples), result


@contextmanager
def store(postgres: bool, tmp: Path) -> Iterator[str]:
    if not postgres:
        yield f"sqlite:///{tmp / 'gridgov.db'}"
        return
    cluster = TempCluster.start()
    try:
        yield cluster.create_database("bench", postgis=True)
    finally:
        cluster.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--cases", type=int, default=1_000_000)
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--scale", type=float, default=1.0, help="demo city scale")
    parser.add_argument("--postgres", action="store_true")
    parser.add_argument("--no-doc", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp, store(args.postgres, Path(tmp)) as url:
        settings = load_settings(database_url=url, data_dir=Path(tmp) / "var", intake_places="")
        upgrade(url)
        runtime = build_runtime(settings, clock=Clock())
        started = time.perf_counter()
        layer = runtime.grids.import_grids(
            generate_city(scale=args.scale), name="bench", source="bench", commit=True
        ).layer
        assert layer is not None
        runtime.grids.activate(layer.id, commit=True)
        catalogue = runtime.analytics.catalogue()
        print(f"city: {len(catalogue):,} grids in {time.perf_counter() - started:.0f} s")
        started = time.perf_counter()
        generate_cases(runtime, catalogue, args.cases, args.days)
        load_s = time.perf_counter() - started
        rows = measure(runtime, catalogue)
        dialect = runtime.engine.dialect.name
        runtime.close()
    report(args, dialect, load_s, rows)


def measure(runtime: Runtime, catalogue: GridCatalogue) -> list[tuple[str, str, float, float]]:
    """Every figure at three scopes with the indexes, then again with them dropped."""
    service = runtime.analytics
    city = catalogue.cities()[0].code
    district = max(catalogue.children(city), key=lambda e: len(catalogue.children(e.code))).code
    street = catalogue.children(district)[0].code
    with runtime.sessions() as session:
        head = int(session.scalar(text("select max(global_seq) from case_events")) or 0)
    after = max(0, head - 2000)
    calls = [
        (name, label, call)
        for label, code in (("city", city), ("district", district), ("street", street))
        for name, call in _figures(service, code, after)
    ]
    fast: dict[tuple[str, str], tuple[float, Any]] = {}
    for name, label, call in calls:
        call()  # warm the catalogue and the database cache
        fast[name, label] = median_ms(call, 5)
        print(f"{name:28} {label:9} {fast[name, label][0]:9.1f} ms")
    dropped = drop_indexes(runtime)
    print(f"dropped {len(dropped)} indexes: {', '.join(dropped)}")
    results = []
    for name, label, call in calls:
        slow_ms, slow = median_ms(call, 3)
        fast_ms, found = fast[name, label]
        if found != slow:
            raise SystemExit(f"{name} at {label} scope differs without the indexes")
        results.append((name, label, fast_ms, slow_ms))
        print(f"{name:28} {label:9} {fast_ms:9.1f} ms  full scan {slow_ms:9.1f} ms")
    return results


def drop_indexes(runtime: Runtime) -> list[str]:
    """Drop the indexes the figures read `cases` and the event log by, so each query scans.

    The lookups of one case's reports and events by case id stay: without them a query probing
    them per case would scan per case, and the baseline would measure that, not the scope.
    """
    dropped = []
    with runtime.engine.begin() as conn:
        inspector = inspect(conn)
        for table in ("cases", "case_events"):
            for index in inspector.get_indexes(table):
                if not index["unique"] and index["name"]:
                    conn.exec_driver_sql(f"DROP INDEX {index['name']}")
                    dropped.append(index["name"])
    with runtime.engine.begin() as conn:
        conn.exec_driver_sql("ANALYZE")
    return dropped


def _figures(service: AnalyticsService, code: str, after: int) -> list[tuple[str, Any]]:
    """Each figure as the dashboard asks for it, returning what can be compared."""
    feed = service.live(CITY_ACTOR, code, after)
    box = (113.4, 34.6, 113.9, 34.9)
    return [
        ("overview", lambda: service.overview(CITY_ACTOR, code)),
        ("trend (30 days)", lambda: service.trend(CITY_ACTOR, code, days=30)),
        ("children (month)", lambda: service.children(CITY_ACTOR, code, "2026-12")),
        ("departments (month)", lambda: service.departments(CITY_ACTOR, code, "2026-12")),
        ("cases-map (open)", lambda: service.case_map(CITY_ACTOR, code, bbox=box)),
        ("live catch-up (2,000 events)", lambda: _catch_up(service, feed, after)),
    ]


def _catch_up(service: AnalyticsService, feed: Any, after: int) -> list[int]:
    """What a live stream sends after `after`: polls until it has caught up."""
    ids: set[int] = set()
    while True:
        changes, reached = service.changes(feed, after)
        ids.update(c.id for c in changes)
        if reached == after:
            return sorted(ids)
        after = reached


INTRO = (
    "The dashboard figures of `gridgov.services.analytics.AnalyticsService` (the work behind "
    "each `/api/v1/analytics/…` route, without HTTP). Rerun with `.venv/bin/python "
    "bench/analytics.py` (SQLite) or `… --postgres`; each run rewrites its store's subsection."
)


def report(
    args: argparse.Namespace, dialect: str, load_s: float, rows: list[tuple[str, str, float, float]]
) -> None:
    store_name = "PostgreSQL 15" if dialect == "postgresql" else "SQLite"
    lines = [
        f"### {store_name}",
        "",
        f"- Date {dt.date.today()}; machine: {os.cpu_count()} cores, {platform.machine()}, "
        f"Python {platform.python_version()}; load average {os.getloadavg()[0]:.1f} at the end "
        "(the machine is shared: read the ratios, not the milliseconds); "
        + ("a throwaway cluster with default settings." if dialect == "postgresql" else "WAL."),
        f"- {args.cases:,} cases over the {args.days} days before {NOW:%Y-%m-%d}, one report "
        f"each, on the demo city (scale {args.scale}); written straight into the tables in "
        f"{load_s:.0f} s, then ANALYZE.",
        "- Figures: median of 5 calls after one warm-up. Baseline, in the same run: the same "
        "calls after every non-unique index of `cases` and `case_events` is dropped (and "
        "ANALYZE rerun), so that each query reads the whole `cases` table; median of 3. The "
        "run stops if an answer differs. Kept: the lookups by case id and the live poll's "
        "`global_seq`, unique keys.",
        "",
        "| figure | scope | indexed (ms) | full scan (ms) | ratio |",
        "| --- | --- | ---: | ---: | ---: |",
        *(
            f"| {name} | {scope} | {fast:.1f} | {slow:.0f} | {_ratio(slow / fast)} |"
            for name, scope, fast, slow in rows
        ),
        "",
        f"Slowest figure: {max(r[2] for r in rows):.0f} ms (target: < 300 ms at 10 M cases on "
        "PostgreSQL with monthly partitions, measured in a later issue).",
        "",
    ]
    subsection = "\n".join(lines)
    print(subsection)
    if not args.no_doc:
        write_subsection(store_name, subsection)


def _ratio(value: float) -> str:
    return f"{value:.1f}×" if value < 10 else f"{value:.0f}×"


def write_subsection(store_name: str, subsection: str) -> None:
    """Put `subsection` under "## Analytics", replacing the same store's earlier one."""
    doc = DOC.read_text(encoding="utf-8")
    section = re.compile(rf"{re.escape(HEADING)}\n.*?(?=\n## |\Z)", re.S)
    found = section.search(doc)
    body = found.group(0) if found else f"{HEADING}\n\n{INTRO}\n"
    own = re.compile(rf"### {re.escape(store_name)}\n.*?(?=\n### |\Z)", re.S)
    if own.search(body):
        body = own.sub(lambda _: subsection.rstrip("\n") + "\n", body)
    else:
        body = body.rstrip("\n") + "\n\n" + subsection
    body = body.rstrip("\n") + "\n"
    doc = section.sub(lambda _: body, doc) if found else doc.rstrip("\n") + "\n\n" + body
    DOC.write_text(doc.rstrip("\n") + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
