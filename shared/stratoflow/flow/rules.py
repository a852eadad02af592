"""Checks that need the whole flow: unique ids, trigger inputs, and the expressions in every
templated property (syntax, and `outputs.<id>` naming a task that exists).

They run on the raw YAML data, guided by the models' annotations, so they report their problems
even when pydantic found others in the same file.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from types import UnionType
from typing import Annotated, Any, Union, get_args, get_origin

from pydantic import BaseModel, BeforeValidator

from stratoflow import expressions
from stratoflow.errors import Diagnostic
from stratoflow.flow import registry
from stratoflow.flow.fields import hint
from stratoflow.flow.model import Flow, flow_variables
from stratoflow.flow.task import Task
from stratoflow.flow.task_lists import FlowableTask, validate_task
from stratoflow.flow.trigger import trigger_types
from stratoflow.flow.yaml_source import SourceMap, YamlPath, format_path

# Keys whose strings are never rendered as templates.
_NOT_RENDERED = frozenset({"description"})
_NOT_RENDERED_TOP = frozenset({"variables", "description"})


def task_paths(flow: Flow) -> list[tuple[YamlPath, Task]]:
    """Every task with its YAML path (`("tasks", 0, "then", 1)`), depth-first in file order."""
    found: list[tuple[YamlPath, Task]] = []

    def visit(value: Any, path: YamlPath) -> None:
        if isinstance(value, Task):
            found.append((path, value))
        if isinstance(value, BaseModel):
            for name, field in type(value).model_fields.items():
                child = getattr(value, name)
                if isinstance(child, BaseModel | list | dict):
                    visit(child, (*path, field.alias or name))
        elif isinstance(value, list):
            for index, item in enumerate(value):
                visit(item, (*path, index))
        elif isinstance(value, dict):
            for key, item in value.items():
                if isinstance(item, BaseModel | list):
                    visit(item, (*path, key))

    for key, tasks in (("tasks", flow.tasks), ("errors", flow.errors), ("finally", flow.finally_)):
        visit(tasks, (key,))
    return found


class _Report:
    def __init__(self, file: str, source_map: SourceMap):
        self.file, self.source_map = file, source_map
        self.items: list[Diagnostic] = []

    def add(self, path: YamlPath, message: str, severity: str = "error") -> None:
        line, column = self.source_map.locate(path)
        self.items.append(Diagnostic(self.file, line, column, format_path(path), message, severity))


@dataclass
class RawTasks:
    """The task mappings of unvalidated flow data, with their paths; `complete` is False when a
    task's type is unknown, so its children (and their ids) could not be found."""

    found: list[tuple[YamlPath, dict[str, Any]]] = field(default_factory=list)
    complete: bool = True

    @property
    def ids(self) -> set[str]:
        """Every task id, and the sub-task ids whose outputs a task records (ForEachItem's `<id>_items`)."""
        ids: set[str] = set()
        for _, task in self.found:
            identifier, name = task.get("id"), task.get("type")
            if not isinstance(identifier, str):
                continue
            ids.add(identifier)
            cls = registry.resolve(name) if isinstance(name, str) else None
            ids.update(identifier + suffix for suffix in getattr(cls, "SUB_TASKS", ()))
        return ids

    @property
    def foreign_paths(self) -> list[YamlPath]:
        """Properties whose `outputs.<id>` name tasks of another flow (`Task.foreign_outputs`)."""
        paths: list[YamlPath] = []
        for path, task in self.found:
            name = task.get("type")
            cls = registry.resolve(name) if isinstance(name, str) else None
            paths.extend((*path, prop) for prop in (cls.foreign_outputs if cls else ()))
        return paths


def _is_task_item(annotation: Any) -> bool:
    return get_origin(annotation) is Annotated and any(
        isinstance(meta, BeforeValidator) and meta.func is validate_task for meta in annotation.__metadata__
    )


def _walk(value: Any, annotation: Any, path: YamlPath, out: RawTasks) -> None:
    """Follow the model's annotations through raw data, collecting every task mapping."""
    origin = get_origin(annotation)
    if _is_task_item(annotation):
        if isinstance(value, dict):
            out.found.append((path, value))
            name = value.get("type")
            cls = registry.resolve(name) if isinstance(name, str) else None
            if cls is None:
                out.complete = False
            else:
                _walk_model(value, cls, path, out)
    elif origin is Annotated:
        _walk(value, get_args(annotation)[0], path, out)
    elif origin is list and isinstance(value, list):
        for index, item in enumerate(value):
            _walk(item, get_args(annotation)[0], (*path, index), out)
    elif origin is dict and isinstance(value, dict):
        for key, item in value.items():
            _walk(item, get_args(annotation)[1], (*path, key), out)
    elif origin in (Union, UnionType):
        for option in get_args(annotation):
            _walk(value, option, path, out)
    elif isinstance(annotation, type) and issubclass(annotation, BaseModel) and isinstance(value, dict):
        _walk_model(value, annotation, path, out)


def _walk_model(value: Mapping[str, object], model: type[BaseModel], path: YamlPath, out: RawTasks) -> None:
    for name, info in model.model_fields.items():
        key = next((k for k in (info.alias, name) if k and k in value), None)
        if key is not None:
            # rebuild_annotation puts back the metadata pydantic moved off a field's annotation.
            _walk(value[key], info.rebuild_annotation(), (*path, key), out)


def raw_tasks(data: Mapping[str, object]) -> RawTasks:
    """Every task mapping of a flow's raw data (nested ones included), valid or not."""
    out = RawTasks()
    _walk_model(data, Flow, (), out)
    return out


def render_static_subflows(data: Mapping[str, object], tasks: RawTasks) -> None:
    """Render, in place, a Subflow's `namespace` / `flowId` written as an expression over `flow.*`
    only (`{{ flow.namespace }}`, as Kestra's blueprints do). Any other expression is left for the
    Subflow model to refuse where it is written."""
    flow_id, namespace = data.get("id"), data.get("namespace")
    if not isinstance(flow_id, str) or not isinstance(namespace, str):
        return
    variables = {"flow": flow_variables(namespace, flow_id, None)}
    for _, task in tasks.found:
        name = task.get("type")
        if not isinstance(name, str) or registry.canonical_name(name) not in ("Subflow", "ForEachItem"):
            continue
        for key in ("namespace", "flowId"):
            value = task.get(key)
            if isinstance(value, str) and "{{" in value:
                task[key] = _render_static(value, variables)


def _render_static(template: str, variables: dict[str, Any]) -> str:
    try:
        rendered = expressions.render(template, variables)
    except expressions.ExpressionError:
        return template  # it reads more than flow.*: refused by the model, at its line
    return rendered if isinstance(rendered, str) else template


def _duplicates(report: _Report, kind: str, entries: list[tuple[YamlPath, Any]]) -> None:
    first_seen: dict[str, YamlPath] = {}
    for path, identifier in entries:
        if not isinstance(identifier, str):
            continue
        if identifier in first_seen:
            first_line = report.source_map.locate(first_seen[identifier])[0]
            report.add(
                (*path, "id"), f"duplicate {kind} id '{identifier}' (first defined at line {first_line})"
            )
        else:
            first_seen[identifier] = path


def _entries(data: Mapping[str, object], key: str) -> list[tuple[YamlPath, dict[str, Any]]]:
    items = data.get(key)
    if not isinstance(items, list):
        return []
    return [((key, index), item) for index, item in enumerate(items) if isinstance(item, dict)]


def check_structure(
    data: Mapping[str, object], source_map: SourceMap, file: str, tasks: RawTasks
) -> list[Diagnostic]:
    """Unique ids (tasks anywhere, inputs, outputs, triggers) and triggers' inputs, on raw data, so
    these problems are reported even when other parts of the flow are invalid."""
    report = _Report(file, source_map)
    _duplicates(report, "task", [(path, task.get("id")) for path, task in tasks.found])
    for kind, key in (("input", "inputs"), ("output", "outputs"), ("trigger", "triggers"), ("SLA", "sla")):
        _duplicates(report, kind, [(path, item.get("id")) for path, item in _entries(data, key)])
    _timeouts(report, tasks)
    input_ids = [item["id"] for _, item in _entries(data, "inputs") if isinstance(item.get("id"), str)]
    for position, (path, item) in enumerate(_entries(data, "inputs")):
        depends_on = item.get("dependsOn")
        named = depends_on.get("inputs") if isinstance(depends_on, dict) else None
        earlier = input_ids[:position]
        for index, name in enumerate(named if isinstance(named, list) else ()):
            if isinstance(name, str) and name not in earlier:
                report.add(
                    (*path, "dependsOn", "inputs", index),
                    f"'{name}' is not an input declared before this one{hint(name, earlier)}",
                )
    for path, trigger in _entries(data, "triggers"):
        _warn_unused_credentials(report, path, trigger)
        given = trigger.get("inputs")
        for name in given if isinstance(given, dict) else ():
            if name not in input_ids:
                # Kestra starts the execution and drops the value: a warning, not an error.
                report.add(
                    (*path, "inputs", name),
                    f"the flow has no input '{name}'{hint(name, input_ids)}: the value is ignored",
                    severity="warning",
                )
    return report.items


# Flowables whose body races a timer (compiler.timeouts), by their lowering (`Task.compiled_as`).
TIMED_FLOWABLES = frozenset(
    {"Parallel", "Dag", "Each", "Sequential", "AllowFailure", "If", "Switch", "WaitFor"}
)


def _timeouts(report: _Report, tasks: RawTasks) -> None:
    """`timeout` on a flowable the compiler does not race against a timer is refused, not ignored
    (every flowable registered today races; Sleep, Pause and Subflow honour theirs natively)."""
    for path, task in tasks.found:
        name = task.get("type")
        cls = registry.resolve(name) if isinstance(name, str) else None
        if task.get("timeout") is None or cls is None or cls.compiled_as in TIMED_FLOWABLES:
            continue
        if issubclass(cls, FlowableTask):
            report.add(
                (*path, "timeout"),
                f"timeout is not supported on {cls.type_name} yet: put it on the tasks inside "
                "(each one's timeout is honoured)",
            )


def _warn_unused_credentials(report: _Report, path: YamlPath, trigger: dict[str, Any]) -> None:
    name = trigger.get("type")
    cls = trigger_types().get(name) if isinstance(name, str) else None
    if cls is None:
        return
    for key in cls.unused_credentials:
        if key == "region" and key in trigger:
            message = "'region' is not used: the queue's region is the one in its URL or ARN"
            report.add((*path, key), message, severity="warning")
        elif key in trigger:
            message = (
                f"'{key}' is not used: in the cloud the queue is read with the stack's pipes role "
                "(give it access to the queue), not with these credentials"
            )
            report.add((*path, key), message, severity="warning")


# --- expressions ---------------------------------------------------------------------------------


def _templated_strings(value: Any, path: YamlPath) -> Iterator[tuple[YamlPath, str]]:
    if isinstance(value, str):
        if "{{" in value or "{%" in value or "{#" in value:
            yield path, value
    elif isinstance(value, dict):
        skipped = _NOT_RENDERED_TOP if not path else _NOT_RENDERED
        for key, item in value.items():
            if key not in skipped:
                yield from _templated_strings(item, (*path, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _templated_strings(item, (*path, index))


_Check = Callable[[str], Any]


def _expression_api() -> tuple[_Check, _Check, _Check]:
    """The expression engine's checks (Jinja loads on the first one a validation calls)."""
    return expressions.syntax_errors, expressions.referenced_inputs, expressions.referenced_outputs


def _declared_inputs(data: Any) -> set[str] | None:
    """The flow's input ids, or None when an input has no readable id (reported elsewhere)."""
    entries = data.get("inputs", []) if isinstance(data, dict) else []
    if not isinstance(entries, list):
        return None
    ids = [entry.get("id") if isinstance(entry, dict) else None for entry in entries]
    return (
        {identifier for identifier in ids if isinstance(identifier, str)}
        if all(isinstance(identifier, str) for identifier in ids)
        else None
    )


def check_expressions(
    data: object,
    source_map: SourceMap,
    file: str,
    task_ids: set[str] | None,
    foreign: list[YamlPath] | None = None,
) -> list[Diagnostic]:
    """Syntax errors in every templated string; `inputs.<id>` naming no input of the flow (an error:
    the run would fail on it); `outputs.<id>` naming no task (only when `task_ids` is known, i.e. the
    flow's structure is valid): a warning, as Kestra runs such flows and `??` / `???` can guard it.
    Neither is checked under `foreign` paths, which read another execution's (a Subflow's `outputs`)."""
    syntax_errors, referenced_inputs, referenced_outputs = _expression_api()
    input_ids = _declared_inputs(data)
    diagnostics: list[Diagnostic] = []
    for path, template in _templated_strings(data, ()):
        line, column, style = source_map.value_start(path)
        try:
            errors = syntax_errors(template)
        except Exception as err:  # a bug in the checker must not hide the rest of the report
            message = f"could not check this expression ({type(err).__name__}: {err})"
            diagnostics.append(Diagnostic(file, line, column, format_path(path), message))
            continue
        for error in errors:
            lineno = int(getattr(error, "lineno", None) or 1)
            offset = lineno if style in ("|", ">") else lineno - 1
            message = f"expression syntax error: {getattr(error, 'message', None) or error}"
            diagnostics.append(Diagnostic(file, line + offset, column, format_path(path), message))
        if errors:
            continue
        if any(path[: len(prefix)] == prefix for prefix in foreign or ()):
            continue
        where = (file, line, column, format_path(path))
        if input_ids is not None and not _in_trigger(path):
            for name in sorted(referenced_inputs(template) - input_ids):
                message = f"'inputs.{name}' refers to no input of this flow{hint(name, input_ids)}"
                diagnostics.append(Diagnostic(*where, message))
        if task_ids is not None:
            for reference in sorted(referenced_outputs(template) - task_ids):
                message = (
                    f"'outputs.{reference}' refers to no task of this flow{hint(reference, task_ids)}; "
                    "it fails when evaluated unless guarded by ?? or ???"
                )
                diagnostics.append(Diagnostic(*where, message, severity="warning"))
    return diagnostics


def _in_trigger(path: YamlPath) -> bool:
    """Trigger properties render before the execution exists: `inputs` there is not the flow's."""
    return bool(path) and path[0] == "triggers"
