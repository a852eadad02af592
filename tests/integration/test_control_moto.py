"""`strato kill|restart|replay|resume --remote` and flow-level retry, on the stack's code path on moto.

moto cannot run subflows (no `states:startExecution` inside a state machine), so the kill cascade
links two executions started through admission the way a Subflow task does: the parent's task run of
type Subflow names the child's execution id. moto's StopExecution does not end a state waiting on a
task token (a Pause): that kill is recorded KILLING and left to the status event, as on AWS when the
event is late.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
from click.testing import CliRunner, Result

from stratoflow.cli.main import cli
from stratoflow.cloud.config.naming import unqualified
from stratoflow.cloud.runtime.event_models import StatusChange
from stratoflow.cloudsim.delivery import status_change_event
from stratoflow.cloudsim.platform import CloudSimulation
from stratoflow.domain import TaskRun
from stratoflow.execution.flow_retry import ATTEMPT, RETRY_OF, retry_execution_id
from stratoflow.states import State
from tests.integration.conftest import eventually

pytestmark = pytest.mark.slow

SLEEPING = """id: {id}
namespace: tests.control
tasks:
  - id: hold
    type: Sleep
    duration: PT1H
"""

FLAKY = """id: flaky
namespace: tests.control
tasks:
  - id: extract
    type: Return
    format: rows
  - id: load
    type: Fail
    condition: "{{ taskrun.attemptsCount < 2 }}"
    errorMessage: the warehouse is down
  - id: report
    type: Return
    format: "{{ outputs.extract.value }} loaded"
"""

PAUSED = """id: approval
namespace: tests.control
tasks:
  - id: approve
    type: Pause
    onResume:
      - id: approved
        type: BOOLEAN
      - id: note
        type: STRING
        defaults: none
  - id: after
    type: Return
    format: "{{ outputs.approve.onResume.approved }} {{ outputs.approve.onResume.note }}"
"""


@pytest.fixture
def strato(sim: CloudSimulation, monkeypatch: pytest.MonkeyPatch) -> Callable[..., Result]:
    """Run `strato ARGS --remote` against the simulated stack."""
    monkeypatch.setenv("STRATOFLOW_POLL_SECONDS", "0.02")
    stack = ["--remote", "--table", sim.settings.stratoflow_table_name]
    stack += ["--admission", sim.settings.stratoflow_admission_arn]

    def run(*args: str) -> Result:
        return CliRunner().invoke(cli, [*args, *stack])

    return run


def deploy(sim: CloudSimulation, key: str, source: str) -> None:
    assert sim.upload(key, source).status == "DEPLOYED"


@pytest.fixture(scope="module")
def sleeping(sim: CloudSimulation) -> str:
    """A flow whose executions sleep for an hour (deploying takes a while on moto: once per module)."""
    deploy(sim, "sleeping.yaml", SLEEPING.format(id="sleeping"))
    return "sleeping"


@pytest.fixture(scope="module")
def approval(sim: CloudSimulation) -> str:
    deploy(sim, "approval.yaml", PAUSED)
    return "approval"


def started(sim: CloudSimulation, flow_id: str, **fields: Any) -> str:
    response = sim.start("tests.control", flow_id, **fields)
    assert response.execution_arn is not None, response
    return str(response.execution_id)


def state_machine(sim: CloudSimulation, flow_id: str) -> str:
    return unqualified(sim.deployer.target("tests.control", flow_id).state_machine_arn)


def sfn_status(sim: CloudSimulation, flow_id: str, name: str) -> str:
    arn = state_machine(sim, flow_id).replace(":stateMachine:", ":execution:") + f":{name}"
    return str(sim.clients.stepfunctions.describe_execution(executionArn=arn)["status"])


def runs_of(sim: CloudSimulation, flow_id: str) -> list[str]:
    """The names of the flow's Step Functions executions."""
    executions = sim.clients.stepfunctions.list_executions(stateMachineArn=state_machine(sim, flow_id))
    return sorted(e["name"] for e in executions["executions"])


def test_kill_stops_the_execution_and_its_subflow_and_records_killed(
    sim: CloudSimulation, strato: Callable[..., Result], sleeping: str
) -> None:
    # Given a parent execution and the child its Subflow task started, both sleeping on Step Functions
    parent, child = started(sim, sleeping), started(sim, sleeping)
    sim.store.save_task_run(
        TaskRun(
            id="call",
            execution_id=parent,
            task_id="call",
            task_type="Subflow",
            outputs={"executionId": child},
        )
    )
    eventually(lambda: sim.store.list_task_runs(child))

    # When the on-call engineer kills the parent
    result = strato("kill", parent)

    # Then both are stopped on Step Functions and recorded KILLED, without waiting for their events
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == [f"{parent} KILLED", f"{child} KILLED"]
    for execution_id in (parent, child):
        assert sfn_status(sim, sleeping, execution_id) == "ABORTED"
        record = sim.store.get_execution(execution_id)
        assert record is not None and record.state == State.KILLED
    assert [r.state for r in sim.store.list_task_runs(child)] == [State.KILLED]

    # When it is killed again, the command refuses
    again = strato("kill", parent)
    assert again.exit_code == 1
    assert "only a created, queued, running or paused execution can be killed" in again.stderr


def test_a_paused_execution_killed_stays_killing_until_its_status_event(
    sim: CloudSimulation, strato: Callable[..., Result], approval: str
) -> None:
    # Given an execution waiting on a Pause (a task token)
    response = sim.start("tests.control", approval)
    execution_id = str(response.execution_id)
    eventually(lambda: sim.store.get_execution(execution_id).state == State.PAUSED)  # type: ignore[union-attr]

    # When it is killed, and moto (unlike AWS) keeps the waiting state RUNNING
    result = strato("kill", execution_id)

    # Then the kill is recorded and the command says the status event will finish it
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith(f"{execution_id} KILLING")
    assert "its status event will record KILLED" in result.stdout
    # ... and when Step Functions reports the abort, the execution ends KILLED
    described = sim.clients.stepfunctions.describe_execution(executionArn=response.execution_arn)
    event = status_change_event({**described, "status": "ABORTED", "stopDate": datetime.now(UTC)})
    outcome = sim.execution_events.handle(StatusChange.from_eventbridge(event))
    assert outcome.execution is not None and outcome.execution.state == State.KILLED


def test_restart_reruns_only_the_failed_task_under_a_new_run_of_the_same_execution(
    sim: CloudSimulation, strato: Callable[..., Result]
) -> None:
    # Given an execution that failed on its second task
    deploy(sim, "flaky.yaml", FLAKY)
    response = sim.start("tests.control", "flaky")
    first = sim.wait(str(response.execution_arn))
    assert first.execution.state == State.FAILED

    # When it is restarted on the stack, and followed to its end
    result = strato("restart", first.execution.id, "--wait")

    # Then it succeeded as the same execution: extract kept its one attempt, load got a new one
    assert result.exit_code == 0, result.output
    assert f"execution {first.execution.id} ended SUCCESS" in result.stdout
    execution = sim.store.get_execution(first.execution.id)
    assert execution is not None and (execution.restarts, execution.error) == (1, "")
    runs = {r.task_id: r for r in sim.store.list_task_runs(execution.id)}
    assert len(runs["extract"].attempts) == 1
    assert [a.state for a in runs["load"].attempts] == [State.FAILED, State.SUCCESS]
    assert runs["report"].outputs == {"value": "rows loaded"}
    # ... under a second Step Functions execution of the same state machine
    assert runs_of(sim, "flaky") == sorted([execution.id, f"{execution.id}_r1"])

    # When the first run's FAILED event arrives late, it changes nothing
    late = StatusChange.from_eventbridge(
        status_change_event(sim.clients.stepfunctions.describe_execution(executionArn=first.execution_arn))
    )
    outcome = sim.execution_events.handle(late)
    assert outcome.execution is None and "earlier run" in outcome.note
    assert sim.store.get_execution(execution.id).state == State.SUCCESS  # type: ignore[union-attr]

    # When a successful execution is restarted, the command refuses
    refused = strato("restart", execution.id)
    assert refused.exit_code == 1
    assert "only a FAILED or KILLED execution can be restarted" in refused.stderr


def test_replay_starts_a_linked_execution_from_a_task_reusing_earlier_outputs(
    sim: CloudSimulation, strato: Callable[..., Result]
) -> None:
    # Given a finished execution
    deploy(
        sim,
        "replayed.yaml",
        """id: replayed
namespace: tests.control
tasks:
  - id: extract
    type: Return
    format: "{{ execution.id }}"
  - id: transform
    type: Return
    format: "{{ outputs.extract.value }}-again"
""",
    )
    original = sim.wait(str(sim.start("tests.control", "replayed").execution_arn)).execution

    # When it is replayed from its second task
    result = strato("replay", original.id, "--from", "transform", "--wait", "--json")

    # Then a new execution, linked to it, reused extract's output and ran transform
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    assert document["originalExecutionId"] == original.id
    assert document["labels"]["system.replayOf"] == original.id
    runs = {r["taskId"]: r for r in document["taskRuns"]}
    assert runs["extract"]["outputs"] == {"value": original.id}
    assert runs["transform"]["outputs"] == {"value": f"{original.id}-again"}

    # When the task does not exist, the command refuses
    refused = strato("replay", original.id, "--from", "nope")
    assert refused.exit_code == 1 and "not in flow" in refused.stderr


def test_resume_continues_a_paused_execution_with_typed_inputs(
    sim: CloudSimulation, strato: Callable[..., Result], approval: str
) -> None:
    # Given an execution paused on approval
    execution_id = started(sim, approval)
    refused = strato("resume", "no-such-execution")
    eventually(lambda: sim.store.get_execution(execution_id).state == State.PAUSED)  # type: ignore[union-attr]

    # When it is resumed with an input of the wrong type, then with a good one
    bad = strato("resume", execution_id, "--input", "approved=maybe")
    good = strato("resume", execution_id, "--input", "approved=true")

    # Then the bad one is refused (nothing sent), the good one continues the execution to its end
    assert refused.exit_code == 1 and "does not exist" in refused.stderr
    assert bad.exit_code == 2 and "approved" in bad.stderr
    assert good.exit_code == 0, good.output
    execution = eventually(
        lambda: (e := sim.store.get_execution(execution_id)) is not None and e.state.is_terminal and e
    )
    assert execution.state == State.SUCCESS
    assert {r.task_id: r for r in sim.store.list_task_runs(execution_id)}["after"].outputs == {
        "value": "true none"
    }
    # When it is resumed again, nothing is paused any more
    again = strato("resume", execution_id, "--input", "approved=true")
    assert again.exit_code == 1 and "nothing to resume" in again.stderr


# --- flow-level retry ----------------------------------------------------------------------------


def test_a_failed_execution_is_retried_in_new_linked_executions_up_to_max_attempts(
    sim: CloudSimulation,
) -> None:
    # Given a flow that always fails, retried at once in new executions, 2 attempts in all
    deploy(
        sim,
        "retried.yaml",
        """id: retried
namespace: tests.control
retry:
  type: constant
  interval: PT0S
  maxAttempts: 2
  behavior: CREATE_NEW_EXECUTION
tasks:
  - id: load
    type: Fail
""",
    )
    # When it runs
    first = sim.wait(str(sim.start("tests.control", "retried", labels={"env": "prod"}).execution_arn))

    # Then it ended RETRIED, and its retry ran as a linked execution that ended FAILED: no third attempt
    assert first.execution.state == State.RETRIED
    retry_id = retry_execution_id(first.execution.id)
    retry = eventually(
        lambda: (e := sim.store.get_execution(retry_id)) is not None and e.state.is_terminal and e
    )
    assert retry.state == State.FAILED
    assert retry.original_execution_id == first.execution.id
    assert (retry.labels[RETRY_OF], retry.labels[ATTEMPT], retry.labels["env"]) == (
        first.execution.id,
        "2",
        "prod",
    )
    assert sim.store.get_execution(retry_execution_id(retry_id)) is None
    assert runs_of(sim, "retried") == sorted([first.execution.id, retry_id])


def test_retry_failed_task_restarts_the_execution_on_the_stack(sim: CloudSimulation) -> None:
    # Given a flow whose load fails once, with the default flow retry (RETRY_FAILED_TASK)
    deploy(
        sim,
        "restarted.yaml",
        FLAKY.replace("id: flaky", "id: restarted")
        + "retry:\n  type: constant\n  interval: PT0S\n  maxAttempts: 2\n",
    )
    # When it runs and fails
    execution_id = started(sim, "restarted")

    # Then the same execution is restarted under a new run and succeeds
    execution = eventually(
        lambda: (e := sim.store.get_execution(execution_id)) is not None and e.state == State.SUCCESS and e
    )
    assert execution.restarts == 1
    assert runs_of(sim, "restarted") == sorted([execution_id, f"{execution_id}_r1"])
    runs = {r.task_id: r for r in sim.store.list_task_runs(execution_id)}
    assert len(runs["extract"].attempts) == 1


def test_a_killed_execution_of_a_retried_flow_is_not_retried(
    sim: CloudSimulation, strato: Callable[..., Result]
) -> None:
    # Given an execution of a retried flow, sleeping
    deploy(
        sim,
        "killed.yaml",
        SLEEPING.format(id="killed")
        + "retry:\n  type: constant\n  interval: PT0S\n  maxAttempts: 3\n  behavior: CREATE_NEW_EXECUTION\n",
    )
    execution_id = started(sim, "killed")
    eventually(lambda: sim.store.list_task_runs(execution_id))

    # When it is killed
    assert strato("kill", execution_id).exit_code == 0

    # Then it is KILLED and no retry was created
    assert sim.store.get_execution(execution_id).state == State.KILLED  # type: ignore[union-attr]
    assert sim.store.get_execution(retry_execution_id(execution_id)) is None


def test_a_retry_with_an_interval_is_a_one_time_schedule_that_starts_it(sim: CloudSimulation) -> None:
    # Given a flow retried in a new execution 10 minutes after a failure
    deploy(
        sim,
        "later.yaml",
        """id: later
namespace: tests.control
retry:
  type: constant
  interval: PT10M
  maxAttempts: 2
  behavior: CREATE_NEW_EXECUTION
tasks:
  - id: load
    type: Fail
""",
    )
    # When an execution fails
    before = datetime.now(UTC).replace(microsecond=0)
    first = sim.wait(str(sim.start("tests.control", "later").execution_arn)).execution
    after = datetime.now(UTC)

    # Then it is RETRIED, its retry recorded but not started, and a one-time schedule invokes
    # admission when the interval has passed
    assert first.state == State.RETRIED
    retry_id = retry_execution_id(first.id)
    assert sim.store.get_execution(retry_id).state == State.CREATED  # type: ignore[union-attr]
    scheduler = boto3.client("scheduler")
    schedule = scheduler.get_schedule(Name=f"retry-{retry_id}-2", GroupName=sim.stack_name)
    due = datetime.strptime(schedule["ScheduleExpression"], "at(%Y-%m-%dT%H:%M:%S)").replace(tzinfo=UTC)
    assert before + timedelta(minutes=10) <= due <= after + timedelta(minutes=10, seconds=1)
    assert schedule["ActionAfterCompletion"] == "DELETE"
    assert schedule["Target"]["Arn"] == sim.settings.stratoflow_admission_arn

    # When Scheduler delivers it (moto never fires schedules: its Input goes to admission here)
    payload = json.loads(schedule["Target"]["Input"])
    response = sim.start(payload.pop("namespace"), payload.pop("flowId"), **payload)
    duplicate = sim.start("tests.control", "later", **payload)

    # Then the recorded retry runs, once, and is the last attempt
    assert response.execution_id == retry_id and response.execution_arn is not None
    assert duplicate.execution_arn is None
    assert sim.wait(response.execution_arn).execution.state == State.FAILED
    assert runs_of(sim, "later") == sorted([first.id, retry_id])


def test_a_restart_queues_for_the_flows_concurrency_slot_and_starts_when_it_frees(
    sim: CloudSimulation, strato: Callable[..., Result]
) -> None:
    # Given a flow limited to one execution: one that failed, and one sleeping in the only slot
    deploy(
        sim,
        "single.yaml",
        """id: single
namespace: tests.control
concurrency: {limit: 1, behavior: QUEUE}
inputs:
  - {id: fail, type: BOOLEAN, defaults: false}
tasks:
  - id: work
    type: Fail
    condition: "{{ inputs.fail }}"
  - id: hold
    type: Sleep
    duration: PT1H
    runIf: "{{ not inputs.fail }}"
""",
    )
    failed = sim.wait(str(sim.start("tests.control", "single", inputs={"fail": True}).execution_arn))
    assert failed.execution.state == State.FAILED
    holder = started(sim, "single")

    # When the failed one is restarted on the stack
    result = strato("restart", failed.execution.id, "--json")

    # Then it waits QUEUED for the slot, and no Step Functions run started for it
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["state"] == "QUEUED"
    assert runs_of(sim, "single") == sorted([failed.execution.id, holder])

    # When the sleeping one is killed, its slot goes to the restart, which runs as `<id>_r1`
    killed = strato("kill", holder)
    assert killed.exit_code == 0, killed.output
    restarted = eventually(
        lambda: (
            (e := sim.store.get_execution(failed.execution.id)) is not None
            and e.restarts == 1
            and e.state.is_terminal
            and e
        )
    )
    assert restarted.state == State.FAILED  # its input still says fail: it failed again, as it should
    assert f"{failed.execution.id}_r1" in runs_of(sim, "single")
