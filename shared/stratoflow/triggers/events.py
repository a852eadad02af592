"""Event deliveries: deterministic execution ids, and the messages of an SQS batch.

What admission checks and completes of a delivery (`trigger.*`, the trigger's inputs) is the core's:
`stratoflow.execution.deliveries`.

A delivery names its execution: `event_execution_id(namespace, flow_id, trigger_id, event_id)`, so a
second delivery of one event finds the execution the first one recorded and starts nothing. A batch
of SQS messages is one event, named by its message ids (`queue_batch_event_id`).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import re

from pydantic import JsonValue

_BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
# Event ids used as they are in an execution id; anything else is hashed. EventBridge event ids and
# Stratoflow execution ids all fit, so a rule's input template can build the same id.
_PLAIN_EVENT_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")
TRIGGER_KEY_LENGTH = 12


def _base62(data: bytes, length: int) -> str:
    number = int.from_bytes(data, "big")
    chars = []
    for _ in range(length):
        number, digit = divmod(number, 62)
        chars.append(_BASE62[digit])
    return "".join(reversed(chars))


def trigger_key(namespace: str, flow_id: str, trigger_id: str) -> str:
    """A short id of one trigger of one flow: the first part of the ids of the executions it starts."""
    digest = hashlib.sha256("\x1f".join(("trigger", namespace, flow_id, trigger_id)).encode()).digest()
    return _base62(digest[:9], TRIGGER_KEY_LENGTH)


def event_execution_id(namespace: str, flow_id: str, trigger_id: str, event_id: str) -> str:
    """The execution id for one event delivered to one trigger: `<trigger key>-<event id>`.

    At most 77 characters of `[A-Za-z0-9_-]`: a valid Step Functions execution name.
    """
    if not _PLAIN_EVENT_ID.fullmatch(event_id):
        event_id = _base62(hashlib.sha256(event_id.encode()).digest()[:16], 22)
    return f"{trigger_key(namespace, flow_id, trigger_id)}-{event_id}"


# --- SQS messages ------------------------------------------------------------------------------

SQS_MESSAGE_FIELDS = ("messageId", "body", "attributes", "messageAttributes")


def sqs_message(record: dict[str, JsonValue]) -> dict[str, JsonValue]:
    """One of `trigger.messages`, from the SQS record a pipe delivers; a JSON `body` is parsed."""
    message = {name: record.get(name) for name in SQS_MESSAGE_FIELDS}
    message["attributes"] = message["attributes"] or {}
    message["messageAttributes"] = message["messageAttributes"] or {}
    body = message["body"]
    if isinstance(body, str):
        with contextlib.suppress(ValueError):  # not JSON: the text as sent
            message["body"] = json.loads(body)
    return message


def queue_batch_event_id(message_ids: list[str]) -> str:
    """The event id of a batch of messages: one message's id, or (hashed into the execution id) all of
    them, sorted, so the same batch delivered again names the same execution."""
    return ",".join(sorted(message_ids))
