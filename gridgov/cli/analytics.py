"""`gridgov analytics`: the rollups and month partitions behind the dashboard figures."""

from __future__ import annotations

from zoneinfo import ZoneInfo

import click

from gridgov.cli.common import reports_errors, runtime_from
from gridgov.services.rollups import RollupService


def _service(ctx: click.Context) -> RollupService:
    runtime = runtime_from(ctx)
    return RollupService(
        runtime.sessions, runtime.clock, time_zone=ZoneInfo(runtime.settings.timezone)
    )


@click.group()
def analytics() -> None:
    """统计分析 · The rollups and partitions behind the dashboard figures."""


@analytics.command("rollups")
@click.pass_context
@reports_errors
def rollups(ctx: click.Context) -> None:
    """How far the rollups have caught up with the event log, and the partitions of `cases`."""
    status = _service(ctx).status()
    state = status.state
    if status.offset is None:
        click.echo("时区有夏令时，不建汇总表 / the time zone has daylight saving: no rollups")
    if state is None or state.utc_offset is None:
        click.echo("汇总表尚未建立 / rollups never built (the worker's rollups job builds them)")
    else:
        click.echo(
            f"汇总表 rollups: at event {state.seq:,} of {status.head:,} "
            f"({status.behind:,} behind, read from the cases meanwhile); "
            f"UTC{state.utc_offset / 3600:+g} days; built {state.built_at:%Y-%m-%d %H:%M:%S}Z, "
            f"refreshed {state.refreshed_at:%Y-%m-%d %H:%M:%S}Z"
        )
    if not status.partitions:
        click.echo(
            "cases 未分区 / cases is one table (SQLite, or PostgreSQL before migration 0009)"
        )
    for partition in status.partitions:
        rows = "?" if partition.rows < 0 else f"~{partition.rows:,}"
        click.echo(f"{partition.name:<16} {rows:>12} rows  {partition.bounds}")


@analytics.command("rebuild-rollups")
@click.option("--commit", is_flag=True, help="Rebuild now (otherwise say what would be done).")
@click.pass_context
@reports_errors
def rebuild_rollups(ctx: click.Context, commit: bool) -> None:
    """Recompute every rollup from the `cases` projection (after rebuilding projections, or to
    check them); the figures stay right meanwhile."""
    service = _service(ctx)
    if not commit:
        status = service.status()
        click.echo(
            f"将从工单重算全部汇总 / would recompute every rollup from the cases (log head "
            f"{status.head:,}); add --commit to do it"
        )
        return
    done = service.rebuild()
    click.echo(f"汇总表已重建 / rollups rebuilt up to event {done.seq:,}")
