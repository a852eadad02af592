"""ForEachItem compiles to a distributed Map that reads the lines from storage (ItemReader JSONL),
batches them (ItemBatcher) and starts one subflow execution per batch; nothing gathers in the parent."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from stratoflow.cloud.deploy.limits import DeployNames, measure
from stratoflow.compiler import compile_flow
from stratoflow.errors import FlowValidationError
from stratoflow.flow import load_flow

ROOT = Path(__file__).resolve().parents[3]
EXAMPLE = (ROOT / "examples" / "for_each_item.yaml").read_text()


def batches_map(source: str) -> dict[str, Any]:
    definition = compile_flow(load_flow(source, "for_each_item.yaml")).definition
    state: dict[str, Any] = definition["States"]["each.batches"]
    return state


def test_the_lines_are_read_from_storage_and_batched_by_the_start_calls_size() -> None:
    # When the example compiles
    state = batches_map(EXAMPLE)

    # Then a distributed Map reads JSON Lines, batches them by the size the start call gives, and
    # writes its children's results to storage instead of gathering them
    assert state["ItemProcessor"]["ProcessorConfig"] == {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"}
    assert state["ItemReader"]["ReaderConfig"] == {"InputType": "JSONL"}
    assert state["ItemBatcher"]["MaxItemsPerBatchPath"] == "$.eval.result.batchSize"
    assert state["ResultWriter"] == {
        "Resource": "arn:aws:states:::s3:putObject",
        # under the flow's namespace: a flow role may write and read only its own namespace's results
        "Parameters": {"Bucket": "${DataBucketName}", "Prefix": "map-results/examples"},
    }
    assert state["ResultPath"] is None
    assert "ToleratedFailurePercentage" not in state  # transmitFailed: one failed batch fails the Map


@pytest.mark.parametrize(
    ("change", "resource", "tolerated"),
    [
        ("", "arn:aws:states:::states:startExecution.sync:2", None),
        ("    transmitFailed: true\n", "arn:aws:states:::states:startExecution.sync:2", None),
        ("    transmitFailed: false\n", "arn:aws:states:::states:startExecution.sync:2", 100),
        ("    wait: false\n", "arn:aws:states:::states:startExecution", 100),
    ],
)
def test_wait_and_transmit_failed_choose_the_integration_and_the_tolerance(
    change: str, resource: str, tolerated: int | None
) -> None:
    # Given the example with its wait and transmitFailed changed
    source = EXAMPLE.replace("    wait: true\n    transmitFailed: true\n", change)

    # When it compiles
    state = batches_map(source)

    # Then each batch starts the subflow waiting for it (or not), and failures are tolerated when
    # they must not fail the task
    execution = state["ItemProcessor"]["States"]["each.batch.execution"]
    assert execution["Resource"] == resource
    assert execution["Parameters"]["StateMachineArn"] == "${StateMachine.examples.for_each_item_batch}"
    assert state.get("ToleratedFailurePercentage") == tolerated


def test_a_timeout_is_refused_where_it_is_written() -> None:
    # Given a timeout on the task (stopping every batch's execution at a deadline is not built yet)
    source = EXAMPLE.replace("    wait: true\n", "    wait: true\n    timeout: PT1H\n")

    # Then the flow is refused at the property, not run without it
    with pytest.raises(
        FlowValidationError, match=r"for_each_item.yaml:\d+:5: tasks\[1\].timeout: timeout is not"
    ):
        load_flow(source, "for_each_item.yaml")


def test_the_deployer_names_the_subflows_state_machine() -> None:
    # When the flow is measured for a stack
    measured = measure(load_flow(EXAMPLE, "for_each_item.yaml"), DeployNames.example(), "for_each_item.yaml")

    # Then the child's state machine ARN replaced its placeholder
    assert measured.problems == []
    assert measured.definition is not None
    assert ":stateMachine:" in str(measured.definition) and "${StateMachine." not in str(measured.definition)
