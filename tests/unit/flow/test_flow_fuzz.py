"""Property test: however a valid flow is broken, `validate_text` answers with located diagnostics
(or success) and never raises."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from stratoflow.errors import Diagnostic
from stratoflow.flow import load_flow, validate_text
from stratoflow.flow.yaml_source import read_yaml

EXAMPLES = Path(__file__).resolve().parents[3] / "examples"

EXTRA = """
id: kitchen_sink
namespace: tests.fuzz
labels: [{key: a, value: b}]
inputs:
  - {id: n, type: INT, defaults: 1, min: 0}
  - {id: pick, type: SELECT, values: [a, b]}
  - {id: items, type: ARRAY, itemType: STRING, required: false}
variables: {v: 1}
tasks:
  - id: seq
    type: Sequential
    tasks:
      - id: branch
        type: If
        condition: "{{ inputs.n > 0 }}"
        then: [{id: a, type: Log, message: "{{ inputs.n }}"}]
        else: [{id: b, type: Return, format: x}]
    errors: [{id: e, type: Log, message: failed}]
  - id: graph
    type: Dag
    tasks:
      - task: {id: d1, type: Sleep, duration: PT1S}
      - task: {id: d2, type: Pause, delay: PT1S}
        dependsOn: [d1]
  - id: sw
    type: Switch
    value: "{{ inputs.pick }}"
    cases: {a: [{id: c1, type: kv.Set, key: k, value: 1}]}
    defaults: [{id: c2, type: kv.Get, key: k}]
  - id: wait
    type: WaitFor
    condition: "{{ true }}"
    checkFrequency: {maxIterations: 3, interval: PT1S}
    tasks: [{id: w1, type: http.Request, uri: "https://example.com", retry: {type: constant, interval: PT1S}}]
  - {id: sub, type: Subflow, namespace: tests, flowId: child, inputs: {x: 1}}
outputs: [{id: o, type: STRING, value: "{{ outputs.b.value }}"}]
triggers:
  - {id: s, type: Schedule, cron: "@daily", timezone: Europe/Paris, inputs: {n: 2}}
  - {id: q, type: aws.sqs.Trigger, queueUrl: "https://sqs.eu-west-1.amazonaws.com/123456789012/q"}
concurrency: {limit: 1}
pluginDefaults: [{type: Log, values: {level: WARN}}]
"""

SEEDS = [EXTRA] + [p.read_text() for p in sorted(EXAMPLES.glob("*.yaml"))]

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**6), max_value=10**6),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=12),
    st.sampled_from(["{{ outputs.zz.value }}", "{{ broken", "PT1S", "Log", "@daily", "STRING", "{% if %}"]),
)
values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3),
    max_leaves=6,
)


def _containers(node: Any, found: list[Any]) -> list[Any]:
    """Every mapping and list inside a YAML tree, the root included."""
    if isinstance(node, dict | list):
        found.append(node)
        for child in node.values() if isinstance(node, dict) else node:
            _containers(child, found)
    return found


def mutate_tree(tree: Any, data: st.DataObject) -> None:
    """One structural mutation: delete, retype, rename or insert."""
    target = data.draw(st.sampled_from(_containers(tree, [])))
    if isinstance(target, dict):
        if not target:
            target[data.draw(st.text(max_size=8))] = data.draw(values)
            return
        key = data.draw(st.sampled_from(sorted(target)))
        action = data.draw(st.sampled_from(["delete", "retype", "rename", "insert"]))
        if action == "delete":
            del target[key]
        elif action == "retype":
            target[key] = data.draw(values)
        elif action == "rename":
            target[key + data.draw(st.text(min_size=1, max_size=2))] = target.pop(key)
        else:
            target[data.draw(st.text(max_size=8))] = data.draw(values)
    elif target:
        index = data.draw(st.integers(0, len(target) - 1))
        action = data.draw(st.sampled_from(["delete", "retype", "insert"]))
        if action == "delete":
            del target[index]
        elif action == "retype":
            target[index] = data.draw(values)
        else:
            target.insert(index, data.draw(values))


def mutate_text(text: str, data: st.DataObject) -> str:
    """Break the YAML itself: insert characters, cut the file, or swap indentation."""
    action = data.draw(st.sampled_from(["insert", "truncate", "tab"]))
    position = data.draw(st.integers(0, len(text)))
    if action == "insert":
        return (
            text[:position]
            + data.draw(st.sampled_from([":", "- ", "[", "{", "'", '"', "&a", "*a", "\t", "\n  x"]))
            + text[position:]
        )
    if action == "truncate":
        return text[:position]
    return text.replace("  ", "\t", 1)


def assert_well_formed(found: list[Diagnostic], text: str) -> None:
    assert isinstance(found, list)
    # splitlines knows every YAML line break (\r, \x85, \u2028...) and a few more: an upper bound.
    line_count = len(text.splitlines()) + 1
    for diagnostic in found:
        assert isinstance(diagnostic, Diagnostic)
        assert diagnostic.file == "fuzz.yaml"
        assert 1 <= diagnostic.line <= line_count + 1
        assert diagnostic.column >= 1
        assert diagnostic.message


@settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.sampled_from(SEEDS), data=st.data())
def test_mutated_flows_never_raise(seed: str, data: st.DataObject) -> None:
    # Given: a valid flow, mutated one to three times
    tree = copy.deepcopy(read_yaml(seed, "seed.yaml").data)
    for _ in range(data.draw(st.integers(1, 3))):
        mutate_tree(tree, data)
    text = yaml.safe_dump(tree, sort_keys=False, allow_unicode=True)
    if data.draw(st.booleans()):
        text = mutate_text(text, data)

    # When
    found = validate_text(text, "fuzz.yaml")

    # Then: located diagnostics, or a flow that loads
    assert_well_formed(found, text)
    if not found:
        assert load_flow(text, "fuzz.yaml").id


@settings(max_examples=60, deadline=None)
@given(text=st.text(max_size=200))
def test_arbitrary_text_never_raises(text: str) -> None:
    assert_well_formed(validate_text(text, "fuzz.yaml"), text)


def test_the_seeds_are_valid() -> None:
    for seed in SEEDS:
        assert validate_text(seed, "seed.yaml") == []
