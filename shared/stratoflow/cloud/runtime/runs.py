"""The Step Functions executions ("runs") of one Stratoflow execution: the first one and its restarts.

An execution first runs under its own id as the Step Functions execution name. A restart (`strato
restart`, a flow's `retry` with RETRY_FAILED_TASK) cannot redrive it: compiled flows catch every task
failure and end in a Fail state, so a redrive would re-run only that Fail state. It starts the same
state machine version again under `<id>_r<n>` instead (names are unique per state machine for 90
days), with the same input, so the task runner finds the same task-run records and keeps what
succeeded. The input names the execution, which is how a status change finds it back whatever the
name; a change of an earlier run (a late event) is recognised as such and ignored.
"""

from __future__ import annotations

import json
from typing import Any

from stratoflow.cloud.config.naming import AccountRegion, state_machine_name
from stratoflow.execution.runs import run_name


def run_arn(account: AccountRegion, stack_name: str, execution: Any) -> str:
    """The ARN of the execution's current run on its flow's state machine."""
    machine = state_machine_name(stack_name, execution.namespace, execution.flow_id)
    return account.execution_arn(machine, run_name(execution.id, execution.restarts))


def execution_id_of(name: str, raw_input: str | None) -> str:
    """The Stratoflow execution a run belongs to: the id its input names, else the run's name."""
    if raw_input:
        try:
            document = json.loads(raw_input)
        except (TypeError, ValueError):
            document = None
        reference = document.get("execution") if isinstance(document, dict) else None
        if isinstance(reference, dict) and isinstance(reference.get("id"), str):
            return str(reference["id"])
    return name
