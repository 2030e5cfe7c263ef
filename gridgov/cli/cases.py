"""`gridgov cases`: list and show cases, and run the deadline sweeper."""

from __future__ import annotations

import getpass
from datetime import datetime
from zoneinfo import ZoneInfo

import click

from gridgov.cli.common import pad, reports_errors, runtime_from
from gridgov.cli.grids import COMMIT_HINT
from gridgov.workflow.model import Actor, Case, CaseState, Role

AS_HELP = (
    "Act as ROLE, optionally limited to the subtree of a grid or centre code, e.g. "
    "centre_leader:410105000000 (金水区). Default: centre_leader of the whole city."
)


def parse_actor(value: str) -> Actor:
    """`ROLE[:SCOPE_CODE]` → an actor named after the operating-system user."""
    role_text, _, scope = value.partition(":")
    try:
        role = Role(role_text.strip())
    except ValueError:
        roles = ", ".join(r.value for r in Role)
        raise click.BadParameter(f"未知角色 / unknown role {role_text!r}; one of {roles}") from None
    return Actor(f"cli:{getpass.getuser()}", role, scope_code=scope.strip() or None)


def as_option(func: click.decorators.FC) -> click.decorators.FC:
    return click.option(
        "--as", "as_", default=Role.CENTRE_LEADER.value, show_default=True, help=AS_HELP
    )(func)


@click.group()
def cases() -> None:
    """工单 · Cases: list, show, and sweep deadlines (warn and escalate)."""


@cases.command("list")
@click.option(
    "--state",
    type=click.Choice([s.value for s in CaseState]),
    default=None,
    help="Only cases in this state.",
)
@click.option("--limit", type=int, default=50, show_default=True, help="How many, newest first.")
@as_option
@click.pass_context
@reports_errors
def list_(ctx: click.Context, state: str | None, limit: int, as_: str) -> None:
    """The newest cases in your subtree: id, state, category, street, assignee, handling deadline."""
    runtime = runtime_from(ctx)
    zone = ZoneInfo(runtime.settings.timezone)
    found = runtime.cases.cases(
        parse_actor(as_), state=CaseState(state) if state else None, limit=limit
    )
    for case in found:
        click.echo(
            f"{case.id:>8}  {pad(case.state.label_zh, 10)} {case.state.value:<10} "
            f"{case.category_code or '-':<7} {case.grid_codes.get('street', '-'):<14} "
            f"{case.assignee_department or '-':<40} {_time(case.handle_due, zone)}"
        )
    if not found:
        click.echo("没有工单 / no cases")


@cases.command()
@click.argument("case_id", type=int)
@as_option
@click.pass_context
@reports_errors
def show(ctx: click.Context, case_id: int, as_: str) -> None:
    """One case: state, grids, assignee, deadlines, and its history with actors and reasons."""
    runtime = runtime_from(ctx)
    actor = parse_actor(as_)
    zone = ZoneInfo(runtime.settings.timezone)
    case = runtime.cases.case(case_id, actor)
    _print_case(case, zone)
    click.echo("历史 / history:")
    for event in runtime.cases.events(case_id, actor):
        reason = f"  — {event.reason}" if event.reason else ""
        click.echo(
            f"  {event.seq:>3}  {_time(event.at, zone)}  {pad(event.action.label_zh, 10)} "
            f"{event.kind:<22} {event.actor_id} ({event.role.value}){reason}"
        )


def _print_case(case: Case, zone: ZoneInfo) -> None:
    click.echo(f"工单 / case {case.id}: {case.state.label_zh} ({case.state.value})")
    click.echo(f"  分类 / category: {case.category_code or '-'}")
    grids = ", ".join(f"{level} {code}" for level, code in case.grid_codes.items())
    click.echo(f"  网格 / grids (layer {case.layer_id}): {grids}")
    click.echo(
        f"  责任层级 / owning level: {case.owning_level.label_zh} ({case.owning_level.value}) "
        f"{case.owning_code or ''}"
    )
    assignee = " / ".join(x for x in (case.assignee_department, case.assignee_person) if x)
    click.echo(f"  承办 / assignee: {assignee or '-'}")
    click.echo(
        f"  时限 / deadlines: accept {_time(case.accept_due, zone)}, "
        f"handle {_time(case.handle_due, zone)}"
    )
    click.echo(
        f"  退单 / returns {case.return_count}, 上报上级 / escalations {len(case.escalations)}, "
        f"督办 / supervised {case.supervise_count}"
    )


@cases.command()
@click.option(
    "--commit", is_flag=True, help="Send the warnings and escalations (otherwise preview)."
)
@click.pass_context
@reports_errors
def sweep(ctx: click.Context, commit: bool) -> None:
    """Warn cases at 80% of a deadline and escalate overdue or twice-returned ones, as the system."""
    runtime = runtime_from(ctx)
    if not commit:
        plan = runtime.cases.sweep_plan()
        for item in plan:
            click.echo(f"  {item.action:<9} case {item.case_id}: {item.command.reason}")
        click.echo(f"将处理 {len(plan)} 件 / would act on {len(plan)} cases")
        click.echo(COMMIT_HINT)
        return
    result = runtime.cases.sweep()
    click.echo(
        f"巡检完成 / swept: {result.examined} examined, {result.warned} warned, "
        f"{result.escalated} escalated"
    )


def _time(value: datetime | None, zone: ZoneInfo) -> str:
    return value.astimezone(zone).strftime("%Y-%m-%d %H:%M") if value else "-"
