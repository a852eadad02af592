"""The EventBridge events the platform functions receive, parsed into small models.

- S3 "Object Created" / "Object Deleted" from the flows bucket (the deployer);
- "Step Functions Execution Status Change" of the stack's state machines (execution events).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from stratoflow.cloud.runtime.runs import execution_id_of

OBJECT_CREATED = "Object Created"
OBJECT_DELETED = "Object Deleted"
STATUS_CHANGE = "Step Functions Execution Status Change"
FINISHED_STATUSES = frozenset({"SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED"})


class _Model(BaseModel):
    model_config = ConfigDict(populate_by_name=True, extra="ignore")


class _Bucket(_Model):
    name: str


class _Object(_Model):
    key: str
    version_id: str | None = Field(default=None, alias="version-id")
    sequencer: str | None = None


class _ObjectDetail(_Model):
    bucket: _Bucket
    object: _Object
    deletion_type: str | None = Field(default=None, alias="deletion-type")


class _Envelope(_Model):
    detail_type: str = Field(alias="detail-type")
    source: str
    detail: dict[str, Any]


class FlowObjectEvent(_Model):
    """A flow file created or deleted in the flows bucket."""

    kind: Literal["created", "deleted"]
    bucket: str
    key: str
    version_id: str | None = None
    deletion_type: str | None = None
    # Orders the events of one key (S3 does not deliver them in order): see `registry.newer_sequencer`.
    sequencer: str | None = None

    @classmethod
    def from_eventbridge(cls, event: Mapping[str, Any]) -> FlowObjectEvent:
        envelope = _Envelope.model_validate(event)
        kinds: dict[str, Literal["created", "deleted"]] = {
            OBJECT_CREATED: "created",
            OBJECT_DELETED: "deleted",
        }
        if envelope.source != "aws.s3" or envelope.detail_type not in kinds:
            raise ValueError(f"not an S3 object event: {envelope.source} / {envelope.detail_type}")
        detail = _ObjectDetail.model_validate(envelope.detail)
        # S3 writes "null" as the version of objects stored while versioning was off.
        version = detail.object.version_id if detail.object.version_id not in (None, "", "null") else None
        return cls(
            kind=kinds[envelope.detail_type],
            bucket=detail.bucket.name,
            key=detail.object.key,
            version_id=version,
            deletion_type=detail.deletion_type,
            sequencer=detail.object.sequencer or None,
        )


class StatusChange(_Model):
    """One status change of a Step Functions execution (a run of a Stratoflow execution)."""

    execution_arn: str = Field(alias="executionArn")
    state_machine_arn: str = Field(alias="stateMachineArn")
    name: str
    status: str
    start_date: datetime | None = Field(default=None, alias="startDate")
    stop_date: datetime | None = Field(default=None, alias="stopDate")
    error: str | None = None
    cause: str | None = None
    input: str | None = None  # the state machine input: it names the execution (cloud.runtime.runs)

    @property
    def execution_id(self) -> str:
        """The Stratoflow execution this run belongs to (a restart's run is named `<id>_r<n>`)."""
        return execution_id_of(self.name, self.input)

    @property
    def finished(self) -> bool:
        return self.status in FINISHED_STATUSES

    @property
    def engine_error(self) -> str | None:
        """The error as the local engine reports it: `Name: cause`."""
        if not self.error:
            return None
        return f"{self.error}: {self.cause}" if self.cause else self.error

    @classmethod
    def from_eventbridge(cls, event: Mapping[str, Any]) -> StatusChange:
        envelope = _Envelope.model_validate(event)
        if envelope.source != "aws.states" or envelope.detail_type != STATUS_CHANGE:
            raise ValueError(
                f"not a Step Functions status change: {envelope.source} / {envelope.detail_type}"
            )
        detail = dict(envelope.detail)
        for name in ("startDate", "stopDate"):  # epoch milliseconds in the event
            if isinstance(detail.get(name), int | float):
                detail[name] = datetime.fromtimestamp(detail[name] / 1000, UTC)
        return cls.model_validate(detail)
