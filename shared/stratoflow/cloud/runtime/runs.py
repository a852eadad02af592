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

import hashlib
import json
from typing import Any

from stratoflow.cloud.config.naming import AccountRegion, state_machine_name

MAX_NAME = 80


def run_name(execution_id: str, restarts: int = 0) -> str:
    """The Step Functions name of an execution's current run: its id, then `<id>_r<n>` per restart."""
    if restarts <= 0:
        return execution_id
    suffix = f"_r{restarts}"
    if len(execution_id) + len(suffix) <= MAX_NAME:
        return f"{execution_id}{suffix}"
    # An id of 80 characters (a caller-chosen one) has no room: keep a hashed prefix, still unique.
    digest = hashlib.sha256(execution_id.encode()).hexdigest()[:8]
    return f"{execution_id[: MAX_NAME - len(suffix) - 9]}-{digest}{suffix}"


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
