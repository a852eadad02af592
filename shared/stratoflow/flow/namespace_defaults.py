"""Namespace plugin defaults: Kestra's namespace-level `pluginDefaults`, for every flow of a namespace
and of its child namespaces (`strato namespaces defaults NAMESPACE --file defaults.yaml`).

They merge with a flow's own `pluginDefaults` by the rules of one list: a task's own value wins over
a default, the flow's default over its namespace's, a child namespace's over its parent's; a `forced`
default wins over the task's value, and there too the flow wins over its namespace, a child over its
parent. The settings are kept with the namespace's allow-list (`stratoflow.namespaces`); a revision
records the ones it was compiled with (`FlowRecord.namespace_defaults`), so its tasks run with the
defaults its state machine was compiled for, whatever the namespace sets later.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

from pydantic import Field, JsonValue, ValidationError

from stratoflow.errors import Diagnostic, FlowValidationError
from stratoflow.flow.diagnostics import diagnostics_from_error
from stratoflow.flow.fields import StrictModel, describe
from stratoflow.flow.model import Flow, PluginDefault
from stratoflow.flow.task_lists import DefaultValues, NamespaceDefaults
from stratoflow.flow.yaml_source import read_yaml
from stratoflow.namespaces import KeyValues, inherited_plugin_defaults

SETTING = "pluginDefaults"

Entry = dict[str, JsonValue]
"""One entry as stored: `{"type": ..., "values": {...}, "forced": ...}`."""
Inherited = Callable[[str], Sequence[NamespaceDefaults]]
"""A flow's namespace -> the plugin defaults of it and of its parents, nearest first."""


class _DefaultsFile(StrictModel):
    plugin_defaults: list[PluginDefault] = Field(default_factory=list)


def read_defaults(text: str, file: str) -> list[Entry]:
    """The entries of a defaults file (`pluginDefaults:` as in a flow), each checked as a flow's own
    entry is (known type, known properties); raises FlowValidationError located in the file."""
    document = read_yaml(text, file)
    if document.problems:
        raise FlowValidationError(document.problems)
    data = document.data
    if not isinstance(data, dict):
        message = f"a defaults file is a mapping with `{SETTING}:` (as in a flow), not {describe(data)}"
        raise FlowValidationError([Diagnostic(file, 1, 1, "", message)])
    try:
        checked = _DefaultsFile.model_validate(data)
    except ValidationError as error:
        raise FlowValidationError(diagnostics_from_error(error, data, document.source_map, file)) from None
    return [entry.model_dump(by_alias=True) for entry in checked.plugin_defaults]


def from_settings(
    found: Sequence[tuple[str, Sequence[Mapping[str, object]]]],
) -> tuple[NamespaceDefaults, ...]:
    """`namespaces.inherited_plugin_defaults`'s answer (nearest namespace first), ready to merge."""
    return tuple(
        NamespaceDefaults(namespace, tuple(PluginDefault.model_validate(e).as_default() for e in entries))
        for namespace, entries in found
    )


def as_recorded(defaults: Sequence[NamespaceDefaults]) -> list[Entry]:
    """What a revision records of them (`FlowRecord.namespace_defaults`)."""
    return [
        {
            "namespace": found.namespace,
            SETTING: [{"type": d.task_type, "values": d.values, "forced": d.forced} for d in found.entries],
        }
        for found in defaults
    ]


def from_record(recorded: Sequence[Mapping[str, object]]) -> tuple[NamespaceDefaults, ...]:
    """The defaults a revision was compiled with."""
    found: list[tuple[str, list[Mapping[str, object]]]] = []
    for item in recorded:
        entries = item.get(SETTING)
        if isinstance(entries, list):
            found.append((str(item.get("namespace")), [e for e in entries if isinstance(e, Mapping)]))
    return from_settings(found)


def merged(own: Sequence[DefaultValues], inherited: Sequence[NamespaceDefaults]) -> tuple[DefaultValues, ...]:
    """One list in the order `task_lists` applies it: an unforced default fills what is still missing
    (the first wins), a forced one overwrites (the last wins)."""
    nearest_first = [entry for found in inherited for entry in found.entries]
    forced = [entry for entry in reversed(nearest_first) if entry.forced]
    unforced = [entry for entry in nearest_first if not entry.forced]
    return (*forced, *own, *unforced)


def inherited_from(store: KeyValues) -> Inherited:
    """The namespace settings of `store` (the local history's, or the stack's table) as they are now."""
    return lambda namespace: from_settings(inherited_plugin_defaults(store, namespace))


def recorded_in(namespace_defaults: Sequence[Mapping[str, object]]) -> Inherited:
    """The defaults a revision was compiled with (`FlowRecord.namespace_defaults`), whatever the
    namespace sets now: its tasks run as its state machine was compiled."""
    found = from_record(namespace_defaults)
    return lambda _namespace: found


def recorded_of(flow: Flow) -> list[Entry]:
    """What a revision of `flow` records of the namespace defaults it was validated with."""
    return as_recorded(flow.source.namespace_defaults if flow.source is not None else ())
