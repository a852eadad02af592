"""Dead-letter queues: where events and invocations go when every retry failed."""

from __future__ import annotations

from aws_cdk import Duration
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_lambda_destinations as destinations
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from ..config import StratoflowProps
from ..nag import acknowledge

# The longest SQS keeps a message: time to notice the alarm and replay.
DLQ_RETENTION = Duration.days(14)


def dead_letter_queue(scope: Construct, construct_id: str, *, config: StratoflowProps) -> sqs.Queue:
    """An encrypted, TLS-only queue that keeps failed events for 14 days."""
    queue = sqs.Queue(
        scope,
        construct_id,
        encryption=sqs.QueueEncryption.SQS_MANAGED,
        enforce_ssl=True,
        retention_period=DLQ_RETENTION,
        removal_policy=config.removal_policy,
    )
    acknowledge(
        queue,
        "This queue is itself a dead-letter queue; an alarm on its depth reports every message in it.",
        "AwsSolutions-SQS3",
    )
    return queue


def rule_target(
    function: lambda_.Function, dead_letter_queue: sqs.IQueue, *, retry_attempts: int, max_event_age: Duration
) -> targets.LambdaFunction:
    """An EventBridge rule's Lambda target that loses no event.

    EventBridge retries delivery and dead-letters what it cannot deliver; the function's own
    asynchronous invocation dead-letters what it keeps failing on, to the same queue.
    """
    function.configure_async_invoke(
        on_failure=destinations.SqsDestination(dead_letter_queue), retry_attempts=2
    )
    return targets.LambdaFunction(
        function,
        dead_letter_queue=dead_letter_queue,
        retry_attempts=retry_attempts,
        max_event_age=max_event_age,
    )
