"""`strato --help` lists every command from the summaries kept in `cli/main.py`, importing none of them."""

from __future__ import annotations

import importlib

import click
import pytest
from click.testing import CliRunner

from stratoflow.cli import main as cli_main


@pytest.mark.parametrize("name", sorted(cli_main.COMMANDS))
def test_each_summary_is_what_click_derives_from_the_command(name: str) -> None:
    # Given a command of the group, imported for real
    entry = cli_main.COMMANDS[name]
    module_name, attribute = entry.target.split(":")
    command: click.Command = getattr(importlib.import_module(module_name), attribute)
    # Then the summary kept beside its name is its short help (a changed docstring must change both)
    assert entry.summary == command.get_short_help_str(limit=300)


def test_help_lists_every_command_without_importing_one(monkeypatch: pytest.MonkeyPatch) -> None:
    # Given a group whose commands cannot be loaded
    def refuse(self: click.Group, ctx: click.Context, cmd_name: str) -> click.Command | None:
        raise AssertionError(f"--help imported the command {cmd_name!r}")

    monkeypatch.setattr(cli_main.LazyGroup, "get_command", refuse)
    # When asking for help
    result = CliRunner().invoke(cli_main.cli, ["--help"], terminal_width=120)
    # Then every command is listed with the start of its summary
    assert result.exit_code == 0, result.output
    for name, entry in cli_main.COMMANDS.items():
        assert f"  {name} " in result.output
        assert entry.summary.split(" ")[0] in result.output
