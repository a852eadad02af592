"""Lineage: `system.correlationId` on every execution, carried through Subflows, Flow triggers and
replays; the Subflow task's `labels` and `inheritLabels` (shaped like Kestra's documentation)."""

from __future__ import annotations

import textwrap

from stratoflow.execution.control import prepare_replay
from stratoflow.execution.lineage import CORRELATION_ID, chain_of
from stratoflow.local import LocalPlatform
from stratoflow.states import State
from tests.unit.runtime.conftest import RunFlow, by_task

GRANDPARENT = """
id: grandparent
namespace: company.team
labels:
  team: data
tasks:
  - id: call_parent
    type: io.kestra.plugin.core.flow.Subflow
    namespace: company.team
    flowId: parent
    inheritLabels: true
    labels:
      step: first
"""

PARENT = """
id: parent
namespace: company.team
tasks:
  - id: call_child
    type: io.kestra.plugin.core.flow.Subflow
    namespace: company.team
    flowId: child
"""

CHILD = """
id: child
namespace: company.team
tasks:
  - id: log_root
    type: Return
    format: "my grandparent is {{ labels.system.correlationId }}"
  - id: log_root_by_key
    type: Return
    format: "{{ labels['system.correlationId'] }}"
"""


def _run_chain(run_flow: RunFlow) -> tuple[str, str]:
    """Run grandparent -> parent -> child; returns the ids of the grandparent and the parent."""
    outcome = run_flow(GRANDPARENT, others=(CHILD, PARENT))
    assert outcome.execution.state == State.SUCCESS
    return outcome.execution.id, by_task(outcome)["call_parent"][0].outputs["executionId"]


def test_three_level_chain_carries_the_root_id(run_flow: RunFlow, platform: LocalPlatform) -> None:
    # Given grandparent -> parent -> child, the child reading the correlation label both ways
    # When the grandparent runs
    root_id, parent_id = _run_chain(run_flow)
    store = platform.store
    parent = store.get_execution(parent_id)
    assert parent is not None
    child_id = next(r for r in store.list_task_runs(parent_id) if r.task_id == "call_child").outputs[
        "executionId"
    ]
    child = store.get_execution(child_id)
    assert child is not None
    # Then every execution of the chain carries the root's id, which the leaf reads
    root = store.get_execution(root_id)
    assert root is not None and root.labels[CORRELATION_ID] == root_id
    assert parent.labels[CORRELATION_ID] == root_id
    assert child.labels[CORRELATION_ID] == root_id
    leaf = {r.task_id: r.outputs["value"] for r in store.list_task_runs(child_id)}
    assert leaf == {"log_root": f"my grandparent is {root_id}", "log_root_by_key": root_id}
    # And the chain of the middle execution names its parent, child and root
    chain = chain_of(store, parent)
    assert chain.root is not None and chain.root.id == root_id
    assert chain.parent is not None and chain.parent.id == root_id
    assert [c.id for c in chain.children] == [child_id]


def test_inherit_labels_and_task_labels(run_flow: RunFlow, platform: LocalPlatform) -> None:
    # Given a Subflow task with inheritLabels and labels of its own (the grandparent above)
    root_id, parent_id = _run_chain(run_flow)
    parent = platform.store.get_execution(parent_id)
    # Then the child has the parent's labels, the task's labels, and its own correlation id only
    assert parent is not None
    assert parent.labels == {"team": "data", "step": "first", CORRELATION_ID: root_id}
    # And without inheritLabels (parent -> child) the parent's labels stay behind
    child_id = next(r for r in platform.store.list_task_runs(parent_id) if r.task_id == "call_child").outputs[
        "executionId"
    ]
    child = platform.store.get_execution(child_id)
    assert child is not None and child.labels == {CORRELATION_ID: root_id}


def test_replay_keeps_the_correlation_id(run_flow: RunFlow, platform: LocalPlatform) -> None:
    # Given a finished root execution
    outcome = run_flow(CHILD)
    flow, _ = platform.deploy_source(textwrap.dedent(CHILD), "child.yaml")
    # When it is replayed from its second task
    replay = prepare_replay(platform.store, flow, outcome.execution.id, "log_root_by_key")
    # Then the replay belongs to the original's chain
    assert replay.labels[CORRELATION_ID] == outcome.execution.id
    assert replay.labels["system.replayOf"] == outcome.execution.id


def test_flow_trigger_carries_the_upstream_correlation_id(platform: LocalPlatform) -> None:
    # Given an upstream execution that is part of a chain, and a flow with a Flow trigger on it
    from stratoflow.execution.admission import admit
    from stratoflow.execution.upstream import flow_trigger_variables

    downstream, record = platform.deploy_source(
        textwrap.dedent(
            """
            id: downstream
            namespace: company.team
            tasks:
              - {id: hi, type: Log, message: hi}
            triggers:
              - id: after_upstream
                type: io.kestra.plugin.core.trigger.Flow
                conditions:
                  - type: io.kestra.plugin.core.condition.ExecutionFlow
                    namespace: company.team
                    flowId: child
            """
        ),
        "downstream.yaml",
    )
    upstream_flow, upstream_record = platform.deploy_source(textwrap.dedent(CHILD), "child.yaml")
    upstream, _ = admit(
        platform.store, upstream_flow, upstream_record.revision, labels={CORRELATION_ID: "root-1"}
    )
    ended = platform.store.update_execution(upstream.id, state=State.RUNNING)
    ended = platform.store.update_execution(upstream.id, state=State.SUCCESS)
    # When the trigger delivers the upstream's end
    trigger = {"id": "after_upstream", "type": "Flow", **flow_trigger_variables(ended)}
    started, _ = admit(platform.store, downstream, record.revision, trigger=trigger)
    # Then the downstream execution joins the upstream's chain
    assert started.labels[CORRELATION_ID] == "root-1"
