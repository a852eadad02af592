"""`MailExecution`: the execution summary of `SlackExecution` (same fields, same rules for an
execution that is still running) as an email — plain text and an HTML table — sent through SMTP as
`MailSend` sends."""

from __future__ import annotations

import html
from datetime import UTC, datetime
from typing import Any, ClassVar

from pydantic import Field, model_validator

from stratoflow.flow.registry import register
from stratoflow.flow.run_context import RunContext
from stratoflow.tasks.core import as_text
from stratoflow.tasks.notifications.execution import console_link, headline, summary_fields, summary_of
from stratoflow.tasks.notifications.mail import MailSend, build_message


def mail_body(title: str, fields: list[tuple[str, str]], link: str | None) -> tuple[str, str]:
    """(plain, html): the headline, one line or table row per fact, and the console link if any."""
    plain = [title, "", *(f"{name}: {value}" for name, value in fields)]
    rows = "".join(
        f"<tr><th align='left'>{html.escape(name)}</th><td>{html.escape(value)}</td></tr>"
        for name, value in fields
    )
    page = f"<h3>{html.escape(title)}</h3><table>{rows}</table>"
    if link is not None:
        plain += ["", f"Open in the console: {link}"]
        page += f"<p><a href='{html.escape(link, quote=True)}'>Open in the console</a></p>"
    return "\n".join(plain) + "\n", f"<html><body>{page}</body></html>"


@register
class MailExecution(MailSend):
    """Send an email summarising an execution (this one by default): state, start, duration and the
    failed task, through an SMTP server as `MailSend`."""

    type_name: ClassVar[str] = "email.MailExecution"
    kestra_gaps: ClassVar[str] = (
        "`transportStrategy: SMTP_OAUTH2`; the link to the execution's page needs `consoleUrl`"
    )
    aliases: ClassVar[tuple[str, ...]] = (
        "io.kestra.plugin.notifications.mail.MailExecution",
        "io.kestra.plugin.email.MailExecution",
    )

    execution_id: str = "{{ execution.id }}"
    custom_message: str | None = None
    custom_fields: dict[str, Any] = Field(default_factory=dict)
    console_url: str | None = None

    @model_validator(mode="after")
    def _summary_is_the_content(self) -> MailExecution:
        if self.plain_text_content is not None or self.html_text_content is not None:
            raise ValueError(
                "'plainTextContent' and 'htmlTextContent' are not used: the summary is the content "
                "(add text with 'customMessage' and 'customFields')"
            )
        if self.embedded_images:
            raise ValueError("'embeddedImages' needs 'htmlTextContent', which MailExecution writes itself")
        return self

    def run(self, ctx: RunContext) -> dict[str, Any]:
        summary = summary_of(ctx, self.execution_id)
        custom = as_text(ctx.render(self.custom_message)) if self.custom_message is not None else None
        custom_fields = {as_text(k): as_text(v) for k, v in ctx.render(self.custom_fields).items()}
        state, fields = summary_fields(summary, datetime.now(UTC), custom_fields)
        title = headline(summary, state, custom)
        link = console_link(ctx, self.console_url, summary["id"])
        message, addresses = build_message(ctx, self, mail_body(title, fields, link))
        if self.subject is None:  # the headline (Kestra's default subject names the flow and state too)
            message.replace_header("Subject", title)
        return self.send(ctx, message, addresses)
