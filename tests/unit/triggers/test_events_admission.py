"""Trigger deliveries through admission: trigger.* completed, inputs rendered, duplicates deduped,
disabled triggers refused, and `stopAfter` disabling a trigger when an execution ends."""

from __future__ import annotations

import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from stratoflow.domain import Execution
from stratoflow.errors import InputError
from stratoflow.execution.admission import admit
from stratoflow.execution.deliveries import TriggerSkipped
from stratoflow.execution.finalize import finish_execution
from stratoflow.flow import Flow, load_flow
from stratoflow.local.deploy import deploy_flow
from stratoflow.states import State
from stratoflow.store import SqliteExecutionStore, TriggerState
from stratoflow.triggers.events import event_execution_id

S3_EVENT: dict[str, Any] = {
    "version": "0",
    "id": "17793124-05d4-b198-2fde-7ededc63b103",
    "detail-type": "Object Created",
    "source": "aws.s3",
    "detail": {
        "bucket": {"name": "landing-zone"},
        "object": {"key": "in/orders-2024.csv", "size": 512, "etag": "b1946ac9"},
    },
}


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SqliteExecutionStore]:
    with SqliteExecutionStore(tmp_path / "stratoflow.db") as store:
        yield store


def deployed(store: SqliteExecutionStore, text: str) -> Flow:
    source = textwrap.dedent(text)
    flow = load_flow(source)
    record = deploy_flow(store, flow, source)
    return flow.model_copy(update={"revision": record.revision})


def upstream(store: SqliteExecutionStore, state: State = State.SUCCESS) -> Execution:
    execution = Execution(
        id="up1", namespace="team", flow_id="etl", revision=1, state=state, outputs={"rows": 42}
    )
    store.create_execution(execution)
    return execution


DOWNSTREAM = """
    id: report
    namespace: team
    inputs:
      - {id: rows, type: INT}
      - {id: source, type: STRING, defaults: manual}
    tasks: [{id: t, type: Log, message: hi}]
    triggers:
      - id: after-etl
        type: Flow
        states: [SUCCESS]
        conditions: [{type: ExecutionFlow, namespace: team, flowId: etl}]
        inputs:
          rows: "{{ trigger.outputs.rows }}"
          source: "{{ trigger.namespace }}.{{ trigger.flowId }}"
        labels: {started-by: etl}
"""


def test_a_flow_trigger_delivery_gets_the_upstream_execution_as_trigger(store: SqliteExecutionStore) -> None:
    # Given a finished upstream execution and a downstream flow triggered by it
    flow = deployed(store, DOWNSTREAM)
    upstream(store)

    # When the delivery (which names only the upstream id) is admitted
    execution, new = admit(store, flow, 1, trigger={"id": "after-etl", "type": "Flow", "executionId": "up1"})

    # Then trigger.* is complete, the trigger's inputs are rendered with it, its labels applied
    assert new
    assert execution.trigger == {
        "id": "after-etl",
        "type": "Flow",
        "executionId": "up1",
        "namespace": "team",
        "flowId": "etl",
        "flowRevision": 1,
        "state": "SUCCESS",
        "outputs": {"rows": 42},
        "labels": {},
    }
    assert execution.inputs == {"rows": 42, "source": "team.etl"}
    # The upstream (up1, without a correlation label of its own) is the root of the chain.
    assert execution.labels == {"started-by": "etl", "system.correlationId": "up1"}


def test_given_inputs_win_over_the_triggers(store: SqliteExecutionStore) -> None:
    flow = deployed(store, DOWNSTREAM)
    upstream(store)

    execution, _ = admit(
        store,
        flow,
        1,
        {"source": "override"},
        trigger={"id": "after-etl", "type": "Flow", "executionId": "up1"},
    )

    assert execution.inputs["source"] == "override"


def test_a_duplicate_delivery_starts_one_execution(store: SqliteExecutionStore) -> None:
    flow = deployed(store, DOWNSTREAM)
    upstream(store)
    delivery = {"id": "after-etl", "type": "Flow", "executionId": "up1"}
    execution_id = event_execution_id("team", "report", "after-etl", "up1")

    first, first_new = admit(store, flow, 1, trigger=delivery, execution_id=execution_id)
    second, second_new = admit(store, flow, 1, trigger=delivery, execution_id=execution_id)

    assert (first_new, second_new) == (True, False)
    assert second.id == first.id
    assert len(store.list_executions("team", "report")) == 1


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"state": State.FAILED}, "does not match"),
        ({"flow_id": "report"}, "does not match"),  # its own execution
    ],
)
def test_a_delivery_the_trigger_does_not_match_is_skipped(
    store: SqliteExecutionStore, change: dict[str, Any], message: str
) -> None:
    flow = deployed(
        store, DOWNSTREAM.replace("conditions: [{type: ExecutionFlow, namespace: team, flowId: etl}]", "")
    )
    store.create_execution(Execution(id="up1", namespace="team", revision=1, **{"flow_id": "etl", **change}))

    with pytest.raises(TriggerSkipped, match=message):
        admit(store, flow, 1, trigger={"id": "after-etl", "type": "Flow", "executionId": "up1"})
    assert [e.id for e in store.list_executions()] == ["up1"]  # nothing recorded


def test_a_delivery_for_a_missing_upstream_is_skipped(store: SqliteExecutionStore) -> None:
    flow = deployed(store, DOWNSTREAM)

    with pytest.raises(TriggerSkipped, match="does not exist"):
        admit(store, flow, 1, trigger={"id": "after-etl", "type": "Flow", "executionId": "nope"})


def test_disabled_triggers_start_nothing(store: SqliteExecutionStore) -> None:
    # Given a trigger disabled in the flow, and another disabled by its state (stopAfter)
    flow = deployed(
        store, DOWNSTREAM.replace("states: [SUCCESS]", "states: [SUCCESS]\n        disabled: true")
    )
    upstream(store)

    with pytest.raises(TriggerSkipped, match="is disabled"):
        admit(store, flow, 1, trigger={"id": "after-etl", "type": "Flow", "executionId": "up1"})

    other = deployed(store, DOWNSTREAM.replace("id: report", "id: report2"))
    store.put_trigger_state(
        TriggerState(
            namespace="team", flow_id="report2", trigger_id="after-etl", disabled=True, reason="stopAfter"
        )
    )
    with pytest.raises(TriggerSkipped, match="disabled: stopAfter"):
        admit(store, other, 1, trigger={"id": "after-etl", "type": "Flow", "executionId": "up1"})


def test_a_trigger_input_that_cannot_render_is_an_input_error(store: SqliteExecutionStore) -> None:
    flow = deployed(store, DOWNSTREAM.replace("trigger.outputs.rows", "trigger.outputs.missing"))
    upstream(store)

    with pytest.raises(InputError, match="input 'rows': trigger 'after-etl' could not render it"):
        admit(store, flow, 1, trigger={"id": "after-etl", "type": "Flow", "executionId": "up1"})


def test_an_s3_delivery_gets_trigger_object(store: SqliteExecutionStore) -> None:
    flow = deployed(
        store,
        """
        id: load
        namespace: team
        inputs: [{id: file, type: STRING}]
        tasks: [{id: t, type: Log, message: hi}]
        triggers:
          - id: on-upload
            type: aws.s3.Trigger
            bucket: landing-zone
            prefix: in/
            suffix: .csv
            inputs: {file: "{{ trigger.object.uri }}"}
        """,
    )

    execution, _ = admit(
        store, flow, 1, trigger={"id": "on-upload", "type": "aws.s3.Trigger", "event": S3_EVENT}
    )

    assert execution.inputs == {"file": "s3://landing-zone/in/orders-2024.csv"}
    assert execution.trigger is not None
    assert execution.trigger["object"] == {
        "bucket": "landing-zone",
        "key": "in/orders-2024.csv",
        "size": 512,
        "etag": "b1946ac9",
        "uri": "s3://landing-zone/in/orders-2024.csv",
    }
    assert execution.trigger["event"] == S3_EVENT
    # An object outside the prefix is not the trigger's
    other = {**S3_EVENT, "detail": {**S3_EVENT["detail"], "object": {"key": "out/x.csv"}}}
    with pytest.raises(TriggerSkipped, match="does not match"):
        admit(store, flow, 1, trigger={"id": "on-upload", "type": "aws.s3.Trigger", "event": other})


def test_kestras_s3_trigger_matches_by_regexp_and_lists_the_objects(store: SqliteExecutionStore) -> None:
    # Given: Kestra's type and properties (the polling interval has nothing to time with S3 events)
    flow = deployed(
        store,
        """
        id: load
        namespace: team
        inputs: [{id: files, type: JSON}]
        tasks: [{id: t, type: Log, message: hi}]
        triggers:
          - id: watch
            type: io.kestra.plugin.aws.s3.Trigger
            bucket: landing-zone
            interval: PT1M
            action: NONE
            regexp: 'in/orders-[0-9]{4}[.]csv'
            inputs: {files: "{{ trigger.objects | jq('[.[].uri]') | first }}"}
        """,
    )

    # When
    execution, _ = admit(store, flow, 1, trigger={"id": "watch", "type": "aws.s3.Trigger", "event": S3_EVENT})

    # Then
    assert execution.inputs == {"files": ["s3://landing-zone/in/orders-2024.csv"]}
    other = {**S3_EVENT, "detail": {**S3_EVENT["detail"], "object": {"key": "in/orders-draft.csv"}}}
    with pytest.raises(TriggerSkipped, match="does not match"):
        admit(store, flow, 1, trigger={"id": "watch", "type": "aws.s3.Trigger", "event": other})


def test_kestras_s3_trigger_actions_that_move_or_delete_are_refused_with_the_way_out() -> None:
    # Given / When / Then
    with pytest.raises(Exception, match=r"action MOVE is not supported.*aws\.s3\.Copy with delete: true"):
        load_flow(
            textwrap.dedent(
                """
                id: load
                namespace: team
                tasks: [{id: t, type: Log, message: hi}]
                triggers:
                  - {id: w, type: io.kestra.plugin.aws.s3.Trigger, bucket: landing-zone, action: MOVE}
                """
            )
        )


def test_an_eventbridge_delivery_gets_trigger_event(store: SqliteExecutionStore) -> None:
    flow = deployed(
        store,
        """
        id: on-order
        namespace: team
        inputs: [{id: order, type: STRING}]
        tasks: [{id: t, type: Log, message: hi}]
        triggers:
          - id: orders
            type: aws.eventbridge.Trigger
            pattern: {source: [shop.orders]}
            inputs: {order: "{{ trigger.event.detail.orderId }}"}
        """,
    )
    event = {
        "id": "e-1",
        "source": "shop.orders",
        "detail-type": "Order Placed",
        "detail": {"orderId": "A-7"},
    }

    execution, _ = admit(
        store, flow, 1, trigger={"id": "orders", "type": "aws.eventbridge.Trigger", "event": event}
    )

    assert execution.inputs == {"order": "A-7"}
    assert execution.trigger == {"id": "orders", "type": "aws.eventbridge.Trigger", "event": event}
    with pytest.raises(TriggerSkipped, match="carries no event"):
        admit(store, flow, 1, trigger={"id": "orders", "type": "aws.eventbridge.Trigger"})


def test_starts_that_are_not_trigger_deliveries_are_left_as_they_are(store: SqliteExecutionStore) -> None:
    flow = deployed(store, DOWNSTREAM)
    schedule_like = {"id": "after-etl", "type": "schedule", "date": "2024-05-01T00:00:00Z"}

    execution, _ = admit(store, flow, 1, {"rows": 1}, trigger=schedule_like)

    assert execution.trigger == schedule_like
    assert execution.inputs == {"rows": 1, "source": "manual"}


def test_stop_after_disables_the_trigger_when_an_execution_it_started_ends_so(
    store: SqliteExecutionStore,
) -> None:
    # Given a trigger that stops after a failure
    flow = deployed(
        store, DOWNSTREAM.replace("states: [SUCCESS]", "states: [SUCCESS]\n        stopAfter: [FAILED]")
    )
    upstream(store)
    delivery = {"id": "after-etl", "type": "Flow", "executionId": "up1"}
    ok, _ = admit(store, flow, 1, trigger=delivery, execution_id="ok")
    failing, _ = admit(store, flow, 1, trigger=delivery, execution_id="failing")

    # When one of its executions succeeds, nothing changes; when one fails, the trigger is disabled
    finish_execution(store, ok.id, "SUCCEEDED")
    assert store.get_trigger_state("team", "report", "after-etl") is None
    finish_execution(store, failing.id, "FAILED", "boom")
    state = store.get_trigger_state("team", "report", "after-etl")

    assert state is not None and state.disabled
    assert state.reason == "stopAfter: execution failing ended FAILED"
    with pytest.raises(TriggerSkipped):
        admit(store, flow, 1, trigger=delivery, execution_id="next")


def test_trigger_inputs_the_flow_does_not_declare_are_dropped(store: SqliteExecutionStore) -> None:
    # Given a Kestra flow whose trigger passes an input the flow does not declare (validate warns)
    text = DOWNSTREAM.replace("labels: {started-by: etl}", "labels: {started-by: etl}\n").replace(
        'source: "{{ trigger.namespace }}.{{ trigger.flowId }}"',
        'source: "{{ trigger.namespace }}"\n          legacy: "{{ trigger.flowId }}"',
    )
    flow = deployed(store, text)
    upstream(store)

    # When
    execution, _ = admit(store, flow, 1, trigger={"id": "after-etl", "type": "Flow", "executionId": "up1"})

    # Then the execution starts, as in Kestra, without the undeclared value
    assert execution.inputs == {"rows": 42, "source": "team"}
