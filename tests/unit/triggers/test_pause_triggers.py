"""Flow triggers on PAUSED (as Kestra): a trigger with PAUSED among its `states` starts its flow each
time an upstream execution pauses, whether the server ran it or another process did."""

from __future__ import annotations

import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from stratoflow.domain import Execution, StateChange
from stratoflow.engine import VirtualClock
from stratoflow.execution.deliveries import TriggerSkipped, resolve_trigger
from stratoflow.flow import load_flow
from stratoflow.local import LocalPlatform
from stratoflow.local.server import StratoServer
from stratoflow.states import State
from stratoflow.store import SqliteExecutionStore

# Two pauses nobody resumes: each waits its hour (at once on the virtual clock), then goes on WARNING.
PAUSING = """
    id: approval
    namespace: demo
    tasks:
      - {id: first, type: io.kestra.plugin.core.flow.Pause, pauseDuration: PT1H, behavior: WARN}
      - {id: second, type: io.kestra.plugin.core.flow.Pause, pauseDuration: PT1H, behavior: WARN}
"""
ON_PAUSE = """
    id: remind
    namespace: demo
    inputs: [{id: upstream, type: STRING}, {id: state, type: STRING}]
    triggers:
      - id: paused
        type: io.kestra.plugin.core.trigger.Flow
        states: [PAUSED]
        preconditions:
          flows: [{namespace: demo, flowId: approval}]
        inputs: {upstream: "{{ trigger.executionId }}", state: "{{ trigger.state }}"}
    tasks:
      - {id: tell, type: Return, format: "{{ inputs.upstream }} {{ inputs.state }}"}
"""
ON_END = """
    id: report
    namespace: demo
    triggers:
      - {id: ended, type: Flow, states: [WARNING], conditions: [{type: ExecutionFlow, namespace: demo, flowId: approval}]}
    tasks:
      - {id: tell, type: Return, format: done}
"""


@pytest.fixture
def flows(tmp_path: Path) -> Path:
    folder = tmp_path / "flows"
    folder.mkdir()
    for name, text in {"approval": PAUSING, "remind": ON_PAUSE, "report": ON_END}.items():
        (folder / f"{name}.yaml").write_text(textwrap.dedent(text))
    return folder


@pytest.fixture
def server(tmp_path: Path, flows: Path) -> Iterator[StratoServer]:
    server = StratoServer(flows, tmp_path / "home", port=0, clock=VirtualClock(), report=lambda _: None)
    server.tick()
    yield server
    server.close()


def test_each_pause_of_an_execution_the_server_runs_fires_the_paused_trigger_once(
    server: StratoServer,
) -> None:
    # Given a flow that pauses twice, a flow triggered on its pauses and one on its end
    # When the server runs it (and ticks: its own executions must not fire twice through the poll)
    upstream = server.start("demo", "approval", {}, None, None)
    server.platform.join()
    server.tick()
    server.platform.join()

    # Then the pause trigger started its flow once per pause, seeing PAUSED; the end trigger once
    store = server.platform.store
    assert store.get_execution(upstream.id).state == State.WARNING  # type: ignore[union-attr]
    reminders = store.list_executions("demo", "remind")
    assert sorted(e.inputs["state"] for e in reminders) == ["PAUSED", "PAUSED"]
    assert {e.inputs["upstream"] for e in reminders} == {upstream.id}
    assert len({e.id for e in reminders}) == 2
    assert [e.state for e in store.list_executions("demo", "report")] == [State.SUCCESS]


def test_the_pauses_of_an_execution_another_process_ran_fire_once_each(
    server: StratoServer, flows: Path
) -> None:
    # Given an upstream run by a separate `strato run` on the same home: paused twice, then ended
    other = LocalPlatform(server.platform.home, VirtualClock())
    try:
        flow, record = other.deploy_file(flows / "approval.yaml")
        other.run(other.admit(flow, record, {}))
    finally:
        other.close()

    # When the server looks twice
    for _ in range(2):
        server.tick()
        server.platform.join()

    # Then each pause fired once (they were over before the server looked), and the end once
    store = server.platform.store
    assert len(store.list_executions("demo", "remind")) == 2
    assert len(store.list_executions("demo", "report")) == 1


def test_a_pause_delivery_for_an_execution_that_never_paused_starts_nothing(tmp_path: Path) -> None:
    # Given an upstream execution that ran without pausing, and the flow triggered on pauses
    with SqliteExecutionStore(tmp_path / "db.sqlite") as store:
        history = [StateChange(state=State.RUNNING), StateChange(state=State.SUCCESS)]
        upstream = Execution(
            id="up1",
            namespace="demo",
            flow_id="approval",
            revision=1,
            state=State.SUCCESS,
            state_history=history,
        )
        store.create_execution(upstream)
        flow = load_flow(textwrap.dedent(ON_PAUSE))
        delivery = {"id": "paused", "type": "Flow", "executionId": "up1", "pause": 1}

        # When it is delivered as the upstream's first pause / Then admission refuses it
        with pytest.raises(TriggerSkipped, match="has not paused 1 time"):
            resolve_trigger(store, flow, delivery, {}, {})

        # and once the history holds a pause, the same delivery sees the upstream PAUSED
        paused = [history[0], StateChange(state=State.PAUSED), StateChange(state=State.RUNNING), history[1]]
        store.create_execution(upstream.model_copy(update={"id": "up2", "state_history": paused}))
        started = resolve_trigger(store, flow, {**delivery, "executionId": "up2"}, {}, {})
        assert started.inputs == {"upstream": "up2", "state": "PAUSED"}
