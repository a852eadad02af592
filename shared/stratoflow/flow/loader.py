"""Loading and validating flow files: YAML -> model -> whole-flow checks, every problem located."""

from __future__ import annotations

import os
from dataclasses import dataclass, replace
from pathlib import Path

from pydantic import ValidationError

from stratoflow.errors import Diagnostic, FlowValidationError
from stratoflow.flow.diagnostics import diagnostics_from_error
from stratoflow.flow.fields import describe
from stratoflow.flow.lambda_limits import check_lambda_limits
from stratoflow.flow.model import Flow, FlowSource, raw_plugin_defaults
from stratoflow.flow.namespace_defaults import Inherited, merged
from stratoflow.flow.rules import (
    check_expressions,
    check_structure,
    raw_tasks,
    render_static_subflows,
    task_paths,
)
from stratoflow.flow.task_lists import NamespaceDefaults, TaskValidation
from stratoflow.flow.yaml_source import format_path, read_yaml

FLOW_SUFFIXES = (".yaml", ".yml")
# Folders never searched for flows when validating a directory.
_SKIPPED_DIRS = frozenset({"node_modules", "__pycache__", "cdk.out"})


@dataclass
class Analysis:
    """What validating one flow text found: the flow when valid (it has no errors), and every
    problem, warnings included."""

    flow: Flow | None
    diagnostics: list[Diagnostic]
    namespace_defaults: tuple[NamespaceDefaults, ...] = ()  # those it was validated with

    @property
    def errors(self) -> list[Diagnostic]:
        return [item for item in self.diagnostics if not item.is_warning]


def analyse(text: str, file: str = "<flow>", inherited: Inherited | None = None) -> Analysis:
    """Parse and validate; never raises for a problem in the flow. `inherited`: the plugin defaults of
    the flow's namespace and its parents (`flow.namespace_defaults`), asked once the namespace is read."""
    found = _analyse(text, file, inherited)
    if found.flow is not None or not found.namespace_defaults:
        return found
    # A problem the namespace's defaults brought in is located at the task they reached, and names them.
    own = set(_analyse(text, file, None).diagnostics)
    sources = "; ".join(defaults.source for defaults in found.namespace_defaults)
    return Analysis(
        None,
        [d if d in own else replace(d, message=f"{d.message} (from {sources})") for d in found.diagnostics],
    )


def _analyse(text: str, file: str, inherited: Inherited | None) -> Analysis:
    document = read_yaml(text, file)
    diagnostics = list(document.problems)
    data = document.data
    if not isinstance(data, dict):
        if not diagnostics:
            message = f"a flow must be a YAML mapping with id, namespace and tasks, not {describe(data)}"
            diagnostics.append(Diagnostic(file, 1, 1, "", message))
        return Analysis(None, diagnostics)
    tasks = raw_tasks(data)
    render_static_subflows(data, tasks)
    flow: Flow | None = None
    context = None
    namespace = data.get("namespace")
    try:
        namespace_defaults = tuple(inherited(namespace)) if inherited and isinstance(namespace, str) else ()
    except ValidationError as err:  # a stored setting a newer version no longer accepts (a task type gone)
        line, column = document.source_map.locate(("namespace",))
        message = f"its namespace's plugin defaults are invalid ({err.errors()[0]['msg']}): set them again with `strato namespaces defaults`"
        return Analysis(None, [*diagnostics, Diagnostic(file, line, column, "namespace", message)])
    if namespace_defaults:
        context = TaskValidation(plugin_defaults=merged(raw_plugin_defaults(data), namespace_defaults))
    try:
        flow = Flow.model_validate(data, context=context)
    except ValidationError as err:
        diagnostics.extend(diagnostics_from_error(err, data, document.source_map, file))
    except RecursionError:
        diagnostics.append(Diagnostic(file, 1, 1, "", "the flow is nested too deeply to validate"))
    diagnostics.extend(check_structure(data, document.source_map, file, tasks))
    # Unknown ids can only be told apart when every task (and so every child) was found.
    task_ids = tasks.ids if tasks.complete else None
    diagnostics.extend(check_expressions(data, document.source_map, file, task_ids, tasks.foreign_paths))
    diagnostics = sorted(set(diagnostics))
    if any(not item.is_warning for item in diagnostics):
        return Analysis(None, diagnostics, namespace_defaults)
    assert flow is not None
    limits = check_lambda_limits(flow, document.source_map, file)
    if limits:
        return Analysis(None, sorted(set(diagnostics + limits)), namespace_defaults)
    flow.attach_source(FlowSource(file, text, document.source_map, tuple(diagnostics), namespace_defaults))
    return Analysis(flow, diagnostics, namespace_defaults)


def validate_text(text: str, file: str = "<flow>", inherited: Inherited | None = None) -> list[Diagnostic]:
    """Every problem of a flow text, sorted, warnings included (`Diagnostic.is_warning`)."""
    return analyse(text, file, inherited).diagnostics


def load_flow(text: str, file: str = "<flow>", inherited: Inherited | None = None) -> Flow:
    """The flow of a YAML text; raises `FlowValidationError` with every problem found. `inherited`:
    its namespace's plugin defaults (`flow.namespace_defaults`), none when not given."""
    result = analyse(text, file, inherited)
    if result.flow is None:
        raise FlowValidationError(result.errors)
    return result.flow


def read_flow_source(path: str | os.PathLike[str]) -> str:
    """The text of a flow file as `validate` reads it: a FlowValidationError located at 1:1 when the
    file is not UTF-8 or cannot be read (`strato run` and the local platform read files this way too)."""
    return _read(Path(path))


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as err:
        raise FlowValidationError(
            [Diagnostic(str(path), 1, 1, "", f"the file is not UTF-8 text: {err.reason}")]
        ) from None
    except OSError as err:
        raise FlowValidationError(
            [Diagnostic(str(path), 1, 1, "", f"cannot read the file: {err.strerror}")]
        ) from None


def load_flow_file(path: str | os.PathLike[str], inherited: Inherited | None = None) -> Flow:
    """The flow of a YAML file; raises `FlowValidationError`, located in that file."""
    file = Path(path)
    return load_flow(_read(file), str(file), inherited)


def validate_file(path: str | os.PathLike[str], inherited: Inherited | None = None) -> list[Diagnostic]:
    file = Path(path)
    try:
        text = _read(file)
    except FlowValidationError as err:
        return err.diagnostics
    return validate_text(text, str(file), inherited)


def flow_files(folder: str | os.PathLike[str]) -> list[Path]:
    """The *.yaml / *.yml files under a folder, recursively, skipping hidden and tool folders."""
    found: list[Path] = []
    for root, dirs, files in os.walk(folder):
        dirs[:] = sorted(d for d in dirs if not d.startswith(".") and d not in _SKIPPED_DIRS)
        found.extend(Path(root, name) for name in sorted(files) if name.endswith(FLOW_SUFFIXES))
    return found


def validate_path(path: str | os.PathLike[str]) -> dict[str, list[Diagnostic]]:
    """{file: problems} for a flow file or every flow file under a folder."""
    target = Path(path)
    if not target.exists():
        raise FileNotFoundError(f"no such file or folder: {target}")
    files = flow_files(target) if target.is_dir() else [target]
    return {str(file): validate_file(file) for file in files}


def flow_locations(flow: Flow) -> dict[str, tuple[int, int]]:
    """{YAML path (`tasks[0].message`): (line, column)} of a flow loaded from YAML; empty otherwise."""
    if flow.source is None:
        return {}
    return {format_path(path): position for path, position in flow.source.source_map.keys.items()}


def task_location(flow: Flow, task_id: str) -> tuple[str, int, int] | None:
    """(file, line, column) where a task is defined, for a flow loaded from YAML."""
    return task_locations(flow).get(task_id)


def task_locations(flow: Flow) -> dict[str, tuple[str, int, int]]:
    """{task id: (file, line, column)} of every task, in one walk (a loop of task_location over a
    2,000-task flow walks it 2,000 times); empty for a flow not loaded from YAML."""
    if flow.source is None:
        return {}
    source = flow.source
    found: dict[str, tuple[str, int, int]] = {}
    for path, task in task_paths(flow):
        if task.id not in found:  # the first definition, as task_location always answered
            line, column = source.source_map.locate(path)
            found[task.id] = (source.file, line, column)
    return found
