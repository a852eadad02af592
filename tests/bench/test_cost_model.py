"""The cost model counts what the local engine counts, and prices it at the list prices."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from stratoflow.cli.main import cli
from stratoflow.compiler import compile_flow
from stratoflow.cost import Assumptions, count, estimate
from stratoflow.engine import VirtualClock
from stratoflow.flow import load_flow
from stratoflow.local import LocalPlatform

ROOT = Path(__file__).resolve().parents[2]
BENCH_FLOWS = ROOT / "bench" / "flows"


def compiled(path: Path) -> tuple[dict[str, Any], Any]:
    flow = load_flow(path.read_text(), str(path))
    return compile_flow(flow).definition, flow


def engine_run(path: Path, home: Path) -> tuple[int, int, str]:
    """(transitions, task runs, state) of one local execution, waits skipped."""
    platform = LocalPlatform(home, clock=VirtualClock())
    try:
        flow, record = platform.deploy_file(path)
        outcome = platform.run(platform.admit(flow, record, {}))
        return outcome.result.transitions, len(outcome.task_runs), str(outcome.execution.state)
    finally:
        platform.close()


def flow_text(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "flow.yaml"
    path.write_text(text)
    return path


@pytest.mark.parametrize(
    ("path", "assumptions"),
    [
        (BENCH_FLOWS / "w1_hello.yaml", Assumptions()),
        (BENCH_FLOWS / "w2_chain100.yaml", Assumptions()),
        (BENCH_FLOWS / "w3_fanout1000.yaml", Assumptions(items=1000)),
        (BENCH_FLOWS / "w4_retry.yaml", Assumptions(failed_attempts=2)),
        (ROOT / "examples" / "hello.yaml", Assumptions()),
        (ROOT / "examples" / "etl.yaml", Assumptions(items=3)),  # 3 regions by default
        (ROOT / "tests" / "fixtures" / "flows" / "branches.yaml", Assumptions()),
        (ROOT / "tests" / "fixtures" / "flows" / "loops.yaml", Assumptions()),  # literal values: counted
    ],
    ids=lambda value: value.name if isinstance(value, Path) else "",
)
def test_transitions_and_task_runs_equal_the_local_engine(
    path: Path, assumptions: Assumptions, tmp_path: Path
) -> None:
    # Given a flow whose path the assumptions describe exactly
    definition, flow = compiled(path)

    # When the model counts it and the engine runs it
    usage = count(definition, flow, assumptions)
    transitions, task_runs, state = engine_run(path, tmp_path)

    # Then both count the same transitions and task runs
    assert state == "SUCCESS"
    assert (usage.transitions, usage.task_runs) == (transitions, task_runs)


def test_an_if_is_priced_at_its_most_expensive_branch(tmp_path: Path) -> None:
    # Given an If whose `then` (taken) has three tasks and whose `else` has one
    path = flow_text(
        tmp_path,
        """
id: branchy
namespace: tests.cost
tasks:
  - id: check
    type: If
    condition: "{{ 1 == 1 }}"
    then:
      - {id: a, type: Return, format: "1"}
      - {id: b, type: Return, format: "2"}
      - {id: c, type: Return, format: "3"}
    else:
      - {id: d, type: Return, format: "4"}
""",
    )
    definition, flow = compiled(path)

    # When it is counted
    usage = count(definition, flow)

    # Then the count is the `then` path's, which is the path the engine takes
    transitions, task_runs, _ = engine_run(path, tmp_path / "home")
    assert (usage.transitions, usage.task_runs) == (transitions, task_runs)
    assert usage.runnable_task_runs == 3


def test_loop_counts_scale_with_the_assumed_items() -> None:
    # Given W3 (a ForEach over dynamic values)
    definition, flow = compiled(BENCH_FLOWS / "w3_fanout1000.yaml")

    # When it is counted with 10 and with 20 items
    ten, twenty = (count(definition, flow, Assumptions(items=n)) for n in (10, 20))

    # Then each extra item adds one transition, one invocation and one task run
    assert twenty.transitions - ten.transitions == 10
    assert twenty.runner_invocations - ten.runner_invocations == 10
    assert twenty.task_runs - ten.task_runs == 10


def test_runner_dynamodb_writes_per_task_run() -> None:
    # Given W2: 100 runnable tasks, no logs
    definition, flow = compiled(BENCH_FLOWS / "w2_chain100.yaml")

    # When it is counted
    usage = count(definition, flow)

    # Then each task run costs 2 write requests (RUNNING, its end), and the execution 5 (create, RUNNING
    # twice: admission and its status event, outputs, final state; no slot to release without a limit)
    assert usage.dynamo.write_requests == 100 * 2 + 5
    assert usage.dynamo.log_write_requests == 0
    assert usage.per_task()["dynamodbWriteRequestsPerTaskRun"] == pytest.approx(2.01)  # + the outputs


def test_outputs_of_a_task_outside_loops_are_one_read_and_loops_a_query() -> None:
    # Given W2, where each task reads the previous one's outputs
    definition, flow = compiled(BENCH_FLOWS / "w2_chain100.yaml")

    # When it is counted
    usage = count(definition, flow)

    # Then reads grow linearly with the chain (a GetItem by id per reference, not a Query of every run):
    # 2 per call (execution, task run), 1 per reference, the flow outputs' call (execution, the last
    # task's run) and the execution's start and end (8)
    assert usage.dynamo.read_requests == 100 * 2 + 99 + 2 + 8
    assert usage.dynamo.read_units < 1.2 * usage.dynamo.read_requests


NESTED = """
id: nested
namespace: bench
tasks:
  - id: outer
    type: ForEach
    values: "{{ range(0, 9) }}"
    tasks:
      - id: inner
        type: ForEach
        values: "{{ range(0, 9) }}"
        tasks:
          - {id: work, type: Return, format: "{{ taskrun.value }}"}
"""


def test_dynamodb_reads_per_task_run_stay_constant_in_nested_loops(tmp_path: Path) -> None:
    # Given nested ForEach loops, counted at 10 x 10 and at 100 x 100 items
    definition, flow = compiled(flow_text(tmp_path, NESTED))
    small, large = (count(definition, flow, Assumptions(items=n)) for n in (10, 100))

    # When their DynamoDB reads are divided by their task runs
    per_run = [usage.dynamo.read_units / usage.task_runs for usage in (small, large)]

    # Then a task run costs as many read units in the large one: each loop end reads its own children
    # by key (their ids follow from its iterations), not every task run of the execution
    assert large.task_runs > 90 * small.task_runs
    assert per_run[1] <= per_run[0]
    assert per_run[1] < 4
    # ... and writes as many units per task run inside a loop as outside (no index keys it), plus one per
    # loop (1 + 100 of them: the iterations it starts, saved when it starts)
    flat = count(*compiled(BENCH_FLOWS / "w2_chain100.yaml"))
    loops = 1 + 100
    nested_units = (large.dynamo.write_units - flat.dynamo.write_units - loops) / (
        large.task_runs - flat.task_runs
    )
    assert nested_units == pytest.approx(2, abs=0.01)  # RUNNING, its end


def test_the_model_reads_loops_as_the_runner_does() -> None:
    from stratoflow.cost.walk import LOOPS
    from stratoflow.execution.runner.outputs import LOOPS as RUNNER_LOOPS

    assert LOOPS == RUNNER_LOOPS


def test_a_concurrency_limit_adds_the_slot_writes(tmp_path: Path) -> None:
    # Given one task, without and with a concurrency limit
    task = "tasks:\n  - {id: hi, type: Log, message: hi}\n"
    free = compiled(flow_text(tmp_path, f"id: free\nnamespace: tests.cost\n{task}"))
    limited = compiled(
        flow_text(tmp_path, f"id: held\nnamespace: tests.cost\nconcurrency: {{limit: 2}}\n{task}")
    )

    # When both are counted
    without, with_limit = count(*free).dynamo, count(*limited).dynamo

    # Then the limited one takes and releases a slot (2 writes); the other writes no slot at all
    assert with_limit.write_requests - without.write_requests == 2


def test_standard_cost_is_transitions_times_the_list_price() -> None:
    definition, flow = compiled(BENCH_FLOWS / "w2_chain100.yaml")

    result = estimate(definition, flow, 1_000_000)

    transitions = next(i for i in result.standard if i.what == "state transitions")
    assert transitions.per_execution == 102
    assert transitions.monthly_cost == pytest.approx(102 * 1_000_000 * 0.025 / 1000)
    assert result.standard_total == pytest.approx(sum(i.monthly_cost for i in result.standard))


def test_lambda_gb_seconds_follow_the_assumed_duration() -> None:
    definition, flow = compiled(BENCH_FLOWS / "w1_hello.yaml")

    result = estimate(definition, flow, 1000, Assumptions(runner_duration_ms=200, platform_invocations=0))

    gbs = next(i for i in result.standard if i.what == "GB-seconds (arm64)")
    assert gbs.per_execution == pytest.approx(3 * 0.2 * 1.0)  # 3 invocations x 0.2 s x 1 GB
    assert gbs.monthly_cost == pytest.approx(3 * 0.2 * 1000 * 0.0000133334)


def test_free_tier_is_subtracted_only_when_asked() -> None:
    definition, flow = compiled(BENCH_FLOWS / "w1_hello.yaml")

    paid = estimate(definition, flow, 1000)
    free = estimate(definition, flow, 1000, Assumptions(free_tier=True))

    assert paid.standard_total > 0
    step_functions = next(i for i in free.standard if i.service.startswith("Step Functions"))
    assert step_functions.monthly_cost == 0  # 4 transitions x 1000 executions, within the 4,000 free
    assert free.standard_total < paid.standard_total


def test_a_flow_without_callbacks_or_long_waits_fits_express() -> None:
    definition, flow = compiled(BENCH_FLOWS / "w2_chain100.yaml")

    result = estimate(definition, flow, 1000)

    assert result.express_blockers == []
    assert result.express_total is not None
    assert result.express_total < result.standard_total


@pytest.mark.parametrize(
    ("task", "reason"),
    [
        ("{id: wait, type: Pause}", "callback"),
        ("{id: nap, type: Sleep, duration: PT10M}", "over 5 minutes"),
        ("{id: child, type: Subflow, namespace: tests.cost, flowId: other}", ".sync"),
    ],
)
def test_what_keeps_a_flow_off_express(task: str, reason: str, tmp_path: Path) -> None:
    path = flow_text(tmp_path, f"id: slow\nnamespace: tests.cost\ntasks:\n  - {task}\n")
    definition, flow = compiled(path)

    result = estimate(definition, flow, 1000)

    assert result.express is None
    assert any(reason in blocker for blocker in result.express_blockers), result.express_blockers


def test_a_long_running_flow_is_off_express_by_duration(tmp_path: Path) -> None:
    # Given 40 tasks of 10 s each (400 s in all, over Express's 5 minutes)
    tasks = "".join(f"  - {{id: t{i}, type: Return, format: '{i}'}}\n" for i in range(40))
    definition, flow = compiled(flow_text(tmp_path, f"id: long\nnamespace: tests.cost\ntasks:\n{tasks}"))

    result = estimate(definition, flow, 1000, Assumptions(runner_duration_ms=10_000))

    assert result.express is None
    assert "takes about" in result.express_blockers[0]


def test_cli_prints_the_estimate_and_its_assumptions() -> None:
    result = CliRunner().invoke(
        cli,
        ["cost", str(BENCH_FLOWS / "w3_fanout1000.yaml"), "--items", "1000", "--executions-per-month", "500"],
    )

    assert result.exit_code == 0, result.output
    assert "1008 state transitions" in result.output  # the Choice between an inline and a distributed Map
    assert "ForEach items per loop: 1000" in result.output
    assert "Express workflow" in result.output


def test_cli_json_document() -> None:
    result = CliRunner().invoke(cli, ["cost", str(BENCH_FLOWS / "w1_hello.yaml"), "--json", "-n", "100"])

    assert result.exit_code == 0, result.output
    document = json.loads(result.output)
    assert document["perExecution"]["transitions"] == 4
    assert document["executionsPerMonth"] == 100
    assert document["standard"]["monthlyTotal"] == pytest.approx(
        sum(item["monthly_cost"] for item in document["standard"]["items"])
    )


def test_cli_reports_an_invalid_flow(tmp_path: Path) -> None:
    path = flow_text(tmp_path, "id: bad\nnamespace: tests.cost\ntasks: []\n")

    result = CliRunner().invoke(cli, ["cost", str(path)])

    assert result.exit_code == 1


def test_dynamodb_is_priced_at_the_current_on_demand_rates() -> None:
    definition, flow = compiled(BENCH_FLOWS / "w2_chain100.yaml")

    result = estimate(definition, flow, 1_000_000)

    writes = next(i for i in result.standard if i.what == "write request units")
    reads = next(i for i in result.standard if i.what == "read request units")
    assert writes.unit_price == pytest.approx(0.625 / 1_000_000)
    assert reads.unit_price == pytest.approx(0.125 / 1_000_000)
    assert writes.monthly_cost == pytest.approx(writes.monthly_quantity * 0.625 / 1_000_000)


def test_a_flow_beyond_the_history_limit_is_not_priced() -> None:
    # Given a flow without a Map whose execution would make 20,000 transitions
    from dataclasses import replace

    from stratoflow.cost.estimate import standard_limits

    definition, flow = compiled(BENCH_FLOWS / "w2_chain100.yaml")
    usage = replace(count(definition, flow), transitions=20_000.0)

    # When / Then: every one of them is in the one history
    assert "history events: Step Functions stops it at 25,000" in standard_limits(definition, usage)[0]


def test_a_flow_longer_than_a_year_gets_a_warning_instead_of_a_price(tmp_path: Path) -> None:
    # Given
    path = flow_text(
        tmp_path, "id: long\nnamespace: tests.cost\ntasks:\n  - {id: wait, type: Sleep, duration: P400D}\n"
    )

    # When
    definition, flow = compiled(path)
    result = estimate(definition, flow, 1000)
    printed = CliRunner().invoke(cli, ["cost", str(path)])
    as_json = CliRunner().invoke(cli, ["cost", str(path), "--json"])

    # Then
    assert result.standard == [] and result.express is None
    assert result.cannot_complete == ["an execution takes about 400 days: Step Functions allows one year"]
    assert printed.exit_code == 0, printed.output
    assert "warning: not priced" in printed.output and "Standard workflow" not in printed.output
    assert json.loads(as_json.output)["cannotComplete"] == result.cannot_complete


def test_a_large_foreach_runs_as_a_distributed_map_and_is_priced() -> None:
    # Given the 10,000-item loop: the compiled flow runs it as a distributed Map (items in child
    # executions, each with its own history)
    definition, flow = compiled(BENCH_FLOWS / "w3_fanout1000.yaml")

    # When
    result = estimate(definition, flow, 1000, Assumptions(items=10_000))

    # Then
    assert result.cannot_complete == [] and result.standard
