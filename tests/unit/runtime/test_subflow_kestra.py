"""The Subflow task as Kestra documents it: `outputs` rendered in the child's context, and `retry`
(each attempt a new child execution, counted as attempts of the parent's task run)."""

from __future__ import annotations

import pytest

from stratoflow.errors import FlowValidationError
from stratoflow.flow import load_flow
from stratoflow.local import LocalPlatform
from stratoflow.states import State
from tests.unit.runtime.conftest import RunFlow, by_task

# Kestra's example: the child returns from its main task or, when that fails, from its error handler.
CHILD = """
id: child_flow
namespace: company.team
inputs:
  - id: fail
    type: BOOLEAN
    defaults: false
tasks:
  - id: maybe_fail
    type: Fail
    condition: "{{ inputs.fail }}"
  - id: default
    type: Return
    format: from the main task
errors:
  - id: error-t1
    type: Return
    format: from the error handler
"""

PARENT = """
id: parent_flow
namespace: company.team
inputs:
  - id: fail
    type: BOOLEAN
    defaults: false
tasks:
  - id: subflow
    type: io.kestra.plugin.core.flow.Subflow
    namespace: company.team
    flowId: child_flow
    inputs:
      fail: "{{ inputs.fail }}"
    transmitFailed: false
    outputs:
      final: "{{ outputs.default.value ?? outputs['error-t1'].value }}"
  - id: log
    type: Return
    format: "{{ outputs.subflow.outputs.final }}"
"""


@pytest.mark.parametrize(("fail", "said"), [(False, "from the main task"), (True, "from the error handler")])
def test_subflow_outputs_read_the_child_tasks(run_flow: RunFlow, fail: bool, said: str) -> None:
    # Given a Subflow task whose `outputs` name tasks of the child (`default`, `error-t1`)
    # When the parent runs, the child succeeding or failing into its error handler
    outcome = run_flow(PARENT, {"fail": fail}, others=(CHILD,))
    # Then the expressions were rendered with the child's task outputs
    assert outcome.execution.state == State.SUCCESS
    assert by_task(outcome)["log"][0].outputs["value"] == said


def test_subflow_outputs_need_wait() -> None:
    # Given a Subflow that is not waited for, with outputs
    source = PARENT.replace("    transmitFailed: false\n", "    wait: false\n")
    # Then the flow is refused: the outputs could never be rendered
    with pytest.raises(FlowValidationError, match="'outputs' needs 'wait: true'"):
        load_flow(source, "parent.yaml")


FLAKY = """
id: flaky
namespace: company.team
inputs:
  - id: attempt
    type: INT
tasks:
  - id: upstream_api
    type: Fail
    condition: "{{ inputs.attempt < 3 }}"
    errorMessage: "the upstream API is down (attempt {{ inputs.attempt }})"
"""

RETRIED = """
id: parent_retry
namespace: company.team
tasks:
  - id: subflow
    type: io.kestra.plugin.core.flow.Subflow
    namespace: company.team
    flowId: flaky
    inputs:
      attempt: "{{{{ taskrun.attemptsCount }}}}"
    retry:
      type: constant
      interval: PT10S
      maxAttempts: {max_attempts}
"""


def test_subflow_retry_starts_a_new_child_per_attempt(run_flow: RunFlow, platform: LocalPlatform) -> None:
    # Given a Subflow task with `retry` whose child fails on its first two attempts
    # When the parent runs (waits pass on the virtual clock)
    outcome = run_flow(RETRIED.format(max_attempts=3), others=(FLAKY,))
    # Then the task run has three attempts, the first two FAILED, and the parent succeeds
    assert outcome.execution.state == State.SUCCESS
    [run] = by_task(outcome)["subflow"]
    assert [a.state for a in run.attempts] == [State.FAILED, State.FAILED, State.SUCCESS]
    # And each attempt ran its own child execution, all in the history
    children = [e for e in platform.store.list_executions(namespace="company.team", flow_id="flaky")]
    assert sorted(e.inputs["attempt"] for e in children) == [1, 2, 3]
    assert sorted(str(e.state) for e in children) == ["FAILED", "FAILED", "SUCCESS"]
    assert run.outputs["executionId"] == next(e.id for e in children if e.state == State.SUCCESS)


def test_subflow_retry_exhausted_fails_the_task(run_flow: RunFlow) -> None:
    # Given the same flaky child and only two attempts
    outcome = run_flow(RETRIED.format(max_attempts=2), others=(FLAKY,))
    # Then both attempts failed and so did the parent
    assert outcome.execution.state == State.FAILED
    [run] = by_task(outcome)["subflow"]
    assert [a.state for a in run.attempts] == [State.FAILED, State.FAILED]
