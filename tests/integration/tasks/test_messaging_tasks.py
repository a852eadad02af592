"""SQS, SNS and EventBridge publishing on moto; SNS and EventBridge deliver to SQS queues we read."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import boto3
import pytest

from stratoflow.local import LocalPlatform
from stratoflow.states import State
from stratoflow.tasks.aws import AwsNotFound
from tests.unit.tasks.task_helpers import RunFlow, direct_context, flow_source, load_task, outputs_of


def receive_all(sqs: Any, url: str) -> list[dict[str, Any]]:
    messages: list[dict[str, Any]] = []
    while True:
        batch = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, AttributeNames=["All"]).get(
            "Messages", []
        )
        if not batch:
            return messages
        messages.extend(batch)
        for message in batch:
            sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])


@pytest.fixture
def sqs(aws: None) -> Any:
    return boto3.client("sqs")


def test_sqs_publish_sends_every_message_in_batches(
    run_flow: RunFlow, platform: LocalPlatform, sqs: Any
) -> None:
    # Given: 12 messages (two batches; Pebble's range includes its end), maps sent as JSON
    url = sqs.create_queue(QueueName="jobs")["QueueUrl"]
    source = flow_source(
        f"""
        - id: send
          type: aws.sqs.Publish
          queueUrl: {url}
          messages: "{{{{ range(1, 10) | map('string') | list + [{{'data': {{'n': 11}}}}, {{'data': 'last', 'delaySeconds': 0}}] }}}}"
        """
    )

    # When
    outcome = run_flow(source)

    # Then
    assert outcome.execution.state == State.SUCCESS, [(r.task_id, r.error) for r in outcome.task_runs]
    assert outputs_of(platform, outcome, "send") == {"messagesCount": 12}
    bodies = sorted(m["Body"] for m in receive_all(sqs, url))
    assert len(bodies) == 12 and '{"n": 11}' in bodies and "last" in bodies and "10" in bodies


def test_sqs_publish_from_a_stored_json_lines_file_and_fifo_fields(tmp_path: Path, sqs: Any) -> None:
    # Given
    url = sqs.create_queue(QueueName="jobs.fifo", Attributes={"FifoQueue": "true"})["QueueUrl"]
    ctx = direct_context(tmp_path)
    uri = ctx.put_file(
        "messages.jsonl",
        b'{"data": "a", "groupId": "g", "deduplicationId": "1"}\n\n{"data": "b", "groupId": "g", "deduplicationId": "2"}\n',
    )
    task = load_task(f"{{id: s, type: aws.sqs.Publish, queueUrl: '{url}', from: '{uri}'}}")

    # When
    outputs = task.run(ctx)

    # Then
    received = receive_all(sqs, url)
    assert outputs == {"messagesCount": 2}
    assert [m["Body"] for m in received] == ["a", "b"]
    assert received[0]["Attributes"]["MessageGroupId"] == "g"


def test_sqs_publish_to_a_missing_queue_is_not_found(tmp_path: Path, sqs: Any) -> None:
    task = load_task(
        "{id: s, type: aws.sqs.Publish, queueUrl: 'https://sqs.us-east-1.amazonaws.com/123456789012/nope', messages: [x]}"
    )

    with pytest.raises(AwsNotFound):
        task.run(direct_context(tmp_path))


def test_sns_publish_reaches_a_subscribed_queue(run_flow: RunFlow, platform: LocalPlatform, sqs: Any) -> None:
    # Given
    sns = boto3.client("sns")
    topic = sns.create_topic(Name="alerts")["TopicArn"]
    url = sqs.create_queue(QueueName="inbox")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=queue_arn)
    source = flow_source(
        f"""
        - id: notify
          type: aws.sns.Publish
          topicArn: {topic}
          subject: "Run {{{{ execution.id }}}}\\nfinished"
          message: {{rows: 3, flow: "{{{{ flow.id }}}}"}}
          messageAttributes: {{severity: info}}
        """
    )

    # When
    outcome = run_flow(source)

    # Then
    assert outcome.execution.state == State.SUCCESS
    envelope = json.loads(receive_all(sqs, url)[0]["Body"])
    assert envelope["MessageId"] == outputs_of(platform, outcome, "notify")["messageId"]
    assert json.loads(envelope["Message"]) == {"rows": 3, "flow": "demo"}
    assert envelope["Subject"] == f"Run {outcome.execution.id} finished"
    assert envelope["MessageAttributes"]["severity"]["Value"] == "info"


def test_eventbridge_put_events_are_delivered_by_a_rule(
    run_flow: RunFlow, platform: LocalPlatform, sqs: Any
) -> None:
    # Given: a rule sending the flow's events to a queue
    events = boto3.client("events")
    url = sqs.create_queue(QueueName="events")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    events.put_rule(Name="datasets", EventPattern=json.dumps({"source": ["stratoflow.pipeline"]}))
    events.put_targets(Rule="datasets", Targets=[{"Id": "q", "Arn": queue_arn}])
    source = flow_source(
        """
        - id: emit
          type: aws.eventbridge.PutEvents
          entries:
            - {source: stratoflow.pipeline, detailType: DatasetReady, detail: {dataset: sales, rows: 3}}
            - {source: other.app, detailType: Noise, detail: '{"x": 1}'}
        """
    )

    # When
    outcome = run_flow(source)

    # Then
    outputs = outputs_of(platform, outcome, "emit")
    assert outputs["entryCount"] == 2 and outputs["failedEntryCount"] == 0
    assert len(outputs["eventIds"]) == 2 and all(outputs["eventIds"])
    delivered = [json.loads(m["Body"]) for m in receive_all(sqs, url)]
    assert [(d["detail-type"], d["detail"]) for d in delivered] == [
        ("DatasetReady", {"dataset": "sales", "rows": 3})
    ]


def test_eventbridge_put_events_from_a_stored_file_of_entries(tmp_path: Path, sqs: Any) -> None:
    # Given Kestra's `entries` given as a storage URI (a JSON Lines file of entries)
    events = boto3.client("events")
    url = sqs.create_queue(QueueName="events-from-file")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    events.put_rule(Name="from-file", EventPattern=json.dumps({"source": ["stratoflow.file"]}))
    events.put_targets(Rule="from-file", Targets=[{"Id": "q", "Arn": queue_arn}])
    ctx = direct_context(tmp_path)
    uri = ctx.put_file(
        "entries.jsonl",
        b'{"source": "stratoflow.file", "detailType": "Row", "detail": {"n": 1}}\n'
        b'{"source": "stratoflow.file", "detailType": "Row", "detail": {"n": 2}}\n',
    )
    task = load_task(f"{{id: e, type: io.kestra.plugin.aws.eventbridge.PutEvents, entries: '{uri}'}}")

    # When
    outputs = task.run(ctx)

    # Then
    assert outputs["entryCount"] == 2 and outputs["failedEntryCount"] == 0
    delivered = [json.loads(m["Body"])["detail"] for m in receive_all(sqs, url)]
    assert sorted(d["n"] for d in delivered) == [1, 2]


def test_put_events_entries_must_be_a_list_or_a_storage_uri() -> None:
    from stratoflow.flow import validate_text

    text = flow_source("- {id: e, type: aws.eventbridge.PutEvents, entries: not-a-file}")

    [problem] = validate_text(text, "f.yaml")

    assert problem.path == "tasks[0].entries"
    assert "a storage URI" in problem.message
