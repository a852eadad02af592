"""A run Step Functions timed out (a MAX_DURATION SLA that FAILs or CANCELs) stops its subflows, as
an abort does: nothing of the chain keeps running past the parent's deadline."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from stratoflow.cloud.runtime.event_models import StatusChange
from stratoflow.cloud.runtime.events import ExecutionEvents
from stratoflow.domain import Execution, TaskRun
from stratoflow.states import State
from stratoflow.store import open_local_store

ACCOUNT_ARN = "arn:aws:states:us-east-1:123456789012"


class FakeStepFunctions:
    def __init__(self) -> None:
        self.stopped: list[dict[str, Any]] = []

    def stop_execution(self, **call: Any) -> None:
        self.stopped.append(call)


class FakeEvents:
    def put_events(self, Entries: list[Any]) -> dict[str, Any]:
        return {"FailedEntryCount": 0, "Entries": [{}]}


@pytest.mark.parametrize(("status", "stops"), [("TIMED_OUT", True), ("ABORTED", True), ("FAILED", False)])
def test_a_timed_out_parent_stops_its_running_children(tmp_path: Path, status: str, stops: bool) -> None:
    # Given a running parent whose Subflow task started a child that still runs
    store, _ = open_local_store(tmp_path)
    for execution_id in ("parent", "child"):
        store.create_execution(
            Execution(id=execution_id, namespace="n", flow_id=execution_id, revision=1, state=State.RUNNING)
        )
    store.save_task_run(
        TaskRun(
            id="call",
            execution_id="parent",
            task_id="call",
            task_type="Subflow",
            outputs={"executionId": "child"},
        )
    )
    stepfunctions = FakeStepFunctions()
    events = ExecutionEvents(store, FakeEvents(), stepfunctions=stepfunctions, stack_name="S")
    # When Step Functions reports the parent's end
    change = StatusChange.model_validate(
        {
            "executionArn": f"{ACCOUNT_ARN}:execution:S-n-parent:parent",
            "stateMachineArn": f"{ACCOUNT_ARN}:stateMachine:S-n-parent",
            "name": "parent",
            "status": status,
        }
    )
    events.handle(change)
    # Then a timeout stops the child as an abort does; a failure leaves it to its own end
    assert [call["executionArn"].rsplit(":", 1)[1] for call in stepfunctions.stopped] == (
        ["child"] if stops else []
    )
    store.close()
