"""The JSON Schema of flow files, and the example flows (valid for the loader and for the schema)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import jsonschema
import pytest

from stratoflow.flow import flow_json_schema, load_flow_file, registry, validate_path
from stratoflow.flow.yaml_source import read_yaml

EXAMPLES = Path(__file__).resolve().parents[3] / "examples"
EXAMPLE_FILES = sorted(EXAMPLES.glob("*.yaml"))


@pytest.fixture(scope="module")
def schema() -> dict[str, Any]:
    return flow_json_schema()


@pytest.fixture(scope="module")
def validator(schema: dict[str, Any]) -> jsonschema.Draft202012Validator:
    return jsonschema.Draft202012Validator(schema)


def data(text: str) -> Any:
    return read_yaml(text, "f.yaml").data


def test_the_schema_is_a_valid_draft_2020_12_schema(schema: dict[str, Any]) -> None:
    jsonschema.Draft202012Validator.check_schema(schema)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert schema["$ref"] == "#/$defs/Flow"


def test_task_items_are_discriminated_by_type_with_aliases(schema: dict[str, Any]) -> None:
    defs = schema["$defs"]
    refs = {item["$ref"].rsplit("/", 1)[-1] for item in defs["AnyTask"]["oneOf"]}
    types = {name for ref in refs for name in defs[ref]["properties"]["type"]["enum"]}

    assert set(registry.all_names()) == types
    assert defs["Log"]["properties"]["type"]["enum"] == [
        "Log",
        "io.kestra.plugin.core.log.Log",
        "io.kestra.core.tasks.log.Log",
    ]
    assert defs["Flow"]["properties"]["tasks"]["items"] == {"$ref": "#/$defs/AnyTask"}
    assert defs["Flow"]["additionalProperties"] is False
    assert "finally" in defs["Flow"]["properties"] and "pluginDefaults" in defs["Flow"]["properties"]


def test_inputs_and_triggers_are_discriminated_too(schema: dict[str, Any]) -> None:
    defs = schema["$defs"]

    assert defs["Flow"]["properties"]["inputs"]["items"] == {"$ref": "#/$defs/AnyInput"}
    assert defs["Flow"]["properties"]["triggers"]["items"] == {"$ref": "#/$defs/AnyTrigger"}
    assert "ENUM" in defs["SelectInput"]["properties"]["type"]["enum"]
    assert "io.kestra.plugin.core.trigger.Schedule" in defs["Schedule"]["properties"]["type"]["enum"]


@pytest.mark.parametrize("path", EXAMPLE_FILES, ids=lambda p: p.name)
def test_every_example_is_valid_for_the_loader_and_the_schema(
    path: Path, validator: jsonschema.Draft202012Validator
) -> None:
    flow = load_flow_file(path)

    errors = [e.message for e in validator.iter_errors(data(path.read_text()))]

    assert errors == []
    assert flow.id == path.stem


def test_the_examples_folder_holds_the_documented_flows() -> None:
    assert {p.name for p in EXAMPLE_FILES} >= {
        "hello.yaml",
        "etl.yaml",
        "retries.yaml",
        "subflow_parent.yaml",
        "subflow_child.yaml",
    }
    assert all(problems == [] for problems in validate_path(EXAMPLES).values())


@pytest.mark.parametrize(
    "text",
    [
        "id: f\nnamespace: n\ntasks: [{id: t, type: Logg, message: m}]\n",
        "id: f\nnamespace: n\ntasks: [{id: t, type: Log, message: m, extra: 1}]\n",
        "id: f\nnamespace: n\ntasks: [{id: t, type: Log}]\n",
        "id: f\nnamespace: n\n",
        "id: f\nnamespace: n\ntasks: [{id: t, type: Log, message: m}]\ntriggers: [{id: s, type: Cron}]\n",
    ],
)
def test_the_schema_rejects_what_the_loader_rejects(
    text: str, validator: jsonschema.Draft202012Validator
) -> None:
    assert list(validator.iter_errors(data(text)))


def test_the_schema_accepts_kestra_names_and_nested_tasks(validator: jsonschema.Draft202012Validator) -> None:
    text = """
id: f
namespace: n
tasks:
  - id: p
    type: io.kestra.plugin.core.flow.Parallel
    tasks:
      - id: s
        type: io.kestra.core.tasks.flows.Switch
        value: a
        cases:
          a: [{id: l, type: io.kestra.core.tasks.log.Log, message: m}]
retry: {type: constant, interval: PT1S, maxAttempt: 2}
"""
    assert list(validator.iter_errors(data(text))) == []


@pytest.mark.parametrize("path", EXAMPLE_FILES, ids=lambda p: p.name)
def test_every_example_passes_the_real_expression_checks(path: Path, real_expressions: Any) -> None:
    assert validate_path(path) == {str(path): []}
