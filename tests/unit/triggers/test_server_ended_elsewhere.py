"""`strato server` runs the Flow triggers of executions that another process ran on its home."""

from __future__ import annotations

import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from stratoflow.engine import VirtualClock
from stratoflow.local import LocalPlatform
from stratoflow.local.server import StratoServer
from stratoflow.states import State
from tests.unit.triggers.server_helpers import DOWN

UP = """
    id: up
    namespace: demo
    tasks:
      - {id: hello, type: Return, format: "hi"}
    outputs:
      - {id: greeting, type: STRING, value: "{{ outputs.hello.value }}"}
"""


@pytest.fixture
def flows(tmp_path: Path) -> Path:
    folder = tmp_path / "flows"
    folder.mkdir()
    (folder / "up.yaml").write_text(textwrap.dedent(UP))
    (folder / "down.yaml").write_text(textwrap.dedent(DOWN))
    return folder


def serve(flows: Path, home: Path) -> StratoServer:
    server = StratoServer(flows, home, port=0, clock=VirtualClock(), report=lambda _: None)
    server.tick()
    return server


def run_elsewhere(flows: Path, home: Path) -> str:
    """What a separate `strato run` of `up` does on the home: its own platform (and process lease)."""
    other = LocalPlatform(home, VirtualClock())
    try:
        flow, record = other.deploy_file(flows / "up.yaml")
        outcome = other.run(other.admit(flow, record, {}))
        assert outcome.execution.state == State.SUCCESS
        return outcome.execution.id
    finally:
        other.close()


@pytest.fixture
def home(tmp_path: Path) -> Iterator[Path]:
    yield tmp_path / "home"


def test_an_execution_another_process_ran_fires_the_flow_triggers_once(flows: Path, home: Path) -> None:
    # Given a server watching the home
    server = serve(flows, home)
    try:
        # When a separate process runs the upstream flow to SUCCESS, and the server goes on ticking
        upstream = run_elsewhere(flows, home)
        server.tick()
        server.platform.join()
        server.tick()
        server.platform.join()

        # Then the downstream flow ran once, with the upstream's outputs
        downstream = server.platform.store.list_executions("demo", "down")
    finally:
        server.close()
    assert [(e.state, e.inputs) for e in downstream] == [(State.SUCCESS, {"greeting": "hi"})]
    assert downstream[0].trigger is not None and downstream[0].trigger["executionId"] == upstream


def test_an_end_while_the_server_was_down_fires_at_its_next_start_and_only_once(
    flows: Path, home: Path
) -> None:
    # Given a server that looked at the home, then stopped
    serve(flows, home).close()

    # When an upstream execution ends while no server runs, and a server starts twice afterwards
    run_elsewhere(flows, home)
    for _ in range(2):
        server = serve(flows, home)
        server.platform.join()
        server.close()

    # Then the downstream flow ran once
    server = serve(flows, home)
    try:
        downstream = server.platform.store.list_executions("demo", "down")
    finally:
        server.close()
    assert [e.state for e in downstream] == [State.SUCCESS]


def test_what_ended_before_any_server_looked_is_history(flows: Path, home: Path) -> None:
    # Given an upstream execution that ended before any server ran on the home
    run_elsewhere(flows, home)

    # When a server starts
    server = serve(flows, home)
    server.platform.join()
    try:
        downstream = server.platform.store.list_executions("demo", "down")
    finally:
        server.close()

    # Then nothing fires for it
    assert downstream == []


def test_an_execution_that_ends_long_after_newer_ones_still_fires(flows: Path, home: Path) -> None:
    # Given a server, and an upstream execution another process admitted and has not run yet
    server = serve(flows, home)
    other = LocalPlatform(home, VirtualClock())
    try:
        flow, record = other.deploy_file(flows / "up.yaml")
        late = other.admit(flow, record, {})
        server.tick()

        # When newer upstream executions run to their end first, and the late one after them
        for _ in range(2):
            other.run(other.admit(flow, record, {}))
            server.tick()
        other.run(late)
        server.tick()
        server.platform.join()

        # Then each of the three fired the downstream flow once
        downstream = server.platform.store.list_executions("demo", "down")
    finally:
        other.close()
        server.close()
    assert len(downstream) == 3
    assert late.id in {e.trigger["executionId"] for e in downstream if e.trigger}
