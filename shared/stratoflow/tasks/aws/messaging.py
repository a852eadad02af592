"""Messaging tasks: `aws.sqs.Publish`, `aws.sns.Publish` and `aws.eventbridge.PutEvents`."""

from __future__ import annotations

import json
import re
from typing import TYPE_CHECKING, Annotated, Any, ClassVar, cast

from pydantic import AfterValidator, AliasChoices, Field

from stratoflow.flow.fields import StrictModel
from stratoflow.flow.registry import register
from stratoflow.flow.run_context import RunContext
from stratoflow.tasks.aws.base import (
    KESTRA_AWS,
    AwsTask,
    EncryptedAwsTask,
    Statement,
    is_static,
    pattern,
    regional_arn,
    render_text,
    statement,
)
from stratoflow.tasks.aws.errors import family_of
from stratoflow.tasks.core import as_text
from stratoflow.tasks.errors import TaskFailed
from stratoflow.tasks.files import is_storage_uri, read_stored

if TYPE_CHECKING:  # boto3-stubs (dev only): nothing of it is imported at run time
    from mypy_boto3_events import EventBridgeClient
    from mypy_boto3_events.type_defs import PutEventsRequestEntryTypeDef
    from mypy_boto3_sns import SNSClient
    from mypy_boto3_sqs import SQSClient
    from mypy_boto3_sqs.type_defs import SendMessageBatchRequestEntryTypeDef

BATCH = 10  # SQS SendMessageBatch and EventBridge PutEvents take at most 10 entries
_QUEUE_URL = re.compile(
    r"^https?://(?:sqs\.(?P<r1>[^./]+)\.amazonaws\.com(?:\.cn)?|(?P<r2>[^./]+)\.queue\.amazonaws\.com|[^/]+)"
    r"/(?P<account>[^/]+)/(?P<name>[^/?]+)"
)


def _text(value: Any) -> str:
    """A message body: text as is, anything else as JSON."""
    return value if isinstance(value, str) else json.dumps(value, default=str)


def queue_arn(url: str, region: str | None) -> str:
    """The ARN of the queue at `url` (`*` for the parts that are expressions)."""
    match = _QUEUE_URL.match(url)
    if match is None:
        return regional_arn("sqs", region, "*")
    url_region = match["r1"] or match["r2"]
    where = url_region if url_region and is_static(url_region) else (pattern(region) if region else "*")
    account = match["account"] if is_static(match["account"]) else "*"
    return f"arn:aws:sqs:{where}:{account}:{pattern(match['name'])}"


class QueueMessage(StrictModel):
    """One SQS message: `data` (text, or JSON for maps and lists) and FIFO/delay settings."""

    data: str | dict[str, Any] | list[Any]
    group_id: str | None = None
    deduplication_id: str | None = None
    delay_seconds: int | None = Field(default=None, ge=0, le=900)


def _stored_messages(ctx: RunContext, uri: str) -> list[Any]:
    """A JSON-lines file of messages: each line an object with `data`, or any JSON value (the body)."""
    lines = read_stored(ctx, uri).decode().splitlines()
    messages: list[Any] = []
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            messages.append(json.loads(line))
        except json.JSONDecodeError:
            raise TaskFailed(f"{uri} line {number} is not JSON") from None
    return messages


@register
class SqsPublish(EncryptedAwsTask):
    """Send `messages` to an SQS queue (a list, or a storage URI of a JSON-lines file; `from` is
    Kestra's name for it)."""

    type_name: ClassVar[str] = "aws.sqs.Publish"
    aliases: ClassVar[tuple[str, ...]] = (f"{KESTRA_AWS}.sqs.Publish",)
    output_fields: ClassVar[dict[str, str]] = {"messagesCount": "number of messages sent"}
    service: ClassVar[str] = "sqs"

    def client(self, ctx: RunContext) -> SQSClient:
        return cast("SQSClient", super().client(ctx))  # a client of `service`

    queue_url: str
    messages: list[QueueMessage | str] | str = Field(validation_alias=AliasChoices("messages", "from"))

    def _entries(self, ctx: RunContext) -> list[SendMessageBatchRequestEntryTypeDef]:
        raw: Any = self.messages
        if isinstance(raw, str):
            rendered = ctx.render(raw)
            raw = (
                _stored_messages(ctx, rendered)
                if isinstance(rendered, str) and is_storage_uri(rendered)
                else rendered
            )
            if not isinstance(raw, list):
                raw = [raw]
        entries: list[SendMessageBatchRequestEntryTypeDef] = []
        for index, message in enumerate(raw):
            if isinstance(message, dict) and "data" in message:
                message = QueueMessage.model_validate(message)
            if not isinstance(message, QueueMessage):
                message = QueueMessage(data=ctx.render(message))
            entry: SendMessageBatchRequestEntryTypeDef = {
                "Id": str(index),
                "MessageBody": _text(ctx.render(message.data)),
            }
            if message.group_id is not None:
                entry["MessageGroupId"] = render_text(ctx, message.group_id)
            if message.deduplication_id is not None:
                entry["MessageDeduplicationId"] = render_text(ctx, message.deduplication_id)
            if message.delay_seconds is not None:
                entry["DelaySeconds"] = message.delay_seconds
            entries.append(entry)
        return entries

    def call(self, ctx: RunContext) -> dict[str, Any]:
        url = render_text(ctx, self.queue_url)
        entries = self._entries(ctx)
        client = self.client(ctx)
        sent = 0
        for start in range(0, len(entries), BATCH):
            response = client.send_message_batch(QueueUrl=url, Entries=entries[start : start + BATCH])
            failed = response.get("Failed") or []
            if failed:
                first = failed[0]
                code = str(first.get("Code", "Unknown"))
                raise family_of(code, None)(
                    f"{self.type_name}: {len(failed)} message(s) refused after {sent} sent: "
                    f"{code}: {first.get('Message', '')}",
                    code,
                )
            sent += len(response.get("Successful") or [])
        ctx.log("INFO", f"sent {sent} message(s) to {url}")
        return {"messagesCount": sent}

    def call_statements(self) -> list[Statement]:
        return [statement(["sqs:SendMessage"], [queue_arn(self.queue_url, self.region)])]


@register
class SnsPublish(EncryptedAwsTask):
    """Publish one `message` (text, or JSON for maps and lists) to an SNS topic."""

    type_name: ClassVar[str] = "aws.sns.Publish"
    aliases: ClassVar[tuple[str, ...]] = (f"{KESTRA_AWS}.sns.Publish",)
    output_fields: ClassVar[dict[str, str]] = {"messageId": "the id SNS gave the message"}
    service: ClassVar[str] = "sns"

    def client(self, ctx: RunContext) -> SNSClient:
        return cast("SNSClient", super().client(ctx))  # a client of `service`

    topic_arn: str
    message: str | dict[str, Any] | list[Any]
    subject: str | None = None
    message_attributes: dict[str, str] = Field(default_factory=dict)
    message_group_id: str | None = None
    message_deduplication_id: str | None = None

    def call(self, ctx: RunContext) -> dict[str, Any]:
        request: dict[str, Any] = {
            "TopicArn": render_text(ctx, self.topic_arn),
            "Message": _text(ctx.render(self.message)),
        }
        if self.subject is not None:
            # SNS subjects are one line of at most 100 characters.
            request["Subject"] = " ".join(render_text(ctx, self.subject).split())[:100]
        if self.message_attributes:
            request["MessageAttributes"] = {
                as_text(k): {"DataType": "String", "StringValue": as_text(v)}
                for k, v in ctx.render(self.message_attributes).items()
            }
        if self.message_group_id is not None:
            request["MessageGroupId"] = render_text(ctx, self.message_group_id)
        if self.message_deduplication_id is not None:
            request["MessageDeduplicationId"] = render_text(ctx, self.message_deduplication_id)
        response = self.client(ctx).publish(**request)
        return {"messageId": response.get("MessageId")}

    def call_statements(self) -> list[Statement]:
        arn = self.topic_arn if is_static(self.topic_arn) else regional_arn("sns", self.region, "*")
        return [statement(["sns:Publish"], [arn])]


def _file_of_entries(text: str) -> str:
    if not is_static(text) or is_storage_uri(text):
        return text
    raise ValueError("entries must be a list of events, or a storage URI (or an expression giving one)")


class EventEntry(StrictModel):
    """One event: `source`, `detailType`, `detail` (a map or JSON text), on `eventBusName` (default bus)."""

    source: str
    detail_type: str
    detail: dict[str, Any] | str = Field(default_factory=dict)
    event_bus_name: str | None = None
    resources: list[str] = Field(default_factory=list)


@register
class PutEvents(AwsTask):
    """Send events to EventBridge; unsuccessful entries fail the task unless
    `failOnUnsuccessfulEvents: false`."""

    type_name: ClassVar[str] = "aws.eventbridge.PutEvents"
    aliases: ClassVar[tuple[str, ...]] = (f"{KESTRA_AWS}.eventbridge.PutEvents",)
    output_fields: ClassVar[dict[str, str]] = {
        "entryCount": "number of events sent",
        "failedEntryCount": "number of events EventBridge refused",
        "eventIds": "ids of the accepted events (null for a refused one), in order",
    }
    service: ClassVar[str] = "events"

    def client(self, ctx: RunContext) -> EventBridgeClient:
        return cast("EventBridgeClient", super().client(ctx))  # a client of `service`

    # The events, or (Kestra) a storage URI of a file of them: a JSON array or JSON Lines of entries.
    entries: (
        Annotated[list[EventEntry], Field(min_length=1)] | Annotated[str, AfterValidator(_file_of_entries)]
    )
    fail_on_unsuccessful_events: bool = True

    def _entries(self, ctx: RunContext) -> list[EventEntry]:
        if not isinstance(self.entries, str):
            return self.entries
        uri = render_text(ctx, self.entries)
        text = ctx.read_file(uri).decode("utf-8", errors="replace")
        try:
            stripped = text.strip()
            items = (
                json.loads(stripped)
                if stripped.startswith("[")
                else [json.loads(line) for line in stripped.splitlines() if line.strip()]
            )
            entries = [EventEntry.model_validate(item) for item in items]
        except ValueError as error:  # JSON or validation: say which file and why
            raise TaskFailed(f"entries: {uri} is not a JSON array or JSON Lines of events: {error}") from None
        if not entries:
            raise TaskFailed(f"entries: {uri} holds no event")
        return entries

    def _entry(self, ctx: RunContext, entry: EventEntry) -> PutEventsRequestEntryTypeDef:
        detail = ctx.render(entry.detail)
        rendered: PutEventsRequestEntryTypeDef = {
            "Source": render_text(ctx, entry.source),
            "DetailType": render_text(ctx, entry.detail_type),
            "Detail": detail if isinstance(detail, str) else json.dumps(detail, default=str),
        }
        if entry.event_bus_name is not None:
            rendered["EventBusName"] = render_text(ctx, entry.event_bus_name)
        if entry.resources:
            rendered["Resources"] = [as_text(r) for r in ctx.render(entry.resources)]
        return rendered

    def call(self, ctx: RunContext) -> dict[str, Any]:
        entries = [self._entry(ctx, entry) for entry in self._entries(ctx)]
        client = self.client(ctx)
        ids: list[str | None] = []
        errors: list[str] = []
        for start in range(0, len(entries), BATCH):
            response = client.put_events(Entries=entries[start : start + BATCH])
            for result in response.get("Entries", []):
                ids.append(result.get("EventId"))
                if result.get("ErrorCode"):
                    errors.append(f"{result['ErrorCode']}: {result.get('ErrorMessage', '')}")
        if errors and self.fail_on_unsuccessful_events:
            code = errors[0].split(":", 1)[0]
            raise family_of(code, None)(
                f"{self.type_name}: {len(errors)} of {len(entries)} event(s) refused: {errors[0]}", code
            )
        return {"entryCount": len(entries), "failedEntryCount": len(errors), "eventIds": ids}

    def call_statements(self) -> list[Statement]:
        if isinstance(self.entries, str):  # the file's buses are known only when it runs
            return [statement(["events:PutEvents"], [regional_arn("events", self.region, "event-bus/*")])]
        buses = []
        for entry in self.entries:
            name = entry.event_bus_name or "default"
            if is_static(name) and name.startswith("arn:"):
                buses.append(name)
            else:
                buses.append(regional_arn("events", self.region, f"event-bus/{pattern(name)}"))
        return [statement(["events:PutEvents"], buses)]
