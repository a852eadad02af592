"""A pipe's batch of SQS messages through admission: one execution per batch, `trigger.messages`, a
deterministic id, and Pipes' partial batch response that keeps refused messages in the queue."""

from __future__ import annotations

import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from stratoflow.cloud.deploy.registry import DeploymentRegistry
from stratoflow.cloud.runtime.queue_batches import QueueBatch, admission_request
from stratoflow.cloud.runtime.starter import Starter
from stratoflow.flow import load_flow
from stratoflow.local.deploy import deploy_flow
from stratoflow.states import State
from stratoflow.store import SqliteExecutionStore
from stratoflow.triggers.events import sqs_message

FLOW = """
    id: orders
    namespace: team.shop
    inputs:
      - {id: first_order, type: INT}
      - {id: received, type: INT}
    tasks: [{id: t, type: Log, message: "{{ inputs.first_order }}"}]
    triggers:
      - id: inbox
        type: aws.sqs.Trigger
        queueUrl: https://sqs.eu-west-1.amazonaws.com/123456789012/orders
        inputs:
          first_order: "{{ trigger.messages[0].body.id }}"
          received: "{{ trigger.count }}"
"""
ARN = "arn:aws:states:eu-west-1:123456789012:stateMachine:Stratoflow-team_shop-orders"


class StepFunctions:
    """StartExecution as AWS answers it: a second start of one name is ExecutionAlreadyExists."""

    def __init__(self) -> None:
        self.started: list[str] = []

    def start_execution(self, stateMachineArn: str, name: str, input: str) -> dict[str, str]:
        if name in self.started:
            error = Exception("ExecutionAlreadyExists")
            error.response = {"Error": {"Code": "ExecutionAlreadyExists"}}  # type: ignore[attr-defined]
            raise error
        self.started.append(name)
        return {"executionArn": f"{stateMachineArn}:{name}"}


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SqliteExecutionStore]:
    with SqliteExecutionStore(tmp_path / "stratoflow.db") as store:
        yield store


@pytest.fixture
def stepfunctions() -> StepFunctions:
    return StepFunctions()


@pytest.fixture
def starter(store: SqliteExecutionStore, stepfunctions: StepFunctions) -> Starter:
    return Starter(store, stepfunctions)


def deploy(store: SqliteExecutionStore, text: str = FLOW) -> None:
    source = textwrap.dedent(text)
    record = deploy_flow(store, load_flow(source), source)
    DeploymentRegistry(store).record_version(
        record.namespace, record.flow_id, record.revision, record.source_hash, f"{ARN}:{record.revision}"
    )


def record(message_id: str, body: str, trigger: str = "inbox") -> dict[str, Any]:
    """One item of a pipe's delivery, as the deployer's input template shapes it."""
    return {
        "namespace": "team.shop",
        "flowId": "orders",
        "trigger": {"id": trigger, "type": "aws.sqs.Trigger"},
        "message": {
            "messageId": message_id,
            "receiptHandle": f"handle-{message_id}",
            "body": body,
            "attributes": {"ApproximateReceiveCount": "1", "SentTimestamp": "1700000000000"},
            "messageAttributes": {"source": {"stringValue": "shop", "dataType": "String"}},
            "md5OfBody": "0",
            "eventSource": "aws:sqs",
            "eventSourceARN": "arn:aws:sqs:eu-west-1:123456789012:orders",
            "awsRegion": "eu-west-1",
        },
    }


DELIVERY = [
    record("7b1c6d2e-0000-4000-8000-000000000001", '{"id": 41, "total": 9.5}'),
    record("7b1c6d2e-0000-4000-8000-000000000002", "plain text, not JSON"),
]


def admit(starter: Starter, delivery: list[dict[str, Any]]) -> tuple[dict[str, Any], Any]:
    """What the admission function does with a delivery: (its answer, the start response)."""
    request, batch = admission_request(delivery)
    assert batch is not None
    response = starter.start(request)
    return batch.reply(response), response


def test_a_batch_starts_one_execution_that_sees_every_message(
    store: SqliteExecutionStore, starter: Starter, stepfunctions: StepFunctions
) -> None:
    # Given a deployed flow with an SQS trigger
    deploy(store)

    # When its pipe delivers a batch of two messages
    answer, response = admit(starter, DELIVERY)

    # Then one execution starts, and the pipe may delete both messages
    assert answer == {"batchItemFailures": []}
    assert response.new and len(stepfunctions.started) == 1
    execution = store.get_execution(response.execution_id)
    assert execution is not None and execution.state == State.RUNNING
    # ... its trigger holds the messages (a JSON body parsed, a text body as sent) and their count
    assert execution.trigger is not None
    assert execution.trigger["count"] == 2
    assert [m["body"] for m in execution.trigger["messages"]] == [
        {"id": 41, "total": 9.5},
        "plain text, not JSON",
    ]
    assert execution.trigger["messages"][0] == {
        "messageId": "7b1c6d2e-0000-4000-8000-000000000001",
        "body": {"id": 41, "total": 9.5},
        "attributes": {"ApproximateReceiveCount": "1", "SentTimestamp": "1700000000000"},
        "messageAttributes": {"source": {"stringValue": "shop", "dataType": "String"}},
    }
    # ... and the trigger's inputs were rendered from trigger.messages
    assert execution.inputs == {"first_order": 41, "received": 2}


def test_a_redelivered_batch_starts_nothing_new(
    store: SqliteExecutionStore, starter: Starter, stepfunctions: StepFunctions
) -> None:
    # Given a batch admitted once
    deploy(store)
    _, first = admit(starter, DELIVERY)

    # When the same messages come again
    answer, again = admit(starter, DELIVERY)

    # Then the delivery names the same execution, and nothing else starts
    assert answer == {"batchItemFailures": []}
    assert again.execution_id == first.execution_id and not again.new
    assert stepfunctions.started == [first.execution_id]
    assert len(store.list_executions(namespace="team.shop", flow_id="orders")) == 1


def test_a_batch_is_named_by_its_messages_in_any_order() -> None:
    forward, backward = QueueBatch.from_delivery(DELIVERY), QueueBatch.from_delivery(DELIVERY[::-1])
    other = QueueBatch.from_delivery([DELIVERY[0], record("7b1c6d2e-0000-4000-8000-000000000003", "x")])

    assert forward.request.execution_id == backward.request.execution_id != other.request.execution_id


def test_one_message_names_its_execution_after_itself() -> None:
    (message,) = DELIVERY[:1]

    batch = QueueBatch.from_delivery([message])

    assert batch.request.execution_id is not None
    assert batch.request.execution_id.endswith("-7b1c6d2e-0000-4000-8000-000000000001")


@pytest.mark.parametrize(
    ("setup", "reason"),
    [
        ("nothing", "is not deployed"),
        ("disabled trigger", "is disabled"),
        ("bad input", "first_order"),
    ],
)
def test_a_refused_batch_stays_in_the_queue(
    store: SqliteExecutionStore, starter: Starter, stepfunctions: StepFunctions, setup: str, reason: str
) -> None:
    # Given a flow that is not deployed, whose trigger is disabled, or whose input cannot be rendered
    if setup == "disabled trigger":
        deploy(store, FLOW.replace("type: aws.sqs.Trigger", "type: aws.sqs.Trigger\n        disabled: true"))
    elif setup == "bad input":
        deploy(store, FLOW.replace("trigger.messages[0].body.id", "trigger.messages[0].body.missing"))
    delivery = [record("m-1", '{"id": 1}'), record("m-2", '{"id": 2}')]

    # When its pipe delivers a batch
    answer, response = admit(starter, delivery)

    # Then admission refuses, and every message is reported failed: the pipe deletes none of them
    assert response.state == "REFUSED" and reason in (response.error or "")
    assert answer == {"batchItemFailures": [{"itemIdentifier": "m-1"}, {"itemIdentifier": "m-2"}]}
    assert stepfunctions.started == []


def test_a_batch_refused_by_the_concurrency_limit_is_taken_from_the_queue(
    store: SqliteExecutionStore, starter: Starter
) -> None:
    # Given a flow allowing one execution at a time, cancelling the others, with one running
    deploy(store, FLOW.replace("    tasks:", "    concurrency: {limit: 1, behavior: CANCEL}\n    tasks:"))
    admit(starter, [record("m-1", '{"id": 1}')])

    # When another batch comes
    answer, response = admit(starter, [record("m-2", '{"id": 2}')])

    # Then its execution is recorded CANCELLED: an accepted start, the messages are done
    assert response.state == "CANCELLED"
    assert answer == {"batchItemFailures": []}


@pytest.mark.parametrize(
    "delivery",
    [
        [],
        ["not an object"],
        [record("m-1", "x"), record("m-2", "x", trigger="other")],
        [{**record("m-1", "x"), "message": {"body": "no id"}}],
    ],
)
def test_a_delivery_no_pipe_sends_is_an_error(delivery: list[Any]) -> None:
    # A raised error fails the whole batch on Pipes: the messages stay in the queue
    with pytest.raises(ValueError):
        QueueBatch.from_delivery(delivery)


def test_a_start_that_is_not_a_batch_is_still_one_request() -> None:
    request, batch = admission_request({"namespace": "team", "flowId": "etl", "inputs": {"n": 1}})

    assert batch is None and request.inputs == {"n": 1}


def test_sqs_message_keeps_what_the_flow_needs() -> None:
    message = sqs_message({"messageId": "m", "body": "[1, 2]", "receiptHandle": "secret-ish"})

    assert message == {"messageId": "m", "body": [1, 2], "attributes": {}, "messageAttributes": {}}
