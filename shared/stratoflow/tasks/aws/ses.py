"""`aws.ses.SendEmail`: the email `email.MailSend` builds, sent through Amazon SES (SendRawEmail,
so HTML, attachments and embedded images travel as they are)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar, cast

from stratoflow.flow.registry import register
from stratoflow.flow.run_context import RunContext
from stratoflow.tasks.aws.base import AwsTask, Statement, regional_arn, statement
from stratoflow.tasks.notifications.mail import MailContent, build_message

if TYPE_CHECKING:  # boto3-stubs (dev only): nothing of it is imported at run time
    from mypy_boto3_ses import SESClient


@register
class SesSendEmail(AwsTask, MailContent):
    """Send an email through Amazon SES; outputs the SES `messageId`."""

    type_name: ClassVar[str] = "aws.ses.SendEmail"
    # Stratoflow's own: Kestra sends email through SMTP only (MailSend works with SES's SMTP too).
    output_fields: ClassVar[dict[str, str]] = {"messageId": "the id SES gave the message"}
    service: ClassVar[str] = "ses"

    def client(self, ctx: RunContext) -> SESClient:
        return cast("SESClient", super().client(ctx))  # a client of `service`

    def call(self, ctx: RunContext) -> dict[str, Any]:
        message, addresses = build_message(ctx, self)
        response = self.client(ctx).send_raw_email(
            Source=str(message["From"]), Destinations=addresses, RawMessage={"Data": message.as_bytes()}
        )
        return {"messageId": response["MessageId"]}

    def call_statements(self) -> list[Statement]:
        # SES authorizes sending per verified identity; the sender is often an expression.
        return [statement(["ses:SendRawEmail"], [regional_arn("ses", self.region, "identity/*")])]
