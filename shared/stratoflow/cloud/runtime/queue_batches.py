"""A batch of SQS messages delivered by an SQS trigger's pipe (`cloud.deploy.pipes`): one execution per batch.

The pipe invokes admission with a JSON array, one item per message, each shaped by the pipe's input
template: `{"namespace", "flowId", "trigger": {"id", "type"}, "message": <SQS record>}`. The batch
becomes one start whose `trigger.messages` holds every message (`triggers.events.sqs_message`) and
whose execution id comes from the batch's message ids, so a redelivered batch starts nothing new.

The answer is Pipes' partial batch response: `{"batchItemFailures": [{"itemIdentifier": <message id>}]}`.
An admitted batch (started, queued, or refused by the flow's concurrency limit: an execution records
it) lists nothing, and the pipe deletes the messages. A refused one (the flow is not deployed or is
disabled, an input does not render) lists every message: they stay in the queue, are received again
after its visibility timeout, and end in the queue's dead-letter queue when it has a redrive policy.
A malformed delivery or an error raises: Pipes then fails the whole batch, with the same effect.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from stratoflow.cloud.runtime.starter import REFUSED, StartRequest, StartResponse
from stratoflow.triggers.events import event_execution_id, queue_batch_event_id, sqs_message


class QueueRecord(BaseModel):
    """One item of a pipe's delivery, as the input template shapes it."""

    model_config = ConfigDict(populate_by_name=True, extra="ignore")

    namespace: str
    flow_id: str = Field(alias="flowId")
    trigger_id: str
    trigger_type: str
    message: dict[str, Any]

    @classmethod
    def parse(cls, item: Any) -> QueueRecord:
        if not isinstance(item, dict) or not isinstance(item.get("trigger"), dict):
            raise ValueError("a queue delivery item must be an object with 'trigger' and 'message'")
        trigger = item["trigger"]
        return cls.model_validate(
            {**item, "trigger_id": trigger.get("id"), "trigger_type": trigger.get("type")}
        )

    @property
    def message_id(self) -> str:
        message_id = self.message.get("messageId")
        if not isinstance(message_id, str) or not message_id:
            raise ValueError("an SQS record without a messageId")
        return message_id


@dataclass(frozen=True)
class QueueBatch:
    """The messages of one delivery, and the start they make."""

    request: StartRequest
    message_ids: tuple[str, ...]

    @classmethod
    def from_delivery(cls, items: Sequence[Any]) -> QueueBatch:
        """Raises ValueError for a delivery no pipe of the stack sends (empty, or mixing triggers)."""
        records = [QueueRecord.parse(item) for item in items]
        if not records:
            raise ValueError("an empty queue delivery")
        first = records[0]
        ident = (first.namespace, first.flow_id, first.trigger_id, first.trigger_type)
        if any((r.namespace, r.flow_id, r.trigger_id, r.trigger_type) != ident for r in records):
            raise ValueError("a queue delivery mixes the messages of several triggers")
        message_ids = tuple(record.message_id for record in records)
        trigger = {
            "id": first.trigger_id,
            "type": first.trigger_type,
            "messages": [sqs_message(record.message) for record in records],
        }
        execution_id = event_execution_id(
            first.namespace, first.flow_id, first.trigger_id, queue_batch_event_id(list(message_ids))
        )
        request = StartRequest(
            namespace=first.namespace, flow_id=first.flow_id, trigger=trigger, execution_id=execution_id
        )
        return cls(request, message_ids)

    def reply(self, response: StartResponse) -> dict[str, Any]:
        """Pipes' partial batch response: every message failed when admission refused the start."""
        failed = self.message_ids if response.state == REFUSED else ()
        return {"batchItemFailures": [{"itemIdentifier": message_id} for message_id in failed]}


def admission_request(event: Mapping[str, Any] | Sequence[Any]) -> tuple[StartRequest, QueueBatch | None]:
    """The start an admission event asks for, and its batch when a pipe delivered it (a list)."""
    if isinstance(event, Mapping):
        return StartRequest.from_event(event), None
    batch = QueueBatch.from_delivery(event)
    return batch.request, batch
