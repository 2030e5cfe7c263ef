"""The docs name what the code has: every setting, every CLI command."""

from __future__ import annotations

from pathlib import Path

import click

from gridgov.cli.main import cli
from gridgov.config import Settings

DOCS = Path(__file__).resolve().parent.parent / "docs"


def test_every_setting_is_documented_in_configuration_md() -> None:
    text = (DOCS / "configuration.md").read_text(encoding="utf-8")
    missing = [
        f"GRIDGOV_{name.upper()}"
        for name in Settings.model_fields
        if f"`GRIDGOV_{name.upper()}`" not in text
    ]
    assert missing == []


def test_every_setting_has_help_text() -> None:
    assert [n for n, f in Settings.model_fields.items() if not f.description] == []


def _commands(group: click.Group, prefix: str = "gridgov") -> list[str]:
    names = []
    for name, command in group.commands.items():
        full = f"{prefix} {name}"
        if isinstance(command, click.Group):
            names.extend(_commands(command, full))
        else:
            names.append(full)
    return names


def test_every_cli_command_is_documented_in_cli_md() -> None:
    text = (DOCS / "cli.md").read_text(encoding="utf-8")
    assert [c for c in _commands(cli) if f"`{c}" not in text] == []


def test_every_cli_command_has_help_a_person_can_read() -> None:
    def walk(group: click.Group) -> list[click.Command]:
        out: list[click.Command] = []
        for command in group.commands.values():
            out.append(command)
            if isinstance(command, click.Group):
                out.extend(walk(command))
        return out

    assert [c.name for c in walk(cli) if not (c.help or "").strip()] == []
