"""The common model of every trigger, and the table of trigger types by name.

`stratoflow.flow.triggers` defines one class per type; it is imported by name on the first lookup of a
type (`trigger_types()`), as the task registry imports task modules (`flow.registry`): loading a flow
without triggers, which is what a task run of the task-runner Lambda does, never defines the trigger
classes and their schedule conditions.
"""

from __future__ import annotations

from typing import Annotated, Any, ClassVar, TypeVar

from pydantic import BeforeValidator, Field, SerializeAsAny, WithJsonSchema, field_validator

from stratoflow.flow.fields import (
    LabelMap,
    StrictModel,
    TaskId,
    TypesImportedOnUse,
)
from stratoflow.states import State

TRIGGER_SCHEMA_PLACEHOLDER: dict[str, Any] = {"x-stratoflow-ref": "Trigger"}
# Filled by `@trigger_type` as `stratoflow.flow.triggers` is imported (module-global for the reason the
# task-type registry is: registration is import, and imports are process-wide), and never written
# after. Read it through `trigger_types()`.
TRIGGER_TYPES: dict[str, type[Trigger]] = {}
TRIGGER_TYPES_MODULE = "stratoflow.flow.triggers"
# Trigger classes by type name (Kestra's full names included).
trigger_types = TypesImportedOnUse(TRIGGER_TYPES_MODULE, TRIGGER_TYPES)

_TriggerClass = TypeVar("_TriggerClass", bound="type[Trigger]")


def trigger_type(cls: _TriggerClass) -> _TriggerClass:
    for name in (cls.type_name, *cls.aliases):
        TRIGGER_TYPES[name] = cls
    return cls


class Trigger(StrictModel):
    """Properties every trigger has."""

    type_name: ClassVar[str] = ""
    aliases: ClassVar[tuple[str, ...]] = ()

    id: TaskId
    type: str
    description: str | None = None
    disabled: bool = False
    inputs: dict[str, Any] = Field(default_factory=dict)
    labels: LabelMap = Field(default_factory=dict)
    conditions: list[dict[str, Any]] = Field(default_factory=list)
    stop_after: list[State] = Field(default_factory=list)

    # Trigger types that read `conditions` (Flow and Schedule); any other refuses them, never ignores.
    reads_conditions: ClassVar[bool] = False
    # Kestra's connection settings a type accepts and the cloud does not use (validate warns on them):
    # the SQS trigger's, whose pipe reads the queue with the stack's pipes role.
    unused_credentials: ClassVar[tuple[str, ...]] = ()

    @field_validator("conditions")
    @classmethod
    def _read_or_refused(cls, conditions: list[Any]) -> list[Any]:
        if conditions and not cls.reads_conditions:
            raise ValueError(f"a {cls.type_name} trigger has no conditions: they would never be checked")
        return conditions


def _validate_trigger(value: Any) -> Any:
    return trigger_types.validate(value, Trigger, "trigger")


TriggerItem = Annotated[
    SerializeAsAny[Trigger], BeforeValidator(_validate_trigger), WithJsonSchema(TRIGGER_SCHEMA_PLACEHOLDER)
]
