"""Lineage on the cloud store: `--label` (lineage.labelled) and the chain over DynamoDB."""

from __future__ import annotations

import pytest

from stratoflow.cloudsim.platform import CloudSimulation
from stratoflow.domain import Execution, TaskRun
from stratoflow.execution.lineage import CORRELATION_ID, chain_of, labelled
from stratoflow.states import State

pytestmark = pytest.mark.slow

FLOW = """id: greet
namespace: tests.lineage
tasks:
  - {id: say, type: Log, message: hi}
"""


def test_executions_are_found_by_correlation_label_and_chained(sim: CloudSimulation) -> None:
    # Given two executions started through admission, and a child recorded under the first
    sim.upload("lineage/greet.yaml", FLOW)
    first = sim.start("tests.lineage", "greet")
    second = sim.start("tests.lineage", "greet")
    for started in (first, second):
        assert started.execution_arn is not None
        sim.wait(started.execution_arn)
    child = Execution(
        id="child-1",
        namespace="tests.lineage",
        flow_id="greet",
        revision=1,
        labels={CORRELATION_ID: first.execution_id},
        parent_execution_id=first.execution_id,
    )
    sim.store.create_execution(child)
    sim.store.save_task_run(
        TaskRun(
            id="call",
            execution_id=first.execution_id,
            task_id="call",
            task_type="Subflow",
            state=State.SUCCESS,
            outputs={"executionId": "child-1"},
        )
    )
    # When the history is searched by the first one's correlation id
    found = labelled(sim.store, {CORRELATION_ID: first.execution_id}, limit=20, namespace="tests.lineage")
    # Then the first and its child are found, not the second
    assert sorted(e.id for e in found) == sorted([first.execution_id, "child-1"])
    # And the child's chain names its root and parent; the root's names its child
    recorded = sim.store.get_execution("child-1")
    chain = chain_of(sim.store, recorded)
    assert chain.root is not None and chain.root.id == first.execution_id
    assert chain.parent is not None and chain.parent.id == first.execution_id
    root = sim.store.get_execution(first.execution_id)
    assert [c.id for c in chain_of(sim.store, root).children] == ["child-1"]
