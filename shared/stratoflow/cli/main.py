"""`strato`: the command group. Each command lives in its own module and is imported only when used,
so `strato run` does not pay for the imports of `strato deploy`."""

from __future__ import annotations

import importlib
from typing import Any

import click

from stratoflow.cli.aws_access import aws_error_line
from stratoflow.errors import StorageError

# command name -> "module:attribute" of a click.Command
COMMANDS: dict[str, str] = {
    "validate": "stratoflow.cli.validate_cmd:validate",
    "schema": "stratoflow.cli.schema_cmd:schema",
    "render": "stratoflow.cli.render_cmd:render",
    "compile": "stratoflow.cli.compile_cmd:compile_",
    "graph": "stratoflow.cli.compile_cmd:graph",
    "run": "stratoflow.cli.run_cmd:run",
    "executions": "stratoflow.cli.history_cmd:executions",
    "logs": "stratoflow.cli.history_cmd:logs",
    "cost": "stratoflow.cli.cost_cmd:cost",
    "kill": "stratoflow.cli.control_cmd:kill",
    "restart": "stratoflow.cli.control_cmd:restart",
    "replay": "stratoflow.cli.control_cmd:replay",
    "resume": "stratoflow.cli.control_cmd:resume",
    "server": "stratoflow.cli.server_cmd:server",
    "schedule": "stratoflow.cli.schedule_cmd:schedule",
    "backfill": "stratoflow.cli.schedule_cmd:backfill",
    "trigger": "stratoflow.cli.trigger_cmd:trigger",
    "deploy": "stratoflow.cli.cloud_cmd:deploy",
    "flows": "stratoflow.cli.cloud_cmd:flows",
    "execute": "stratoflow.cli.cloud_cmd:execute",
    "files": "stratoflow.cli.files_cmd:files",
    "namespaces": "stratoflow.cli.namespaces_cmd:namespaces",
    "stack": "stratoflow.cli.stack_cmd:stack",
    "init": "stratoflow.cli.init_cmd:init",
}


class LazyGroup(click.Group):
    """A click group whose subcommands are imported on first use."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        target = COMMANDS.get(cmd_name)
        if target is None:
            return None
        module_name, attribute = target.split(":")
        command: click.Command = getattr(importlib.import_module(module_name), attribute)
        return command

    def invoke(self, ctx: click.Context) -> Any:
        """Run the command; an AWS SDK error it lets out becomes one line (what is missing or refused)."""
        try:
            return super().invoke(ctx)
        except StorageError as error:  # a full disk, a read-only home...: the cause in one line
            raise click.ClickException(str(error)) from None
        except OSError as error:
            if isinstance(error.errno, int) and error.strerror:
                where = f": {error.filename}" if error.filename else ""
                raise click.ClickException(f"{error.strerror}{where}") from None
            raise
        except Exception as error:
            line = aws_error_line(error)
            if line is None:
                raise
            raise click.ClickException(line) from None


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="stratoflow", prog_name="strato")
def cli() -> None:
    """Stratoflow: Kestra-style YAML flows on AWS Step Functions, and on your laptop."""


def main(argv: list[str] | None = None) -> Any:
    return cli.main(args=argv, prog_name="strato")
