"""`gridgov audit`: check that nobody has edited, removed or reordered case events."""

from __future__ import annotations

import sys

import click

from gridgov.cli.common import reports_errors, runtime_from


@click.group()
def audit() -> None:
    """审计 · The tamper-evident case event log."""


@audit.command()
@click.pass_context
@reports_errors
def verify(ctx: click.Context) -> None:
    """Check every case event against the hash chain and the recorded heads; exit 2 if broken."""
    report = runtime_from(ctx).cases.verify_audit()
    click.echo(report.render())
    if not report.intact:
        sys.exit(2)
