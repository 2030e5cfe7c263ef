"""`gridgov sim`: the simulated demo city."""

from __future__ import annotations

import json
import tempfile
import time
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

import click

from gridgov.cli.common import progress_printer, reports_errors, runtime_from
from gridgov.cli.grids import COMMIT_HINT
from gridgov.grids.model import LayerStatus

if TYPE_CHECKING:
    from gridgov.bootstrap import Runtime
    from gridgov.core.clock import FixedClock

DEFAULT_PER_DAY = 200
_WEEKDAYS = "一二三四五六日"


@click.group()
def sim() -> None:
    """模拟 · The simulated Zhengzhou-scale demo city."""


@sim.command()
@click.option(
    "--seed",
    type=int,
    default=20261127,
    show_default=True,
    help="Random seed; the same seed always builds the same city.",
)
@click.option(
    "--scale",
    type=float,
    default=1.0,
    show_default=True,
    help="Multiplies every grid count (1.0 = Zhengzhou scale, 75,363 grids).",
)
@click.option("--name", default=None, help="Layer name (default: 郑州演示城市 seed N).")
@click.option(
    "--commit",
    is_flag=True,
    help="Store, activate and index the city (otherwise only build and validate).",
)
@click.option(
    "--unless-active",
    is_flag=True,
    help="Do nothing when the store already has an active layer (what `make demo` uses).",
)
@click.pass_context
@reports_errors
def city(
    ctx: click.Context,
    seed: int,
    scale: float,
    name: str | None,
    commit: bool,
    unless_active: bool,
) -> None:
    """Build the demo city from the real district boundaries, validate it, activate it and staff it."""
    from gridgov.sim.city import generate_city
    from gridgov.sim.people import generate_roster

    runtime = runtime_from(ctx)
    if unless_active:
        active = [layer for layer in runtime.grids.layers() if layer.status is LayerStatus.ACTIVE]
        if active:
            click.echo(
                f"已有生效图层 {active[0].id}，跳过 / layer {active[0].id} is active already; "
                f"nothing built"
            )
            return
    progress = progress_printer("sim city")
    started = time.perf_counter()
    grids = generate_city(seed, scale=scale, progress=progress)
    click.echo(f"生成 / generated {len(grids):,} grids in {time.perf_counter() - started:.1f} s")
    outcome = runtime.grids.import_grids(
        grids,
        name=name or f"郑州演示城市 seed {seed} scale {scale:g}",
        source=f"gridgov sim city --seed {seed} --scale {scale:g}",
        commit=commit,
        progress=progress,
    )
    click.echo(outcome.report.render(limit=10))
    if outcome.layer is None:
        click.echo(COMMIT_HINT)
        return
    layer = runtime.grids.activate(outcome.layer.id, commit=True)
    if runtime.people.count():
        click.echo("人员已存在，未重新生成 / people exist already; roster not generated again")
    else:
        counts = runtime.people.load_roster(generate_roster(outcome.grids, seed))
        click.echo(
            f"人员 / people: {counts['people']:,} people, {counts['assignments']:,} grid "
            f"assignments, "
            f"{counts['organisations']:,} party branches, {counts['registrations']:,} party "
            f"members registered"
        )
    step = time.perf_counter()
    index = runtime.locating.index(layer)
    click.echo(
        f"已启用图层 {layer.id} / layer {layer.id} active; locate index built in "
        f"{time.perf_counter() - step:.1f} s ({sum(index.memory_bytes().values()) / 1e6:.0f} MB)"
    )


@sim.command()
@click.option(
    "--password",
    default=None,
    help="Password for every demo account (default: the demo password printed below).",
)
@click.option("--commit", is_flag=True, help="Create the accounts (otherwise list them).")
@click.pass_context
@reports_errors
def staff(ctx: click.Context, password: str | None, commit: bool) -> None:
    """Create the demo sign-in accounts (admin, district, street, worker, handler, …).

    One account per kind of desk around the point `make demo` locates (113.66, 34.75), all with
    the same password, so that every page can be opened after `make demo`. Accounts that exist
    already are left as they are. Refused when GRIDGOV_ENV=prod.
    """
    from gridgov.config import load_settings
    from gridgov.grids.model import GridLevel
    from gridgov.sim.staff import DEMO_PASSWORD, DEMO_POINT, demo_accounts

    if load_settings().env == "prod":
        raise click.UsageError("演示账号不能建在生产库 / refusing to create demo accounts in prod")
    runtime = runtime_from(ctx)
    located = runtime.locating.locate(*DEMO_POINT)
    city = located.location.grids.get(GridLevel.CITY)
    wanted = demo_accounts(located.location.grids, city.code if city else "410100000000")
    existing = {account.username for account in runtime.accounts.list()}
    secret = password or DEMO_PASSWORD
    for entry in wanted:
        if entry.username in existing:
            verb = "已存在 / exists"
        elif commit:
            runtime.accounts.create(
                entry.username,
                secret,
                entry.role,
                scope_code=entry.scope_code,
                department_code=entry.department_code,
                display_name=entry.display_name,
            )
            verb = "已创建 / created"
        else:
            verb = "将创建 / would create"
        scope = entry.scope_code or entry.department_code or "全市 city"
        click.echo(
            f"{verb:<22} {entry.username:<10} {entry.role:<18} {scope:<32} {entry.display_name}"
        )
    if commit:
        shown = "(--password)" if password else secret
        click.echo(f"演示账号密码 / demo password: {shown}  —  登录 / sign in at /signin")
    else:
        click.echo(COMMIT_HINT)


@sim.command()
@click.option(
    "--days",
    type=click.IntRange(1, 366),
    default=30,
    show_default=True,
    help="Days of reports to simulate.",
)
@click.option(
    "--per-day",
    type=click.IntRange(1),
    default=DEFAULT_PER_DAY,
    show_default=True,
    help="Reports on an ordinary workday (the reference city gets ~20,000; weekends and holidays "
    "shift the mix). On SQLite each report costs ~70 ms of service calls over its life.",
)
@click.option(
    "--start",
    type=click.DateTime(formats=["%Y-%m-%d"]),
    default="2026-10-01",
    show_default=True,
    help="First simulated day, local midnight (2026-10-01 starts the National Day holiday week).",
)
@click.option(
    "--seed",
    type=int,
    default=20261127,
    show_default=True,
    help="Random seed; the same seed and options give the same month.",
)
@click.option(
    "--sweep-minutes",
    type=click.IntRange(1, 1440),
    default=15,
    show_default=True,
    help="Simulated minutes between two runs of the deadline sweeper.",
)
@click.option(
    "--drain-days",
    type=click.IntRange(0, 366),
    default=0,
    show_default=True,
    help="Days to go on working after the last report arrives, so that late cases can close.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
@click.option(
    "--commit",
    is_flag=True,
    help="Write the simulated cases into the configured store (refused when GRIDGOV_ENV=prod).",
)
@click.option(
    "--unless-cases",
    is_flag=True,
    help="Do nothing when the store already holds cases (what `make demo` uses).",
)
@click.pass_context
@reports_errors
def events(
    ctx: click.Context,
    days: int,
    per_day: int,
    start: datetime,
    seed: int,
    sweep_minutes: int,
    drain_days: int,
    as_json: bool,
    commit: bool,
    unless_cases: bool,
) -> None:
    """Simulate a month of reports and cases on the active grid layer, through the case services.

    Reports arrive by channel (12345, 110, 数字城管, 文明创建, 供热, 随手拍, 网格巡查, 物联感知) with
    hour-of-day and weekday profiles; operators file, reject and merge them; cases are dispatched,
    accepted or returned, extended, handled, verified or sent back, closed and evaluated, while the
    sweeper warns and escalates. Simulated time starts at --start and runs on the official working
    calendar. Prints one line per day, then the rates (on-time closure, returns, escalations,
    extensions, rework, satisfaction, time to close) beside the real-data reality check.

    Without --commit nothing is written: the month runs in a temporary SQLite store holding a copy of
    the active grid layer, which is deleted afterwards. With --commit the cases are written into the
    configured store, stamped with simulated times and actors named sim:…
    """
    from gridgov.bootstrap import build_runtime
    from gridgov.config import load_settings
    from gridgov.core.clock import FixedClock
    from gridgov.sim.events import Plan, simulate
    from gridgov.sim.summary import render

    settings = load_settings()
    if unless_cases:
        from gridgov.workflow.model import Actor, Role

        city_desk = Actor(id="sim:check", role=Role.CENTRE_LEADER)
        if runtime_from(ctx).cases.cases(city_desk, limit=1):
            click.echo("已有工单，跳过模拟 / the store holds cases already; nothing simulated")
            return
    zone = ZoneInfo(settings.timezone)
    plan = Plan(
        start=start.replace(tzinfo=zone),
        days=days,
        per_day=per_day,
        seed=seed,
        sweep_every=timedelta(minutes=sweep_minutes),
        drain_days=drain_days,
    )
    clock = FixedClock(plan.start)

    def progress(day: date, reports: int, open_cases: int) -> None:
        click.echo(
            f"{day} {_WEEKDAYS[day.weekday()]}: 上报 reports {reports:,} · 在办 open {open_cases:,}",
            err=True,
        )

    with tempfile.TemporaryDirectory(prefix="gridgov-sim-") as scratch:
        if commit:
            if settings.env == "prod":
                raise click.UsageError(
                    "模拟数据不能写入生产库 / refusing to simulate into a prod store"
                )
            runtime = build_runtime(settings, clock=clock)
        else:
            runtime = _scratch_runtime(runtime_from(ctx), Path(scratch), clock)
        try:
            summary = simulate(runtime, plan, progress=progress)
        finally:
            runtime.close()
    if as_json:
        click.echo(json.dumps(summary.as_dict(), ensure_ascii=False, indent=2))
    else:
        click.echo(render(summary))
    if not commit:
        click.echo(COMMIT_HINT)


def _scratch_runtime(source: Runtime, folder: Path, clock: FixedClock) -> Runtime:
    """A runtime on a fresh SQLite store in `folder` holding a copy of the active grid layer."""
    from gridgov.bootstrap import build_runtime
    from gridgov.config import load_settings
    from gridgov.store import migrate

    layer = source.locating.layer()
    index = source.locating.index(layer)
    grids = [index.grid(i) for i in range(len(index))]
    settings = load_settings(data_dir=folder, database_url="")
    migrate.upgrade(settings.resolved_database_url)
    runtime = build_runtime(settings, clock=clock)
    copy = runtime.grids.import_grids(
        grids, name=layer.name, source=f"copy of layer {layer.id}", commit=True
    )
    assert copy.layer is not None
    runtime.grids.activate(copy.layer.id, commit=True)
    return runtime
