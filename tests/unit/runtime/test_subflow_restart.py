"""Restarting a parent whose Subflow task failed: a new child (NEW_EXECUTION, Kestra's default), or the
failed child restarted in place (`restartBehavior: RETRY_FAILED`)."""

from __future__ import annotations

import textwrap

from stratoflow.domain import TaskRun
from stratoflow.execution.control import prepare_restart
from stratoflow.local import LocalPlatform
from stratoflow.states import State

# The child fails while the KV key `broken` is true: the on-call engineer fixes it, then restarts.
CHILD = """
id: child
namespace: tests
tasks:
  - id: extract
    type: Return
    format: rows
  - id: load
    type: Fail
    condition: "{{ kv('broken') }}"
    errorMessage: the warehouse is down
  - id: report
    type: Return
    format: "{{ outputs.extract.value }} loaded"
outputs:
  - {id: report, type: STRING, value: "{{ outputs.report.value }}"}
"""

PARENT = """
id: parent
namespace: tests
tasks:
  - id: call
    type: Subflow
    namespace: tests
    flowId: child
{behavior}
  - id: show
    type: Return
    format: "child said {{{{ outputs.call.outputs.report }}}}"
"""


def _failed_parent(platform: LocalPlatform, behavior: str = "") -> tuple[str, str]:
    """Run the parent while the child is broken; returns (parent id, first child id)."""
    platform.deploy_source(textwrap.dedent(CHILD), "child.yaml")
    flow, record = platform.deploy_source(textwrap.dedent(PARENT.format(behavior=behavior)), "parent.yaml")
    platform.store.kv_set("tests", "broken", True)
    outcome = platform.run(platform.admit(flow, record, {}))
    assert outcome.execution.state == State.FAILED
    child_id = _runs(outcome.task_runs)["call"].outputs["executionId"]
    assert platform.store.get_execution(child_id).state == State.FAILED  # type: ignore[union-attr]
    platform.store.kv_set("tests", "broken", False)  # fixed
    return outcome.execution.id, child_id


def _runs(task_runs: list[TaskRun]) -> dict[str, TaskRun]:
    return {run.task_id: run for run in task_runs}


def test_a_restarted_parent_runs_a_new_child_by_default(platform: LocalPlatform) -> None:
    parent_id, first_child = _failed_parent(platform)

    # When the parent is restarted
    outcome = platform.run(prepare_restart(platform.store, parent_id))

    # Then its Subflow task started another child, which succeeded, and the parent went on with it
    assert outcome.execution.state == State.SUCCESS
    runs = _runs(outcome.task_runs)
    second_child = runs["call"].outputs["executionId"]
    assert second_child != first_child
    assert runs["show"].outputs == {"value": "child said rows loaded"}
    # and the failed child is left as it ended, in the history
    assert platform.store.get_execution(first_child).state == State.FAILED  # type: ignore[union-attr]
    child = platform.store.get_execution(second_child)
    assert child is not None and (child.state, child.parent_execution_id) == (State.SUCCESS, parent_id)
    # and the Subflow task run kept the attempt that failed
    assert [a.state for a in runs["call"].attempts] == [State.FAILED, State.SUCCESS]


def test_a_second_restart_names_a_third_child(platform: LocalPlatform) -> None:
    parent_id, first_child = _failed_parent(platform)
    platform.store.kv_set("tests", "broken", True)  # not fixed after all
    again = platform.run(prepare_restart(platform.store, parent_id))
    platform.store.kv_set("tests", "broken", False)
    last = platform.run(prepare_restart(platform.store, parent_id))

    children = [e for e in platform.store.list_executions("tests", "child")]
    assert again.execution.state == State.FAILED and last.execution.state == State.SUCCESS
    assert sorted(str(e.state) for e in children) == ["FAILED", "FAILED", "SUCCESS"]
    assert first_child in {e.id for e in children}


def test_retry_failed_restarts_the_failed_child_in_place(platform: LocalPlatform) -> None:
    parent_id, child_id = _failed_parent(platform, "    restartBehavior: RETRY_FAILED")

    outcome = platform.run(prepare_restart(platform.store, parent_id))

    # The same child ran again from its failed task: the one before it kept its single attempt
    assert outcome.execution.state == State.SUCCESS
    assert _runs(outcome.task_runs)["call"].outputs["executionId"] == child_id
    child = platform.store.get_execution(child_id)
    assert child is not None and (child.state, child.restarts) == (State.SUCCESS, 1)
    child_runs = _runs(platform.store.list_task_runs(child_id))
    assert len(child_runs["extract"].attempts) == 1
    assert [a.state for a in child_runs["load"].attempts] == [State.FAILED, State.SUCCESS]
    assert [e.id for e in platform.store.list_executions("tests", "child")] == [child_id]
