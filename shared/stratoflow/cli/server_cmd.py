"""`strato server`: watch a folder of flows and run their triggers on this machine until Ctrl-C."""

from __future__ import annotations

import threading
from datetime import datetime
from pathlib import Path

import click

from stratoflow.cli.options import home_option
from stratoflow.cli.signals import StopSignals
from stratoflow.cloud.config.secrets import configured_secrets
from stratoflow.local.server import StratoServer


@click.command()
@click.option(
    "--flows-dir",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    default=Path("flows"),
    show_default=True,
    help="Folder of flow files to deploy and watch (subfolders included).",
)
@click.option(
    "--port",
    type=click.IntRange(0, 65535),
    default=8080,
    show_default=True,
    help="Webhooks and console port.",
)
@click.option(
    "--grace",
    type=click.FloatRange(min=0),
    default=0.0,
    show_default=True,
    metavar="SECONDS",
    help="On stop, let running executions end on their own for up to SECONDS before killing them.",
)
@click.option(
    "--token",
    envvar="STRATO_CONSOLE_TOKEN",
    show_envvar=True,
    metavar="TOKEN",
    help="The console and its API answer only callers that present TOKEN (Bearer header, or open "
    "the console once at /?token=TOKEN). Default: everyone who can reach the loopback port.",
)
@home_option
def server(flows_dir: Path, port: int, grace: float, token: str | None, home: Path) -> None:
    """Deploy the flows of --flows-dir, redeploy them when they change, and run their triggers.

    Webhooks answer on http://127.0.0.1:PORT/webhook/<namespace>/<flowId>/<key> and the web console
    on http://127.0.0.1:PORT/; schedules, flow triggers and concurrency limits apply; history goes
    to --home. Ctrl-C or SIGTERM stops it (running executions end KILLED, after --grace); a second
    signal exits at once.
    """
    # Deferred: the console is FastAPI (~0.5 s), which `strato --help` need not load to list this command.
    from stratoflow.console.local import server_console

    def report(message: str) -> None:
        click.echo(f"{datetime.now().strftime('%H:%M:%S')} {message}")

    instance = StratoServer(
        flows_dir,
        home,
        port=port,
        report=report,
        grace=grace,
        owns_process=True,
        secrets=configured_secrets(),
    )
    try:
        instance.open(console=server_console(instance, token))
    except OSError as error:
        instance.close()
        raise click.ClickException(f"cannot listen on 127.0.0.1:{port}: {error}") from None
    stop = threading.Event()

    def on_stop(name: str) -> None:
        report(f"{name}: stopping (a second signal exits at once)")
        stop.set()

    click.echo(f"watching {flows_dir} (history in {home}); Ctrl-C to stop")
    with StopSignals(on_stop):
        instance.serve(stop)  # on this (the main) thread: nothing interrupts its shutdown
    click.echo("stopped")
