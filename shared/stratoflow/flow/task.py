"""What every task is: common properties, runnable and flowable kinds, and how a `type:` in YAML
becomes the right model through the registry."""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Annotated, Any, ClassVar, Literal

from pydantic import BeforeValidator, Field, SerializeAsAny, ValidationInfo, WithJsonSchema
from pydantic_core import PydanticCustomError

from stratoflow.flow import registry
from stratoflow.flow.fields import Duration, StrictModel, TaskId, describe, located_error, property_names
from stratoflow.flow.retry import Retry

if TYPE_CHECKING:
    from stratoflow.flow.run_context import RunContext

LogLevel = Literal["TRACE", "DEBUG", "INFO", "WARN", "ERROR"]

# Stands for "any registered task" in the JSON Schema; `flow_json_schema` swaps it for a `$ref`.
TASK_SCHEMA_PLACEHOLDER: dict[str, Any] = {"x-stratoflow-ref": "Task"}


class Task(StrictModel):
    """Properties every task has. Subclasses set `type_name` and `aliases` and are registered."""

    type_name: ClassVar[str] = ""
    aliases: ClassVar[tuple[str, ...]] = ()
    # Properties whose expressions read another execution's task outputs (a Subflow's `outputs` read
    # the child's): `outputs.<id>` there names no task of this flow, so validation does not check it.
    foreign_outputs: ClassVar[tuple[str, ...]] = ()
    # How the compiler turns the task into states: the key of its lowering in the compiler's one
    # table (`stratoflow.compiler.lowering.LOWERERS`). A runnable task is one task-runner call; a
    # flowable or native task names its own. A test checks that every registered type has one.
    compiled_as: ClassVar[str] = ""

    id: TaskId
    type: str
    description: str | None = None
    retry: Retry | None = None
    timeout: Duration | None = None
    disabled: bool = False
    allow_failure: bool = False
    # Kestra's `allowWarning`: a task run that would end WARNING (a retried attempt with
    # `warningOnRetry`, a flowable whose children warned) ends SUCCESS instead.
    allow_warning: bool = False
    run_if: str | bool | None = None
    log_level: LogLevel | None = None


class RunnableTask(Task):
    """A task that does work in the task runner and returns its outputs."""

    compiled_as: ClassVar[str] = "runnable"
    # True for tasks that stop themselves at `timeout` (scripts kill their process tree); the runner
    # then lets them, instead of abandoning the attempt at the deadline.
    enforces_timeout: ClassVar[bool] = False

    @abstractmethod
    def run(self, ctx: RunContext) -> dict[str, Any]:
        """Do the work; render properties with `ctx.render`; return the task's outputs."""


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


_active_defaults: ContextVar[tuple[DefaultValues, ...]] = ContextVar("stratoflow_plugin_defaults", default=())


@contextmanager
def plugin_defaults(defaults: Sequence[DefaultValues]) -> Iterator[None]:
    """Apply `defaults` to every task validated inside the block (the Flow model sets this)."""
    token = _active_defaults.set(tuple(defaults))
    try:
        yield
    finally:
        _active_defaults.reset(token)


def _deep_merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _deep_merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def _with_defaults(cls: type[Task], data: dict[str, Any]) -> dict[str, Any]:
    for default in _active_defaults.get():
        if not default.applies_to(cls):
            continue
        # Unknown properties are reported on the pluginDefaults entry, not on every task; and a
        # package-wide default may name properties only some of its types have.
        known = set(property_names(cls)) - {"id", "type"}
        values = {k: v for k, v in default.values.items() if k in known}
        data = _deep_merge(data, values) if default.forced else _deep_merge(values, data)
    return data


# --- dispatch by `type` --------------------------------------------------------------------------


def validate_task(value: Any, info: ValidationInfo) -> Any:
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
    data = {**_with_defaults(cls, value), "type": cls.type_name}
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
