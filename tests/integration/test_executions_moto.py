"""Admission, executions on moto's Step Functions, and their status events, end to end."""

from __future__ import annotations

import json

import pytest

from stratoflow.cloud.runtime.event_models import StatusChange
from stratoflow.cloudsim.platform import CloudSimulation
from stratoflow.execution.admission import admit
from stratoflow.flow import load_flow
from stratoflow.states import State
from tests.integration.conftest import EXAMPLES, Queue, event_fixture, eventually

pytestmark = pytest.mark.slow

FAILING = """id: failing
namespace: tests.run
tasks:
  - id: fine
    type: Log
    message: before
  - id: tolerated
    type: Fail
    allowFailure: true
  - id: breaks
    type: Fail
    errorMessage: "the data is not there"
"""

SLEEPING = """id: sleeping
namespace: tests.run
tasks:
  - id: hold
    type: Sleep
    duration: PT30S
"""


@pytest.fixture(scope="module")
def hello(sim: CloudSimulation) -> CloudSimulation:
    verdict = sim.upload("hello.yaml", (EXAMPLES / "hello.yaml").read_text())
    assert verdict.status == "DEPLOYED"
    return sim


def test_an_execution_runs_end_to_end_with_its_records_in_dynamodb(
    hello: CloudSimulation, finished_events: Queue
) -> None:
    sim = hello
    # When hello starts through admission
    started = sim.start("examples", "hello", {"name": "Ada"}, labels={"env": "test"})

    # Then it runs on the state machine version of its revision and its records tell the story
    assert (started.state, started.new, started.revision) == ("RUNNING", True, 1)
    assert started.execution_arn is not None
    run = sim.wait(started.execution_arn)
    execution = run.execution
    assert execution.state == State.SUCCESS
    assert execution.outputs == {"greeting": "Hello, Ada!"}
    assert execution.labels == {"team": "platform", "env": "test", "system.correlationId": execution.id}
    assert execution.end_date is not None
    assert [s.state for s in execution.state_history] == [State.RUNNING, State.SUCCESS]
    assert [(r.task_id, r.state) for r in run.task_runs] == [
        ("greet", State.SUCCESS),
        ("greeting", State.SUCCESS),
    ]
    assert [e.message for e in sim.store.list_logs(execution.id, task_id="greet")] == ["Hello, Ada!"]
    # ... and Stratoflow's own event went to the bus
    [event] = eventually(finished_events.drain)
    assert (event["source"], event["detail-type"]) == ("stratoflow", "Execution Finished")
    assert event["detail"] == {
        "namespace": "examples",
        "flowId": "hello",
        "revision": 1,
        "executionId": execution.id,
        "state": "SUCCESS",
        "outputs": {"greeting": "Hello, Ada!"},
        "error": None,
        "firstFailedTask": None,
        "labels": {"team": "platform", "env": "test", "system.correlationId": execution.id},
        # What a Flow trigger's rule names its start by: an end is pause 0 of occurrence <id>
        "occurrence": execution.id,
        "pause": 0,
    }


def test_a_failing_execution_names_the_task_that_failed_it(
    sim: CloudSimulation, finished_events: Queue
) -> None:
    # Given a flow whose last task fails (after a tolerated failure)
    assert sim.upload("failing.yaml", FAILING).status == "DEPLOYED"
    finished_events.drain()

    # When it runs
    started = sim.start("tests.run", "failing")
    run = sim.wait(str(started.execution_arn))

    # Then it ends FAILED, and the event names the task whose failure failed it
    assert run.execution.state == State.FAILED
    assert "the data is not there" in str(run.execution.error)
    [event] = eventually(finished_events.drain)
    assert (event["detail"]["state"], event["detail"]["firstFailedTask"]) == ("FAILED", "breaks")


def test_an_execution_stopped_on_step_functions_ends_killed(
    sim: CloudSimulation, finished_events: Queue
) -> None:
    # Given an execution waiting in a Sleep task
    assert sim.upload("sleeping.yaml", SLEEPING).status == "DEPLOYED"
    finished_events.drain()
    started = sim.start("tests.run", "sleeping")
    assert started.execution_arn is not None
    eventually(
        lambda: [r for r in sim.store.list_task_runs(str(started.execution_id)) if r.task_id == "hold"]
    )

    # When Step Functions stops it (a console stop, an API call), and the status event arrives
    sim.clients.stepfunctions.stop_execution(executionArn=started.execution_arn)
    run = sim.wait(started.execution_arn)

    # Then the execution and its unfinished task run are KILLED: nothing stays RUNNING
    assert run.execution.state == State.KILLED
    assert [(r.task_id, r.state) for r in run.task_runs] == [("hold", State.KILLED)]
    [event] = eventually(finished_events.drain)
    assert event["detail"]["state"] == "KILLED"


def test_admission_refuses_bad_inputs_and_starts_nothing(hello: CloudSimulation) -> None:
    sim = hello
    assert sim.upload("etl.yaml", (EXAMPLES / "etl.yaml").read_text()).status == "DEPLOYED"
    before = len(sim.store.list_executions(namespace="examples", flow_id="hello", limit=1000))

    # When a start gives an input of the wrong type, names an unknown flow, or an unusable execution id
    bad_input = sim.start("examples.data", "etl", {"multiplier": "many"})
    unknown = sim.start("examples", "nope")
    bad_id = sim.start("examples", "hello", executionId="has spaces")

    # Then each is refused with the reason, and nothing was recorded or started
    assert (bad_input.state, bad_input.input, bad_input.execution_id) == ("REFUSED", "multiplier", None)
    assert str(bad_input.error).startswith("input 'multiplier'")
    assert (unknown.state, unknown.error) == ("REFUSED", "flow examples.nope is not deployed")
    assert bad_id.state == "REFUSED" and "has spaces" in str(bad_id.error)
    assert sim.store.list_executions(namespace="examples.data", flow_id="etl") == []
    assert len(sim.store.list_executions(namespace="examples", flow_id="hello", limit=1000)) == before


def test_a_start_delivered_twice_starts_one_execution(hello: CloudSimulation) -> None:
    sim = hello
    # When the same start (same execution id) is delivered twice
    first = sim.start("examples", "hello", executionId="delivered-twice-1")
    second = sim.start("examples", "hello", executionId="delivered-twice-1")

    # Then one execution runs
    assert (first.new, second.new) == (True, False)
    assert sim.wait(str(first.execution_arn)).execution.state == State.SUCCESS
    executions = sim.clients.stepfunctions.list_executions(
        stateMachineArn=sim.deployer.target("examples", "hello").state_machine_arn
    )["executions"]
    assert [e["name"] for e in executions].count("delivered-twice-1") == 1


def test_status_events_out_of_order_or_for_strangers_change_nothing(hello: CloudSimulation) -> None:
    sim = hello
    done = sim.wait(str(sim.start("examples", "hello").execution_arn)).execution

    # When a RUNNING event arrives after the end, and one for an execution Stratoflow never admitted
    late = StatusChange.from_eventbridge(event_fixture("sfn_status_running", {"detail.name": done.id}))
    stranger = StatusChange.from_eventbridge(
        event_fixture("sfn_status_running", {"detail.name": "someone-else"})
    )
    late_outcome = sim.execution_events.handle(late)
    stranger_outcome = sim.execution_events.handle(stranger)

    # Then the finished execution stays finished and the stranger is ignored
    assert late_outcome.execution is not None and late_outcome.execution.state == State.SUCCESS
    assert stranger_outcome.execution is None and "ignored" in stranger_outcome.note


def test_an_execution_timed_out_by_step_functions_ends_failed_with_the_reason(
    sim: CloudSimulation, finished_events: Queue
) -> None:
    # Given an execution that was admitted and started (its record RUNNING)
    flow = load_flow((EXAMPLES / "hello.yaml").read_text())
    execution, _ = admit(sim.store, flow, 1, {}, execution_id="timed-out-1")
    sim.store.update_execution(execution.id, state=State.RUNNING)
    finished_events.drain()

    # When Step Functions reports that it timed out
    outcome = sim.execution_events.handle(
        StatusChange.from_eventbridge(event_fixture("sfn_status_timed_out", {"detail.name": execution.id}))
    )

    # Then it is FAILED with Step Functions' reason, counted once, and announced
    assert outcome.execution is not None
    assert outcome.execution.state == State.FAILED
    assert outcome.execution.error == "States.Timeout: The execution timed out after 3600 seconds"
    assert [m.name for m in outcome.metrics] == ["ExecutionsFailed", "ExecutionDuration"]
    again = sim.execution_events.handle(
        StatusChange.from_eventbridge(event_fixture("sfn_status_timed_out", {"detail.name": execution.id}))
    )
    assert again.metrics == []
    details = [json.dumps(e["detail"]) for e in eventually(finished_events.drain)]
    assert len(details) >= 1 and all('"state": "FAILED"' in d for d in details)


def test_a_schedule_delivery_starts_once_with_its_trigger_context(hello: CloudSimulation) -> None:
    sim = hello
    # Given what EventBridge Scheduler delivers to admission for a Schedule trigger of hello
    delivery = {
        "namespace": "examples",
        "flowId": "hello",
        "trigger": {"type": "schedule", "id": "daily", "date": "2026-01-12T06:00:00Z", "cron": "0 6 * * *"},
        "inputs": {"name": "Scheduler"},
        "labels": {},
    }

    # When it is delivered twice (Scheduler delivers at least once)
    first = sim.admit(delivery)
    second = sim.admit(delivery)

    # Then one execution ran, named after the schedule's instant, with the trigger's context
    assert first["executionId"] == second["executionId"]
    assert (first["new"], second["new"]) == (True, False)
    run = sim.wait(first["executionArn"])
    assert run.execution.outputs == {"greeting": "Hello, Scheduler!"}
    assert run.execution.trigger is not None
    assert run.execution.trigger["id"] == "daily"
    assert run.execution.trigger["date"].startswith("2026-01-12T06:00:00")
