"""`gridgov worker`: the background jobs — deadline sweep, 12345 status, retraining — until stopped."""

from __future__ import annotations

import signal
import threading
from contextlib import ExitStack
from datetime import timedelta
from types import FrameType
from zoneinfo import ZoneInfo

import click

from gridgov.bootstrap import Runtime
from gridgov.cli.common import reports_errors, runtime_from
from gridgov.cli.hotline import _callback
from gridgov.core.errors import InvalidInput
from gridgov.services.hotline_notify import HotlineNotifier
from gridgov.services.rollups import RollupService
from gridgov.services.worker import (
    HOTLINE_NOTIFY,
    RETRAIN,
    ROLLUPS,
    SWEEP,
    Job,
    JobRun,
    Worker,
    hotline_notify_job,
    retrain_job,
    rollups_job,
    sweep_job,
)

ALL_JOBS = (SWEEP, HOTLINE_NOTIFY, RETRAIN, ROLLUPS)


@click.group(invoke_without_command=True)
@click.option(
    "--once", is_flag=True, help="Run each job once now (if no other worker holds it), then exit."
)
@click.option(
    "--jobs",
    "only",
    default=None,
    metavar="NAMES",
    help="Comma-separated jobs to run: sweep, hotline_notify, retrain, rollups (default: every "
    "configured one).",
)
@click.pass_context
@reports_errors
def worker(ctx: click.Context, once: bool, only: str | None) -> None:
    """后台任务 · Run the background jobs until stopped (SIGTERM/Ctrl-C finish the current run).

    Jobs: sweep (deadline warnings and escalations, every GRIDGOV_WORKER_SWEEP_SECONDS),
    hotline_notify (status back to 12345, when GRIDGOV_HOTLINE_CALLBACK_URL is set), retrain
    (classifiers from operators' labels, every GRIDGOV_WORKER_RETRAIN_HOURS; 0 turns it off),
    rollups (analytics rollups and coming months' partitions, every GRIDGOV_WORKER_ROLLUP_SECONDS).
    Start as many workers, on as many machines, as you like: each job is claimed through the
    database and runs in one of them at a time. One status line per run.
    """
    if ctx.invoked_subcommand is not None:
        return
    stop = threading.Event()

    def stopping(signum: int, _frame: FrameType | None) -> None:
        click.echo(
            f"收到 {signal.Signals(signum).name}，完成当前任务后退出 / stopping after the "
            "current runs",
            err=True,
        )
        stop.set()

    if not once:
        # Before the slow start-up, so that a stop during it is orderly too.
        signal.signal(signal.SIGTERM, stopping)
        signal.signal(signal.SIGINT, stopping)
    runtime = runtime_from(ctx)
    with ExitStack() as stack:
        jobs = _jobs(runtime, _wanted(only), stack)
        tz = ZoneInfo(runtime.settings.timezone)
        settings = runtime.settings
        service = Worker(
            runtime.sessions,
            runtime.clock,
            jobs,
            lease=timedelta(seconds=settings.worker_lease_seconds),
            poll=timedelta(seconds=settings.worker_poll_seconds),
            on_run=lambda run: click.echo(_line(run, tz)),
            on_note=lambda note: click.echo(note, err=True),
        )
        names = ", ".join(f"{j.name} /{_every(j.every)}" for j in jobs)
        click.echo(f"后台任务 worker {service.holder} · jobs: {names}")
        if once:
            runs = service.run_due(force=True)
            held = {j.name for j in jobs} - {r.name for r in runs}
            for name in sorted(held):
                click.echo(f"{name}: 其他进程正在运行 / held by another worker, skipped")
            return
        service.serve(stop)
        click.echo("后台任务已停止 / worker stopped")


@worker.command("status")
@click.pass_context
@reports_errors
def status(ctx: click.Context) -> None:
    """Each job: who holds it until when, its next run, and how its last run went."""
    runtime = runtime_from(ctx)
    service = Worker(runtime.sessions, runtime.clock, [])
    tz = ZoneInfo(runtime.settings.timezone)
    now = runtime.clock.now()
    found = service.leases()
    for lease in found:
        held = (
            f"held by {lease.holder} until {lease.lease_until.astimezone(tz):%H:%M:%S}"
            if lease.held(now) and lease.lease_until is not None
            else "free"
        )
        last = (
            f"last {lease.last_outcome} at {lease.last_finished_at.astimezone(tz):%Y-%m-%d %H:%M:%S}"
            f" by {lease.last_holder}: {lease.last_summary}"
            if lease.last_finished_at is not None
            else "never run"
        )
        click.echo(
            f"{lease.name:<16} runs {lease.runs:<6} next {lease.next_run_at.astimezone(tz):%Y-%m-%d %H:%M:%S}"
            f"  {held}\n    {last}"
        )
    if not found:
        click.echo("还没有任务记录 / no job has run yet")


def _wanted(only: str | None) -> list[str] | None:
    if only is None:
        return None
    names = [n.strip() for n in only.split(",") if n.strip()]
    unknown = [n for n in names if n not in ALL_JOBS]
    if unknown or not names:
        raise InvalidInput(
            "--jobs",
            f"未知任务 {', '.join(unknown) or '（空）'}；可选 {', '.join(ALL_JOBS)} / unknown job "
            f"{', '.join(unknown) or '(none)'}; choose from {', '.join(ALL_JOBS)}",
        )
    return names


def _jobs(runtime: Runtime, wanted: list[str] | None, stack: ExitStack) -> list[Job]:
    settings = runtime.settings
    jobs = [sweep_job(runtime.cases, timedelta(seconds=settings.worker_sweep_seconds))]
    rollups = RollupService(runtime.sessions, runtime.clock, time_zone=ZoneInfo(settings.timezone))
    jobs.append(rollups_job(rollups, timedelta(seconds=settings.worker_rollup_seconds)))
    if settings.hotline_callback_url or (wanted and HOTLINE_NOTIFY in wanted):
        # Named explicitly without a platform configured, `_callback` refuses with the setting.
        callback = stack.enter_context(_callback(runtime))
        notifier = HotlineNotifier(
            runtime.sessions, callback, runtime.clock, timezone=settings.timezone
        )
        every = timedelta(seconds=settings.worker_hotline_notify_seconds)
        jobs.append(hotline_notify_job(notifier, every))
    if settings.worker_retrain_hours > 0:
        jobs.append(retrain_job(runtime.learning, timedelta(hours=settings.worker_retrain_hours)))
    elif wanted and RETRAIN in wanted:
        raise InvalidInput(
            "GRIDGOV_WORKER_RETRAIN_HOURS", "为 0，重训练已关闭 / is 0: retraining is turned off"
        )
    return [j for j in jobs if wanted is None or j.name in wanted]


def _every(every: timedelta) -> str:
    seconds = every.total_seconds()
    if seconds >= 3600:
        return f"{seconds / 3600:g} h"
    return f"{seconds:g} s"


def _line(run: JobRun, tz: ZoneInfo) -> str:
    mark = "" if run.released else " (租约已被接管 / lease was taken over)"
    return (
        f"{run.started_at.astimezone(tz):%Y-%m-%d %H:%M:%S} {run.name} {run.outcome} "
        f"{run.seconds:.2f}s · {run.summary}{mark}"
    )
