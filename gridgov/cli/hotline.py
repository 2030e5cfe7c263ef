"""`gridgov hotline`: send case status back to the 12345 platform, and list what it refused."""

from __future__ import annotations

import time
from zoneinfo import ZoneInfo

import click

from gridgov.bootstrap import Runtime
from gridgov.cli.common import reports_errors, runtime_from
from gridgov.cli.grids import COMMIT_HINT
from gridgov.core.errors import InvalidInput
from gridgov.intake.hotline_callback import HotlineStatus, HttpHotlineCallback
from gridgov.services.hotline_notify import HotlineNotifier


@click.group()
def hotline() -> None:
    """12345 热线 · Hotline: status back to the 12345 platform for the orders it pushed."""


def _notifier(runtime: Runtime, callback: HttpHotlineCallback | None) -> HotlineNotifier:
    return HotlineNotifier(
        runtime.sessions, callback, runtime.clock, timezone=runtime.settings.timezone
    )


def _callback(runtime: Runtime) -> HttpHotlineCallback:
    """The client for the configured platform; refuses to start without its address and token."""
    url = runtime.settings.hotline_callback_url
    token = runtime.settings.hotline_callback_token
    if not url or not token:
        raise InvalidInput(
            "GRIDGOV_HOTLINE_CALLBACK_URL",
            "未配置 12345 平台地址或令牌（GRIDGOV_HOTLINE_CALLBACK_TOKEN）/ the 12345 platform's "
            "address or token (GRIDGOV_HOTLINE_CALLBACK_TOKEN) is not set",
        )
    return HttpHotlineCallback(url, token)


@hotline.command()
@click.option("--once", is_flag=True, help="One pass, then exit (otherwise run until stopped).")
@click.option("--commit", is_flag=True, help="Send the statuses (otherwise list what would go).")
@click.option(
    "--interval",
    type=click.FloatRange(min=0.1),
    default=10.0,
    show_default=True,
    help="Seconds between passes when running until stopped.",
)
@click.option("--limit", type=int, default=50, show_default=True, help="Preview at most this many.")
@click.pass_context
@reports_errors
def notify(ctx: click.Context, once: bool, commit: bool, interval: float, limit: int) -> None:
    """Send each 12345 order its case's new statuses (签收, 退单, 延期, 办结反馈, 回访), in order."""
    runtime = runtime_from(ctx)
    if not commit:
        shown = _notifier(runtime, None).preview(limit=limit)
        for d in shown:
            label = HotlineStatus(d.hotline_status).label_zh
            click.echo(
                f"{d.order_id:<28} {d.hotline_status:<20} {label:<6} 工单 case {d.case_id:<6} "
                f"#{d.global_seq}  {d.note}"
            )
        if not shown:
            click.echo("没有要回传的状态 / nothing to send")
        click.echo(COMMIT_HINT)
        return
    with _callback(runtime) as callback:
        notifier = _notifier(runtime, callback)
        try:
            while True:
                plan, sent = notifier.run_once()
                click.echo(
                    f"新事件 events {plan.events:,} · 计划 planned {plan.planned:,} · "
                    f"已送达 delivered {sent.delivered:,} · 推迟 postponed {sent.postponed:,} · "
                    f"被拒 failed {sent.failed:,}"
                )
                if once:
                    return
                time.sleep(interval)
        except KeyboardInterrupt:
            # A pass stopped midway is safe: what was sent and not yet marked is sent again.
            return


@hotline.command()
@click.option("--limit", type=int, default=100, show_default=True, help="How many, oldest first.")
@click.pass_context
@reports_errors
def failures(ctx: click.Context, limit: int) -> None:
    """Statuses the 12345 platform refused: not retried; follow up with the platform by hand."""
    runtime = runtime_from(ctx)
    notifier = _notifier(runtime, None)
    found = notifier.failures(limit=limit)
    tz = ZoneInfo(runtime.settings.timezone)
    for d in found:
        click.echo(
            f"{d.order_id:<28} {d.hotline_status:<20} 工单 case {d.case_id:<6} #{d.global_seq}  "
            f"{d.at.astimezone(tz).isoformat(timespec='seconds')}  attempts {d.attempts}"
        )
        click.echo(f"    {d.last_error}")
    if not found:
        click.echo("没有被拒的状态 / no refused statuses")
    counts = notifier.counts()
    click.echo(
        f"待发 pending {counts['pending']:,} · 已送达 delivered {counts['delivered']:,} · "
        f"被拒 failed {counts['failed']:,}"
    )
