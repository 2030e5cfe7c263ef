"""Crashes under load: kill -9 the server and the worker five times while channels push and retry.

The short version of `bench/crash.py --kills 100` (devtools/crashlab.py has the method and the
definitions of each count). It starts its own PostgreSQL cluster, `gridgov serve --workers 2`
and `gridgov worker` as subprocesses, and takes a minute or two.
"""

from __future__ import annotations

import os

import pytest

from devtools.crashlab import CrashConfig, run_crashes
from devtools.pg_cluster import ClusterUnavailable
from tests.conftest import SKIP_POSTGRES_ENV

pytestmark = pytest.mark.slow


def test_every_acknowledged_report_survives_crashes_exactly_once_and_nothing_is_stuck() -> None:
    # Two whole-server restarts at most: starting the server is the slow part of a kill.
    targets = ("worker", "server", "server_process", "worker", "server")
    cfg = CrashConfig(
        kills=5, targets=targets, scale=0.02, clients=3, deadlines=12, gap_s=(2.0, 5.0), seed=7
    )
    try:
        report = run_crashes(cfg, say=lambda message: print(message, flush=True))
    except ClusterUnavailable as exc:
        if os.environ.get(SKIP_POSTGRES_ENV) == "1":
            pytest.skip(f"PostgreSQL tests skipped ({SKIP_POSTGRES_ENV}=1): {exc}")
        raise
    summary = "\n".join(report.lines())
    print(summary)
    assert len(report.kills) == 5
    assert report.acked > 0 and report.unacked == 0 and not report.refused, summary
    assert (report.missing, report.duplicates, report.wrong_id) == (0, 0, 0), summary
    assert report.report_events_not_one == 0 and report.stored_unacked == 0, summary
    assert report.stuck == 0, summary
    assert report.deadlines_missed == report.deadlines_doubled == report.deadlines_early == 0, (
        summary
    )
    assert report.deadlines_late == 0, summary
    assert report.audit_ok, summary
    assert report.worker_exit == 0, summary
