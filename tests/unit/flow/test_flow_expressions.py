"""Expression checks at validation: syntax errors in templated properties, and `outputs.<id>`
references to tasks that do not exist. The stand-in engine of conftest.py is used unless a test asks
for the real one."""

from __future__ import annotations

import types

from tests.unit.flow.flow_test_helpers import messages, problems


def test_a_syntax_error_is_located_on_its_line() -> None:
    body = """
    tasks:
      - id: t
        type: Log
        message: "{{ inputs.name "
    """

    [problem] = problems(body)

    assert (problem.line, problem.column, problem.path) == (6, 14, "tasks[0].message")
    assert problem.message.startswith("expression syntax error: ")


def test_a_syntax_error_inside_a_block_scalar_points_at_the_template_line() -> None:
    body = """
    tasks:
      - id: t
        type: Log
        message: |
          first line
          second {{ 1 + }}
          third
    """

    [problem] = problems(body)

    assert problem.path == "tasks[0].message"
    assert problem.line == 8


def test_every_templated_property_is_checked_not_descriptions_or_variables() -> None:
    body = """
    description: "{{ not checked"
    variables:
      raw: "{{ not rendered unless render() is used"
    inputs:
      - {id: when, type: STRING, defaults: "{{ now( }}"}
    tasks:
      - id: t
        type: Log
        description: "{{ free text"
        message: ok
        runIf: "{% if %}"
    outputs:
      - {id: o, type: STRING, value: "{{ 1 + }}"}
    triggers:
      - id: s
        type: Schedule
        cron: "@daily"
        inputs: {when: "{{ trigger.date | }}"}
    """

    paths = [d.path for d in problems(body)]

    assert paths == ["inputs[0].defaults", "tasks[0].runIf", "outputs[0].value", "triggers[0].inputs.when"]


def test_outputs_of_unknown_tasks_are_reported_with_a_suggestion() -> None:
    body = """
    tasks:
      - id: extract
        type: Return
        format: x
      - id: load
        type: Log
        message: "{{ outputs.extract.value }} {{ outputs.extrac.value }}"
    outputs:
      - {id: o, type: STRING, value: "{{ outputs.missing.value }}"}
    """

    found = problems(body)
    unguarded = "; it fails when evaluated unless guarded by ?? or ???"
    assert [f"{d.path}: {d.message}" for d in found] == [
        f"tasks[1].message: 'outputs.extrac' refers to no task of this flow (did you mean extract?){unguarded}",
        f"outputs[0].value: 'outputs.missing' refers to no task of this flow{unguarded}",
    ]
    assert all(d.is_warning for d in found)


def test_outputs_of_nested_error_and_finally_tasks_are_known() -> None:
    body = """
    tasks:
      - id: loop
        type: ForEach
        values: [a, b]
        tasks:
          - {id: inner, type: Return, format: x}
      - {id: show, type: Log, message: "{{ outputs.inner['a'].value }} {{ outputs.alert }} {{ outputs.bye }}"}
    errors:
      - {id: alert, type: Log, message: m}
    finally:
      - {id: bye, type: Log, message: m}
    """

    assert problems(body) == []


def test_references_are_not_checked_when_a_task_type_is_unknown() -> None:
    # Given: the children of an unknown type cannot be found, so a reference may be to one of them
    body = """
    tasks:
      - id: wrapper
        type: Mystery
        tasks: [{id: hidden, type: Log, message: m}]
      - {id: show, type: Log, message: "{{ outputs.hidden.value }}"}
    """

    # Then: only the unknown type is reported
    assert messages(body) == ["tasks[0].type: unknown task type 'Mystery'"]


def test_a_crash_of_the_checker_is_reported_not_raised(fake_expressions: types.ModuleType) -> None:
    def explode(template: str) -> list[Exception]:
        raise RuntimeError("boom")

    fake_expressions.syntax_errors = explode  # type: ignore[attr-defined]

    [problem] = problems("tasks:\n  - {id: t, type: Log, message: '{{ x }}'}\n")

    assert problem.message == "could not check this expression (RuntimeError: boom)"


def test_with_the_real_expression_engine(real_expressions: types.ModuleType) -> None:
    body = """
    inputs:
      - {id: x, type: STRING, required: false}
    tasks:
      - {id: a, type: Return, format: "{{ inputs.x ?? 'd' }}"}
      - {id: b, type: Log, message: "{{ outputs.a.value }} {{ outputs.zz.value }}"}
      - {id: c, type: Log, message: "{{ outputs.a.value "}
    """

    found = messages(body)

    assert found[0].startswith("tasks[1].message: 'outputs.zz' refers to no task of this flow")
    assert found[1].startswith("tasks[2].message: expression syntax error")
    assert len(found) == 2
