"""Alerts on the stack's SNS topic: what the deployer reports when a flow cannot be deployed."""

from __future__ import annotations

from typing import Any

MAX_SUBJECT = 100  # SNS refuses longer subjects
MAX_ERRORS_SHOWN = 50


def invalid_flow_alert(
    namespace: str, flow_id: str, location: str, errors: list[str], live_revision: int | None
) -> tuple[str, str]:
    """(subject, message) of the alert for a flow upload the deployer refused."""
    subject = f"Stratoflow: flow {namespace}.{flow_id} failed to deploy"
    if len(subject) > MAX_SUBJECT:
        subject = subject[: MAX_SUBJECT - 1] + "…"
    if live_revision is None:
        keeps = "No revision of this flow is deployed: nothing runs until a valid file is uploaded."
    else:
        keeps = f"Revision {live_revision} is still deployed and keeps running."
    shown = errors[:MAX_ERRORS_SHOWN]
    lines = [
        f"The flow {namespace}.{flow_id} uploaded as {location} was not deployed.",
        keeps,
        "",
        f"{len(errors)} error(s):",
        *(f"  {error}" for error in shown),
    ]
    if len(errors) > len(shown):
        lines.append(f"  ... and {len(errors) - len(shown)} more")
    return subject, "\n".join(lines)


def publish_alert(sns: Any, topic_arn: str, subject: str, message: str) -> None:
    """Publish to the alerts topic; without a topic (a stack without alerts), nothing is sent."""
    if topic_arn:
        sns.publish(TopicArn=topic_arn, Subject=subject, Message=message)
