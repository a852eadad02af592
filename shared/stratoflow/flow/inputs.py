"""Typed flow inputs: the common model, dispatch on `type`, and `resolve_inputs`, which turns what a
caller gave into the execution's inputs. One class per type lives in `input_types`."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any, ClassVar, Protocol, TypeVar

from pydantic import (
    AliasChoices,
    BeforeValidator,
    Field,
    SerializeAsAny,
    WithJsonSchema,
    model_validator,
)
from pydantic_core import PydanticCustomError

from stratoflow.errors import InputError
from stratoflow.flow import coercion as c
from stratoflow.flow.fields import InputId, StrictModel, describe, hint, located_error

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

INPUT_SCHEMA_PLACEHOLDER: dict[str, Any] = {"x-stratoflow-ref": "Input"}
# Filled by `@input_type` as `stratoflow.flow.input_types` is imported (module-global for the reason
# the task-type registry is: registration is import, and imports are process-wide); never written else.
_INPUT_TYPES: dict[str, type[Input]] = {}

_InputClass = TypeVar("_InputClass", bound="type[Input]")


def input_type(cls: _InputClass) -> _InputClass:
    """Class decorator: make an input class resolvable by its `type_name` and aliases."""
    for name in (cls.type_name, *cls.aliases):
        _INPUT_TYPES[name] = cls
    return cls


def input_types() -> dict[str, type[Input]]:
    """Input classes by type name (Kestra's legacy names included)."""
    if not _INPUT_TYPES:
        # Imported on first use: 16 model classes are not worth building for `import stratoflow.flow`.
        import stratoflow.flow.input_types  # noqa: F401
    return _INPUT_TYPES


class DependsOn(StrictModel):
    """Kestra's conditional input: it is asked for only when `condition` (an expression over the
    earlier inputs it names) is truthy; otherwise its value is null and it is not required."""

    inputs: list[InputId] = Field(default_factory=list)
    condition: str | None = None


class Input(StrictModel):
    """Common properties of every input; `coerce` turns a given value into the execution's value."""

    type_name: ClassVar[str] = ""
    aliases: ClassVar[tuple[str, ...]] = ()

    # `name` is what Kestra called the id before 0.15.
    id: InputId = Field(validation_alias=AliasChoices("id", "name"))
    type: str
    description: str | None = None
    display_name: str | None = None
    required: bool = True
    defaults: Any = None
    # Kestra 1.1's editable default: the value when none is given; unlike `defaults`, a caller can
    # clear it (an empty value gives null), so it suits optional inputs.
    prefill: Any = None
    depends_on: DependsOn | None = None

    def convert(self, raw: Any) -> Any:
        """Coerce a non-null value; raises ValueError naming the rule broken."""
        raise NotImplementedError

    def coerce(self, raw: Any) -> Any:
        """The JSON-friendly value of this input for `raw` (CLI text or a native value)."""
        if raw is None:
            if self.required:
                raise InputError(self.id, "a value is required")
            return None
        try:
            return self.convert(raw)
        except ValueError as err:
            raise InputError(self.id, str(err)) from None

    @model_validator(mode="after")
    def _check_defaults(self) -> Input:
        if self.prefill is not None and self.defaults is not None:
            raise located_error(("prefill",), "'prefill' and 'defaults' cannot both be set", self.prefill)
        for key, value in (("defaults", self.defaults), ("prefill", self.prefill)):
            if value is not None and not c.is_template(value):
                try:
                    self.convert(value)
                except ValueError as err:
                    raise located_error((key,), f"invalid {key.removesuffix('s')}: {err}", value) from None
        return self

    def initial(self, given: Mapping[str, Any]) -> Any:
        """What the caller gave, else the prefill, else the defaults; a cleared prefill is null."""
        raw = given.get(self.id)
        if self.prefill is not None:
            return self.prefill if self.id not in given else (None if raw in ("", None) else raw)
        return self.defaults if raw is None else raw


def _validate_input(value: Any) -> Any:
    """Pick the input class from `type` (Kestra's legacy names included)."""
    if isinstance(value, Input):
        return value
    if not isinstance(value, dict):
        raise PydanticCustomError(
            "input", "an input must be a mapping with 'id' and 'type', got {kind}", {"kind": describe(value)}
        )
    name = value.get("type")
    if name is None:
        raise located_error(("type",), "missing required property 'type'", value, "missing")
    cls = input_types().get(name) if isinstance(name, str) else None
    if cls is None:
        shown = name if isinstance(name, str) else describe(name)
        raise located_error(
            ("type",), f"unknown input type '{shown}'{hint(str(name), input_types())}", name, "unknown_input"
        )
    return cls.model_validate({**value, "type": cls.type_name})


InputItem = Annotated[
    SerializeAsAny[Input], BeforeValidator(_validate_input), WithJsonSchema(INPUT_SCHEMA_PLACEHOLDER)
]


class _HasInputs(Protocol):
    @property
    def inputs(self) -> Sequence[Input]: ...


def resolve_inputs(flow: _HasInputs, given: Mapping[str, Any]) -> dict[str, Any]:
    """The execution's inputs: given values coerced, defaults applied, every problem collected.

    A default that is an expression is returned unrendered; the caller renders it. An optional input
    without a value is present as None, so `{{ inputs.x ?? 'fallback' }}` works.
    """
    known = {item.id: item for item in flow.inputs}
    problems: list[tuple[str, str]] = []
    values: dict[str, Any] = {}
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


def _shown(item: Input, earlier: dict[str, Any]) -> bool:
    """Whether `dependsOn.condition` holds, rendered over the inputs resolved so far."""
    if item.depends_on is None or item.depends_on.condition is None:
        return True
    # Deferred: the expression engine is only needed by flows with conditional inputs.
    from stratoflow.expressions import ExpressionError, is_truthy, render

    try:
        return is_truthy(render(item.depends_on.condition, {"inputs": earlier}))
    except ExpressionError as err:
        raise InputError(item.id, f"dependsOn.condition could not be evaluated: {err}") from None
