"""`strato`: the command group. Each command lives in its own module and is imported only when used,
so `strato run` does not pay for the imports of `strato deploy`."""

from __future__ import annotations

import importlib
from typing import Any, NamedTuple

import click

from stratoflow.cli.aws_access import aws_error_line
from stratoflow.errors import StorageError


class Command(NamedTuple):
    target: str
    """"module:attribute" of the click.Command."""
    summary: str
    """Its short help, as click would derive it from the docstring."""


# command name -> where it lives ("module:attribute" of a click.Command) and the one line `strato --help`
# shows for it, kept here so that listing the commands imports none of them
# (tests/unit/cli/test_help_summaries.py checks each line against its command's docstring).
COMMANDS: dict[str, Command] = {
    "validate": Command(
        "stratoflow.cli.validate_cmd:validate",
        "Check flow files (or every *.yaml / *.yml under folders) and report every problem.",
    ),
    "schema": Command(
        "stratoflow.cli.schema_cmd:schema",
        "Print the JSON Schema (draft 2020-12) of flow files, for editors and CI.",
    ),
    "render": Command(
        "stratoflow.cli.render_cmd:render",
        "Render TEMPLATE ('-' reads it from stdin) and print the result: text as it is, any other value as JSON.",
    ),
    "compile": Command(
        "stratoflow.cli.compile_cmd:compile_",
        "Print the Step Functions definition (ASL, JSONPath) of FLOW_FILE and the placeholders it needs.",
    ),
    "graph": Command(
        "stratoflow.cli.compile_cmd:graph",
        "Print a Mermaid flowchart of FLOW_FILE: tasks, branches, loops and error paths.",
    ),
    "run": Command(
        "stratoflow.cli.run_cmd:run", "Run FLOW_FILE on the local engine and record its history under --home."
    ),
    "executions": Command("stratoflow.cli.history_cmd:executions", "List and inspect executions."),
    "logs": Command(
        "stratoflow.cli.history_cmd:logs", "The logs of an execution, in the order they were written."
    ),
    "cost": Command(
        "stratoflow.cli.cost_cmd:cost",
        "Estimate what FLOW_FILE costs per month on Step Functions, Lambda, DynamoDB and Fargate (us-east-1 "
        "list prices).",
    ),
    "kill": Command(
        "stratoflow.cli.control_cmd:kill",
        "Kill a running, paused or queued execution and, transitively, its subflows.",
    ),
    "restart": Command(
        "stratoflow.cli.control_cmd:restart",
        "Continue a FAILED or KILLED execution from its failed task runs (same execution, new attempts).",
    ),
    "replay": Command(
        "stratoflow.cli.control_cmd:replay",
        "Run a new execution, linked to EXECUTION_ID, from a chosen task, reusing the outputs before it.",
    ),
    "resume": Command(
        "stratoflow.cli.control_cmd:resume",
        "Resume a paused execution (a Pause without delay), with its typed onResume inputs.",
    ),
    "server": Command(
        "stratoflow.cli.server_cmd:server",
        "Deploy the flows of --flows-dir, redeploy them when they change, and run their triggers.",
    ),
    "schedule": Command(
        "stratoflow.cli.schedule_cmd:schedule",
        "Schedule triggers: when they fire, in their time zone and in UTC.",
    ),
    "backfill": Command(
        "stratoflow.cli.schedule_cmd:backfill",
        "Start one execution per slot of a Schedule trigger in [T1, T2), on the local engine, one at a time.",
    ),
    "trigger": Command(
        "stratoflow.cli.trigger_cmd:trigger",
        "Fire trigger --trigger of FLOW (a flow file, or NAMESPACE.FLOW_ID deployed before) by hand.",
    ),
    "deploy": Command(
        "stratoflow.cli.cloud_cmd:deploy",
        "Upload flow files (or folders of them) to the stack and wait for the deployer's verdict.",
    ),
    "flows": Command("stratoflow.cli.cloud_cmd:flows", "The flows of a deployed stack."),
    "execute": Command(
        "stratoflow.cli.cloud_cmd:execute",
        "Start NAMESPACE.FLOW_ID on the stack, through its admission function.",
    ),
    "files": Command(
        "stratoflow.cli.files_cmd:files",
        "Namespace files: what script tasks get in their working directory with `namespaceFiles`.",
    ),
    "namespaces": Command(
        "stratoflow.cli.namespaces_cmd:namespaces",
        "Namespace settings: allow-lists (who may use a namespace's KV and files), plugin defaults.",
    ),
    "stack": Command(
        "stratoflow.cli.stack_cmd:stack",
        "The platform's stack, from the CDK app in the package (needs stratoflow[cloud] and Node.js).",
    ),
    "init": Command(
        "stratoflow.cli.init_cmd:init",
        "Create a flows repository in DIRECTORY (default: here): an example flow, editor settings mapping flows to the flow schema, a CI example and a README of the workflow.",
    ),
}


class LazyGroup(click.Group):
    """A click group whose subcommands are imported on first use."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        entry = COMMANDS.get(cmd_name)
        if entry is None:
            return None
        module_name, attribute = entry.target.split(":")
        command: click.Command = getattr(importlib.import_module(module_name), attribute)
        return command

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """The command list of `--help`, from the summaries above: no command module is imported."""
        width = formatter.width - 6 - max(len(name) for name in COMMANDS)
        rows = [
            (name, click.Command(name, help=COMMANDS[name].summary).get_short_help_str(width))
            for name in self.list_commands(ctx)
        ]
        with formatter.section("Commands"):
            formatter.write_dl(rows)

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
