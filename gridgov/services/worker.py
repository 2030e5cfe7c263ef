"""The background worker: scheduled jobs (deadline sweep, 12345 status, retraining), coordinated
through the database so that any number of workers on any number of machines run each job once.

Each job has one row in `job_leases` (gridgov/store/jobs.py). A worker runs a job only after its
conditional UPDATE took the row's lease; while the job runs, a heartbeat pushes the lease forward
every third of its length; when the job ends the worker releases the lease and sets the job's next
run for the whole deployment. A worker killed with `kill -9` stops renewing, and another takes
the job once the lease has run out: a job is late by at most the lease after a crash.

The lease saves repeated work; it is not what keeps the data right. Every job is safe to run
twice at once (the sweeper skips cases another holds and records each escalation once, the
notifier leases each delivery), so a worker paused past its lease does no harm when it wakes.

Jobs run in one thread each, so a long retraining never delays the sweeper.
"""

from __future__ import annotations

import os
import secrets
import socket
import threading
import time
import traceback
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from gridgov.core.clock import Clock
from gridgov.services.cases import CaseService
from gridgov.services.hotline_notify import HotlineNotifier
from gridgov.services.learning import TAXONOMIES, LearningService
from gridgov.services.rollups import RollupService
from gridgov.store.jobs import JobLease, JobLeaseRepository

SWEEP = "sweep"
HOTLINE_NOTIFY = "hotline_notify"
RETRAIN = "retrain"
ROLLUPS = "rollups"

__all__ = [
    "HOTLINE_NOTIFY",
    "RETRAIN",
    "ROLLUPS",
    "SWEEP",
    "Job",
    "JobLease",
    "JobRun",
    "Worker",
    "hotline_notify_job",
    "retrain_job",
    "rollups_job",
    "sweep_job",
    "worker_id",
]


@dataclass(frozen=True, slots=True)
class Job:
    """A named task the worker runs every `every`; `run` returns a one-line summary."""

    name: str
    every: timedelta
    run: Callable[[], str]


@dataclass(frozen=True, slots=True)
class JobRun:
    """One run of a job by one worker, as its status line tells it."""

    name: str
    holder: str
    started_at: datetime
    seconds: float
    outcome: str  # "ok" or "failed"
    summary: str
    released: bool  # False: the lease ran out during the run and another worker holds it now


def worker_id() -> str:
    """host:pid:random — unique per process, readable in `gridgov worker status`."""
    return f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(3)}"


class Worker:
    def __init__(
        self,
        sessions: sessionmaker[Session],
        clock: Clock,
        jobs: Sequence[Job],
        *,
        holder: str | None = None,
        lease: timedelta = timedelta(seconds=60),
        poll: timedelta = timedelta(seconds=5),
        on_run: Callable[[JobRun], None] | None = None,
        on_note: Callable[[str], None] | None = None,
    ) -> None:
        if lease <= timedelta(0):
            raise ValueError("lease must be positive")
        names = [j.name for j in jobs]
        if len(set(names)) != len(names):
            raise ValueError(f"job names must be unique: {names}")
        self._sessions = sessions
        self._clock = clock
        self.jobs = list(jobs)
        self.holder = holder or worker_id()
        self.lease = lease
        self.poll = poll
        self._on_run = on_run or (lambda _: None)
        self._on_note = on_note or (lambda _: None)
        self._ensured = False

    # One pass

    def run_due(self, *, force: bool = False) -> list[JobRun]:
        """Run, one after another, every job whose lease is free and that is due (any, if `force`)."""
        self._ensure()
        runs = [self.run_job(job, force=force) for job in self.jobs]
        return [r for r in runs if r is not None]

    def run_job(self, job: Job, *, force: bool = False) -> JobRun | None:
        """Claim `job`, run it and release it; None when another worker holds it or it is not due."""
        self._ensure()
        now = self._clock.now()
        with self._sessions.begin() as session:
            claimed = JobLeaseRepository(session).claim(
                job.name, self.holder, now, now + self.lease, due_only=not force
            )
        if not claimed:
            return None
        started = time.perf_counter()
        outcome, summary = "ok", ""
        with self._heartbeat(job.name):
            try:
                summary = job.run()
            except Exception as exc:
                outcome = "failed"
                summary = f"{type(exc).__name__}: {exc}"
                self._on_note(f"{job.name} 失败 / failed:\n{traceback.format_exc()}")
        seconds = time.perf_counter() - started
        finished = self._clock.now()
        with self._sessions.begin() as session:
            released = JobLeaseRepository(session).release(
                job.name,
                self.holder,
                finished_at=finished,
                next_run_at=finished + job.every,
                outcome=outcome,
                summary=summary[:2000],
            )
        run = JobRun(job.name, self.holder, now, seconds, outcome, summary, released)
        self._on_run(run)
        return run

    # Until stopped

    def serve(self, stop: threading.Event) -> None:
        """Run every job on its schedule, one thread per job, until `stop` is set; then return
        once each job's current run has finished and released its lease."""
        threads = [
            threading.Thread(target=self._loop, args=(job, stop), name=f"job-{job.name}")
            for job in self.jobs
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()

    def _loop(self, job: Job, stop: threading.Event) -> None:
        while not stop.is_set():
            try:
                self.run_job(job)
                wait = self._until_due(job)
            except SQLAlchemyError as exc:
                # The database restarting or unreachable: wait and try again, never exit.
                self._on_note(f"{job.name}: 数据库不可用 / database unavailable: {exc!s:.200}")
                wait = self.poll.total_seconds()
            stop.wait(wait)

    def _until_due(self, job: Job) -> float:
        """Seconds to sleep before trying `job` again: until it is due or its lease runs out,
        at most `poll` (a schedule another worker moved is noticed within `poll`)."""
        lease = self.lease_of(job.name)
        poll = self.poll.total_seconds()
        if lease is None:
            return poll
        now = self._clock.now()
        at = lease.lease_until if lease.held(now) and lease.lease_until else lease.next_run_at
        return min(max((at - now).total_seconds(), 0.05), poll)

    @contextmanager
    def _heartbeat(self, name: str) -> Iterator[None]:
        done = threading.Event()

        def renew() -> None:
            while not done.wait(self.lease.total_seconds() / 3):
                try:
                    with self._sessions.begin() as session:
                        kept = JobLeaseRepository(session).renew(
                            name, self.holder, self._clock.now() + self.lease
                        )
                except SQLAlchemyError as exc:
                    self._on_note(f"{name}: 续租失败 / lease renewal failed: {exc!s:.200}")
                    continue
                if not kept:
                    self._on_note(
                        f"{name}: 租约已被其他进程接管 / the lease ran out and another worker "
                        "took the job; this run finishes but will not be recorded"
                    )
                    return

        beat = threading.Thread(target=renew, name=f"lease-{name}", daemon=True)
        beat.start()
        try:
            yield
        finally:
            done.set()
            beat.join()

    # Reading

    def leases(self) -> list[JobLease]:
        """Every job's row: holder, lease, next run, last outcome."""
        with self._sessions() as session:
            return JobLeaseRepository(session).leases()

    def lease_of(self, name: str) -> JobLease | None:
        with self._sessions() as session:
            return JobLeaseRepository(session).lease(name)

    def _ensure(self) -> None:
        if self._ensured:
            return
        with self._sessions.begin() as session:
            JobLeaseRepository(session).ensure([j.name for j in self.jobs], self._clock.now())
        self._ensured = True


# The jobs


def sweep_job(cases: CaseService, every: timedelta) -> Job:
    """Deadline warnings and escalations (`CaseService.sweep`)."""

    def run() -> str:
        result = cases.sweep()
        return f"warned {result.warned} · escalated {result.escalated} · examined {result.examined}"

    return Job(SWEEP, every, run)


def hotline_notify_job(notifier: HotlineNotifier, every: timedelta) -> Job:
    """Case status back to the 12345 platform (plan from the log, then deliver)."""

    def run() -> str:
        plan, sent = notifier.run_once()
        return (
            f"events {plan.events} · planned {plan.planned} · delivered {sent.delivered} · "
            f"postponed {sent.postponed} · failed {sent.failed}"
        )

    return Job(HOTLINE_NOTIFY, every, run)


def retrain_job(learning: LearningService, every: timedelta) -> Job:
    """Retrain each taxonomy's classifier from operators' labels; promote only a better one.

    A promoted model is written to this machine's `DATA_DIR/models` and used by the processes
    started after it: on several machines that folder must be shared (docs/deploy.md).
    """

    def run() -> str:
        parts = []
        for taxonomy in TAXONOMIES:
            result = learning.retrain(taxonomy, commit=True)
            verdict = "promoted" if result.promoted else "kept"
            parts.append(f"{taxonomy} {verdict} ({result.reason})")
        return " · ".join(parts)

    return Job(RETRAIN, every, run)


def rollups_job(rollups: RollupService, every: timedelta) -> Job:
    """Month partitions ahead (PostgreSQL) and the analytics rollups up to the event log's head."""

    def run() -> str:
        kept = rollups.keep_up()
        added = ", ".join(kept.partitions_added) or "none"
        refresh = kept.refresh
        if refresh is None:
            return f"partitions added {added} · rollups off (the time zone has daylight saving)"
        done = "rebuilt" if refresh.rebuilt else f"events {refresh.events} · units {refresh.units}"
        return f"partitions added {added} · rollups {done} · at {refresh.seq}"

    return Job(ROLLUPS, every, run)
