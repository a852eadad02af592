"""Email: the message Kestra's `MailSend` builds (plain text and/or HTML, attachments from storage),
sent through an SMTP server. `aws.ses.SendEmail` sends the same message through Amazon SES."""

from __future__ import annotations

import mimetypes
import smtplib
import ssl
from email.message import EmailMessage
from email.utils import getaddresses
from typing import Any, ClassVar, Literal

from pydantic import Field

from stratoflow.flow.fields import StrictModel
from stratoflow.flow.registry import register
from stratoflow.flow.run_context import RunContext
from stratoflow.flow.task import RunnableTask
from stratoflow.tasks.core import as_text
from stratoflow.tasks.errors import TaskFailed, TaskTimeout
from stratoflow.tasks.files import read_stored, safe_file_name


class Attachment(StrictModel):
    """A stored file (`uri`) attached under `name`."""

    name: str
    uri: str
    content_type: str | None = None


def recipients(value: Any) -> list[str]:
    """Addresses from text (comma-separated, as Kestra's `to`) or a list."""
    items = value if isinstance(value, list) else [value]
    return [address for _, address in getaddresses([as_text(item) for item in items if item]) if address]


class MailContent(StrictModel):
    """The properties of a message, shared by SMTP and SES."""

    from_: str = Field(alias="from")
    to: str | list[str]
    cc: str | list[str] | None = None
    subject: str | None = None
    plain_text_content: str | None = None
    html_text_content: str | None = None
    attachments: list[Attachment] = Field(default_factory=list)
    embedded_images: list[Attachment] = Field(default_factory=list)


def build_message(
    ctx: RunContext, spec: Any, body: tuple[str, str] | None = None
) -> tuple[EmailMessage, list[str]]:
    """The MIME message and every recipient (to and cc); files are read from storage. `body`: a
    (plain, html) content already made (never rendered: it may quote text such as `{{`)."""
    message = EmailMessage()
    message["From"] = as_text(ctx.render(spec.from_))
    to, cc = recipients(ctx.render(spec.to)), recipients(ctx.render(spec.cc)) if spec.cc else []
    if not to:
        raise TaskFailed("'to' rendered to no email address")
    message["To"] = ", ".join(to)
    if cc:
        message["Cc"] = ", ".join(cc)
    message["Subject"] = as_text(ctx.render(spec.subject)) if spec.subject is not None else ""
    plain = as_text(ctx.render(spec.plain_text_content)) if spec.plain_text_content is not None else None
    html = as_text(ctx.render(spec.html_text_content)) if spec.html_text_content is not None else None
    if body is not None:
        plain, html = body
    html_part: EmailMessage | None = None
    if plain is not None:
        message.set_content(plain)
        if html is not None:
            message.add_alternative(html, subtype="html")
            html_part = message.get_body(("html",))  # type: ignore[assignment]
    elif html is not None:
        message.set_content(html, subtype="html")
        html_part = message
    else:
        message.set_content("")
    if spec.embedded_images and html_part is None:
        raise TaskFailed("'embeddedImages' needs 'htmlTextContent' to show them in")
    for image in spec.embedded_images:
        data, maintype, subtype, name = _file(ctx, image)
        # Referenced from the HTML as `cid:<name>`, as Kestra's embeddedImages are.
        assert html_part is not None
        html_part.add_related(data, maintype=maintype, subtype=subtype, cid=f"<{name}>", filename=name)
    for attachment in spec.attachments:
        data, maintype, subtype, name = _file(ctx, attachment)
        message.add_attachment(data, maintype=maintype, subtype=subtype, filename=name)
    return message, to + cc


def _file(ctx: RunContext, attachment: Attachment) -> tuple[bytes, str, str, str]:
    name = safe_file_name(as_text(ctx.render(attachment.name)), "attachment")
    data = read_stored(ctx, as_text(ctx.render(attachment.uri)))
    kind = (
        as_text(ctx.render(attachment.content_type))
        if attachment.content_type is not None
        else mimetypes.guess_type(name)[0] or "application/octet-stream"
    )
    maintype, _, subtype = kind.partition("/")
    return data, maintype, subtype or "octet-stream", name


@register
class MailSend(RunnableTask, MailContent):
    """Send an email through an SMTP server: plain text and/or HTML, with attachments from storage."""

    type_name: ClassVar[str] = "email.MailSend"
    kestra_gaps: ClassVar[str] = "`transportStrategy: SMTP_OAUTH2`"
    aliases: ClassVar[tuple[str, ...]] = (
        "io.kestra.plugin.notifications.mail.MailSend",
        "io.kestra.plugin.email.MailSend",
    )

    host: str
    port: int = Field(default=25, ge=1, le=65535)
    username: str | None = None
    password: str | None = None
    # SMTPS: TLS from the first byte; SMTP_TLS: STARTTLS; SMTP: plain (a relay on a trusted network).
    transport_strategy: Literal["SMTP", "SMTPS", "SMTP_TLS"] = "SMTPS"
    session_timeout: int = Field(default=10000, ge=1)  # milliseconds, as Kestra's

    def run(self, ctx: RunContext) -> dict[str, Any]:
        return self.send(ctx, *build_message(ctx, self))

    def send(self, ctx: RunContext, message: EmailMessage, addresses: list[str]) -> dict[str, Any]:
        host = as_text(ctx.render(self.host))
        seconds = self.session_timeout / 1000
        try:
            smtp: smtplib.SMTP
            if self.transport_strategy == "SMTPS":
                smtp = smtplib.SMTP_SSL(
                    host, self.port, timeout=seconds, context=ssl.create_default_context()
                )
            else:
                smtp = smtplib.SMTP(host, self.port, timeout=seconds)
            with smtp:
                if self.transport_strategy == "SMTP_TLS":
                    smtp.starttls(context=ssl.create_default_context())
                if self.username is not None:
                    smtp.login(as_text(ctx.render(self.username)), as_text(ctx.render(self.password)))
                refused = smtp.send_message(message, to_addrs=addresses)
        except TimeoutError:
            raise TaskTimeout(
                f"the SMTP server {host}:{self.port} did not answer within {seconds:g} s"
            ) from None
        except (smtplib.SMTPException, OSError) as err:
            raise TaskFailed(f"sending the email through {host}:{self.port} failed: {err}") from None
        if refused:
            ctx.log("WARN", f"the server refused some recipients: {', '.join(sorted(refused))}")
        ctx.log("INFO", f"sent '{message['Subject']}' to {len(addresses) - len(refused)} recipient(s)")
        return {}
