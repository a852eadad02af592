"""Triggers: what starts a flow's executions besides a manual start; one class per type.

Their common model and the table by name are `stratoflow.flow.trigger`, which imports this module on
the first lookup of a type.
"""

from __future__ import annotations

import math
import re
from datetime import datetime, timedelta
from typing import Any, ClassVar, Literal

from pydantic import Field, field_validator, model_validator

from stratoflow.flow.fields import Duration, LabelMap, StrictModel, hint, located_error
from stratoflow.flow.preconditions import Preconditions
from stratoflow.flow.schedule_conditions import ConditionItem
from stratoflow.flow.trigger import Trigger, trigger_type
from stratoflow.states import State

# Cron nicknames, as the 5-field expressions they stand for.
CRON_NICKNAMES: dict[str, str] = {
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
    "@monthly": "0 0 1 * *",
    "@weekly": "0 0 * * 0",
    "@daily": "0 0 * * *",
    "@midnight": "0 0 * * *",
    "@hourly": "0 * * * *",
}


class Backfill(StrictModel):
    """Run the schedule's past dates from `start` (to `end`, or now) once, when the flow is deployed."""

    start: datetime
    end: datetime | None = None
    inputs: dict[str, Any] = Field(default_factory=dict)
    labels: LabelMap = Field(default_factory=dict)


_LAST_WEEKDAY = re.compile(r"\b(\d|[A-Za-z]{3})L\b")
_WEEKDAY_NUMBERS = {name: str(n) for n, name in enumerate(("sun", "mon", "tue", "wed", "thu", "fri", "sat"))}


def _croniter_last_weekday(match: re.Match[str]) -> str:
    day = match.group(1)
    return "L" + _WEEKDAY_NUMBERS.get(day.lower(), day)  # an unknown name stays, croniter refuses it


def cron_expression(cron: str) -> str:
    """The 5-field form of a cron expression or nickname; raises ValueError when it is not valid."""
    text = " ".join(cron.split())
    text = CRON_NICKNAMES.get(text.lower(), text)
    if text.startswith("@"):
        raise ValueError(f"unknown cron nickname '{cron}'{hint(cron, CRON_NICKNAMES)}")
    fields = text.split(" ")
    if len(fields) != 5:
        raise ValueError(f"'{cron}' must have 5 fields (minute hour day-of-month month day-of-week)")
    # cron-utils (Kestra) writes "the last Friday" `5L` or `FRIL`; croniter reads only `L5`.
    fields[4] = _LAST_WEEKDAY.sub(_croniter_last_weekday, fields[4])
    text = " ".join(fields)
    from croniter import croniter

    if not croniter.is_valid(text):
        raise ValueError(f"'{cron}' is not a valid cron expression")
    return text


@trigger_type
class Schedule(Trigger):
    """Start an execution at every time the cron expression matches, in `timezone`."""

    type_name: ClassVar[str] = "Schedule"
    aliases: ClassVar[tuple[str, ...]] = (
        "io.kestra.plugin.core.trigger.Schedule",
        "io.kestra.core.models.triggers.types.Schedule",
    )

    reads_conditions: ClassVar[bool] = True
    cron: str
    timezone: str = "UTC"
    # Checked on each slot before it starts (see `schedule_conditions`); a slot they reject is skipped.
    conditions: list[ConditionItem] = Field(default_factory=list)  # type: ignore[assignment]
    recover_missed_schedules: Literal["ALL", "LAST", "NONE"] = "ALL"
    backfill: Backfill | None = None
    late_maximum_delay: Duration | None = None

    @field_validator("cron")
    @classmethod
    def _valid_cron(cls, cron: str) -> str:
        cron_expression(cron)
        return cron

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, name: str) -> str:
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

        try:
            ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone '{name}' (use an IANA name such as Europe/Paris)") from None
        return name

    @property
    def cron_fields(self) -> str:
        """The 5-field cron expression (nicknames expanded)."""
        return cron_expression(self.cron)


@trigger_type
class FlowTrigger(Trigger):
    """Start when an execution of another flow ends in one of `states` (any terminal state if empty),
    or, with PAUSED among them, each time it pauses."""

    type_name: ClassVar[str] = "Flow"
    aliases: ClassVar[tuple[str, ...]] = (
        "io.kestra.plugin.core.trigger.Flow",
        "io.kestra.core.models.triggers.types.Flow",
    )

    reads_conditions: ClassVar[bool] = True
    states: list[State] = Field(default_factory=list)
    preconditions: Preconditions | None = None

    @field_validator("states")
    @classmethod
    def _states_that_can_fire(cls, states: list[State]) -> list[State]:
        for index, state in enumerate(states):
            if state in _NEVER_FIRING:
                raise located_error(
                    (index,),
                    f"a Flow trigger never fires on {state}: it fires when an upstream execution ends "
                    "(SUCCESS, WARNING, FAILED, KILLED, CANCELLED) or pauses (PAUSED)",
                    str(state),
                )
        return states

    @model_validator(mode="after")
    def _preconditions_as_conditions(self) -> FlowTrigger:
        """Kestra's `preconditions` (one upstream flow) are the legacy conditions it stands for."""
        if self.preconditions is not None:
            self.conditions = [*self.conditions, *self.preconditions.conditions()]
            self.preconditions = None
        return self


# CREATED and QUEUED are never seen by a trigger; RUNNING would fire on every start (Kestra refuses it);
# KILLING passes on to KILLED (which fires); RETRYING and SKIPPED are task-run states.
_NEVER_FIRING = frozenset(
    {State.CREATED, State.QUEUED, State.RUNNING, State.KILLING, State.RETRYING, State.SKIPPED}
)


MIN_KEY_LENGTH = 16
_SECRET_KEY = re.compile(r"""\{\{\s*secret\(\s*(['"])([A-Za-z0-9_.-]+)\1\s*\)\s*\}\}""")


def secret_key_name(key: str) -> str | None:
    """NAME when the key is `{{ secret('NAME') }}`, else None."""
    match = _SECRET_KEY.fullmatch(key.strip())
    return match.group(2) if match else None


@trigger_type
class Webhook(Trigger):
    """Start on an HTTP request to the webhook URL carrying `key`."""

    type_name: ClassVar[str] = "Webhook"
    aliases: ClassVar[tuple[str, ...]] = (
        "io.kestra.plugin.core.trigger.Webhook",
        "io.kestra.core.models.triggers.types.Webhook",
    )

    # At least 16 characters (a short key is found by brute force), or `{{ secret('NAME') }}`: the
    # secret of the flow's namespace, so the key is in no flow file and no record.
    key: str = Field(min_length=1, max_length=256)
    # Kestra's: wait for the execution to end before answering; answer with the flow's outputs only;
    # the content type of the answer.
    wait: bool = False
    return_outputs: bool = False
    response_content_type: str | None = Field(default=None, pattern=r"^[\w.+-]+/[\w.+-]+(\s*;.*)?$")

    @field_validator("key")
    @classmethod
    def _strong_key(cls, key: str) -> str:
        if secret_key_name(key) is not None:
            return key
        if not re.fullmatch(r"[A-Za-z0-9._~-]+", key):
            raise ValueError(
                "a key is letters, digits and '._~-' only, or {{ secret('NAME') }} (it is part of the URL)"
            )
        if len(key) < MIN_KEY_LENGTH:
            raise ValueError(
                f"a key needs at least {MIN_KEY_LENGTH} characters (it is the webhook's only credential), "
                f"or {{{{ secret('NAME') }}}} to keep it out of the flow file; got {len(key)}"
            )
        return key

    @model_validator(mode="after")
    def _outputs_need_wait(self) -> Webhook:
        if self.return_outputs and not self.wait:
            raise located_error(
                ("returnOutputs",), "'returnOutputs: true' needs 'wait: true' (Kestra's rule)", True
            )
        return self


@trigger_type
class EventBridgeTrigger(Trigger):
    """Start on every EventBridge event matching `pattern` on `bus` (the default bus if not set)."""

    type_name: ClassVar[str] = "aws.eventbridge.Trigger"

    pattern: dict[str, Any] = Field(min_length=1)
    bus: str | None = None


_BUCKET_RE = re.compile(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]")


@trigger_type
class S3Trigger(Trigger):
    """Start when an object is created in `bucket` under `prefix`, ending with `suffix` and whose
    whole key matches `regexp`.

    Kestra's S3 trigger polls the bucket every `interval` and then moves or deletes what it found, so
    that it never finds it twice; here S3 pushes one event per new object, so `interval` has nothing
    to time and only `action: NONE` applies (move or delete the object in a task instead)."""

    type_name: ClassVar[str] = "aws.s3.Trigger"
    aliases: ClassVar[tuple[str, ...]] = ("io.kestra.plugin.aws.s3.Trigger",)

    bucket: str
    prefix: str | None = None
    suffix: str | None = None
    regexp: str | None = None
    interval: Duration | None = None
    action: str = "NONE"
    filter: Literal["FILES"] = "FILES"

    @field_validator("regexp")
    @classmethod
    def _valid_regexp(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                re.compile(value)
            except re.error as error:
                raise ValueError(f"'{value}' is not a regular expression: {error}") from None
        return value

    @field_validator("action")
    @classmethod
    def _action_none(cls, value: str) -> str:
        if value != "NONE":
            raise ValueError(
                f"action {value} is not supported: S3 starts the flow once per new object, so nothing is "
                "found twice; move or delete the object in a task (aws.s3.Copy with delete: true, aws.s3.Delete)"
            )
        return value

    @field_validator("bucket")
    @classmethod
    def _bucket_name(cls, bucket: str) -> str:
        if not _BUCKET_RE.fullmatch(bucket):
            raise ValueError(
                f"'{bucket}' is not a valid S3 bucket name (3-63 lowercase letters, digits, '.', '-')"
            )
        return bucket


# https://sqs.<region>.amazonaws.com/<account>/<name> and the legacy https://<region>.queue.amazonaws.com/...
_QUEUE_URL_RE = re.compile(
    r"https://(?:sqs\.(?P<region>[a-z0-9-]+)|(?P<legacy>[a-z0-9-]+)\.queue)\.amazonaws\.com(?P<china>\.cn)?"
    r"/(?P<account>\d{12})/(?P<name>[A-Za-z0-9_-]{1,80}(?:\.fifo)?)/?"
)
_QUEUE_ARN_RE = re.compile(r"arn:aws[a-z-]*:sqs:[a-z0-9-]+:\d{12}:[A-Za-z0-9_-]{1,80}(?:\.fifo)?")
# EventBridge Pipes: 1-300 s of batching window, and a window of at least 1 s for batches over 10.
MAX_BATCHING_WINDOW_SECONDS = 300
UNWINDOWED_BATCH_SIZE = 10


def sqs_queue_arn(queue_url: str) -> str:
    """The ARN of the queue a URL names; ValueError for anything but an SQS queue URL."""
    match = _QUEUE_URL_RE.fullmatch(queue_url.strip())
    if match is None:
        raise ValueError(
            f"'{queue_url}' is not an SQS queue URL: expected https://sqs.<region>.amazonaws.com/<account>/<queue>"
        )
    region = match["region"] or match["legacy"]
    partition = "aws-cn" if match["china"] else "aws-us-gov" if region.startswith("us-gov-") else "aws"
    return f"arn:{partition}:sqs:{region}:{match['account']}:{match['name']}"


@trigger_type
class SqsTrigger(Trigger):
    """Start one execution per batch of messages received on an SQS queue (through an EventBridge Pipe).

    `maxRecords` (Kestra's name) is `batchSize`; `maxDuration` is how long a batch may wait to fill
    (Pipes' batching window). Kestra's polling `interval` is accepted and unused: a pipe polls all the time.
    """

    type_name: ClassVar[str] = "aws.sqs.Trigger"
    aliases: ClassVar[tuple[str, ...]] = ("io.kestra.plugin.aws.sqs.Trigger",)

    queue_url: str | None = None
    queue_arn: str | None = None
    # Kestra's connection settings: accepted, and unused in the cloud, where the pipe reads the queue
    # with the stack's pipes role (validate says so with a warning; see `unused_credentials`).
    access_key_id: str | None = None
    secret_key_id: str | None = None
    session_token: str | None = None
    region: str | None = None
    batch_size: int = Field(default=10, ge=1, le=10_000)
    max_records: int | None = Field(default=None, ge=1, le=10_000)
    max_duration: Duration | None = None
    interval: Duration | None = None

    @field_validator("queue_url")
    @classmethod
    def _queue_url(cls, url: str | None) -> str | None:
        if url is not None:
            sqs_queue_arn(url)
        return url

    @field_validator("queue_arn")
    @classmethod
    def _queue_arn(cls, arn: str | None) -> str | None:
        if arn is not None and not _QUEUE_ARN_RE.fullmatch(arn):
            raise ValueError(f"'{arn}' is not an SQS queue ARN (arn:aws:sqs:<region>:<account>:<queue>)")
        return arn

    @field_validator("max_duration")
    @classmethod
    def _window(cls, duration: timedelta | None) -> timedelta | None:
        if duration is not None and not timedelta(0) <= duration <= timedelta(
            seconds=MAX_BATCHING_WINDOW_SECONDS
        ):
            raise ValueError(f"must be between PT0S and PT{MAX_BATCHING_WINDOW_SECONDS}S (EventBridge Pipes)")
        return duration

    @model_validator(mode="after")
    def _one_queue(self) -> SqsTrigger:
        if (self.queue_url is None) == (self.queue_arn is None):
            raise ValueError("set exactly one of 'queueUrl' and 'queueArn'")
        if self.max_records is not None:
            if "batch_size" in self.model_fields_set:
                raise ValueError("set one of 'batchSize' and 'maxRecords' (the same setting)")
            self.batch_size = self.max_records
        if self.batch_size > UNWINDOWED_BATCH_SIZE and self.max_duration == timedelta(0):
            raise ValueError(
                f"a batch of more than {UNWINDOWED_BATCH_SIZE} messages needs 'maxDuration' of at least PT1S"
            )
        return self

    unused_credentials: ClassVar[tuple[str, ...]] = ("accessKeyId", "secretKeyId", "sessionToken", "region")

    @property
    def source_arn(self) -> str:
        """The queue's ARN (from `queueArn`, or converted from `queueUrl`)."""
        return self.queue_arn or sqs_queue_arn(str(self.queue_url))

    @property
    def batching_window_seconds(self) -> int:
        """Pipes' MaximumBatchingWindowInSeconds: `maxDuration` rounded up; 1 s for batches over 10."""
        if self.max_duration is not None:
            return math.ceil(self.max_duration.total_seconds())
        return 1 if self.batch_size > UNWINDOWED_BATCH_SIZE else 0
