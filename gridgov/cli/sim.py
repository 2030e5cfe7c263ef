"""`gridgov sim`: the simulated demo city."""

from __future__ import annotations

import time

import click

from gridgov.cli.common import progress_printer, reports_errors, runtime_from
from gridgov.cli.grids import COMMIT_HINT
from gridgov.grids.model import LayerStatus


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
