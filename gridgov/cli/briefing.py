"""`gridgov ai briefing` and `gridgov ai dispatch-eval`: the daily briefing and smart dispatch's
time-split evaluation, from the configured store. Both only read."""

from __future__ import annotations

import json
from datetime import date, datetime
from zoneinfo import ZoneInfo

import click

from gridgov.cli.common import reports_errors, runtime_from
from gridgov.workflow.model import Actor, Role

CONSOLE = Actor("cli:console", Role.CENTRE_LEADER, "控制台 / console")


def register(group: click.Group) -> None:
    """Add the commands to the `gridgov ai` group."""
    group.add_command(briefing)
    group.add_command(dispatch_eval)


@click.command("briefing")
@click.option(
    "--day",
    "day_text",
    required=True,
    metavar="YYYY-MM-DD",
    help="The local day the briefing covers.",
)
@click.option(
    "--scope",
    default=None,
    metavar="CODE",
    help="Grid code of the city, a district, street or community (default: the city).",
)
@click.option("--json", "as_json", is_flag=True, help="Print text, facts and rewriter as JSON.")
@click.pass_context
@reports_errors
def briefing(ctx: click.Context, day_text: str, scope: str | None, as_json: bool) -> None:
    """城市运行日报 · Print the daily briefing of a scope: figures from the store, written by the
    template (or reworded by GRIDGOV_AI_WRITER_URL's model when every figure checks out)."""
    try:
        day = date.fromisoformat(day_text)
    except ValueError:
        raise click.BadParameter(
            f"{day_text!r} 不是 YYYY-MM-DD 日期 / is not a YYYY-MM-DD date", param_hint="--day"
        ) from None
    runtime = runtime_from(ctx)
    answer = runtime.insights.briefing.daily(scope, day, CONSOLE)
    if as_json:
        click.echo(json.dumps(answer, ensure_ascii=False, indent=1, default=str))
        return
    click.echo(answer["text"])
    click.echo()
    click.echo(answer["text_en"])
    source = "语言模型改写 / reworded by the model" if answer["rewritten_by"] else "模板 / template"
    click.echo(f"\n（{source}）", err=True)
    if answer["rewrite_refused"]:
        click.echo(answer["rewrite_refused"], err=True)


@click.command("dispatch-eval")
@click.option(
    "--start",
    default=None,
    metavar="YYYY-MM-DD",
    help="First day of the training weeks (default: the day of the first dispatch).",
)
@click.option(
    "--train-days", type=click.IntRange(1, 3650), default=21, show_default=True,
    help="Days to train on.",
)  # fmt: skip
@click.option(
    "--test-days", type=click.IntRange(1, 3650), default=7, show_default=True,
    help="Days after those to test on.",
)  # fmt: skip
@click.pass_context
@reports_errors
def dispatch_eval(ctx: click.Context, start: str | None, train_days: int, test_days: int) -> None:
    """智能派单评估 · Train smart dispatch on the first weeks of the stored dispatches, test it on
    the next, and print top-1/top-3 accuracy against the baseline "most frequent department for
    the category" and against the responsibility list's rules, as JSON."""
    runtime = runtime_from(ctx)
    zone = ZoneInfo(runtime.settings.timezone)
    begin = None
    if start is not None:
        try:
            begin = datetime.combine(date.fromisoformat(start), datetime.min.time(), zone)
        except ValueError:
            raise click.BadParameter(
                f"{start!r} 不是 YYYY-MM-DD 日期 / is not a YYYY-MM-DD date", param_hint="--start"
            ) from None
    result = runtime.insights.dispatch.evaluate(
        start=begin, train_days=train_days, test_days=test_days
    )
    click.echo(json.dumps(result.as_dict(), ensure_ascii=False, indent=1))
