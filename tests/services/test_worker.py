"""The worker: a job runs in one worker at a time, on one shared schedule, and a dead worker's
lease runs out so that another takes the job over; on SQLite and PostgreSQL."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy.orm import Session, sessionmaker

from gridgov.core.clock import FixedClock, SystemClock
from gridgov.services.worker import Job, JobRun, Worker, sweep_job
from gridgov.store.jobs import JobLeaseRepository
from gridgov.workflow.model import Action, EscalationReason
from tests.case_world import LEADER, build_world

START = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)
LEASE = timedelta(seconds=30)


def _counting(
    name: str = "tally", every: timedelta = timedelta(minutes=1)
) -> tuple[Job, list[int]]:
    runs: list[int] = []

    def run() -> str:
        runs.append(1)
        return f"run {len(runs)}"

    return Job(name, every, run), runs


def _worker(sessions: sessionmaker[Session], clock: FixedClock, job: Job, holder: str) -> Worker:
    return Worker(sessions, clock, [job], holder=holder, lease=LEASE)


def test_a_job_held_by_one_worker_is_skipped_by_another(sessions: sessionmaker[Session]) -> None:
    clock = FixedClock(START)
    entered, release = threading.Event(), threading.Event()
    runs: list[str] = []

    def slow() -> str:
        runs.append("ran")
        entered.set()
        release.wait(10)
        return "done"

    job = Job("slow", timedelta(minutes=1), slow)
    first, second = _worker(sessions, clock, job, "a"), _worker(sessions, clock, job, "b")
    answers: list[JobRun | None] = []
    thread = threading.Thread(target=lambda: answers.append(first.run_job(job, force=True)))
    thread.start()
    assert entered.wait(10)
    assert second.run_job(job, force=True) is None
    release.set()
    thread.join()
    assert runs == ["ran"]
    assert answers[0] is not None and answers[0].released
    lease = second.lease_of("slow")
    assert lease is not None and lease.runs == 1 and lease.last_holder == "a"
    assert not lease.held(clock.now())


def test_many_workers_claiming_at_the_same_moment_run_the_job_once(
    sessions: sessionmaker[Session],
) -> None:
    clock = FixedClock(START)
    job, runs = _counting()
    workers = [_worker(sessions, clock, job, f"w{i}") for i in range(6)]
    workers[0].run_due()  # creates the job's row, due now, and runs it
    clock.advance(timedelta(minutes=2))
    barrier = threading.Barrier(len(workers))
    results: list[JobRun | None] = []

    def claim(worker: Worker) -> None:
        barrier.wait()
        results.append(worker.run_job(job))

    threads = [threading.Thread(target=claim, args=(w,)) for w in workers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(runs) == 2
    assert sum(r is not None for r in results) == 1


def test_the_schedule_is_shared_by_every_worker(sessions: sessionmaker[Session]) -> None:
    clock = FixedClock(START)
    job, runs = _counting(every=timedelta(minutes=5))
    first, second = _worker(sessions, clock, job, "a"), _worker(sessions, clock, job, "b")
    assert [r.summary for r in first.run_due()] == ["run 1"]
    clock.advance(timedelta(minutes=4))
    assert second.run_due() == []
    assert first.run_due() == []
    clock.advance(timedelta(minutes=1))
    assert [r.holder for r in second.run_due()] == ["b"]
    assert len(runs) == 2


def test_a_killed_workers_lease_runs_out_and_another_takes_the_job_over(
    sessions: sessionmaker[Session],
) -> None:
    clock = FixedClock(START)
    job, runs = _counting()
    survivor = _worker(sessions, clock, job, "survivor")
    with sessions.begin() as session:
        repo = JobLeaseRepository(session)
        repo.ensure(["tally"], START)
        # The dead worker took the lease and was killed before it ran or released anything.
        assert repo.claim("tally", "dead", START, START + LEASE)
    assert survivor.run_due() == []
    clock.advance(LEASE - timedelta(seconds=1))
    assert survivor.run_due() == []
    clock.advance(timedelta(seconds=1))
    taken = survivor.run_due()
    assert [(r.holder, r.released) for r in taken] == [("survivor", True)]
    assert runs == [1]
    with sessions.begin() as session:
        # The dead worker's late release (had it only been paused) changes nothing.
        assert not JobLeaseRepository(session).release(
            "tally", "dead", finished_at=clock.now(), next_run_at=START, outcome="ok", summary=""
        )
    lease = survivor.lease_of("tally")
    assert lease is not None and lease.last_holder == "survivor"
    assert lease.next_run_at == clock.now() + job.every


def test_a_running_job_keeps_its_lease_by_renewing_it(sessions: sessionmaker[Session]) -> None:
    lease = timedelta(seconds=0.6)
    entered, release = threading.Event(), threading.Event()

    def long_run() -> str:
        entered.set()
        release.wait(10)
        return "done"

    job = Job("long", timedelta(minutes=1), long_run)
    holder = Worker(sessions, SystemClock(), [job], holder="holder", lease=lease)
    thief = Worker(sessions, SystemClock(), [job], holder="thief", lease=lease)
    thread = threading.Thread(target=holder.run_job, args=(job,), kwargs={"force": True})
    thread.start()
    assert entered.wait(10)
    taken = []
    # Three lease lengths: without renewal the lease would have run out twice over.
    for _ in range(6):
        threading.Event().wait(0.3)
        taken.append(thief.run_job(job, force=True))
    release.set()
    thread.join()
    assert taken == [None] * 6


def test_a_failing_job_is_recorded_and_scheduled_again(sessions: sessionmaker[Session]) -> None:
    clock = FixedClock(START)

    def broken() -> str:
        raise RuntimeError("platform down")

    notes: list[str] = []
    job = Job("broken", timedelta(minutes=1), broken)
    worker = Worker(sessions, clock, [job], holder="a", lease=LEASE, on_note=notes.append)
    [run] = worker.run_due()
    assert (run.outcome, run.summary) == ("failed", "RuntimeError: platform down")
    assert any("platform down" in n for n in notes)
    lease = worker.lease_of("broken")
    assert lease is not None and lease.last_outcome == "failed"
    assert not lease.held(clock.now()) and lease.next_run_at == START + timedelta(minutes=1)


def test_the_sweep_job_escalates_an_overdue_case_once_across_two_workers(
    sessions: sessionmaker[Session], tmp_path: Path
) -> None:
    world = build_world(sessions, tmp_path)
    case_id = world.dispatched_case()
    world.clock.advance(timedelta(hours=2))
    job = sweep_job(world.service, timedelta(seconds=60))
    first = Worker(sessions, world.clock, [job], holder="a", lease=LEASE)
    second = Worker(sessions, world.clock, [job], holder="b", lease=LEASE)
    runs = first.run_due() + second.run_due() + second.run_due(force=True)
    assert [r.summary.split(" · ")[1] for r in runs] == ["escalated 1", "escalated 0"]
    case = world.service.case(case_id, LEADER)
    assert [e.grounds for e in case.escalations] == [EscalationReason.OVERDUE]
    events = world.service.events(case_id, LEADER)
    assert sum(e.action is Action.ESCALATE for e in events) == 1


def test_workers_refuse_two_jobs_of_one_name(sessions: sessionmaker[Session]) -> None:
    job, _ = _counting()
    with pytest.raises(ValueError, match="unique"):
        Worker(sessions, FixedClock(START), [job, job])
