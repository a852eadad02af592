"""`sla` and system labels in the flow language: validated with locations, compiled to a timeout."""

from __future__ import annotations

import textwrap

import pytest

from stratoflow.compiler import compile_flow
from stratoflow.errors import FlowValidationError
from stratoflow.flow import load_flow, validate_text

BASE = """
id: sla_example
namespace: company.team
{extra}
tasks:
  - id: punctual
    type: Log
    message: hi
"""


def _problems(extra: str) -> list[str]:
    source = BASE.format(extra=textwrap.dedent(extra).strip())
    return [f"{d.line}:{d.column}: {d.path}: {d.message}" for d in validate_text(source, "flow.yaml")]


def test_kestra_sla_example_is_valid() -> None:
    # Given Kestra's documented SLAs
    flow = load_flow(
        BASE.format(
            extra=textwrap.dedent(
                """
                sla:
                  - id: maxDuration
                    type: MAX_DURATION
                    duration: PT8H
                    behavior: CANCEL
                    labels:
                      sla: miss
                      reason: durationExceeded
                  - id: assertOutput
                    type: EXECUTION_ASSERTION
                    assert: "{{ outputs.punctual is defined }}"
                    behavior: NONE
                """
            ).strip()
        )
    )
    # Then both are read with their type's fields
    duration, assertion = flow.sla
    assert (duration.id, duration.type, duration.behavior, duration.labels["sla"]) == (
        "maxDuration",
        "MAX_DURATION",
        "CANCEL",
        "miss",
    )
    assert assertion.type == "EXECUTION_ASSERTION" and "punctual" in assertion.assert_  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("extra", "problem"),
    [
        (
            "sla:\n  - {id: a, type: MAX_DURATION, behavior: FAIL}",
            "sla[0]: missing required property 'duration'",
        ),
        (
            "sla:\n  - {id: a, type: MAX_DURATION, duration: PT1H, behavior: STOP}",
            "sla[0].behavior: Input should be 'FAIL', 'CANCEL' or 'NONE'",
        ),
        ("sla:\n  - {id: a, behavior: FAIL}", "sla[0]: an SLA needs 'type': MAX_DURATION"),
        (
            "sla:\n  - {id: a, type: EXECUTION_ASSERTION, behavior: FAIL, assert: x, duration: PT1H}",
            "sla[0].duration: unknown property 'duration'",
        ),
        (
            "sla:\n  - {id: a, type: EXECUTION_ASSERTION, behavior: FAIL, assert: '{{ outputs.nope.value }}'}",
            "sla[0].assert: 'outputs.nope' refers to no task of this flow",
        ),
        (
            "sla:\n  - {id: a, type: MAX_DURATION, duration: PT1H, behavior: FAIL}\n"
            "  - {id: a, type: MAX_DURATION, duration: PT2H, behavior: NONE}",
            "sla[1].id: duplicate SLA id 'a'",
        ),
        (
            "labels:\n  system.correlationId: forged",
            "labels['system.correlationId']: label 'system.correlationId'",
        ),
    ],
)
def test_a_bad_sla_or_a_system_label_is_refused_with_its_location(extra: str, problem: str) -> None:
    problems = _problems(extra)
    assert any(problem in p for p in problems), problems


def test_system_labels_are_refused_on_tasks_and_triggers() -> None:
    # Given a Labels task (list form) and a trigger that set system labels
    source = """
id: forged
namespace: company.team
tasks:
  - id: label
    type: Labels
    labels:
      - {key: system.correlationId, value: x}
triggers:
  - id: daily
    type: Schedule
    cron: "@daily"
    labels: {system.replayOf: y}
"""
    # Then each is refused where it is written
    with pytest.raises(FlowValidationError) as refused:
        load_flow(source, "forged.yaml")
    text = str(refused.value)
    assert "forged.yaml:8:9: tasks[0].labels[0]" in text
    assert "triggers[0].labels['system.replayOf']" in text


def test_an_ending_max_duration_is_the_state_machine_timeout() -> None:
    # Given a FAIL duration of 1.5 s, a CANCEL of 1 h and a NONE of 1 s
    flow = load_flow(
        BASE.format(
            extra="sla:\n"
            "  - {id: slow, type: MAX_DURATION, duration: PT1H, behavior: CANCEL}\n"
            "  - {id: quick, type: MAX_DURATION, duration: PT1.5S, behavior: FAIL}\n"
            "  - {id: watch, type: MAX_DURATION, duration: PT1S, behavior: NONE}"
        )
    )
    # When it compiles
    compiled = compile_flow(flow)
    # Then the shortest ending one is TimeoutSeconds, rounded up with a warning; NONE is no timeout
    assert compiled.definition["TimeoutSeconds"] == 2
    assert any("sla 'quick': duration rounded up to 2s" in w for w in compiled.warnings)


def test_a_flow_without_ending_sla_has_no_timeout() -> None:
    flow = load_flow(
        BASE.format(extra="sla:\n  - {id: w, type: MAX_DURATION, duration: PT1S, behavior: NONE}")
    )
    assert "TimeoutSeconds" not in compile_flow(flow).definition
