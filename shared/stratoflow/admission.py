"""Admission: the one path every execution start takes (CLI, triggers, webhooks, subflows).

Inputs are typed and validated, the execution is recorded before anything runs, and a start that
names its execution id (a trigger event's deterministic id) is started once however often it is
delivered.
"""

from __future__ import annotations

import secrets
import string
from typing import Any

from stratoflow.domain import Execution
from stratoflow.errors import ConflictError, StratoflowError
from stratoflow.states import State

_ALPHABET = string.ascii_letters + string.digits


def new_execution_id() -> str:
    """A random 22-character base62 id, as Kestra's (and valid as a Step Functions execution name)."""
    return "".join(secrets.choice(_ALPHABET) for _ in range(22))


class FlowDisabledError(StratoflowError):
    """The flow is disabled: nothing may start it."""


def admit(
    store: Any,
    flow: Any,
    revision: int,
    inputs: dict[str, Any] | None = None,
    *,
    labels: dict[str, str] | None = None,
    trigger: dict[str, Any] | None = None,
    execution_id: str | None = None,
    parent_execution_id: str | None = None,
) -> tuple[Execution, bool]:
    """Validate and record a new execution (CREATED); returns it and whether it is new.

    Raises InputError before anything is recorded when an input is missing or invalid.
    """
    from stratoflow.flow import resolve_inputs

    if flow.disabled:
        raise FlowDisabledError(f"flow {flow.namespace}.{flow.id} is disabled: it cannot be started")
    resolved = resolve_inputs(flow, dict(inputs or {}))
    execution = Execution(
        id=execution_id or new_execution_id(),
        namespace=flow.namespace,
        flow_id=flow.id,
        revision=revision,
        state=State.CREATED,
        inputs=resolved,
        labels={**flow.labels, **(labels or {})},
        trigger=trigger,
        parent_execution_id=parent_execution_id,
    )
    try:
        store.create_execution(execution)
    except ConflictError:
        existing = store.get_execution(execution.id)
        if existing is None:
            raise
        return existing, False
    return execution, True


def execution_input(execution: Execution) -> dict[str, Any]:
    """The state machine input of an execution: a reference, never data."""
    return {
        "execution": {
            "id": execution.id,
            "namespace": execution.namespace,
            "flowId": execution.flow_id,
            "revision": execution.revision,
        },
        "scope": None,
    }
