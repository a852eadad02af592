"""Fixtures of the integration suite: the stack's code path on moto (`stratoflow.cloudsim`).

One simulated stack per test module (moto and the stack's resources take about a second to set up);
tests of a module share it, so each test deploys flows of its own (distinct ids and object keys).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest

from stratoflow.cloudsim.platform import CloudSimulation

ROOT = Path(__file__).resolve().parents[2]
EVENTS = ROOT / "tests" / "fixtures" / "events"
EXAMPLES = ROOT / "examples"


def event_fixture(name: str, changes: dict[str, Any] | None = None) -> dict[str, Any]:
    """A recorded event from tests/fixtures/events, with fields replaced by dotted path ("detail.object.key")."""
    event: dict[str, Any] = json.loads((EVENTS / f"{name}.json").read_text())
    for path, value in (changes or {}).items():
        *parents, last = path.split(".")
        target = event
        for part in parents:
            target = target[part]
        target[last] = value
    return event


@pytest.fixture(scope="module")
def sim() -> Iterator[CloudSimulation]:
    with CloudSimulation() as simulation:
        yield simulation


class Queue:
    """An SQS queue the test reads: messages come back decoded, oldest first, and are deleted."""

    def __init__(self, name: str):
        self.client = boto3.client("sqs")
        self.url = self.client.create_queue(QueueName=name)["QueueUrl"]
        self.arn = self.client.get_queue_attributes(QueueUrl=self.url, AttributeNames=["QueueArn"])[
            "Attributes"
        ]["QueueArn"]

    def drain(self) -> list[dict[str, Any]]:
        messages: list[dict[str, Any]] = []
        while True:
            batch = self.client.receive_message(QueueUrl=self.url, MaxNumberOfMessages=10).get("Messages", [])
            if not batch:
                return messages
            for message in batch:
                messages.append(json.loads(message["Body"]))
                self.client.delete_message(QueueUrl=self.url, ReceiptHandle=message["ReceiptHandle"])


@pytest.fixture(scope="module")
def alerts(sim: CloudSimulation) -> Queue:
    """The alerts topic, as an e-mail subscriber would read it (SNS -> SQS)."""
    queue = Queue("alerts-reader")
    boto3.client("sns").subscribe(
        TopicArn=sim.settings.stratoflow_alert_topic_arn, Protocol="sqs", Endpoint=queue.arn
    )
    return queue


@pytest.fixture(scope="module")
def finished_events(sim: CloudSimulation) -> Queue:
    """Stratoflow's "Execution Finished" events, through an EventBridge rule as a flow trigger sees them."""
    queue = Queue("finished-reader")
    events = boto3.client("events")
    events.put_rule(
        Name="read-finished",
        EventPattern=json.dumps({"source": ["stratoflow"], "detail-type": ["Execution Finished"]}),
    )
    events.put_targets(Rule="read-finished", Targets=[{"Id": "queue", "Arn": queue.arn}])
    return queue


def eventually(check: Callable[[], Any], timeout: float = 20.0) -> Any:
    """Poll `check` until it returns something truthy (moto runs executions on its own threads)."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"still false after {timeout} s: {check}")
        time.sleep(0.02)
