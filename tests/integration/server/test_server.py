"""`strato server` over HTTP: webhooks on a real port, the stop closing the endpoint, a port already
taken, the trigger examples (sockets: the rest of its tests are in tests/unit/triggers/test_server.py)."""

from __future__ import annotations

import socket
import threading
from pathlib import Path

import pytest
from click.testing import CliRunner

from stratoflow.cli.main import cli
from stratoflow.engine import VirtualClock
from stratoflow.local.server import StratoServer
from stratoflow.states import State
from tests.unit.triggers.server_helpers import DOWN, HELD, UP, Files, call

EXAMPLES = Path(__file__).resolve().parents[3] / "examples" / "triggers"


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
    _wait_for_state(tmp_path / "home" / "stratoflow.db", first["executionId"], State.PAUSED)

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


def _wait_for_state(database: Path, execution_id: str, state: State) -> None:
    """Until the execution reaches `state`: the webhook answers when it is admitted, not when its
    Pause starts, and a stop before that kills a RUNNING execution (as it should)."""
    import time

    from stratoflow.store import SqliteExecutionStore

    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        with SqliteExecutionStore(database) as store:
            found = store.get_execution(execution_id)
        if found is not None and found.state == state:
            return
        time.sleep(0.02)
    raise AssertionError(f"{execution_id} never reached {state}")
