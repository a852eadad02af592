"""What EventBridge Pipes does for SQS triggers, played in-process on moto (which stores pipes, never runs them).

`QueuePipes.deliver()` runs each RUNNING pipe of the stack once, as Pipes' poller would: it receives up
to the pipe's BatchSize messages from its source queue, shapes each SQS record with the pipe's input
template, invokes the pipe's target (admission, answered in-process) synchronously with the array, and
deletes the messages the answer does not list in `batchItemFailures`. A function error fails the whole
batch. Failed messages stay in the queue, invisible until its visibility timeout, as on AWS.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from stratoflow.cloudsim.stack import REGION

if TYPE_CHECKING:  # boto3-stubs (dev only): nothing of it is imported at run time
    from mypy_boto3_lambda import LambdaClient
    from mypy_boto3_pipes import EventBridgePipesClient
    from mypy_boto3_sqs import SQSClient

# The only template variable the deployer's pipes use (cloud.deploy.pipes.input_template).
EVENT_JSON = "<aws.pipes.event.json>"


@dataclass
class PipeDelivery:
    """One batch a pipe delivered: its message ids, the target's answer, and the ids it deleted."""

    pipe: str
    message_ids: list[str]
    answer: Any
    deleted: list[str] = field(default_factory=list)


def sqs_record(message: dict[str, Any], queue_arn: str) -> dict[str, Any]:
    """The record Pipes makes of a received SQS message (the shape Lambda's SQS events have)."""
    return {
        "messageId": message["MessageId"],
        "receiptHandle": message["ReceiptHandle"],
        "body": message["Body"],
        "attributes": dict(message.get("Attributes") or {}),
        "messageAttributes": {
            name: {key[:1].lower() + key[1:]: value for key, value in attribute.items()}
            for name, attribute in (message.get("MessageAttributes") or {}).items()
        },
        "md5OfBody": message.get("MD5OfBody", ""),
        "eventSource": "aws:sqs",
        "eventSourceARN": queue_arn,
        "awsRegion": REGION,
    }


def apply_template(template: str | None, record: dict[str, Any]) -> Any:
    """The target's view of one record: the input template with the record in it (the record without one)."""
    if template is None:
        return record
    text = template.replace(EVENT_JSON, json.dumps(record))
    if "<aws.pipes." in text or "<$." in text:
        raise ValueError(f"the simulation plays only {EVENT_JSON} in input templates: {template}")
    return json.loads(text)


class QueuePipes:
    """Runs the stack's pipes on demand; the clients are moto's (pipes, sqs, lambda)."""

    def __init__(
        self, pipes: EventBridgePipesClient, sqs: SQSClient, lambda_: LambdaClient, prefix: str
    ) -> None:
        self.pipes = pipes
        self.sqs = sqs
        self.lambda_ = lambda_
        self.prefix = prefix

    def deliver(self) -> list[PipeDelivery]:
        """One poll of every RUNNING pipe: the batches delivered (none for an empty queue)."""
        deliveries = []
        for summary in self.pipes.list_pipes(NamePrefix=self.prefix).get("Pipes", []):
            if summary.get("DesiredState") != "RUNNING":
                continue  # a STOPPED pipe leaves its messages in the queue
            delivery = self._poll(dict(self.pipes.describe_pipe(Name=summary["Name"])))
            if delivery is not None:
                deliveries.append(delivery)
        return deliveries

    def _poll(self, pipe: dict[str, Any]) -> PipeDelivery | None:
        queue_arn = str(pipe["Source"])
        _, _, _, _, account, name = queue_arn.split(":")
        url = self.sqs.get_queue_url(QueueName=name, QueueOwnerAWSAccountId=account)["QueueUrl"]
        size = int(pipe.get("SourceParameters", {}).get("SqsQueueParameters", {}).get("BatchSize", 10))
        messages: list[dict[str, Any]] = []
        while len(messages) < size:  # SQS hands out at most 10 messages per receive
            received = self.sqs.receive_message(
                QueueUrl=url,
                MaxNumberOfMessages=min(10, size - len(messages)),
                AttributeNames=["All"],
                MessageAttributeNames=["All"],
            ).get("Messages", [])
            if not received:
                break
            messages.extend(dict(message) for message in received)
        if not messages:
            return None
        records = [sqs_record(message, queue_arn) for message in messages]
        template = pipe.get("TargetParameters", {}).get("InputTemplate")
        response = self.lambda_.invoke(
            FunctionName=pipe["Target"],
            InvocationType="RequestResponse",
            Payload=json.dumps([apply_template(template, record) for record in records]).encode(),
        )
        answer = json.loads(response["Payload"].read() or b"null")
        delivery = PipeDelivery(str(pipe["Name"]), [record["messageId"] for record in records], answer)
        if response.get("FunctionError"):
            return delivery  # the whole batch failed
        failed = {item.get("itemIdentifier") for item in (answer or {}).get("batchItemFailures", [])}
        for record in records:
            if record["messageId"] not in failed:
                self.sqs.delete_message(QueueUrl=url, ReceiptHandle=record["receiptHandle"])
                delivery.deleted.append(record["messageId"])
        return delivery
