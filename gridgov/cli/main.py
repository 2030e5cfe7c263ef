"""`gridgov`: one entry point, a group per area. Errors print in Chinese and English and exit 2."""

from __future__ import annotations

import click

from gridgov import __version__
from gridgov.cli import (
    accounts,
    ai,
    analytics,
    audit,
    briefing,
    cases,
    db,
    grids,
    hotline,
    intake,
    people,
    sensors,
    serve,
    sim,
    worker,
)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="gridgov")
def cli() -> None:
    """gridgov 网格化治理平台 — city grid governance.

    Settings come from GRIDGOV_* environment variables (see docs/configuration.md);
    by default the store is SQLite in ./var.
    """


cli.add_command(db.db)
cli.add_command(grids.grids)
cli.add_command(people.people)
cli.add_command(cases.cases)
cli.add_command(intake.intake)
cli.add_command(hotline.hotline)
cli.add_command(sensors.sensors)
cli.add_command(accounts.accounts)
cli.add_command(audit.audit)
cli.add_command(sim.sim)
cli.add_command(ai.ai)
cli.add_command(analytics.analytics)
briefing.register(ai.ai)
cli.add_command(serve.serve)
cli.add_command(worker.worker)


def main() -> None:
    cli(prog_name="gridgov")
