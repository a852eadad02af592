"""Flow triggers: the pure matcher, Kestra's conditions, the EventBridge pattern, and event ids."""

from __future__ import annotations

import re
import textwrap
from typing import Any

import pytest

from stratoflow.domain import Execution
from stratoflow.execution.upstream import TriggerConditionError, flow_trigger_variables, parse_conditions
from stratoflow.flow import Flow, FlowTrigger, load_flow
from stratoflow.states import State
from stratoflow.triggers.events import event_execution_id, trigger_key
from stratoflow.triggers.flow_triggers import (
    FINISHED_DETAIL_TYPE,
    FINISHED_SOURCE,
    finished_event_detail,
    matching_flow_triggers,
    trigger_problems,
    upstream_pattern,
)


def flow(triggers: str, flow_id: str = "report", namespace: str = "team", disabled: bool = False) -> Flow:
    text = f"id: {flow_id}\nnamespace: {namespace}\ndisabled: {str(disabled).lower()}\n"
    text += "tasks: [{id: t, type: Log, message: hi}]\ntriggers:\n" + textwrap.indent(
        textwrap.dedent(triggers), "  "
    )
    return load_flow(text)


def finished(
    state: State = State.SUCCESS, namespace: str = "team", flow_id: str = "etl", **fields: Any
) -> Execution:
    return Execution(id="up1", namespace=namespace, flow_id=flow_id, revision=3, state=state, **fields)


def only_trigger(f: Flow) -> FlowTrigger:
    (trigger,) = f.triggers
    assert isinstance(trigger, FlowTrigger)
    return trigger


# --- matching ----------------------------------------------------------------------------------


def test_a_trigger_without_states_fires_on_every_end_state_of_other_flows() -> None:
    downstream = flow("- {id: any, type: Flow}")

    for state in (State.SUCCESS, State.WARNING, State.FAILED, State.KILLED, State.CANCELLED):
        assert matching_flow_triggers(finished(state), [downstream]) == [(downstream, downstream.triggers[0])]
    assert matching_flow_triggers(finished(State.RUNNING), [downstream]) == []


def test_states_restrict_the_end_states() -> None:
    downstream = flow("- {id: on-failure, type: Flow, states: [FAILED, KILLED]}")

    assert matching_flow_triggers(finished(State.FAILED), [downstream])
    assert matching_flow_triggers(finished(State.KILLED), [downstream])
    assert matching_flow_triggers(finished(State.SUCCESS), [downstream]) == []


def test_a_flow_is_not_triggered_by_its_own_executions() -> None:
    downstream = flow("- {id: loop, type: Flow}", flow_id="etl")

    assert matching_flow_triggers(finished(), [downstream]) == []
    assert matching_flow_triggers(finished(namespace="other"), [downstream])


def test_disabled_flows_and_triggers_do_not_match() -> None:
    disabled_trigger = flow("- {id: t, type: Flow, disabled: true}")
    disabled_flow = flow("- {id: t, type: Flow}", disabled=True)

    assert matching_flow_triggers(finished(), [disabled_trigger, disabled_flow]) == []


@pytest.mark.parametrize(
    ("condition", "upstream", "expected"),
    [
        ("{type: io.kestra.plugin.core.condition.ExecutionFlow, namespace: team, flowId: etl}", {}, True),
        ("{type: ExecutionFlowCondition, namespace: team, flowId: other}", {}, False),
        (
            "{type: io.kestra.core.models.conditions.types.ExecutionFlowCondition, namespace: x, flowId: etl}",
            {},
            False,
        ),
        ("{type: io.kestra.plugin.core.condition.ExecutionNamespace, namespace: team}", {}, True),
        ("{type: ExecutionNamespace, namespace: te, comparison: PREFIX}", {}, True),
        ("{type: ExecutionNamespace, namespace: te, prefix: true}", {}, True),
        ("{type: ExecutionNamespace, namespace: te}", {}, False),
        ("{type: ExecutionNamespace, namespace: eam, comparison: SUFFIX}", {}, True),
        ("{type: io.kestra.plugin.core.condition.ExecutionStatus, in: [SUCCESS]}", {}, True),
        ("{type: ExecutionStatus, notIn: [SUCCESS]}", {}, False),
        ("{type: ExecutionStatus, in: [FAILED]}", {}, False),
        ("{type: ExecutionLabels, labels: {env: prod}}", {"labels": {"env": "prod", "x": "y"}}, True),
        ("{type: ExecutionLabels, labels: [{key: env, value: prod}]}", {"labels": {"env": "dev"}}, False),
    ],
)
def test_kestra_conditions_on_the_upstream_execution(
    condition: str, upstream: dict[str, Any], expected: bool
) -> None:
    downstream = flow(f"- id: t\n  type: Flow\n  conditions:\n    - {condition}")

    assert bool(matching_flow_triggers(finished(**upstream), [downstream])) is expected


def test_every_condition_must_hold() -> None:
    downstream = flow(
        """
        - id: t
          type: Flow
          conditions:
            - {type: ExecutionFlow, namespace: team, flowId: etl}
            - {type: ExecutionStatus, in: [FAILED]}
        """
    )

    assert matching_flow_triggers(finished(State.FAILED), [downstream])
    assert matching_flow_triggers(finished(State.SUCCESS), [downstream]) == []


def test_unknown_or_malformed_conditions_are_reported_and_never_match() -> None:
    unknown = flow("- id: t\n  type: Flow\n  conditions: [{type: DayWeek, dayOfWeek: MONDAY}]")
    malformed = flow("- id: t\n  type: Flow\n  conditions: [{type: ExecutionFlow, namespace: team}]")

    assert matching_flow_triggers(finished(), [unknown, malformed]) == []
    with pytest.raises(TriggerConditionError, match=r"conditions\[0\]: unsupported condition type 'DayWeek'"):
        parse_conditions(only_trigger(unknown))
    (problem,) = trigger_problems(malformed)
    assert "trigger 't' conditions[0]" in problem and "flowId" in problem


def test_trigger_variables_are_kestras_names() -> None:
    upstream = finished(State.WARNING, outputs={"rows": 3}, labels={"env": "prod"})

    assert flow_trigger_variables(upstream) == {
        "executionId": "up1",
        "namespace": "team",
        "flowId": "etl",
        "flowRevision": 3,
        "state": "WARNING",
        "outputs": {"rows": 3},
        "labels": {"env": "prod"},
    }
    assert finished_event_detail(upstream)["state"] == "WARNING"
    assert "outputs" not in finished_event_detail(upstream)


# --- the EventBridge pattern -------------------------------------------------------------------


def test_the_pattern_selects_stratoflows_finished_events_in_the_trigger_states() -> None:
    pattern = upstream_pattern(*_flow_and_trigger("- {id: t, type: Flow, states: [FAILED]}"))

    assert pattern == {
        "source": [FINISHED_SOURCE],
        "detail-type": [FINISHED_DETAIL_TYPE],
        "detail": {"state": ["FAILED"]},
    }


def test_the_pattern_says_what_the_conditions_say() -> None:
    pattern = upstream_pattern(
        *_flow_and_trigger(
            """
            - id: t
              type: Flow
              conditions:
                - {type: ExecutionFlow, namespace: team, flowId: etl}
                - {type: ExecutionNamespace, namespace: te, comparison: PREFIX}
                - {type: ExecutionStatus, in: [SUCCESS, FAILED], notIn: [FAILED]}
                - {type: ExecutionLabels, labels: {env: prod}}
            """
        )
    )

    assert pattern["detail"] == {
        "state": ["SUCCESS"],
        "namespace": ["team"],
        "flowId": ["etl"],
        "labels": {"env": ["prod"]},
    }


@pytest.mark.parametrize(
    ("conditions", "namespace"),
    [
        (
            "[{type: ExecutionNamespace, namespace: a.b, prefix: true}, {type: ExecutionNamespace, namespace: a, prefix: true}]",
            {"prefix": "a.b"},
        ),
        ("[{type: ExecutionNamespace, namespace: .prod, comparison: SUFFIX}]", {"suffix": ".prod"}),
        (
            "[{type: ExecutionNamespace, namespace: a, prefix: true}, {type: ExecutionNamespace, namespace: z, comparison: SUFFIX}]",
            {"wildcard": "a*z"},
        ),
    ],
)
def test_namespace_conditions_become_one_matcher(conditions: str, namespace: Any) -> None:
    pattern = upstream_pattern(*_flow_and_trigger(f"- id: t\n  type: Flow\n  conditions: {conditions}"))

    assert pattern["detail"]["namespace"] == [namespace]


@pytest.mark.parametrize(
    "triggers",
    [
        "- {id: t, type: Flow, states: [SUCCESS], conditions: [{type: ExecutionStatus, in: [FAILED]}]}",
        "- {id: t, type: Flow, conditions: [{type: ExecutionFlow, namespace: a, flowId: x}, {type: ExecutionFlow, namespace: a, flowId: y}]}",
        "- {id: t, type: Flow, conditions: [{type: ExecutionFlow, namespace: a, flowId: x}, {type: ExecutionNamespace, namespace: b}]}",
        "- {id: t, type: Flow, conditions: [{type: ExecutionNamespace, namespace: ab, prefix: true}, {type: ExecutionNamespace, namespace: ac, prefix: true}]}",
    ],
)
def test_conditions_that_can_never_hold_are_refused(triggers: str) -> None:
    with pytest.raises(TriggerConditionError, match="can never fire"):
        upstream_pattern(*_flow_and_trigger(triggers))


def _flow_and_trigger(triggers: str) -> tuple[Flow, FlowTrigger]:
    f = flow(triggers)
    return f, only_trigger(f)


# --- deterministic execution ids ---------------------------------------------------------------


def test_one_event_delivered_to_one_trigger_always_names_the_same_execution() -> None:
    first = event_execution_id("team", "report", "after-etl", "up1")

    assert first == event_execution_id("team", "report", "after-etl", "up1")
    assert first == f"{trigger_key('team', 'report', 'after-etl')}-up1"
    assert first != event_execution_id("team", "report", "other", "up1")
    assert first != event_execution_id("team2", "report", "after-etl", "up1")
    assert first != event_execution_id("team", "report", "after-etl", "up2")


def test_event_ids_that_are_not_plain_are_hashed_into_a_valid_execution_name() -> None:
    uuid = "7bf73129-1428-4cd3-a780-95db273d1602"
    odd = event_execution_id("team", "report", "t", "a key with spaces / and slashes" * 5)

    assert event_execution_id("team", "report", "t", uuid).endswith(uuid)
    assert re.fullmatch(r"[A-Za-z0-9_-]{1,80}", odd)
    assert odd == event_execution_id("team", "report", "t", "a key with spaces / and slashes" * 5)
