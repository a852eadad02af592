"""The secret values of an execution, masked by every writer of every task run.

An execution's secrets are its SECRET inputs and every value `secret()` returned in any of its task
runs, and those of the executions that started it (a subflow is given its parent's values as inputs).
The record keeps the SECRET inputs' ids and the secrets' names, never a second copy of a value: each
task run resolves the names again (the secret source caches them) and masks the values in its logs,
outputs, labels and errors before they are stored, so every later reader (history, events, alerts,
the EventBridge detail) sees only `******`.

A value transformed before it is written (`| base64encode`, a substring, upper-cased) is no longer
the secret's text and cannot be recognised: like Kestra, masking is by exact value.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, overload

from pydantic import JsonValue

from stratoflow.domain import Execution
from stratoflow.errors import StratoflowError
from stratoflow.execution.secrets import SecretSource
from stratoflow.store.base import ExecutionStore

if TYPE_CHECKING:  # types only: the history commands mask without loading the flow language
    from stratoflow.flow import Flow

MASK = "******"
_MAX_ANCESTORS = 20


def secret_input_ids(
    flow: Flow, inputs: Mapping[str, JsonValue], known: Iterable[str] = ()
) -> list[str] | None:
    """Ids of the flow's SECRET inputs, and of inputs whose value holds one of the `known` values (a
    parent's secret passed to a subflow); None when there are none."""
    ids = {i.id for i in (flow.inputs or []) if type(i).type_name == "SECRET" and i.id in inputs}
    values = [v for v in known if v]
    ids |= {
        key for key, value in inputs.items() if isinstance(value, str) and any(v in value for v in values)
    }
    return sorted(ids) or None


def execution_secrets(store: ExecutionStore, execution: Execution, source: SecretSource) -> set[str]:
    """Every secret value of the execution and of the executions that started it (with a misconfigured
    backend, only the SECRET inputs)."""
    values: set[str] = set()
    current: Execution | None = execution
    for _ in range(_MAX_ANCESTORS):
        if current is None:
            break
        values.update(str(current.inputs[i]) for i in current.secret_inputs or [] if i in current.inputs)
        for name in current.secret_names or []:
            try:
                values.add(source.get(current.namespace, name))
            except StratoflowError:  # deleted since: there is nothing left to hide
                continue
        parent = current.parent_execution_id
        current = store.get_execution(parent) if parent else None
    return {value for value in values if value}


def mask_text(text: str, secrets: Iterable[str]) -> str:
    # Longest first: a secret that contains another is hidden whole.
    for secret in sorted((s for s in secrets if s), key=len, reverse=True):
        text = text.replace(secret, MASK)
    return text


@overload
def mask_value(value: dict[str, JsonValue], secrets: set[str]) -> dict[str, JsonValue]: ...


@overload
def mask_value(value: JsonValue, secrets: set[str]) -> JsonValue: ...


def mask_value(value: JsonValue, secrets: set[str]) -> JsonValue:
    """`mask_text` applied to every string inside a value (maps and lists, keys included)."""
    if not secrets:
        return value
    if isinstance(value, str):
        return mask_text(value, secrets)
    if isinstance(value, dict):
        # A key is text in JSON; a map read from YAML may still have a number for one (left as it is).
        return {
            (mask_text(k, secrets) if isinstance(k, str) else k): mask_value(v, secrets)
            for k, v in value.items()
        }
    if isinstance(value, list | tuple):
        return [mask_value(item, secrets) for item in value]
    return value


def shown_inputs(execution: Execution) -> dict[str, JsonValue]:
    """The inputs as every view shows them: SECRET ones masked."""
    hidden = set(execution.secret_inputs or [])
    return {key: MASK if key in hidden else value for key, value in execution.inputs.items()}


def public_document(execution: Execution) -> dict[str, JsonValue]:
    """The execution's JSON document for readers of the history (`show --json`, APIs)."""
    document = execution.to_json_dict()
    document["inputs"] = shown_inputs(execution)
    return document
