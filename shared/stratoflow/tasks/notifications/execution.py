"""`SlackExecution`: a Slack message that summarises an execution — its flow, state, start, duration
and the task that failed.

Used as an `errors` or `finally` task it summarises the running execution itself: its state is then
still RUNNING, so the message shows FAILED (or WARNING) as soon as a task run has, which is the end
the execution is heading to. Used in a flow started by a Flow trigger, `executionId:
"{{ trigger.executionId }}"` summarises the upstream execution.
"""

from __future__ import annotations

import urllib.parse
from datetime import UTC, datetime
from typing import Any, ClassVar

from pydantic import Field

from stratoflow.flow.registry import register
from stratoflow.flow.run_context import RunContext
from stratoflow.flow.task import RunnableTask
from stratoflow.tasks.core import as_text
from stratoflow.tasks.errors import TaskFailed
from stratoflow.tasks.notifications.webhooks import post_json

COLOURS = {"SUCCESS": "good", "WARNING": "warning", "FAILED": "danger", "KILLED": "danger"}
TERMINAL = ("SUCCESS", "WARNING", "FAILED", "KILLED", "CANCELLED")


def reported_state(summary: dict[str, Any]) -> str:
    """The execution's state; while it still runs, FAILED or WARNING once one of its task runs is."""
    state = str(summary["state"])
    if state in TERMINAL:
        return state
    run_states = {run["state"] for run in summary["taskRuns"]}
    for heading in ("FAILED", "WARNING"):
        if heading in run_states:
            return heading
    return state


def duration_text(start: datetime, end: datetime) -> str:
    seconds = max(0, int((end - start).total_seconds()))
    hours, rest = divmod(seconds, 3600)
    minutes, seconds = divmod(rest, 60)
    return f"{hours}h {minutes:02d}m {seconds:02d}s" if hours else f"{minutes}m {seconds:02d}s"


def summary_fields(
    summary: dict[str, Any], now: datetime, custom_fields: dict[str, str] | None = None
) -> tuple[str, list[tuple[str, str]]]:
    """The state to report and the (title, value) fields every chat's summary shows."""
    state = reported_state(summary)
    start = datetime.fromisoformat(summary["startDate"])
    end = datetime.fromisoformat(summary["endDate"]) if summary.get("endDate") else now
    fields = [
        ("Namespace", summary["namespace"]),
        ("Flow", summary["flowId"]),
        ("Execution", summary["id"]),
        ("State", state),
        ("Started", start.isoformat(timespec="seconds")),
        ("Duration", duration_text(start, end)),
    ]
    failed = [run for run in summary["taskRuns"] if run["state"] == "FAILED"]
    if failed:
        first = failed[0]
        fields.append(("Failed task", f"{first['taskId']}: {first['error'] or 'failed'}"[:500]))
    fields.extend((as_text(key), as_text(value)) for key, value in (custom_fields or {}).items())
    return state, fields


def headline(summary: dict[str, Any], state: str, custom_message: str | None) -> str:
    return custom_message or f"{summary['namespace']}.{summary['flowId']} ➛ {state}"


def summary_message(
    summary: dict[str, Any],
    now: datetime,
    custom_message: str | None = None,
    custom_fields: dict[str, str] | None = None,
) -> dict[str, Any]:
    """The Slack message (text and one attachment with the execution's fields)."""
    state, fields = summary_fields(summary, now, custom_fields)
    return {
        "text": headline(summary, state, custom_message),
        "attachments": [
            {
                "color": COLOURS.get(state, "#439FE0"),
                "fields": [
                    {"title": title, "value": value, "short": len(value) < 40} for title, value in fields
                ],
            }
        ],
    }


# Kestra links to its UI from the URL its server is configured with; a task runner knows no such URL
# (in the cloud the console is wherever its user runs `strato server`), so the task is told.
CONSOLE_GAP = "`options`; the link to the execution's page needs `consoleUrl` (the web console's address)"


def console_link(ctx: RunContext, console_url: str | None, execution_id: str) -> str | None:
    """The web console's page of the execution (`<consoleUrl>/ui/executions/<id>`), when a console is named."""
    if console_url is None:
        return None
    base = as_text(ctx.render(console_url)).rstrip("/")
    return f"{base}/ui/executions/{urllib.parse.quote(execution_id, safe='')}"


def summary_of(ctx: RunContext, execution_id: str) -> dict[str, Any]:
    """The summary of the execution a task names (rendered), or TaskFailed when it cannot see it."""
    rendered = as_text(ctx.render(execution_id))
    summary = ctx.execution_summary(rendered)
    if summary is None:
        raise TaskFailed(f"execution '{rendered}' does not exist or is in another namespace")
    return summary


@register
class SlackExecution(RunnableTask):
    """Send a Slack message summarising an execution (this one by default): state, start, duration
    and the failed task."""

    type_name: ClassVar[str] = "slack.SlackExecution"
    kestra_gaps: ClassVar[str] = CONSOLE_GAP
    aliases: ClassVar[tuple[str, ...]] = (
        "io.kestra.plugin.notifications.slack.SlackExecution",
        "io.kestra.plugin.slack.notifications.SlackExecution",
        "io.kestra.plugin.slack.SlackExecution",
    )

    url: str
    execution_id: str = "{{ execution.id }}"
    channel: str | None = None
    username: str | None = None
    icon_url: str | None = None
    icon_emoji: str | None = None
    custom_message: str | None = None
    custom_fields: dict[str, Any] = Field(default_factory=dict)
    console_url: str | None = None

    def run(self, ctx: RunContext) -> dict[str, Any]:
        summary = summary_of(ctx, self.execution_id)
        custom = as_text(ctx.render(self.custom_message)) if self.custom_message is not None else None
        fields = {as_text(k): as_text(v) for k, v in ctx.render(self.custom_fields).items()}
        message = summary_message(summary, datetime.now(UTC), custom, fields)
        link = console_link(ctx, self.console_url, summary["id"])
        if link is not None:  # the attachment's title opens the execution's page
            message["attachments"][0].update(title="Open in the console", title_link=link)
        for key, value in (
            ("channel", self.channel),
            ("username", self.username),
            ("icon_url", self.icon_url),
            ("icon_emoji", self.icon_emoji),
        ):
            if value is not None:
                message[key] = as_text(ctx.render(value))
        post_json(as_text(ctx.render(self.url)), message, self.timeout)
        return {}
