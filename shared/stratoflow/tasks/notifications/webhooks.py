"""Incoming webhooks of chat tools: one JSON POST to the webhook `url`.

Kestra's spellings: `payload` is the whole JSON document (text, as Kestra's examples write it, or a
map); `messageText` is a shortcut for a plain message. A chat tool that answers with a non-2xx
status fails the task with `HttpError`, so `retry` and `errors` see it.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request
from datetime import timedelta
from typing import Any, ClassVar

from pydantic import model_validator

from stratoflow.flow.registry import register
from stratoflow.flow.run_context import RunContext
from stratoflow.flow.task import RunnableTask
from stratoflow.tasks.core import as_text
from stratoflow.tasks.errors import HttpError, TaskFailed, TaskTimeout

SEND_TIMEOUT = timedelta(seconds=30)


def post_json(url: str, document: Any, timeout: timedelta | None = None) -> tuple[int, str]:
    """POST `document` as JSON; returns the status and the body's text. Non-2xx raises HttpError."""
    if urllib.parse.urlsplit(url).scheme not in ("http", "https"):
        raise TaskFailed(f"the webhook url '{url}' is not an http or https URL")
    request = urllib.request.Request(
        url,
        data=json.dumps(document).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    seconds = (timeout or SEND_TIMEOUT).total_seconds()
    # The URL carries the webhook's secret token: errors name only its host.
    host = urllib.parse.urlsplit(url).netloc
    try:
        with urllib.request.urlopen(request, timeout=seconds) as answer:
            return answer.status, answer.read().decode("utf-8", errors="replace")
    except urllib.error.HTTPError as err:
        text = err.read().decode("utf-8", errors="replace")[:500]
        raise HttpError(f"the webhook at {host} answered {err.code}: {text}", err.code) from None
    except TimeoutError:
        raise TaskTimeout(f"the webhook at {host} did not answer within {seconds:g} s") from None
    except urllib.error.URLError as err:
        if isinstance(err.reason, TimeoutError):
            raise TaskTimeout(f"the webhook at {host} did not answer within {seconds:g} s") from None
        raise HttpError(f"the webhook at {host} cannot be reached: {err.reason}") from None


def parse_payload(rendered: Any) -> Any:
    """A rendered `payload`: a map as it is, text parsed as JSON (a clear error when it is not)."""
    if isinstance(rendered, dict | list):
        return rendered
    text = as_text(rendered)
    try:
        return json.loads(text)
    except json.JSONDecodeError as err:
        raise TaskFailed(
            f"'payload' is not valid JSON ({err.msg} at line {err.lineno}): {text[:200]}"
        ) from None


class IncomingWebhook(RunnableTask):
    """What every chat webhook shares: the `url`, a JSON `payload` or a `messageText`."""

    kestra_gaps: ClassVar[str] = "`options` (HTTP client options): 30 s timeout, or the task's `timeout`"

    url: str
    payload: str | dict[str, Any] | None = None
    message_text: str | None = None

    # The JSON field a chat tool reads a plain message from, and the tool's name for logs.
    text_field: ClassVar[str] = "text"
    chat: ClassVar[str] = ""

    @model_validator(mode="after")
    def _one_message(self) -> IncomingWebhook:
        if (self.payload is None) == (self.message_text is None):
            raise ValueError("set exactly one of 'payload' (a JSON document) and 'messageText'")
        return self

    def document(self, ctx: RunContext) -> Any:
        if self.message_text is not None:
            return {self.text_field: as_text(ctx.render(self.message_text))}
        return parse_payload(ctx.render(self.payload))

    def run(self, ctx: RunContext) -> dict[str, Any]:
        url = as_text(ctx.render(self.url))
        post_json(url, self.document(ctx), self.timeout)
        ctx.log("INFO", f"sent a message to the {self.chat} webhook at {urllib.parse.urlsplit(url).netloc}")
        return {}


@register
class SlackIncomingWebhook(IncomingWebhook):
    """Post a message to a Slack incoming webhook: `messageText`, or a whole `payload` (blocks...)."""

    type_name: ClassVar[str] = "slack.SlackIncomingWebhook"
    aliases: ClassVar[tuple[str, ...]] = (
        "io.kestra.plugin.notifications.slack.SlackIncomingWebhook",
        "io.kestra.plugin.slack.notifications.SlackIncomingWebhook",
        "io.kestra.plugin.slack.SlackIncomingWebhook",
    )
    chat: ClassVar[str] = "Slack"


@register
class TeamsIncomingWebhook(IncomingWebhook):
    """Post a message to a Microsoft Teams incoming webhook (`payload`: a MessageCard or an Adaptive
    Card document; `messageText`: a plain `text` message)."""

    type_name: ClassVar[str] = "teams.TeamsIncomingWebhook"
    aliases: ClassVar[tuple[str, ...]] = ("io.kestra.plugin.notifications.teams.TeamsIncomingWebhook",)
    chat: ClassVar[str] = "Microsoft Teams"


@register
class DiscordIncomingWebhook(IncomingWebhook):
    """Post a message to a Discord webhook (`payload`: Discord's JSON with `content`, `embeds`...;
    `messageText`: its `content`)."""

    type_name: ClassVar[str] = "discord.DiscordIncomingWebhook"
    aliases: ClassVar[tuple[str, ...]] = ("io.kestra.plugin.notifications.discord.DiscordIncomingWebhook",)
    text_field: ClassVar[str] = "content"
    chat: ClassVar[str] = "Discord"
