"""Helpers for the task-library tests: a local HTTP server, flows run on the local platform, and a
RunContext backed by real stores."""

from __future__ import annotations

import json
import textwrap
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from stratoflow.cloud.config.secrets import configured_secrets
from stratoflow.domain import Execution, LogEntry, TaskRun
from stratoflow.execution.runner.context import TaskRunContext
from stratoflow.local import LocalPlatform, RunOutcome
from stratoflow.store.local import LocalBlobStore
from stratoflow.store.sqlite import SqliteExecutionStore

RunFlow = Callable[..., RunOutcome]
Route = Callable[[BaseHTTPRequestHandler, bytes], tuple[int, dict[str, str], bytes]]


def flow_source(
    tasks: str, *, inputs: str = "", flow_id: str = "demo", namespace: str = "tests.tasks"
) -> str:
    """A flow file around a YAML list of tasks (indented or not)."""
    body = textwrap.indent(textwrap.dedent(tasks).strip("\n"), "  ")
    head = f"id: {flow_id}\nnamespace: {namespace}\n"
    if inputs:
        head += "inputs:\n" + textwrap.indent(textwrap.dedent(inputs).strip("\n"), "  ") + "\n"
    return head + "tasks:\n" + body + "\n"


def run_on(platform: LocalPlatform, source: str, inputs: dict[str, Any] | None = None) -> RunOutcome:
    flow, record = platform.deploy_source(source, "flow.yaml")
    return platform.run(platform.admit(flow, record, inputs or {}))


def task_run(outcome: RunOutcome, task_id: str) -> TaskRun:
    runs = [r for r in outcome.task_runs if r.task_id == task_id]
    assert runs, f"no task run of {task_id}"
    return runs[-1]


def outputs_of(platform: LocalPlatform, outcome: RunOutcome, task_id: str) -> dict[str, Any]:
    """A task run's outputs as a later task would see them (large ones loaded back from storage)."""
    from stratoflow.execution.runner.outputs import resolve

    return resolve(task_run(outcome, task_id).outputs, platform.blobs)


def logs_of(platform: LocalPlatform, outcome: RunOutcome, task_id: str | None = None) -> list[LogEntry]:
    logs = platform.store.list_logs(outcome.execution.id)
    return [entry for entry in logs if task_id is None or entry.task_id == task_id]


class MutableClock:
    """A store clock a test moves by hand."""

    def __init__(self) -> None:
        self.now = datetime(2024, 1, 1, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, delta: timedelta) -> None:
        self.now += delta


def direct_context(
    tmp_path: Path, namespace: str = "tests.tasks", clock: Callable[[], datetime] | None = None
) -> TaskRunContext:
    """A TaskRunContext on real (SQLite + folder) stores, for running one task without a flow."""
    store = SqliteExecutionStore(tmp_path / "db.sqlite", **({"clock": clock} if clock else {}))
    blobs = LocalBlobStore(tmp_path / "blobs")
    execution = Execution(id="exec-1", namespace=namespace, flow_id="demo", revision=1)
    store.create_execution(execution)
    run = TaskRun(id="run-1", execution_id="exec-1", task_id="t", task_type="x")
    # The source the CLI would give the runner: the environment picks it (a test may set the AWS backend).
    return TaskRunContext(
        store,
        blobs,
        execution,
        run,
        {"inputs": {}, "labels": {}},
        attempt=1,
        secret_source=configured_secrets(),
    )


def run_until_stoppable(task: Any, ctx: TaskRunContext) -> tuple[threading.Thread, list[BaseException]]:
    """Start `task.run(ctx)` on a thread of its own, as the runner does for a task under a timeout,
    and return once the task registered its cancel hook (`ctx.on_stop`): the thread, and the list
    that receives what the run raised."""
    failures: list[BaseException] = []
    hooked = threading.Event()
    register = ctx.on_stop

    def hook(cancel: Callable[[], None]) -> None:
        register(cancel)
        hooked.set()

    ctx.on_stop = hook  # type: ignore[method-assign]

    def run() -> None:
        try:
            task.run(ctx)
        except BaseException as error:
            failures.append(error)

    worker = threading.Thread(target=run, daemon=True)
    worker.start()
    assert hooked.wait(60), "the task registered no cancel hook"
    return worker, failures


def load_task(yaml: str) -> Any:
    """One task model from a one-line YAML mapping."""
    from stratoflow.flow import load_flow

    return load_flow(flow_source(f"- {yaml}")).tasks[0]


class _Handler(BaseHTTPRequestHandler):
    routes: dict[str, Route] = {}

    def _answer(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        route = self.routes.get(self.path.split("?", 1)[0])
        if route is None:
            status, headers, payload = 404, {"Content-Type": "text/plain"}, b"not found"
        else:
            status, headers, payload = route(self, body)
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(payload)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = _answer

    def log_message(self, format: str, *args: Any) -> None:
        return None


@contextmanager
def http_server(routes: dict[str, Route]) -> Iterator[str]:
    """A threaded HTTP server on 127.0.0.1 answering `routes`; yields its base URL."""
    handler = type("Handler", (_Handler,), {"routes": routes})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def json_route(document: Any, status: int = 200) -> Route:
    def route(_: BaseHTTPRequestHandler, __: bytes) -> tuple[int, dict[str, str], bytes]:
        return status, {"Content-Type": "application/json"}, json.dumps(document).encode()

    return route
