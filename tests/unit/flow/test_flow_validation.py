"""Every validation rule: the problem is found, located at the right line and column, and explained."""

from __future__ import annotations

import pytest

from stratoflow.errors import Diagnostic
from stratoflow.flow import validate_text
from tests.unit.flow.flow_test_helpers import flow_text, messages, problems

LOG = "{id: t, type: Log, message: m}"


def only(body: str) -> Diagnostic:
    found = problems(body)
    assert len(found) == 1, found
    return found[0]


# (body after the 2-line header, line, column, path, message fragment)
CASES = [
    pytest.param(
        f"tasks: [{LOG}]\nextra: 1\n", 4, 1, "extra", "unknown property 'extra'", id="unknown-flow-key"
    ),
    pytest.param(
        "tasks:\n  - id: t\n    type: Log\n    message: hi\n    mesage: hi\n",
        7,
        5,
        "tasks[0].mesage",
        "unknown property 'mesage' (did you mean message?)",
        id="unknown-task-key-did-you-mean",
    ),
    pytest.param(
        "tasks:\n  - id: t\n    type: Logg\n    message: hi\n",
        5,
        5,
        "tasks[0].type",
        "unknown task type 'Logg' (did you mean Log?)",
        id="unknown-task-type",
    ),
    pytest.param(
        "tasks:\n  - id: t\n    type: io.kestra.plugin.core.log.Logg\n",
        5,
        5,
        "tasks[0].type",
        "(did you mean io.kestra.plugin.core.log.Log?)",
        id="unknown-kestra-type",
    ),
    pytest.param(
        "tasks:\n  - id: t\n    message: hi\n",
        4,
        5,
        "tasks[0]",
        "missing required property 'type'",
        id="task-no-type",
    ),
    pytest.param(
        "tasks:\n  - id: t\n    type: Log\n",
        4,
        5,
        "tasks[0]",
        "missing required property 'message'",
        id="missing-key",
    ),
    pytest.param("tasks: []\n", 3, 1, "tasks", "must not be empty", id="empty-tasks"),
    pytest.param("description: d\n", 1, 1, "", "missing required property 'tasks'", id="no-tasks"),
    pytest.param(
        "tasks:\n  - id: t\n    type: Log\n    message: {a: 1}\n",
        6,
        5,
        "tasks[0].message",
        "valid string or a valid list (got a mapping)",
        id="wrong-type-union",
    ),
    pytest.param(
        "tasks:\n  - id: t\n    type: Log\n    message: [a, [b]]\n",
        6,
        18,
        "tasks[0].message[1]",
        "Input should be a valid string (got a list)",
        id="wrong-type-in-list",
    ),
    pytest.param(
        "tasks:\n  - id: t\n    type: Parallel\n    concurrent: many\n    tasks: [{id: c, type: Log, message: m}]\n",
        6,
        5,
        "tasks[0].concurrent",
        "valid integer",
        id="wrong-type-int",
    ),
    pytest.param(
        "tasks:\n  - id: bad.id\n    type: Log\n    message: m\n",
        4,
        5,
        "tasks[0].id",
        "'bad.id' is not valid",
        id="task-id-pattern",
    ),
    pytest.param(
        "tasks:\n  - id: t\n    type: Sleep\n    duration: 5 minutes\n",
        6,
        5,
        "tasks[0].duration",
        "not an ISO-8601 duration",
        id="duration",
    ),
    pytest.param(
        "tasks:\n  - id: t\n    type: Log\n    message: m\n    timeout: P1M\n",
        7,
        5,
        "tasks[0].timeout",
        "months",
        id="months",
    ),
    pytest.param(
        "tasks:\n  - id: t\n    type: Log\n    message: m\n    retry:\n      maxAttempts: 3\n",
        7,
        5,
        "tasks[0].retry",
        "missing required property 'type'",
        id="retry-without-type",
    ),
    pytest.param(
        "tasks:\n  - id: t\n    type: Log\n    message: m\n    retry:\n      type: constant\n",
        7,
        5,
        "tasks[0].retry",
        "a constant retry needs 'interval'",
        id="constant-retry-interval",
    ),
    pytest.param(
        "tasks:\n  - id: t\n    type: Log\n    message: m\n    retry: {type: random, minInterval: PT1S}\n",
        7,
        5,
        "tasks[0].retry",
        "'minInterval' and 'maxInterval'",
        id="random-retry-bounds",
    ),
    pytest.param(
        "tasks:\n  - id: e\n    type: ForEach\n    tasks: [{id: c, type: Log, message: m}]\n",
        4,
        5,
        "tasks[0]",
        "missing required property 'values'",
        id="foreach-without-values",
    ),
    pytest.param(
        "tasks:\n  - id: e\n    type: ForEach\n    values: [a, null]\n    tasks: [{id: c, type: Log, message: m}]\n",
        6,
        5,
        "tasks[0].values",
        "must not be null",
        id="foreach-null-value",
    ),
    pytest.param(
        "tasks:\n  - id: s\n    type: Switch\n    value: x\n",
        4,
        5,
        "tasks[0]",
        "needs 'cases', 'defaults'",
        id="empty-switch",
    ),
    pytest.param(
        "inputs:\n  - id: x\n    type: STRNG\ntasks: [" + LOG + "]\n",
        5,
        5,
        "inputs[0].type",
        "unknown input type 'STRNG' (did you mean STRING?)",
        id="unknown-input-type",
    ),
    pytest.param(
        "inputs:\n  - id: x\n    type: INT\n    defaults: ten\ntasks: [" + LOG + "]\n",
        6,
        5,
        "inputs[0].defaults",
        "invalid default: expected an integer",
        id="invalid-input-default",
    ),
    pytest.param(
        "inputs:\n  - id: x\n    type: STRING\n    validator: '[a-'\ntasks: [" + LOG + "]\n",
        6,
        5,
        "inputs[0].validator",
        "invalid regular expression",
        id="invalid-regex",
    ),
    pytest.param(
        "inputs:\n  - id: x\n    type: ARRAY\ntasks: [" + LOG + "]\n",
        4,
        5,
        "inputs[0]",
        "missing required property 'itemType'",
        id="array-without-item-type",
    ),
    pytest.param(
        "outputs:\n  - {id: o, type: TEXT, value: x}\ntasks: [" + LOG + "]\n",
        4,
        13,
        "outputs[0].type",
        "unknown output type 'TEXT'",
        id="unknown-output-type",
    ),
    pytest.param(
        f"tasks: [{LOG}]\nconcurrency: {{limit: 0}}\n",
        4,
        15,
        "concurrency.limit",
        "greater than or equal to 1",
        id="limit",
    ),
    pytest.param(
        f"tasks: [{LOG}]\nconcurrency: {{limit: 1, behavior: WAIT}}\n",
        4,
        25,
        "concurrency.behavior",
        "'QUEUE', 'CANCEL' or 'FAIL' (got the text 'WAIT')",
        id="concurrency-behavior",
    ),
    pytest.param(
        f"tasks: [{LOG}]\npluginDefaults:\n  - type: Log\n    values: {{levl: WARN}}\n",
        6,
        14,
        "pluginDefaults[0].values.levl",
        "unknown property 'levl' of Log (did you mean level?)",
        id="plugin-default-unknown-property",
    ),
    pytest.param(
        f"tasks: [{LOG}]\npluginDefaults:\n  - type: Lgo\n",
        5,
        5,
        "pluginDefaults[0].type",
        "unknown task type 'Lgo'",
        id="plugin-default-unknown-type",
    ),
    pytest.param(
        f"tasks: [{LOG}]\nlabels: [1, 2]\n", 4, 1, "labels", "each label in a list", id="labels-list"
    ),
]


@pytest.mark.parametrize(("body", "line", "column", "path", "fragment"), CASES)
def test_each_rule_is_located_and_explained(
    body: str, line: int, column: int, path: str, fragment: str
) -> None:
    # When
    problem = only(body)

    # Then
    assert (problem.file, problem.line, problem.column, problem.path) == ("flow.yaml", line, column, path)
    assert fragment in problem.message


@pytest.mark.parametrize(
    ("header", "path"),
    [
        ("id: 'hello world'\nnamespace: tests\n", "id"),
        ("id: hello\nnamespace: Tests\n", "namespace"),
        ("id: hello\nnamespace: -tests\n", "namespace"),
        ("id: " + "x" * 101 + "\nnamespace: tests\n", "id"),
        ("id: hello\nnamespace: " + "n" * 151 + "\n", "namespace"),
        ("id: [a]\nnamespace: tests\n", "id"),
    ],
)
def test_flow_id_and_namespace_patterns(header: str, path: str) -> None:
    [problem] = validate_text(header + f"tasks: [{LOG}]\n", "f.yaml")

    assert problem.path == path


def test_every_problem_of_a_file_is_reported_at_once() -> None:
    body = """
    inputs:
      - {id: n, type: NUMBER}
    tasks:
      - {id: a, type: Logg, message: x}
      - {id: b, type: Log}
      - id: c
        type: Parallel
        tasks:
          - {id: a, type: Log, message: dup}
    triggers:
      - {id: s, type: Schedule, cron: "61 * * * *"}
    """

    found = messages(body)

    assert found == [
        "inputs[0].type: unknown input type 'NUMBER'",
        "tasks[0].type: unknown task type 'Logg' (did you mean Log?)",
        "tasks[1]: missing required property 'message'",
        "tasks[2].tasks[0].id: duplicate task id 'a' (first defined at line 6)",
        "triggers[0].cron: '61 * * * *' is not a valid cron expression",
    ]


def test_duplicate_task_ids_anywhere_in_the_flow() -> None:
    body = """
    tasks:
      - id: a
        type: If
        condition: "true"
        then: [{id: x, type: Log, message: m}]
        else: [{id: x, type: Log, message: m}]
      - id: g
        type: Dag
        tasks:
          - task: {id: a, type: Log, message: m}
    errors:
      - {id: g, type: Log, message: m}
    finally:
      - id: s
        type: Switch
        value: v
        cases:
          one: [{id: x, type: Log, message: m}]
    """

    found = [(d.line, d.path, d.message) for d in problems(body)]

    assert found == [
        (8, "tasks[0].else[0].id", "duplicate task id 'x' (first defined at line 7)"),
        (12, "tasks[1].tasks[0].task.id", "duplicate task id 'a' (first defined at line 4)"),
        (14, "errors[0].id", "duplicate task id 'g' (first defined at line 9)"),
        (20, "finally[0].cases.one[0].id", "duplicate task id 'x' (first defined at line 7)"),
    ]


def test_duplicate_input_output_and_trigger_ids() -> None:
    body = f"""
    inputs:
      - {{id: a, type: STRING}}
      - {{id: a, type: INT}}
    tasks: [{LOG}]
    outputs:
      - {{id: o, type: STRING, value: x}}
      - {{id: o, type: STRING, value: y}}
    triggers:
      - {{id: w, type: Webhook, key: k-0123456789abcdef}}
      - {{id: w, type: Webhook, key: k2-0123456789abcde}}
    """

    assert messages(body) == [
        "inputs[1].id: duplicate input id 'a' (first defined at line 4)",
        "outputs[1].id: duplicate output id 'o' (first defined at line 8)",
        "triggers[1].id: duplicate trigger id 'w' (first defined at line 11)",
    ]


def test_dag_unknown_dependencies_and_cycles() -> None:
    body = """
    tasks:
      - id: g
        type: Dag
        tasks:
          - task: {id: a, type: Log, message: m}
            dependsOn: [c]
          - task: {id: b, type: Log, message: m}
            dependsOn: [a, nope]
          - task: {id: c, type: Log, message: m}
            dependsOn: [b]
    """

    found = [(d.line, d.column, d.path, d.message) for d in problems(body)]

    assert found == [
        (8, 9, "tasks[0].tasks[0].dependsOn", "dependency cycle: a -> c -> b -> a"),
        (10, 24, "tasks[0].tasks[1].dependsOn[1]", "'b' depends on 'nope', which is not a task of this Dag"),
    ]


def test_a_task_depending_on_itself_is_a_cycle() -> None:
    body = """
    tasks:
      - id: g
        type: Dag
        tasks:
          - task: {id: a, type: Log, message: m}
            dependsOn: [a]
    """

    assert messages(body) == ["tasks[0].tasks[0].dependsOn: dependency cycle: a -> a"]


def test_trigger_inputs_the_flow_does_not_declare_are_warnings() -> None:
    body = f"""
    inputs:
      - {{id: region, type: STRING}}
    tasks: [{LOG}]
    triggers:
      - id: nightly
        type: Schedule
        cron: "@daily"
        inputs:
          regoin: eu
    """

    # Kestra starts such executions and drops the value
    [warning] = problems(body)
    assert warning.is_warning
    assert warning.message == "the flow has no input 'regoin' (did you mean region?): the value is ignored"


def test_pause_refuses_delay_with_timeout() -> None:
    body = "tasks:\n  - {id: p, type: Pause, delay: PT1M, timeout: PT1H}\n"

    assert messages(body) == [
        "tasks[0]: set 'delay' (resume by itself) or 'timeout' (wait for a resume), not both"
    ]


def test_top_level_must_be_a_mapping() -> None:
    [problem] = validate_text("- a\n- b\n", "f.yaml")

    assert (problem.line, problem.column, problem.path) == (1, 1, "")
    assert "must be a YAML mapping" in problem.message


def test_yaml_syntax_errors_stop_with_their_position() -> None:
    [problem] = validate_text("id: a\nnamespace: b\ntasks:\n  - id: t\n   type: Log\n", "f.yaml")

    assert (problem.line, problem.column) == (5, 4)
    assert problem.message.startswith("YAML syntax error")


def test_duplicate_yaml_keys_are_reported_with_the_other_problems() -> None:
    text = flow_text(f"tasks: [{LOG}]\ntasks: [{LOG}]\ndisabled: maybe\n")

    found = [(d.line, d.message) for d in validate_text(text, "f.yaml")]

    assert found == [
        (4, "duplicate key 'tasks' (first at line 3)"),
        (5, "Input should be a valid boolean, unable to interpret input (got the text 'maybe')"),
    ]


def test_a_valid_flow_has_no_problems() -> None:
    assert problems(f"tasks: [{LOG}]\n") == []


@pytest.mark.parametrize(
    "values",
    ['"a, b"', "'{\"a\": 1}'", "7", "'[\"a\", null]'"],
)
def test_a_literal_foreach_values_must_be_a_list(values: str) -> None:
    # Given
    body = f"tasks:\n  - id: each\n    type: ForEach\n    values: {values}\n    tasks: [{LOG}]\n"

    # When
    problem = only(body)

    # Then
    assert (problem.line, problem.path) == (6, "tasks[0].values")


@pytest.mark.parametrize("values", ['\'["a", "b"]\'', "[1, 2]", '"{{ inputs.items }}"'])
def test_foreach_values_given_as_a_list_json_or_expression_are_valid(values: str) -> None:
    body = (
        "inputs: [{id: items, type: JSON}]\n"
        f"tasks:\n  - id: each\n    type: ForEach\n    values: {values}\n    tasks: [{LOG}]\n"
    )

    assert problems(body) == []


def test_a_reference_to_an_undeclared_input_is_an_error(real_expressions: object) -> None:
    # Given
    body = "inputs: [{id: day, type: STRING}]\ntasks:\n  - {id: t, type: Log, message: \"{{ inputs['dya'] }}\"}\n"

    # When
    problem = only(body)

    # Then
    assert not problem.is_warning
    assert problem.message == "'inputs.dya' refers to no input of this flow (did you mean day?)"


def test_a_reference_to_a_missing_task_is_a_warning_and_the_flow_loads(real_expressions: object) -> None:
    # Given a Kestra flow whose reference is guarded by ???
    from stratoflow.flow import load_flow

    text = flow_text("tasks:\n  - {id: t, type: Log, message: \"{{ outputs.later.value ??? 'none' }}\"}\n")

    # When
    flow = load_flow(text, "f.yaml")

    # Then
    [warning] = flow.warnings
    assert warning.is_warning and warning.line == 4
    assert str(warning).startswith("f.yaml:4:33: warning: tasks[0].message: 'outputs.later'")
