"""Big flows run locally as they run on AWS: parts are child executions of the flow's own revision, and
a task in any part reads, retries, fails and exits exactly as in one state machine."""

from __future__ import annotations

import pytest

from stratoflow.cli.local_runs import run_document
from stratoflow.local import LocalPlatform
from stratoflow.states import State
from tests.unit.compiler.test_parts import chain, parallel, shrink
from tests.unit.runtime.conftest import RunFlow, by_task

pytestmark = pytest.mark.usefixtures("small_parts")


@pytest.fixture
def small_parts(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    if "real_budget" not in request.keywords:
        shrink(monkeypatch)


def tasks(*lines: str) -> str:
    return "\n".join(lines) + "\n"


def log_tasks(first: int, count: int) -> list[str]:
    lines: list[str] = []
    for i in range(first, first + count):
        lines += [f"  - id: t{i}", "    type: Log", f"    message: task {i}"]
    return lines


def test_a_later_part_reads_the_outputs_of_an_earlier_one(run_flow: RunFlow) -> None:
    # Given a flow cut into parts whose last task reads the output of its first
    source = tasks(
        "id: outputs",
        "namespace: big",
        "tasks:",
        "  - id: first",
        "    type: Return",
        "    format: from part one",
        *log_tasks(0, 8),
        "  - id: last",
        "    type: Return",
        '    format: "{{ outputs.first.value }}!"',
    )

    # When it runs
    outcome = run_flow(source)

    # Then it ran in several parts, and the last task read the first one's output
    assert outcome.execution.state == State.SUCCESS, outcome.execution.error
    assert len(outcome.parts) >= 2
    runs = by_task(outcome)
    assert runs["last"][0].outputs == {"value": "from part one!"}
    assert len(outcome.task_runs) == 10


def test_the_flows_errors_handler_catches_a_failure_in_any_part(run_flow: RunFlow) -> None:
    # Given a big flow whose last part fails, with an `errors` handler on the flow
    source = tasks(
        "id: failing",
        "namespace: big",
        "tasks:",
        *log_tasks(0, 8),
        "  - id: broken",
        "    type: Fail",
        "    errorMessage: the source is gone",
        "  - id: never",
        "    type: Log",
        "    message: not reached",
        "errors:",
        "  - id: handler",
        "    type: Log",
        "    message: handled",
    )

    # When it runs
    outcome = run_flow(source)

    # Then the handler ran, the tasks after the failure did not, and the execution FAILED as in one machine
    runs = by_task(outcome)
    assert outcome.execution.state == State.FAILED
    assert runs["handler"][0].state == State.SUCCESS
    assert runs["broken"][0].state == State.FAILED
    assert "never" not in runs


def test_a_task_retry_inside_a_part_makes_its_attempts_there(run_flow: RunFlow) -> None:
    # Given a task with a retry in the second part of a big flow, failing once then succeeding
    source = tasks(
        "id: retried",
        "namespace: big",
        "tasks:",
        *log_tasks(0, 8),
        "  - id: flaky",
        "    type: Fail",
        '    condition: "{{ taskrun.attemptsCount < 2 }}"',
        "    retry:",
        "      type: constant",
        "      interval: PT1S",
        "      maxAttempts: 3",
    )

    # When it runs
    outcome = run_flow(source)

    # Then the task's attempts are recorded on one task run and the execution succeeded
    assert outcome.execution.state == State.SUCCESS, outcome.execution.error
    flaky = by_task(outcome)["flaky"][0]
    assert [attempt.state for attempt in flaky.attempts] == [State.RETRYING, State.SUCCESS]


def test_an_exit_in_a_part_ends_the_execution_with_its_state(run_flow: RunFlow) -> None:
    # Given an Exit task in the first part of a big flow
    source = tasks(
        "id: exiting",
        "namespace: big",
        "tasks:",
        "  - id: stop",
        "    type: Exit",
        "    state: WARNING",
        *log_tasks(0, 8),
    )

    # When it runs
    outcome = run_flow(source)

    # Then the execution ends WARNING and nothing after the Exit ran, in that part or later ones
    assert outcome.execution.state == State.WARNING
    assert set(by_task(outcome)) == {"stop"}


def test_a_failure_in_a_branch_part_fails_the_parallel_with_the_tasks_error(run_flow: RunFlow) -> None:
    # Given a Parallel whose branches run as parts, one of them failing
    source = tasks(
        "id: branches",
        "namespace: big",
        "tasks:",
        "  - id: p",
        "    type: Parallel",
        "    tasks:",
        "      - id: good",
        "        type: Sequential",
        "        tasks:",
        *[f"          - {{id: g{i}, type: Log, message: fine}}" for i in range(8)],
        "      - id: bad",
        "        type: Sequential",
        "        tasks:",
        *[f"          - {{id: b{i}, type: Log, message: fine}}" for i in range(8)],
        "          - {id: boom, type: Fail, errorMessage: broken branch}",
        "errors:",
        "  - {id: handler, type: Log, message: handled}",
    )

    # When it runs
    outcome = run_flow(source)

    # Then the Parallel and the flow failed with the branch's error and the error handler ran; the good
    # branch, a part of its own, ran or was stopped with the Parallel (as Step Functions stops the other
    # branches and their `.sync` children), but none of its tasks failed
    runs = by_task(outcome)
    assert outcome.execution.state == State.FAILED
    assert runs["p"][0].state == State.FAILED
    assert runs["boom"][0].state == State.FAILED
    assert runs["handler"][0].state == State.SUCCESS
    good = [run.state for i in range(8) for run in runs.get(f"g{i}", [])]
    assert set(good) <= {State.SUCCESS, State.KILLED}, good


def test_each_part_counts_its_own_history_like_a_child_execution(run_flow: RunFlow) -> None:
    # When a big flow runs
    outcome = run_flow(tasks("id: counted", "namespace: big", "tasks:", *log_tasks(0, 12)))

    # Then each part's events were counted apart, and the flow's own history holds only the part starts
    parts = outcome.parts
    assert len(parts) >= 2
    assert all(part.succeeded for part in parts)
    assert sum(part.history_events for part in parts) > 12 * 5
    assert outcome.result.history_events < 12 * 5


@pytest.mark.slow
@pytest.mark.real_budget
def test_a_2000_task_chain_succeeds_locally(run_flow: RunFlow) -> None:
    outcome = run_flow(chain(2000))

    assert outcome.execution.state == State.SUCCESS, outcome.execution.error
    assert len(outcome.task_runs) == 2000
    assert len(outcome.parts) >= 2


@pytest.mark.slow
@pytest.mark.real_budget
def test_a_20_by_100_parallel_succeeds_locally(run_flow: RunFlow) -> None:
    outcome = run_flow(parallel(20, 100))

    assert outcome.execution.state == State.SUCCESS, outcome.execution.error
    assert sum(1 for run in outcome.task_runs if run.task_id.startswith("t")) == 2000
    assert len(outcome.parts) == 20


def test_strato_run_json_lists_what_each_part_counted(run_flow: RunFlow) -> None:
    # Given a big flow that ran
    outcome = run_flow(tasks("id: counted", "namespace: big", "tasks:", *log_tasks(0, 12)))

    # When the `--json` document is made, Then each part's counts are listed under stepFunctions
    counted = run_document(outcome)["stepFunctions"]
    assert [part["historyEvents"] for part in counted["parts"]] == [p.history_events for p in outcome.parts]
    assert counted["historyEvents"] == outcome.result.history_events


def test_a_restarted_big_flow_continues_from_the_failed_task_in_its_part(platform: LocalPlatform) -> None:
    # Given a big flow with a flow `retry` (a restart of the same execution), whose task in its last
    # part fails on its first attempt
    source = tasks(
        "id: flaky",
        "namespace: big",
        "retry:",
        "  type: constant",
        "  interval: PT1M",
        "  maxAttempts: 2",
        "tasks:",
        *log_tasks(0, 8),
        "  - id: load",
        "    type: Fail",
        '    condition: "{{ taskrun.attemptsCount < 2 }}"',
    )
    flow, record = platform.deploy_source(source, "flow.yaml")
    execution = platform.admit(flow, record, {})

    # When it runs, fails and is restarted
    first = platform.run(execution)
    platform.join()

    # Then the restart succeeded, the tasks of the earlier parts ran once, the failed one again
    assert first.execution.state == State.FAILED and len(first.parts) >= 2
    final = platform.store.get_execution(execution.id)
    assert final is not None and final.state == State.SUCCESS and final.restarts == 1
    runs = {run.task_id: run for run in platform.store.list_task_runs(execution.id)}
    assert len(runs["t0"].attempts) == 1
    assert [attempt.state for attempt in runs["load"].attempts] == [State.FAILED, State.SUCCESS]
