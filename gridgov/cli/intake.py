"""`gridgov intake`: receive a payload from a file, the manual location queue, channel API keys."""

from __future__ import annotations

import json
from pathlib import Path

import click

from gridgov.cli.cases import as_option, parse_actor
from gridgov.cli.common import reports_errors, runtime_from
from gridgov.cli.grids import COMMIT_HINT
from gridgov.core.errors import InvalidInput
from gridgov.core.geo import Crs


@click.group()
def intake() -> None:
    """受理 · Intake: receive channel payloads, locate reports by hand, manage channel API keys."""


@intake.command()
@click.argument("channel")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--commit", is_flag=True, help="Store the report and open its case (otherwise preview)."
)
@click.pass_context
@reports_errors
def receive(ctx: click.Context, channel: str, file: Path, commit: bool) -> None:
    """Run a channel's JSON payload through the pipeline: parse, locate, classify, deduplicate."""
    runtime = runtime_from(ctx)
    try:
        payload = json.loads(file.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InvalidInput(str(file), f"不是 UTF-8 JSON / not UTF-8 JSON: {exc}") from None
    if not isinstance(payload, dict):
        raise InvalidInput(str(file), "须为 JSON 对象 / must hold a JSON object")
    if commit:
        receipt = runtime.intake.receive(channel, payload)
        click.echo(json.dumps(receipt.as_dict(), ensure_ascii=False, indent=2))
        return
    click.echo(json.dumps(runtime.intake.preview(channel, payload), ensure_ascii=False, indent=2))
    click.echo(COMMIT_HINT)


@intake.command("manual-queue")
@click.option("--limit", type=int, default=50, show_default=True, help="How many, oldest first.")
@click.pass_context
@reports_errors
def manual_queue(ctx: click.Context, limit: int) -> None:
    """Reports no coordinate or address could place, waiting for `gridgov intake locate`."""
    queue = runtime_from(ctx).intake.manual_queue(limit=limit)
    for report in queue:
        decided = report["intake"]
        click.echo(
            f"{report['id']:>8}  {report['channel']:<16} {report['external_id']:<28} "
            f"{decided.get('location_confidence') or '-':<6} {report.get('address') or '-'}"
        )
        click.echo(f"          {decided.get('location_explanation') or ''}")
    if not queue:
        click.echo("没有待人工定位的上报 / no report waits for manual location")


@intake.command()
@click.argument("report_id", type=int)
@click.argument("lon", type=float)
@click.argument("lat", type=float)
@click.option(
    "--crs", type=click.Choice([c.value for c in Crs]), default="wgs84", show_default=True,
    help="Coordinate system of LON LAT.",
)  # fmt: skip
@click.option(
    "--commit", is_flag=True, help="Locate the report and open its case (otherwise preview)."
)
@as_option
@click.pass_context
@reports_errors
def locate(
    ctx: click.Context, report_id: int, lon: float, lat: float, crs: str, commit: bool, as_: str
) -> None:
    """Locate a report from the manual queue by hand at LON LAT, and open its case."""
    runtime = runtime_from(ctx)
    if not commit:
        answer = runtime.locating.locate(lon, lat, crs=Crs(crs))
        path = ", ".join(f"{g['code']} {g['name']}" for g in answer.as_dict()["grids"].values())
        click.echo(f"上报 / report {report_id} → {path}")
        click.echo(COMMIT_HINT)
        return
    actor = parse_actor(as_)
    receipt = runtime.intake.locate_manually(report_id, lon, lat, actor, crs=Crs(crs))
    click.echo(f"已定位，工单 / located, case {receipt.case_id}")


@intake.group()
def keys() -> None:
    """Channel API keys (X-Api-Key): create, list, revoke."""


@keys.command("create")
@click.argument("channel")
@click.option("--label", default="", help="Who the key is for, e.g. 市12345平台.")
@click.option("--commit", is_flag=True, help="Create the key (otherwise preview).")
@click.pass_context
@reports_errors
def keys_create(ctx: click.Context, channel: str, label: str, commit: bool) -> None:
    """Create an API key for CHANNEL; it is printed once and only its hash is stored."""
    runtime = runtime_from(ctx)
    if not commit:
        runtime.intake.check_channel(channel)
        click.echo(f"将为渠道 {channel} 创建密钥 / would create a key for channel {channel}")
        click.echo(COMMIT_HINT)
        return
    key = runtime.intake.keys.create(channel, label=label)
    click.echo(f"密钥 {key.id}（只显示这一次）/ key {key.id} (shown this once only):")
    click.echo(key.token)


@keys.command("list")
@click.pass_context
@reports_errors
def keys_list(ctx: click.Context) -> None:
    """Every key: id, channel, label, created and revoked times (never the key itself)."""
    found = runtime_from(ctx).intake.keys.list()
    for key in found:
        revoked = key.revoked_at.isoformat(timespec="seconds") if key.revoked_at else "-"
        click.echo(
            f"{key.id:>5}  {key.channel:<16} {key.label or '-':<20} "
            f"{key.created_at.isoformat(timespec='seconds')}  revoked {revoked}"
        )
    if not found:
        click.echo("没有密钥 / no keys")


@keys.command("revoke")
@click.argument("key_id", type=int)
@click.option("--commit", is_flag=True, help="Revoke the key (otherwise preview).")
@click.pass_context
@reports_errors
def keys_revoke(ctx: click.Context, key_id: int, commit: bool) -> None:
    """Revoke key KEY_ID: pushes with it are refused with 401 from now on."""
    if not commit:
        click.echo(f"将吊销密钥 {key_id} / would revoke key {key_id}")
        click.echo(COMMIT_HINT)
        return
    key = runtime_from(ctx).intake.keys.revoke(key_id)
    click.echo(f"已吊销 / revoked key {key.id} of {key.channel}")
