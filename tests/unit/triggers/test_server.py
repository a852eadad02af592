"""`strato server`: the folder watcher, webhooks over HTTP, Flow triggers, schedules, concurrency, and a
clean stop (a thread and a stop event stand in for Ctrl-C)."""

from __future__ import annotations

import json
import socket
import textwrap
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from stratoflow.cli.main import cli
from stratoflow.engine import VirtualClock
from stratoflow.local.server import StratoServer
from stratoflow.states import State

UP = """
    id: up
    namespace: demo
    inputs: [{id: who, type: STRING, defaults: nobody}]
    triggers:
      - {id: hook, type: Webhook, key: secret-key-0123456789, inputs: {who: "{{ trigger.body.name }}"}}
    tasks:
      - {id: hello, type: Return, format: "hi {{ inputs.who }}"}
    outputs:
      - {id: greeting, type: STRING, value: "{{ outputs.hello.value }}"}
"""

DOWN = """
    id: down
    namespace: demo
    inputs: [{id: greeting, type: STRING}]
    triggers:
      - id: after-up
        type: Flow
        states: [SUCCESS]
        conditions: [{type: ExecutionFlow, namespace: demo, flowId: up}]
        inputs: {greeting: "{{ trigger.outputs.greeting }}"}
    tasks:
      - {id: echo, type: Return, format: "got {{ inputs.greeting }}"}
"""

HELD = """
    id: held
    namespace: demo
    concurrency: {limit: 1}
    triggers:
      - {id: hook, type: Webhook, key: hold-key-0123456789ab}
    tasks:
      - {id: wait, type: Pause}
"""


class Files:
    def __init__(self, root: Path) -> None:
        self.root = root

    def write(self, name: str, text: str) -> Path:
        path = self.root / name
        path.write_text(textwrap.dedent(text))
        return path


@pytest.fixture
def files(tmp_path: Path) -> Files:
    (tmp_path / "flows").mkdir()
    return Files(tmp_path / "flows")


@pytest.fixture
def messages() -> list[str]:
    return []


@pytest.fixture
def server(tmp_path: Path, files: Files, messages: list[str]) -> Iterator[StratoServer]:
    server = StratoServer(files.root, tmp_path / "home", port=0, clock=VirtualClock(), report=messages.append)
    yield server
    server.close()


def call(
    server: StratoServer, path: str, body: Any = None, method: str = "POST"
) -> tuple[int, dict[str, Any]]:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(
        f"http://127.0.0.1:{server.port}{path}",
        data=data,
        method=method,
        headers={"content-type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


# --- the folder --------------------------------------------------------------------------------


def test_flows_are_deployed_and_redeployed_when_their_file_changes(
    server: StratoServer, files: Files
) -> None:
    store = server.platform.store
    path = files.write("up.yaml", UP)

    server.sync_flows()
    assert store.get_flow("demo", "up").revision == 1  # type: ignore[union-attr]

    # Touching without changing redeploys nothing; changing makes a new revision
    path.write_text(path.read_text())
    server.sync_flows()
    assert store.get_flow_head("demo", "up").latest_revision == 1  # type: ignore[union-attr]
    files.write("up.yaml", UP.replace("hi {{", "hello {{"))
    server.sync_flows()
    assert store.get_flow("demo", "up").revision == 2  # type: ignore[union-attr]


def test_an_invalid_file_is_reported_and_the_last_good_revision_kept(
    server: StratoServer, files: Files, messages: list[str]
) -> None:
    store = server.platform.store
    files.write("up.yaml", UP)
    server.sync_flows()

    # When the file becomes invalid
    files.write("up.yaml", UP.replace("type: Return", "type: Returnn"))
    server.sync_flows()

    # Then the problem is reported with its line, and revision 1 stays live
    assert any("invalid, not deployed" in m and "Returnn" in m for m in messages)
    assert any("revision 1 keeps running" in m for m in messages)
    head = store.get_flow_head("demo", "up")
    assert head is not None and head.status == "INVALID" and head.deployed_revision == 1
    assert store.get_flow("demo", "up").revision == 1  # type: ignore[union-attr]

    # And putting the good text back makes it DEPLOYED again, without a new revision
    files.write("up.yaml", UP)
    server.sync_flows()
    head = store.get_flow_head("demo", "up")
    assert head is not None and (head.status, head.latest_revision) == ("DEPLOYED", 1)


def test_a_deleted_file_retires_its_flow(server: StratoServer, files: Files) -> None:
    path = files.write("up.yaml", UP)
    server.sync_flows()

    path.unlink()
    server.sync_flows()

    assert server.platform.store.get_flow("demo", "up") is None
    assert server.platform.store.get_flow_head("demo", "up").status == "DELETED"  # type: ignore[union-attr]


# --- webhooks and flow triggers ----------------------------------------------------------------


def test_a_webhook_runs_the_flow_and_its_end_runs_the_flow_triggered_by_it(
    server: StratoServer, files: Files
) -> None:
    # Given two flows: `up` (webhook) and `down` (triggered when `up` succeeds)
    files.write("up.yaml", UP)
    files.write("down.yaml", DOWN)
    server.open()
    server.sync_flows()

    # When the webhook is called and waited for
    status, body = call(server, "/webhook/demo/up/secret-key-0123456789?wait=true", {"name": "Ada"})
    server.platform.join()

    # Then the execution ran with the body as input, and `down` ran from its outputs
    assert status == 200
    assert (body["state"], body["outputs"]) == ("SUCCESS", {"greeting": "hi Ada"})
    (down,) = server.platform.store.list_executions("demo", "down")
    assert down.state == State.SUCCESS
    assert down.inputs == {"greeting": "hi Ada"}
    assert down.trigger is not None and down.trigger["executionId"] == body["executionId"]


def test_webhook_answers_over_http(server: StratoServer, files: Files) -> None:
    files.write("up.yaml", UP)
    server.open()
    server.sync_flows()

    assert call(server, "/webhook/demo/up/wrong-key", {"name": "x"}) == (404, {"message": "Not Found"})
    assert call(server, "/webhook/demo/up/secret-key-0123456789", method="PUT", body={})[0] == 405
    assert call(server, "/webhook/demo/up/secret-key-0123456789", {"name": "x" * 300_000})[0] == 413


def test_a_bad_content_length_is_answered_400_and_nothing_starts(server: StratoServer, files: Files) -> None:
    # Given a live webhook
    files.write("up.yaml", UP)
    server.open()
    server.sync_flows()

    # When requests carry a Content-Length that is not one decimal number
    answers = []
    for header in ("Content-Length: abc", "Content-Length: -1", "Content-Length: 2\r\nContent-Length: 3"):
        with socket.create_connection(("127.0.0.1", server.port), timeout=10) as client:
            client.sendall(
                f"POST /webhook/demo/up/secret-key-0123456789 HTTP/1.1\r\nHost: x\r\n{header}\r\n\r\n{{}}".encode()
            )
            answers.append(client.recv(4096).decode().split("\r\n", 1)[0])

    # Then each is a 400 (before, `abc` raised ValueError in the handler and got no answer)
    assert [answer.split(" ", 1)[1] for answer in answers] == ["400 Bad Request"] * 3
    assert server.platform.store.list_executions() == []


def test_concurrency_applies_to_webhook_starts(server: StratoServer, files: Files) -> None:
    files.write("held.yaml", HELD)
    server.open()
    server.sync_flows()

    first = call(server, "/webhook/demo/held/hold-key-0123456789ab")[1]
    second = call(server, "/webhook/demo/held/hold-key-0123456789ab")[1]

    assert (first["state"], second["state"]) == ("CREATED", "QUEUED")


def test_a_dead_servers_executions_are_failed_and_their_slot_given_back(
    tmp_path: Path, server: StratoServer, files: Files, messages: list[str]
) -> None:
    # Given an earlier process on the same home that took the only slot and died (its lease gone),
    # and an execution queued behind it
    from stratoflow.local import LocalPlatform

    files.write("held.yaml", HELD)
    server.sync_flows()
    dead = LocalPlatform(tmp_path / "home", clock=VirtualClock())
    flow, record = dead.deploy_file(files.root / "held.yaml")
    orphan = dead.admit(flow, record, {})
    queued = dead.admit(flow, record, {})
    dead.lease.release()

    # When the server sweeps
    server.sweep()

    # Then the orphan ended FAILED, the server said so, and the queued execution took the slot
    store = server.platform.store
    assert store.get_execution(orphan.id).state == State.FAILED  # type: ignore[union-attr]
    assert any(m.startswith(f"execution {orphan.id} ended FAILED: the process running it") for m in messages)
    assert store.slot_holders("demo", "held") == [queued.id]
    assert store.get_execution(queued.id).state != State.QUEUED  # type: ignore[union-attr]


# --- schedules ---------------------------------------------------------------------------------


def test_due_schedule_slots_start_once_each(server: StratoServer, files: Files) -> None:
    files.write(
        "every.yaml",
        """
        id: every
        namespace: demo
        triggers: [{id: minute, type: Schedule, cron: "* * * * *"}]
        tasks: [{id: t, type: Return, format: "{{ trigger.date }}"}]
        """,
    )
    server.sync_flows()
    t0 = datetime(2026, 1, 5, 9, 0, 30, tzinfo=UTC)

    # The first round starts nothing (a trigger that never fired missed nothing); the next ones
    # start the slots that came due since the round before
    server.fire_schedules(t0)
    server.fire_schedules(t0 + timedelta(minutes=2))
    server.fire_schedules(t0 + timedelta(minutes=2, seconds=10))
    server.platform.join()

    executions = server.platform.store.list_executions("demo", "every")
    dates = sorted(e.trigger["date"] for e in executions if e.trigger)
    assert dates == ["2026-01-05T09:01:00+00:00", "2026-01-05T09:02:00+00:00"]
    assert {e.state for e in executions} == {State.SUCCESS}


# --- stopping ----------------------------------------------------------------------------------


def test_stopping_closes_the_endpoint_and_leaves_paused_and_queued_executions_waiting(
    tmp_path: Path, files: Files
) -> None:
    # Given a server serving on a thread, with one execution paused (running) and one queued
    files.write("held.yaml", HELD)
    server = StratoServer(files.root, tmp_path / "home", port=0, clock=VirtualClock(), poll_seconds=0.01)
    server.open()
    stop = threading.Event()
    worker = threading.Thread(target=server.serve, args=(stop,))
    worker.start()
    server.sync_flows()
    first = call(server, "/webhook/demo/held/hold-key-0123456789ab")[1]
    second = call(server, "/webhook/demo/held/hold-key-0123456789ab")[1]

    # When it is stopped
    stop.set()
    worker.join(timeout=30)

    # Then it is gone, the paused execution stays PAUSED (`strato resume` continues it in any process)
    # and the queued one waits for the next start
    assert not worker.is_alive()
    with pytest.raises(OSError), socket.create_connection(("127.0.0.1", server.port), timeout=1):
        pass
    from stratoflow.store import SqliteExecutionStore

    with SqliteExecutionStore(tmp_path / "home" / "stratoflow.db") as store:
        assert store.get_execution(first["executionId"]).state == State.PAUSED  # type: ignore[union-attr]
        assert store.get_execution(second["executionId"]).state == State.QUEUED  # type: ignore[union-attr]
        assert store.execution_owners() == {}


# --- the command -------------------------------------------------------------------------------


def test_the_command_is_registered() -> None:
    result = CliRunner().invoke(cli, ["server", "--help"])

    assert result.exit_code == 0
    assert "--flows-dir" in result.output and "--port" in result.output and "--home" in result.output


def test_the_command_says_when_the_port_is_taken(tmp_path: Path, files: Files) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = CliRunner().invoke(
            cli,
            ["server", "--flows-dir", str(files.root), "--home", str(tmp_path / "home"), "--port", str(port)],
        )

    assert result.exit_code == 1
    assert f"cannot listen on 127.0.0.1:{port}" in result.output


# --- the examples ------------------------------------------------------------------------------

EXAMPLES = Path(__file__).resolve().parents[3] / "examples" / "triggers"


def test_the_trigger_examples_run(tmp_path: Path) -> None:
    server = StratoServer(EXAMPLES, tmp_path / "home", port=0, clock=VirtualClock(), report=lambda _: None)
    server.open()
    try:
        server.sync_flows()
        store = server.platform.store

        # flow_trigger_upstream's success starts flow_trigger with its outputs
        server.start("examples.triggers", "flow_trigger_upstream", {}, None, None)
        server.platform.join()
        (downstream,) = store.list_executions("examples.triggers", "flow_trigger")
        assert (downstream.state, downstream.inputs) == (State.SUCCESS, {"rows": 42})

        # the webhook example answers with its outputs
        status, body = call(
            server,
            "/webhook/examples.triggers/webhook/4wjtkzwVGBM9yKnjm3yv8r?wait=true",
            {"customer": "acme", "amount": 12.5},
        )
        assert (status, body["state"], body["outputs"]) == (200, "SUCCESS", {"order": "acme:12.5"})

        # the AWS event examples, given the events their rules deliver
        s3_event = {
            "id": "e-1",
            "source": "aws.s3",
            "detail": {
                "bucket": {"name": "landing-zone-example"},
                "object": {"key": "incoming/a.csv", "size": 3},
            },
        }
        order = {
            "id": "e-2",
            "source": "shop.orders",
            "detail-type": "Order Placed",
            "detail": {"orderId": "A-7"},
        }
        for flow_id, trigger in [
            ("s3_object", {"id": "new-csv", "type": "aws.s3.Trigger", "event": s3_event}),
            ("eventbridge", {"id": "order-placed", "type": "aws.eventbridge.Trigger", "event": order}),
        ]:
            server.start("examples.triggers", flow_id, {}, trigger, None)
        server.platform.join()
        (s3_run,) = store.list_executions("examples.triggers", "s3_object")
        (order_run,) = store.list_executions("examples.triggers", "eventbridge")
        assert (s3_run.state, s3_run.inputs) == (
            State.SUCCESS,
            {"uri": "s3://landing-zone-example/incoming/a.csv"},
        )
        assert (order_run.state, order_run.inputs) == (State.SUCCESS, {"order_id": "A-7"})
    finally:
        server.close()
