"""`DiscordExecution` and `TeamsExecution`: the execution summary of `SlackExecution` (same fields,
same rules for an execution that is still running) in the message shape each chat tool reads — a
Discord embed, a Microsoft Teams MessageCard."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, ClassVar

from pydantic import Field

from stratoflow.flow.registry import register
from stratoflow.flow.run_context import RunContext
from stratoflow.flow.task import RunnableTask
from stratoflow.tasks.core import as_text
from stratoflow.tasks.notifications.execution import (
    CONSOLE_GAP,
    console_link,
    headline,
    summary_fields,
    summary_of,
)
from stratoflow.tasks.notifications.webhooks import post_json

# Red for a failure, amber for a warning, green for a success, blue while it runs (as Slack's colours).
HEX_COLOURS = {"SUCCESS": "2EB886", "WARNING": "DAA038", "FAILED": "A30200", "KILLED": "A30200"}
RUNNING_COLOUR = "439FE0"


def colour_of(state: str) -> str:
    return HEX_COLOURS.get(state, RUNNING_COLOUR)


def discord_message(
    summary: dict[str, Any], now: datetime, custom_message: str | None, custom_fields: dict[str, str]
) -> dict[str, Any]:
    """Discord's webhook JSON: the headline as the embed's title, one inline field per fact."""
    state, fields = summary_fields(summary, now, custom_fields)
    return {
        "embeds": [
            {
                "title": headline(summary, state, custom_message),
                "color": int(colour_of(state), 16),
                "fields": [
                    {"name": name, "value": value, "inline": len(value) < 40} for name, value in fields
                ],
            }
        ]
    }


def teams_message(
    summary: dict[str, Any], now: datetime, custom_message: str | None, custom_fields: dict[str, str]
) -> dict[str, Any]:
    """A Teams MessageCard (what Teams incoming webhooks accept): the headline and the facts."""
    state, fields = summary_fields(summary, now, custom_fields)
    text = headline(summary, state, custom_message)
    return {
        "@type": "MessageCard",
        "@context": "https://schema.org/extensions",
        "themeColor": colour_of(state),
        "summary": text,
        "title": text,
        "sections": [{"facts": [{"name": name, "value": value} for name, value in fields]}],
    }


class ChatExecution(RunnableTask):
    """What both summaries share: the webhook `url`, the execution (this one by default), the
    optional `customMessage` and `customFields`."""

    kestra_gaps: ClassVar[str] = CONSOLE_GAP

    url: str
    execution_id: str = "{{ execution.id }}"
    custom_message: str | None = None
    custom_fields: dict[str, Any] = Field(default_factory=dict)
    console_url: str | None = None

    def message(
        self, ctx: RunContext, summary: dict[str, Any], custom: str | None, fields: dict[str, str]
    ) -> dict[str, Any]:
        raise NotImplementedError

    def link(self, ctx: RunContext, summary: dict[str, Any]) -> str | None:
        return console_link(ctx, self.console_url, summary["id"])

    def run(self, ctx: RunContext) -> dict[str, Any]:
        summary = summary_of(ctx, self.execution_id)
        custom = as_text(ctx.render(self.custom_message)) if self.custom_message is not None else None
        fields = {as_text(k): as_text(v) for k, v in ctx.render(self.custom_fields).items()}
        post_json(as_text(ctx.render(self.url)), self.message(ctx, summary, custom, fields), self.timeout)
        return {}


@register
class DiscordExecution(ChatExecution):
    """Send a Discord message summarising an execution (this one by default): state, start, duration
    and the failed task, as an embed; `content`, `username` and `avatarUrl` as Discord's webhook."""

    type_name: ClassVar[str] = "discord.DiscordExecution"
    aliases: ClassVar[tuple[str, ...]] = ("io.kestra.plugin.notifications.discord.DiscordExecution",)

    content: str | None = None
    username: str | None = None
    avatar_url: str | None = None

    def message(
        self, ctx: RunContext, summary: dict[str, Any], custom: str | None, fields: dict[str, str]
    ) -> dict[str, Any]:
        message = discord_message(summary, datetime.now(UTC), custom, fields)
        link = self.link(ctx, summary)
        if link is not None:  # the embed's title opens the execution's page
            message["embeds"][0]["url"] = link
        for key, value in (
            ("content", self.content),
            ("username", self.username),
            ("avatar_url", self.avatar_url),
        ):
            if value is not None:
                message[key] = as_text(ctx.render(value))
        return message


@register
class TeamsExecution(ChatExecution):
    """Send a Microsoft Teams message (a MessageCard) summarising an execution (this one by default):
    state, start, duration and the failed task."""

    type_name: ClassVar[str] = "teams.TeamsExecution"
    aliases: ClassVar[tuple[str, ...]] = ("io.kestra.plugin.notifications.teams.TeamsExecution",)

    def message(
        self, ctx: RunContext, summary: dict[str, Any], custom: str | None, fields: dict[str, str]
    ) -> dict[str, Any]:
        message = teams_message(summary, datetime.now(UTC), custom, fields)
        link = self.link(ctx, summary)
        if link is not None:
            message["potentialAction"] = [
                {
                    "@type": "OpenUri",
                    "name": "Open in the console",
                    "targets": [{"os": "default", "uri": link}],
                }
            ]
        return message
