"""A flowable's `timeout` end to end: `strato run` on the wall clock, with `--skip-waits`, and on the
cloud simulation (moto's Step Functions interpreter runs the compiled race)."""

from __future__ import annotations

import json
import select
import socket
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from click.testing import CliRunner

from stratoflow.cli.main import cli
from stratoflow.engine import RealClock
from stratoflow.local import LocalPlatform
from stratoflow.states import State

pytestmark = pytest.mark.slow

RACING = """
id: racing
namespace: tests.sim
tasks:
  - id: outer
    type: Parallel
    timeout: {timeout}
    tasks:
      - id: nap
        type: Sleep
        duration: PT3S
      - id: quick
        type: Return
        format: done
errors:
  - id: handler
    type: Return
    format: handled
"""


def run(tmp_path: Path, timeout: str, *args: str) -> dict[str, object]:
    flow = tmp_path / "racing.yaml"
    flow.write_text(RACING.format(timeout=timeout))
    result = CliRunner().invoke(cli, ["run", str(flow), "--json", *args])
    document: dict[str, object] = json.loads(result.stdout)
    return document


def states(document: dict[str, object]) -> dict[str, str]:
    return {run["taskId"]: run["state"] for run in document["taskRuns"]}  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    "where", [["--home", "{home}"], ["--home", "{home}", "--skip-waits"], ["--cloud-sim"]], ids=str
)
def test_a_parallel_outlasting_its_timeout_is_stopped_its_sleep_killed_and_errors_run(
    tmp_path: Path, where: list[str]
) -> None:
    # Given a Parallel with a timeout of 1 s whose Sleep lasts 3 s
    # When it runs locally (wall clock, virtual clock) and on the cloud simulation
    document = run(tmp_path, "PT1S", *[arg.format(home=tmp_path / "home") for arg in where])

    # Then the Parallel failed as timed out, its sleep was killed, the quick child kept its success
    assert document["state"] == "FAILED"
    assert "task 'outer' timed out after 0:00:01 (timeout 1s)" in str(document["error"])
    assert states(document) == {"outer": "FAILED", "nap": "KILLED", "quick": "SUCCESS", "handler": "SUCCESS"}


def test_a_parallel_within_its_timeout_succeeds_when_waits_are_skipped(tmp_path: Path) -> None:
    # Given a Parallel with a timeout of an hour whose Sleep lasts 3 s, waits skipped
    document = run(tmp_path, "PT1H", "--home", str(tmp_path / "home"), "--skip-waits")

    # Then the timer did not win: the body ended and the execution succeeded
    assert document["state"] == "SUCCESS"
    assert states(document) == {"outer": "SUCCESS", "nap": "SUCCESS", "quick": "SUCCESS"}


PARENT = """
id: parent
namespace: tests.sim
tasks:
  - id: call
    type: Subflow
    namespace: tests.sim
    flowId: child
    timeout: PT1S
"""
CHILD = """
id: child
namespace: tests.sim
tasks:
  - id: nap
    type: Sleep
    duration: PT30S
"""


def test_a_subflow_outlasting_its_timeout_fails_and_its_child_execution_is_killed(tmp_path: Path) -> None:
    # Given a Subflow (wait: true) with a timeout of 1 s whose child sleeps 30 s, on the wall clock
    platform = LocalPlatform(tmp_path / "home", clock=RealClock())
    try:
        platform.deploy_source(CHILD, "child.yaml")
        flow, record = platform.deploy_source(PARENT, "parent.yaml")

        # When the parent runs
        outcome = platform.run(platform.admit(flow, record, {}))
        # The child is stopped by the abandoned wait, beside the parent's own end: wait for its record.
        for _ in range(300):
            children = platform.store.list_executions(namespace="tests.sim", flow_id="child")
            if all(child.state.is_terminal for child in children):
                break
            time.sleep(0.1)
    finally:
        platform.close()

    # Then the Subflow task failed as timed out, and the child execution was killed (not left running)
    assert outcome.execution.state == State.FAILED
    assert "task 'call' timed out after 0:00:01 (timeout 1s)" in (outcome.execution.error or "")
    assert [child.state for child in children] == [State.KILLED]


AROUND = """
id: around
namespace: tests.sim
tasks:
  - id: outer
    type: Parallel
    timeout: PT1S
    tasks:
      - id: call
        type: Subflow
        namespace: tests.sim
        flowId: child
"""


def test_a_subflow_in_a_timed_out_parallel_stops_waiting_and_its_child_execution_is_killed(
    tmp_path: Path,
) -> None:
    # Given a Parallel with a timeout of 1 s around a Subflow (wait: true) whose child sleeps 30 s
    platform = LocalPlatform(tmp_path / "home", clock=RealClock())
    try:
        platform.deploy_source(CHILD, "child.yaml")
        flow, record = platform.deploy_source(AROUND, "around.yaml")

        # When the parent runs
        outcome = platform.run(platform.admit(flow, record, {}))
        children = platform.store.list_executions(namespace="tests.sim", flow_id="child")
        # The child is stopped by the abandoned wait, beside the parent's own end: wait for its record.
        for _ in range(300):
            children = platform.store.list_executions(namespace="tests.sim", flow_id="child")
            if all(child.state.is_terminal for child in children):
                break
            time.sleep(0.1)
        naps = [run for child in children for run in platform.store.list_task_runs(child.id)]
    finally:
        platform.close()

    # Then the Parallel failed as timed out without waiting for the child (its Sleep was killed before
    # it ended), and the child execution was killed, as Step Functions stops a `.sync` child
    assert outcome.execution.state == State.FAILED
    assert "task 'outer' timed out after 0:00:01 (timeout 1s)" in (outcome.execution.error or "")
    assert [child.state for child in children] == [State.KILLED]
    assert [(run.task_id, run.state) for run in naps] == [("nap", State.KILLED)]


STOPPED = """
id: stopped
namespace: tests.sim
tasks:
  - id: body
    type: Sequential
    timeout: PT1S
    tasks:
      - id: slow
        type: io.kestra.plugin.scripts.shell.Commands
        commands:
          - sleep 60 &
          - echo $! > {pid_file}
          - wait
"""


@pytest.mark.parametrize("where", [["--home", "{home}"], ["--cloud-sim"]], ids=str)
def test_a_script_running_in_a_timed_out_sequential_is_killed_and_its_late_end_discarded(
    tmp_path: Path, where: list[str]
) -> None:
    # Given a Sequential with a timeout of 1 s around a script that would run 60 s (a background
    # child of its own included)
    pid_file = tmp_path / "child.pid"
    flow = tmp_path / "stopped.yaml"
    flow.write_text(STOPPED.format(pid_file=pid_file))

    # When it runs locally (the engine stops the attempt) and on the cloud simulation (the Lambda's
    # script reads its task run KILLED and stops)
    args = [arg.format(home=tmp_path / "home") for arg in where]
    result = CliRunner().invoke(cli, ["run", str(flow), "--json", *args])
    document = json.loads(result.stdout)

    # Then the Sequential failed as timed out, the script's run stays KILLED (its end did not
    # overwrite it), and its process group is gone
    assert document["state"] == "FAILED"
    assert "task 'body' timed out after 0:00:01 (timeout 1s)" in str(document["error"])
    assert states(document) == {"body": "FAILED", "slow": "KILLED"}
    # (In the cloud the Lambda finds its run KILLED at its next read of the record, after the end.)
    stat = Path(f"/proc/{int(pid_file.read_text())}/stat")
    for _ in range(300):
        if not _running(stat):
            break
        time.sleep(0.1)
    assert not _running(stat)


def _running(stat: Path) -> bool:
    # A child killed with its group may stay a zombie until it is reaped: it is not running.
    try:
        return not stat.read_text().split(") ", 1)[1].startswith("Z")
    except FileNotFoundError:
        return False


CANCELLING = """
id: cancelling
namespace: tests.sim
tasks:
  - id: hold
    type: io.kestra.plugin.core.flow.Pause
    pauseDuration: PT1S
    behavior: CANCEL
  - {id: after, type: Return, format: went on}
errors:
  - {id: handler, type: Return, format: handled}
"""


@pytest.mark.parametrize("where", [["--home", "{home}"], ["--cloud-sim"]], ids=str)
def test_a_pause_with_behavior_cancel_not_resumed_in_time_ends_the_execution_cancelled(
    tmp_path: Path, where: list[str]
) -> None:
    # Given Kestra's Pause with behavior CANCEL and a pauseDuration of 1 s, nobody resuming it
    flow = tmp_path / "cancelling.yaml"
    flow.write_text(CANCELLING)

    # When it runs locally on the wall clock and on the cloud simulation (the compiled callback's timeout)
    args = [arg.format(home=tmp_path / "home") for arg in where]
    document = json.loads(CliRunner().invoke(cli, ["run", str(flow), "--json", *args]).stdout)

    # Then the pause and the execution end CANCELLED, and neither the next task nor `errors` ran
    assert document["state"] == "CANCELLED"
    assert states(document) == {"hold": "CANCELLED"}


POLLING = """
id: polling
namespace: tests.sim
tasks:
  - id: poll
    type: io.kestra.plugin.core.flow.WaitFor
    condition: "{{ outputs.check.value == 'ready' }}"
    timeout: PT3S
    checkFrequency: {maxIterations: 100, interval: PT1S}
    tasks:
      - {id: check, type: Return, format: pending}
"""


def test_a_wait_for_outlasting_its_timeout_fails_on_the_cloud_simulation(tmp_path: Path) -> None:
    # Given Kestra's WaitFor whose condition stays false, checking every second, with a timeout of 3 s
    flow = tmp_path / "polling.yaml"
    flow.write_text(POLLING)

    # When it runs on the cloud simulation (moto's interpreter runs the loop inside the race's branch)
    document = json.loads(CliRunner().invoke(cli, ["run", str(flow), "--json", "--cloud-sim"]).stdout)

    # Then the WaitFor failed as timed out; the checks before the timeout kept their success
    assert document["state"] == "FAILED"
    assert "task 'poll' timed out after 0:00:03 (timeout 3s)" in str(document["error"])
    assert states(document)["poll"] == "FAILED"


WAITING = """
id: waiting
namespace: tests.sim
tasks:
  - id: outer
    type: Parallel
    timeout: PT1S
    tasks:
      - id: call
        type: io.kestra.plugin.core.http.Request
        uri: {uri}
"""


class Holding(BaseHTTPRequestHandler):
    """Answers after 30 s, unless the client closes the connection first (then it never answers)."""

    closed = threading.Event()
    answered = threading.Event()

    def do_GET(self) -> None:
        readable, _, _ = select.select([self.connection], [], [], 30)
        if readable and not self.connection.recv(1, socket.MSG_PEEK):
            type(self).closed.set()
            return
        type(self).answered.set()
        self.send_response(200)
        self.end_headers()
        self.wfile.write(b"late")

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def holding() -> Iterator[str]:
    Holding.closed.clear()
    Holding.answered.clear()
    server = ThreadingHTTPServer(("127.0.0.1", 0), Holding)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/slow"
    finally:
        server.shutdown()
        server.server_close()


@pytest.mark.parametrize("where", [["--home", "{home}"], ["--cloud-sim"]], ids=str)
def test_an_http_request_in_a_timed_out_parallel_is_stopped_and_its_connection_closed(
    tmp_path: Path, holding: str, where: list[str]
) -> None:
    # Given a Parallel with a timeout of 1 s around an HTTP request to a server that answers after 30 s
    flow = tmp_path / "waiting.yaml"
    flow.write_text(WAITING.format(uri=holding))

    # When it runs locally (the engine stops waiting for the request) and on the cloud simulation (the
    # runner's Lambda reads its task run KILLED within 2 s)
    args = [arg.format(home=tmp_path / "home") for arg in where]
    document = json.loads(CliRunner().invoke(cli, ["run", str(flow), "--json", *args]).stdout)

    # Then the run ended before the server answered: the Parallel failed as timed out, the request's
    # run is KILLED, and the server saw the connection closed
    assert not Holding.answered.is_set()
    assert document["state"] == "FAILED"
    assert "task 'outer' timed out after 0:00:01 (timeout 1s)" in str(document["error"])
    assert states(document) == {"outer": "FAILED", "call": "KILLED"}
    assert Holding.closed.wait(10)
