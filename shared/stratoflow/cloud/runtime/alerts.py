"""Alerts on the stack's SNS topic, beside the CloudWatch alarms: the messages only Stratoflow can write.

- a flow upload the deployer refused: which flow, which file, every error, what keeps running;
- an execution that ended FAILED (sent by the execution-events function): the flow, the execution,
  the first failed task with its error, and the commands that show the rest.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from stratoflow.domain import Execution, TaskRun

if TYPE_CHECKING:  # boto3-stubs (dev only): nothing of it is imported at run time
    from mypy_boto3_sns import SNSClient

MAX_SUBJECT = 99  # SNS: "less than 100 characters"
MAX_ERRORS_SHOWN = 50
MAX_ERROR_CHARS = 4000  # an error message (a stack trace, a script's output) is cut to this
DEFAULT_STACK = "Stratoflow"
# The console's domain per partition; another partition's alert has no console link.
CONSOLE_DOMAINS = {
    "aws": "console.aws.amazon.com",
    "aws-us-gov": "console.amazonaws-us-gov.com",
    "aws-cn": "console.amazonaws.cn",
}


def invalid_flow_alert(
    namespace: str, flow_id: str, location: str, errors: list[str], live_revision: int | None
) -> tuple[str, str]:
    """(subject, message) of the alert for a flow upload the deployer refused."""
    subject = _subject(f"Stratoflow: flow {namespace}.{flow_id} failed to deploy")
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


def publish_alert(sns: SNSClient, topic_arn: str, subject: str, message: str) -> None:
    """Publish to the alerts topic; without a topic (a stack without alerts), nothing is sent."""
    if topic_arn:
        sns.publish(TopicArn=topic_arn, Subject=subject, Message=message)


def execution_failed_alert(
    execution: Execution, failed: TaskRun | None, execution_arn: str, stack_name: str = DEFAULT_STACK
) -> tuple[str, str]:
    """(subject, message) of the alert for an execution that ended FAILED.

    `failed` is the first task run whose failure failed the execution (`finalize.first_failure`);
    without one (a timeout, a start that failed) the execution's own error says why.
    """
    flow = f"{execution.namespace}.{execution.flow_id}"
    subject = _subject(f"Stratoflow: {flow} FAILED")
    lines = [
        f"Flow:       {flow} (revision {execution.revision})",
        f"Execution:  {execution.id}",
        f"State:      {execution.state}",
        f"Started:    {execution.start_date.isoformat(timespec='seconds')}",
    ]
    if execution.end_date is not None:
        lines.append(f"Ended:      {execution.end_date.isoformat(timespec='seconds')}")
    if failed is not None:
        attempts = len(failed.attempts)
        lines += [
            "",
            f"First failed task: {failed.task_id} ({failed.task_type})"
            + (f" after {attempts} attempt(s)" if attempts else ""),
        ]
        if failed.value is not None:
            lines.append(f"Loop value:        {failed.value}")
        lines.append(f"Error:             {_cut(failed.error or 'no error recorded')}")
    elif execution.error:
        lines += ["", f"Error: {_cut(execution.error)}"]
    stack = "" if stack_name == DEFAULT_STACK else f" --stack {stack_name}"
    lines += [
        "",
        "Look closer:",
        f"  strato executions show {execution.id} --remote{stack}",
        f"  strato logs {execution.id} --remote{stack}",
    ]
    console = console_url(execution_arn)
    if console:
        lines.append(f"  {console}")
    return subject, "\n".join(lines)


def console_url(execution_arn: str) -> str | None:
    """The Step Functions console page of an execution (graph, events), or None for an unknown partition."""
    parts = execution_arn.split(":")
    if len(parts) < 8 or parts[0] != "arn" or parts[1] not in CONSOLE_DOMAINS:
        return None
    region = parts[3]
    domain = CONSOLE_DOMAINS[parts[1]]
    return f"https://{region}.{domain}/states/home?region={region}#/v2/executions/details/{execution_arn}"


def _subject(text: str) -> str:
    # SNS refuses line breaks and control characters in a subject; plain ASCII dots for the cut.
    text = " ".join(text.split())
    return text if len(text) <= MAX_SUBJECT else text[: MAX_SUBJECT - 3] + "..."


def _cut(text: str) -> str:
    return text if len(text) <= MAX_ERROR_CHARS else text[:MAX_ERROR_CHARS] + " ...(cut)"
