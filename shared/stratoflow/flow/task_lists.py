"""Task lists: how each item of a `tasks:` list becomes the model its `type:` names (through the
registry, with the flow's plugin defaults merged in), and the flowable kind of task, which arranges
such lists."""

from __future__ import annotations

from abc import abstractmethod
from dataclasses import dataclass, field
from typing import Annotated, Any

from pydantic import BeforeValidator, Field, SerializeAsAny, ValidationInfo, WithJsonSchema
from pydantic_core import PydanticCustomError

from stratoflow.flow import registry
from stratoflow.flow.fields import describe, located_error, property_names
from stratoflow.flow.task import Task

# Stands for "any registered task" in the JSON Schema; `flow_json_schema` swaps it for a `$ref`.
TASK_SCHEMA_PLACEHOLDER: dict[str, Any] = {"x-stratoflow-ref": "Task"}


# --- plugin defaults -----------------------------------------------------------------------------


@dataclass(frozen=True)
class DefaultValues:
    """One `pluginDefaults` entry, ready to apply: `task_type` is what the user wrote."""

    task_type: str
    values: dict[str, Any] = field(default_factory=dict)
    forced: bool = False

    def applies_to(self, cls: type[Task]) -> bool:
        """Same type (canonical name or alias), or a package prefix such as `io.kestra.plugin.core.log`."""
        names = (cls.type_name, *cls.aliases)
        return self.task_type in names or any(name.startswith(self.task_type + ".") for name in names)


@dataclass(frozen=True)
class NamespaceDefaults:
    """The plugin defaults one namespace sets, as its flows and its child namespaces' flows get them
    (`flow.namespace_defaults`)."""

    namespace: str
    entries: tuple[DefaultValues, ...]

    @property
    def source(self) -> str:
        """Where a problem they cause comes from, in the user's words."""
        return f"the plugin defaults of namespace '{self.namespace}' (`strato namespaces defaults`)"


@dataclass(frozen=True)
class TaskValidation:
    """What validating a task needs besides its own data: pydantic's validation context
    (`model_validate(data, context=TaskValidation(...))`), which reaches every nested task.
    `Flow.model_validate` passes the flow's plugin defaults this way."""

    plugin_defaults: tuple[DefaultValues, ...] = ()


def plugin_defaults_of(context: object) -> tuple[DefaultValues, ...]:
    """The plugin defaults a validation context carries (none for any other context)."""
    return context.plugin_defaults if isinstance(context, TaskValidation) else ()


def _deep_merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _deep_merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def _with_defaults(
    cls: type[Task], data: dict[str, Any], defaults: tuple[DefaultValues, ...]
) -> dict[str, Any]:
    for default in defaults:
        if not default.applies_to(cls):
            continue
        # Unknown properties are reported on the pluginDefaults entry, not on every task; and a
        # package-wide default may name properties only some of its types have.
        known = set(property_names(cls)) - {"id", "type"}
        values = {k: v for k, v in default.values.items() if k in known}
        data = _deep_merge(data, values) if default.forced else _deep_merge(values, data)
    return data


# --- dispatch by `type` --------------------------------------------------------------------------


def validate_task(value: object, info: ValidationInfo) -> Task:
    """Resolve `type` through the registry and validate with that class, so new task types need no
    change here. Errors are placed on the task's own keys."""
    if isinstance(value, Task):
        return value
    if not isinstance(value, dict):
        raise PydanticCustomError(
            "task",
            "a task must be a mapping with at least 'id' and 'type', got {kind}",
            {"kind": describe(value)},
        )
    name = value.get("type")
    if name is None:
        raise located_error(("type",), "missing required property 'type'", value, "missing")
    if not isinstance(name, str):
        raise located_error(("type",), f"a task type must be text, got {describe(name)}", name)
    cls = registry.resolve(name)
    if cls is None:
        suggestion = registry.suggest(name)
        message = f"unknown task type '{name}'" + (f" (did you mean {suggestion}?)" if suggestion else "")
        raise located_error(("type",), message, name, "unknown_task")
    # A copy: the caller's data is left as written.
    data = {**_with_defaults(cls, value, plugin_defaults_of(info.context)), "type": cls.type_name}
    return cls.model_validate(data, context=info.context)


TaskItem = Annotated[
    SerializeAsAny[Task], BeforeValidator(validate_task), WithJsonSchema(TASK_SCHEMA_PLACEHOLDER)
]
TaskList = list[TaskItem]
NonEmptyTaskList = Annotated[list[TaskItem], Field(min_length=1)]


class FlowableTask(Task):
    """A task that only arranges other tasks; the compiler turns it into states.

    Every flowable has Kestra's `errors`: tasks run when its body fails, before the failure goes on
    to the enclosing scope (the flowable still fails)."""

    errors: TaskList = Field(default_factory=list)

    @abstractmethod
    def body_lists(self) -> list[tuple[str, list[Task]]]:
        """(YAML property, tasks) for each list of child tasks it arranges, in YAML order."""

    def child_lists(self) -> list[tuple[str, list[Task]]]:
        """Every list of child tasks: the body's, then `errors`."""
        return [*self.body_lists(), ("errors", self.errors)]
