"""`strato server`: watch a folder of flows and run their triggers on this machine until Ctrl-C."""

from __future__ import annotations

import threading
from datetime import datetime
from pathlib import Path

import click

from stratoflow.cli.options import home_option


@click.command()
@click.option(
    "--flows-dir",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    default=Path("flows"),
    show_default=True,
    help="Folder of flow files to deploy and watch (subfolders included).",
)
@click.option("--port", type=click.IntRange(0, 65535), default=8080, show_default=True, help="Webhook port.")
@home_option
def server(flows_dir: Path, port: int, home: Path) -> None:
    """Deploy the flows of --flows-dir, redeploy them when they change, and run their triggers.

    Webhooks answer on http://127.0.0.1:PORT/webhook/<namespace>/<flowId>/<key>; schedules, flow
    triggers and concurrency limits apply; history goes to --home. Ctrl-C stops it.
    """
    from stratoflow.local.server import StratoServer

    def report(message: str) -> None:
        click.echo(f"{datetime.now().strftime('%H:%M:%S')} {message}")

    instance = StratoServer(flows_dir, home, port=port, report=report)
    try:
        instance.open()
    except OSError as error:
        instance.close()
        raise click.ClickException(f"cannot listen on 127.0.0.1:{port}: {error}") from None
    stop = threading.Event()
    click.echo(f"watching {flows_dir} (history in {home}); Ctrl-C to stop")
    worker = threading.Thread(target=instance.serve, args=(stop,), name="strato-server")
    worker.start()
    try:
        while worker.is_alive():
            worker.join(0.5)
    except KeyboardInterrupt:
        click.echo("stopping...")
    finally:
        stop.set()
        worker.join()
    click.echo("stopped")
