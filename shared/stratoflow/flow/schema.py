"""The JSON Schema (draft 2020-12) of flow files, generated from the models, for editors and CI.

Task, input and trigger items are `oneOf` their registered classes, each class pinning `type` to its
canonical name and aliases, so an editor completes `type:` and then that type's properties.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, JsonValue
from pydantic.json_schema import models_json_schema

from stratoflow.flow import registry
from stratoflow.flow.inputs import INPUT_SCHEMA_PLACEHOLDER, input_types
from stratoflow.flow.model import Flow
from stratoflow.flow.task_lists import TASK_SCHEMA_PLACEHOLDER
from stratoflow.flow.trigger import TRIGGER_SCHEMA_PLACEHOLDER, trigger_types

SCHEMA_ID = "https://stratoflow.dev/schemas/flow.json"
DRAFT = "https://json-schema.org/draft/2020-12/schema"


def _unique(classes: Any) -> list[Any]:
    return list(dict.fromkeys(classes))


def _swap_placeholders(node: Any, refs: dict[str, dict[str, str]]) -> Any:
    """Replace each `{"x-stratoflow-ref": group}` placeholder with a `$ref` to that group's def."""
    if isinstance(node, dict):
        for placeholder in (TASK_SCHEMA_PLACEHOLDER, INPUT_SCHEMA_PLACEHOLDER, TRIGGER_SCHEMA_PLACEHOLDER):
            if node == placeholder:
                return dict(refs[placeholder["x-stratoflow-ref"]])
        return {key: _swap_placeholders(value, refs) for key, value in node.items()}
    if isinstance(node, list):
        return [_swap_placeholders(item, refs) for item in node]
    return node


def _reachable(defs: dict[str, Any], root: str) -> dict[str, Any]:
    """Only the definitions reachable from `root` (pydantic also emits the unused base classes)."""
    seen: set[str] = set()
    pending = [root]
    while pending:
        name = pending.pop()
        if name in seen or name not in defs:
            continue
        seen.add(name)
        stack: list[Any] = [defs[name]]
        while stack:
            node = stack.pop()
            if isinstance(node, dict):
                ref = node.get("$ref")
                if isinstance(ref, str) and ref.startswith("#/$defs/"):
                    pending.append(ref.removeprefix("#/$defs/"))
                stack.extend(node.values())
            elif isinstance(node, list):
                stack.extend(node)
    return {name: defs[name] for name in sorted(seen)}


def flow_json_schema() -> dict[str, JsonValue]:
    """The schema of a flow file; its `$defs` hold one definition per model."""
    groups: dict[str, list[Any]] = {
        "Task": registry.task_classes(),
        "Input": _unique(input_types().values()),
        "Trigger": _unique(trigger_types().values()),
    }
    models: list[type[BaseModel]] = [Flow, *(cls for classes in groups.values() for cls in classes)]
    keys, top = models_json_schema(
        [(model, "validation") for model in models], ref_template="#/$defs/{model}"
    )
    defs: dict[str, Any] = top["$defs"]

    def def_name(model: type[BaseModel]) -> str:
        return str(keys[(model, "validation")]["$ref"]).rsplit("/", 1)[-1]

    refs: dict[str, dict[str, str]] = {}
    for group, classes in groups.items():
        for cls in classes:
            names = [cls.type_name, *cls.aliases]
            definition = defs[def_name(cls)]
            definition["properties"]["type"] = {"title": "Type", "type": "string", "enum": names}
        any_name = f"Any{group}"
        defs[any_name] = {
            "description": f"One {group.lower()}, chosen by its `type`.",
            "oneOf": [{"$ref": f"#/$defs/{def_name(cls)}"} for cls in classes],
        }
        refs[group] = {"$ref": f"#/$defs/{any_name}"}
    defs = _reachable(_swap_placeholders(defs, refs), def_name(Flow))
    defs["FlowOutput"]["properties"]["type"] = {
        "title": "Type",
        "type": "string",
        "enum": sorted(input_types()),
    }
    # Kestra's older spelling, accepted by the loader: let editors accept it too.
    retry = defs["Retry"]["properties"]
    retry["maxAttempt"] = {**retry["maxAttempts"], "deprecated": True}
    return {
        "$schema": DRAFT,
        "$id": SCHEMA_ID,
        "title": "Stratoflow flow",
        "description": "A flow file: Kestra's flow language as Stratoflow reads it.",
        "$ref": f"#/$defs/{def_name(Flow)}",
        "$defs": defs,
    }
