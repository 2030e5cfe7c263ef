"""`gridgov people`: grid workers, leaders, police officers and party members in grids."""

from __future__ import annotations

from datetime import datetime

import click

from gridgov.cli.common import crs_option, pad, reports_errors, runtime_from
from gridgov.cli.grids import COMMIT_HINT
from gridgov.core.geo import Crs
from gridgov.grids.people import AssignmentRole, VolunteerTaskStatus


@click.group()
def people() -> None:
    """人员 · People in grids: 网格员, 网格长, 民警进网入格, 党员."""


@people.command()
@click.argument("name")
@click.option("--phone", default=None, help="Mobile number.")
@click.option("--organisation", default=None, help="Employer or unit, e.g. 金水区城管局.")
@click.option("--party-member", is_flag=True, help="The person is a Communist Party member.")
@click.option("--commit", is_flag=True, help="Store the person (otherwise preview).")
@click.pass_context
@reports_errors
def add(
    ctx: click.Context,
    name: str,
    phone: str | None,
    organisation: str | None,
    party_member: bool,
    commit: bool,
) -> None:
    """Add a person who can be assigned to grids."""
    if not commit:
        click.echo(f"将添加人员 / would add person: {name}")
        click.echo(COMMIT_HINT)
        return
    person = runtime_from(ctx).people.add_person(
        name, phone=phone, organisation=organisation, party_member=party_member
    )
    click.echo(f"已添加人员 {person.id} / added person {person.id}: {person.name}")


@people.command()
@click.argument("person_id", type=int)
@click.argument("grid_code")
@click.option(
    "--role",
    type=click.Choice([r.value for r in AssignmentRole]),
    default=AssignmentRole.GRID_WORKER.value,
    show_default=True,
    help="grid_worker 网格员, grid_leader 网格长, police_officer 民警, "
    "party_member_volunteer 党员志愿者.",
)
@click.option(
    "--until",
    "valid_to",
    type=click.DateTime(),
    default=None,
    help="End of the assignment (local time); open-ended when omitted.",
)
@click.option("--commit", is_flag=True, help="Store the assignment (otherwise preview).")
@click.pass_context
@reports_errors
def assign(
    ctx: click.Context,
    person_id: int,
    grid_code: str,
    role: str,
    valid_to: datetime | None,
    commit: bool,
) -> None:
    """Assign a person to a grid of the active layer, from now on."""
    runtime = runtime_from(ctx)
    if not commit:
        click.echo(f"将指派人员 {person_id} 到网格 {grid_code} ({role}) / would assign")
        click.echo(COMMIT_HINT)
        return
    until = valid_to.astimezone() if valid_to else None
    assignment = runtime.people.assign(person_id, grid_code, AssignmentRole(role), valid_to=until)
    click.echo(f"已指派 / assigned: {assignment.role.label_zh} → {assignment.grid_code}")


@people.command()
@click.argument("lon", type=float)
@click.argument("lat", type=float)
@crs_option
@click.pass_context
@reports_errors
def responsible(ctx: click.Context, lon: float, lat: float, crs: str) -> None:
    """谁负责这里 · Who is responsible at a point, finest grid first."""
    answer = runtime_from(ctx).people.responsible_at(lon, lat, crs=Crs(crs))
    if not answer.people:
        click.echo("此处网格尚未指派人员 / nobody is assigned to the grids here")
    for r in answer.people:
        click.echo(
            f"  {pad(r.grid.level.label_zh, 20)} {r.grid.code:<18} "
            f"{pad(r.assignment.role.label_zh, 15)} "
            f"{r.person.name}  {r.person.phone or ''}"
        )
    for org in answer.organisations:
        click.echo(f"  {org.kind.label_zh} {org.name} ({org.grid_code})")


@people.command()
@click.argument("grid_code")
@click.pass_context
@reports_errors
def party(ctx: click.Context, grid_code: str) -> None:
    """党建引领 · A grid's party organisations and the party members registered with it."""
    view = runtime_from(ctx).people.party(grid_code)
    for org in view.organisations:
        click.echo(f"{org.kind.label_zh} {org.name}  (id {org.id}, secretary {org.secretary_id})")
    if not view.organisations:
        click.echo("此网格没有党组织 / no party organisation in this grid")
    click.echo(f"报到党员 / registered party members: {len(view.members)}")
    for person in view.members:
        click.echo(f"  {person.id:>7}  {person.name}  {person.phone or ''}")


@people.command("task-add")
@click.argument("grid_code")
@click.argument("title")
@click.option("--description", default="", help="What is to be done, where, with whom.")
@click.option("--due", type=click.DateTime(), default=None, help="Due time (local).")
@click.option("--commit", is_flag=True, help="Post the task (otherwise preview).")
@click.pass_context
@reports_errors
def task_add(
    ctx: click.Context,
    grid_code: str,
    title: str,
    description: str,
    due: datetime | None,
    commit: bool,
) -> None:
    """Post a volunteer task (志愿任务) in a grid for its registered party members."""
    if not commit:
        click.echo(f"将在网格 {grid_code} 发布志愿任务 / would post task: {title}")
        click.echo(COMMIT_HINT)
        return
    task = runtime_from(ctx).people.add_task(
        grid_code, title, description=description, due_at=due.astimezone() if due else None
    )
    click.echo(f"已发布志愿任务 {task.id} / posted volunteer task {task.id}: {task.title}")


@people.command("task-assign")
@click.argument("task_id", type=int)
@click.argument("person_id", type=int)
@click.option("--commit", is_flag=True, help="Assign the task (otherwise preview).")
@click.pass_context
@reports_errors
def task_assign(ctx: click.Context, task_id: int, person_id: int, commit: bool) -> None:
    """Give a volunteer task to a party member registered with its grid."""
    if not commit:
        click.echo(f"将把任务 {task_id} 交给 {person_id} / would assign task {task_id}")
        click.echo(COMMIT_HINT)
        return
    task = runtime_from(ctx).people.assign_task(task_id, person_id)
    click.echo(f"任务 {task.id} {task.status.label_zh} / task {task.id} is {task.status.value}")


@people.command("task-done")
@click.argument("task_id", type=int)
@click.option("--commit", is_flag=True, help="Mark the task done (otherwise preview).")
@click.pass_context
@reports_errors
def task_done(ctx: click.Context, task_id: int, commit: bool) -> None:
    """Mark an assigned volunteer task done."""
    if not commit:
        click.echo(f"将把任务 {task_id} 标为完成 / would mark task {task_id} done")
        click.echo(COMMIT_HINT)
        return
    task = runtime_from(ctx).people.complete_task(task_id)
    click.echo(f"任务 {task.id} {task.status.label_zh} / task {task.id} is {task.status.value}")


@people.command()
@click.argument("grid_code")
@click.option(
    "--status",
    type=click.Choice([s.value for s in VolunteerTaskStatus]),
    default=None,
    help="Only tasks in this status.",
)
@click.pass_context
@reports_errors
def tasks(ctx: click.Context, grid_code: str, status: str | None) -> None:
    """List a grid's volunteer tasks."""
    found = runtime_from(ctx).people.tasks(
        grid_code, VolunteerTaskStatus(status) if status else None
    )
    for task in found:
        due = f" due {task.due_at:%Y-%m-%d %H:%M}" if task.due_at else ""
        click.echo(
            f"{task.id:>6}  {pad(task.status.label_zh, 8)} {task.title}{due}"
            f"  assignee {task.assignee_id or '-'}"
        )
    if not found:
        click.echo("没有志愿任务 / no volunteer tasks")
