"""The `Flow` model: a flow file's top level, and how to walk its tasks."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Literal, Self, cast

from pydantic import (
    Field,
    JsonValue,
    PrivateAttr,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic.config import ExtraValues
from pydantic_core import PydanticCustomError

from stratoflow.errors import Diagnostic, InputError
from stratoflow.flow import coercion as c
from stratoflow.flow import registry
from stratoflow.flow.fields import (
    FlowId,
    InputId,
    LabelMap,
    Namespace,
    StrictModel,
    hint,
    located_error,
    property_names,
)
from stratoflow.flow.input import Input
from stratoflow.flow.inputs import InputItem, input_types
from stratoflow.flow.retry import Retry
from stratoflow.flow.sla import SlaItem
from stratoflow.flow.task import Task
from stratoflow.flow.task_lists import (
    DefaultValues,
    FlowableTask,
    NamespaceDefaults,
    NonEmptyTaskList,
    TaskList,
    TaskValidation,
    plugin_defaults_of,
)
from stratoflow.flow.trigger import Trigger, TriggerItem
from stratoflow.flow.yaml_source import SourceMap


class FlowOutput(StrictModel):
    """A value the execution exposes when it ends; `value` is an expression rendered then."""

    id: InputId
    type: str
    value: Any
    description: str | None = None
    display_name: str | None = None
    required: bool = True
    item_type: str | None = None  # ARRAY: each item converted as this type (else kept as it is)

    def coerce(self, rendered: JsonValue) -> JsonValue:
        """The rendered `value` converted to the output's `type` (as an input of that type would be);
        raises `InputError` naming the output. An ARRAY becomes a list (a JSON array's text is parsed),
        its items converted as `itemType` when given; types that need more settings (SELECT...) are
        kept as rendered."""
        if self.type == "ARRAY" and self.item_type is None:
            try:
                if rendered is None and not self.required:
                    return None
                return cast(list[JsonValue], c.to_list(rendered))  # the items of a JSON value are JSON
            except ValueError as error:
                raise InputError(self.id, str(error)) from None
        settings = {"itemType": self.item_type} if self.type == "ARRAY" else {}
        try:
            spec = input_types()[self.type].model_validate(
                {"id": self.id, "type": self.type, "required": self.required, **settings}
            )
        except ValidationError:
            return rendered
        return spec.coerce(rendered)

    @field_validator("type")
    @classmethod
    def _known_type(cls, name: str) -> str:
        input_class = input_types().get(name)
        if input_class is None:
            raise PydanticCustomError(
                "unknown_output", f"unknown output type '{name}'{hint(name, input_types())}"
            )
        return input_class.type_name


class Concurrency(StrictModel):
    """At most `limit` running executions of the flow; what to do with one more."""

    limit: int = Field(ge=1)
    behavior: Literal["QUEUE", "CANCEL", "FAIL"] = "QUEUE"


class PluginDefault(StrictModel):
    """Default properties for every task of a type (or of a package prefix, Kestra-style)."""

    type: str
    values: dict[str, Any] = Field(default_factory=dict)
    forced: bool = False

    @model_validator(mode="after")
    def _known_target(self) -> PluginDefault:
        cls = registry.resolve(self.type)
        if cls is None:
            members = [name for name in registry.all_names() if name.startswith(self.type + ".")]
            if not members:
                suggestion = registry.suggest(self.type)
                message = f"unknown task type '{self.type}'" + (
                    f" (did you mean {suggestion}?)" if suggestion else ""
                )
                raise located_error(("type",), message, self.type, "unknown_task")
            # A package-wide default may name what only some of its types have, but not what none has.
            classes = {found for found in map(registry.resolve, members) if found is not None}
            known = {name for member in classes for name in property_names(member)}
            yaml_names = sorted(
                {name for member in classes for name in property_names(member, python_names=False)}
            )
            what = f"any task type of {self.type}"
        else:
            known = set(property_names(cls))
            yaml_names = property_names(cls, python_names=False)
            what = cls.type_name
        unknown = [key for key in self.values if key not in known]
        if unknown:
            raise ValidationError.from_exception_data(
                "PluginDefault",
                [
                    {
                        "type": PydanticCustomError(
                            "unknown_property",
                            f"unknown property '{key}' of {what}{hint(key, yaml_names)}",
                        ),
                        "loc": ("values", key),
                        "input": key,
                    }
                    for key in unknown
                ],
            )
        return self

    def as_default(self) -> DefaultValues:
        return DefaultValues(self.type, dict(self.values), self.forced)


_DEFAULTS_KEYS = ("pluginDefaults", "plugin_defaults", "taskDefaults", "task_defaults")


def raw_plugin_defaults(data: Mapping[str, object]) -> list[DefaultValues]:
    """The plugin defaults of unvalidated flow data, skipping malformed entries (reported elsewhere)."""
    entries: list[Any] = []
    for key in _DEFAULTS_KEYS:
        value = data.get(key)
        if isinstance(value, list):
            entries.extend(value)
    defaults = []
    for entry in entries:
        if isinstance(entry, dict) and isinstance(entry.get("type"), str):
            values = entry.get("values") or {}
            if isinstance(values, dict):
                defaults.append(DefaultValues(entry["type"], values, entry.get("forced") is True))
    return defaults


# Kestra 1.x (open source) runs every flow in the tenant `main`: flows read it as `flow.tenantId`.
TENANT_ID = "main"


def flow_variables(namespace: str, flow_id: str, revision: int | None) -> dict[str, str | int | None]:
    """The `flow` variable of expressions, as Kestra names it."""
    return {"id": flow_id, "namespace": namespace, "revision": revision, "tenantId": TENANT_ID}


@dataclass(frozen=True)
class FlowSource:
    """Where a loaded flow came from: its file, text and the position of every YAML path."""

    file: str
    text: str
    source_map: SourceMap
    warnings: tuple[Diagnostic, ...] = ()
    # The namespace plugin defaults it was validated with (`flow.namespace_defaults`), nearest first.
    namespace_defaults: tuple[NamespaceDefaults, ...] = ()


class Flow(StrictModel):
    """One flow file."""

    id: FlowId
    namespace: Namespace
    revision: int | None = Field(default=None, ge=1)
    description: str | None = None
    labels: LabelMap = Field(default_factory=dict)
    inputs: list[InputItem] = Field(default_factory=list)
    variables: dict[str, Any] = Field(default_factory=dict)
    tasks: NonEmptyTaskList
    errors: TaskList = Field(default_factory=list)
    finally_: TaskList = Field(default_factory=list, alias="finally")
    outputs: list[FlowOutput] = Field(default_factory=list)
    triggers: list[TriggerItem] = Field(default_factory=list)
    concurrency: Concurrency | None = None
    retry: Retry | None = None
    sla: list[SlaItem] = Field(default_factory=list)
    disabled: bool = False
    plugin_defaults: list[PluginDefault] = Field(default_factory=list)
    # Kestra's name for pluginDefaults before 0.18; merged into `plugin_defaults`.
    task_defaults: list[PluginDefault] = Field(default_factory=list, exclude=True)

    _source: FlowSource | None = PrivateAttr(default=None)
    # task id -> (task, enclosing flowables): the runner looks tasks up on every task run.
    _index: dict[str, tuple[Task, tuple[Task, ...]]] | None = PrivateAttr(default=None)

    @classmethod
    def model_validate(
        cls,
        obj: object,
        *,
        strict: bool | None = None,
        extra: ExtraValues | None = None,
        from_attributes: bool | None = None,
        context: object = None,
        by_alias: bool | None = None,
        by_name: bool | None = None,
    ) -> Self:
        """Validate flow data. Its tasks are validated with the flow's plugin defaults merged into
        them: the defaults travel to every task in the validation context (`TaskValidation`).

        The options are pydantic's own (BaseModel.model_validate); `obj` and `context` are whatever
        the caller holds, as there."""
        if context is None and isinstance(obj, dict):
            context = TaskValidation(plugin_defaults=tuple(raw_plugin_defaults(obj)))
        return super().model_validate(
            obj,
            strict=strict,
            extra=extra,
            from_attributes=from_attributes,
            context=context,
            by_alias=by_alias,
            by_name=by_name,
        )

    @model_validator(mode="before")
    @classmethod
    def _defaults_reach_the_tasks(cls, data: Any, info: ValidationInfo) -> Any:
        """Refuse, rather than ignore, plugin defaults that would not reach the tasks: a flow validated
        another way than `Flow.model_validate` (the constructor, JSON) gets no context carrying them."""
        if isinstance(data, dict) and raw_plugin_defaults(data) and not plugin_defaults_of(info.context):
            key = next(key for key in _DEFAULTS_KEYS if key in data)
            raise located_error(
                (key,),
                "plugin defaults are applied only when the flow is validated with Flow.model_validate",
                data,
            )
        return data

    @model_validator(mode="after")
    def _merge_task_defaults(self) -> Flow:
        if self.task_defaults:
            self.plugin_defaults = [*self.plugin_defaults, *self.task_defaults]
            self.task_defaults = []
        return self

    # --- walking tasks ---------------------------------------------------------------------------

    def _walk(self) -> Iterator[tuple[Task, tuple[Task, ...]]]:
        """(task, enclosing flowable tasks outermost first), depth-first in YAML order."""
        stack: list[tuple[Task, tuple[Task, ...]]] = [
            (task, ()) for task in reversed([*self.tasks, *self.errors, *self.finally_])
        ]
        while stack:
            task, parents = stack.pop()
            yield task, parents
            if isinstance(task, FlowableTask):
                children = [child for _, tasks in task.child_lists() for child in tasks]
                stack.extend((child, (*parents, task)) for child in reversed(children))

    def all_tasks(self) -> list[Task]:
        """Every task, depth-first: tasks, errors, finally, and every nested child list."""
        return [task for task, _ in self._walk()]

    def _indexed(self) -> dict[str, tuple[Task, tuple[Task, ...]]]:
        if self._index is None:
            index: dict[str, tuple[Task, tuple[Task, ...]]] = {}
            for task, parents in self._walk():
                index.setdefault(task.id, (task, parents))  # ids are unique in a valid flow
            self._index = index
        return self._index

    def find_task(self, task_id: str) -> Task | None:
        found = self._indexed().get(task_id)
        return found[0] if found else None

    def task_parents(self, task_id: str) -> list[Task]:
        """The flowable tasks enclosing `task_id`, outermost first (empty for a top-level task)."""
        found = self._indexed().get(task_id)
        return list(found[1]) if found else []

    def effective_retry(self, task: Task) -> Retry | None:
        """The retry policy a task's attempts follow: its own, else (Kestra's RETRY_FAILED_TASK) that
        of the nearest enclosing flowable that has one. A flowable's retry gives its failed children
        new attempts; the flowable's own run keeps one attempt."""
        if task.retry is not None or isinstance(task, FlowableTask):
            return task.retry
        for parent in reversed(self.task_parents(task.id)):
            if parent.retry is not None:
                return parent.retry
        return None

    def input(self, input_id: str) -> Input | None:
        return next((item for item in self.inputs if item.id == input_id), None)

    def trigger(self, trigger_id: str) -> Trigger | None:
        return next((item for item in self.triggers if item.id == trigger_id), None)

    # --- where it came from ----------------------------------------------------------------------

    @property
    def source(self) -> FlowSource | None:
        """File, text and positions when the flow was loaded from YAML (None when built in Python)."""
        return self._source

    @property
    def warnings(self) -> tuple[Diagnostic, ...]:
        """What validation warned about (the flow runs, as Kestra runs it)."""
        return self._source.warnings if self._source is not None else ()

    def attach_source(self, source: FlowSource) -> None:
        self._source = source
