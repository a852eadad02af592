"""Typed flow inputs: dispatch on `type` (the common model is `stratoflow.flow.input.Input`, one class
per type lives in `typed_inputs`), and `resolve_inputs`, which turns what a caller gave into the
execution's inputs."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any, Protocol

from pydantic import (
    BeforeValidator,
    JsonValue,
    SerializeAsAny,
    WithJsonSchema,
)

from stratoflow import expressions
from stratoflow.errors import InputError
from stratoflow.flow import coercion as c
from stratoflow.flow.fields import TypesImportedOnUse, hint
from stratoflow.flow.input import INPUT_TYPES, Input

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

INPUT_SCHEMA_PLACEHOLDER: dict[str, Any] = {"x-stratoflow-ref": "Input"}


# The module that defines and registers one class per input type, imported by name on the first lookup
# as the task registry imports task modules (`flow.registry`): loading a flow without inputs (every
# task run of the task-runner Lambda loads its flow) never defines the seventeen input classes or
# loads re2 for their patterns.
TYPED_INPUTS_MODULE = "stratoflow.flow.typed_inputs"
# Input classes by type name (Kestra's legacy names included).
input_types = TypesImportedOnUse(TYPED_INPUTS_MODULE, INPUT_TYPES)


def _validate_input(value: Any) -> Any:
    """Pick the input class from `type` (Kestra's legacy names included)."""
    return input_types.validate(value, Input, "input")


InputItem = Annotated[
    SerializeAsAny[Input], BeforeValidator(_validate_input), WithJsonSchema(INPUT_SCHEMA_PLACEHOLDER)
]


class _HasInputs(Protocol):
    @property
    def inputs(self) -> Sequence[Input]: ...


def resolve_inputs(flow: _HasInputs, given: Mapping[str, object]) -> dict[str, JsonValue]:
    """The execution's inputs: given values coerced, defaults applied, every problem collected.

    A default that is an expression is returned unrendered; the caller renders it. An optional input
    without a value is present as None, so `{{ inputs.x ?? 'fallback' }}` works.
    """
    known = {item.id: item for item in flow.inputs}
    problems: list[tuple[str, str]] = []
    values: dict[str, JsonValue] = {}
    for item in flow.inputs:
        if not _shown(item, values):
            values[item.id] = None
            continue
        raw = item.initial(given)
        if raw is not None and c.is_template(raw) and item.id not in given:
            values[item.id] = raw
            continue
        if raw is None and item.required:
            problems.append((item.id, "is required and has no default"))
            continue
        try:
            values[item.id] = item.coerce(raw)
        except InputError as err:
            problems.append((item.id, str(err).removeprefix(f"input '{item.id}': ")))
    for name in given:
        if name not in known:
            problems.append((name, f"unknown input{hint(name, known)}"))
    if problems:
        (first, message), rest = problems[0], problems[1:]
        raise InputError(first, message + "".join(f"; input '{i}': {m}" for i, m in rest))
    return values


def _shown(item: Input, earlier: dict[str, JsonValue]) -> bool:
    """Whether `dependsOn.condition` holds, rendered over the inputs resolved so far."""
    if item.depends_on is None or item.depends_on.condition is None:
        return True

    try:
        return expressions.is_truthy(expressions.render(item.depends_on.condition, {"inputs": earlier}))
    except expressions.ExpressionError as err:
        raise InputError(item.id, f"dependsOn.condition could not be evaluated: {err}") from None
