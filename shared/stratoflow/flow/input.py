"""The common model of every flow input, and the decorator that registers each input type's class
(`stratoflow.flow.typed_inputs` holds one per type; `stratoflow.flow.inputs` dispatches on `type`)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar, TypeVar

from pydantic import AliasChoices, Field, JsonValue, model_validator

from stratoflow.errors import InputError
from stratoflow.flow import coercion as c
from stratoflow.flow.fields import InputId, StrictModel, located_error

# Input classes by type name, filled by `@input_type` as `stratoflow.flow.typed_inputs` is imported
# (module-global for the reason the task-type registry is: registration is import, and imports are
# process-wide); never written otherwise. Read it through `stratoflow.flow.inputs.input_types()`.
INPUT_TYPES: dict[str, type[Input]] = {}

_InputClass = TypeVar("_InputClass", bound="type[Input]")


def input_type(cls: _InputClass) -> _InputClass:
    """Class decorator: make an input class resolvable by its `type_name` and aliases."""
    for name in (cls.type_name, *cls.aliases):
        INPUT_TYPES[name] = cls
    return cls


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

    def convert(self, raw: object) -> JsonValue:
        """Coerce a non-null value; raises ValueError naming the rule broken."""
        raise NotImplementedError

    def coerce(self, raw: object) -> JsonValue:
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

    def initial(self, given: Mapping[str, object]) -> object:
        """What the caller gave, else the prefill, else the defaults; a cleared prefill is null."""
        raw = given.get(self.id)
        if self.prefill is not None:
            return self.prefill if self.id not in given else (None if raw in ("", None) else raw)
        return self.defaults if raw is None else raw
