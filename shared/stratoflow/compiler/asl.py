"""Typed Amazon States Language (JSONPath) models: a misspelled field is a compile error, not a deploy error.

Only the fields the compiler emits are modelled. `dump()` gives the ASL JSON (PascalCase keys, no nulls).
"""

from __future__ import annotations

from typing import Any, Literal, TypeAlias

from pydantic import BaseModel, ConfigDict, Field, JsonValue

LAMBDA_INVOKE = "arn:aws:states:::lambda:invoke"
LAMBDA_INVOKE_CALLBACK = "arn:aws:states:::lambda:invoke.waitForTaskToken"
START_EXECUTION_SYNC = "arn:aws:states:::states:startExecution.sync:2"
START_EXECUTION = "arn:aws:states:::states:startExecution"
READ_OBJECT = "arn:aws:states:::s3:getObject"
WRITE_OBJECTS = "arn:aws:states:::s3:putObject"
DATA_BUCKET = "${DataBucketName}"
"""The stack's data bucket (substituted by the deployer): where distributed Maps write their results."""

AslJson: TypeAlias = dict[str, JsonValue]
"""A piece of ASL as JSON: a state machine definition, a state, a Parameters block or a Choice rule."""


class AslModel(BaseModel):
    # Built on first use: a run of an unchanged flow never compiles, so never needs these schemas.
    model_config = ConfigDict(extra="forbid", populate_by_name=True, frozen=True, defer_build=True)

    def dump(self) -> AslJson:
        return self.model_dump(by_alias=True, exclude_none=True)


class Retrier(AslModel):
    error_equals: list[str] = Field(alias="ErrorEquals")
    interval_seconds: int | None = Field(default=None, alias="IntervalSeconds")
    max_attempts: int | None = Field(default=None, alias="MaxAttempts")
    backoff_rate: float | None = Field(default=None, alias="BackoffRate")
    max_delay_seconds: int | None = Field(default=None, alias="MaxDelaySeconds")
    jitter_strategy: Literal["FULL", "NONE"] | None = Field(default=None, alias="JitterStrategy")


class Catcher(AslModel):
    error_equals: list[str] = Field(alias="ErrorEquals")
    next: str = Field(alias="Next")
    result_path: str | None = Field(default=None, alias="ResultPath")


class StateBase(AslModel):
    comment: str | None = Field(default=None, alias="Comment")
    next: str | None = Field(default=None, alias="Next")
    end: bool | None = Field(default=None, alias="End")
    output_path: str | None = Field(default=None, alias="OutputPath")


class TaskState(StateBase):
    type: Literal["Task"] = Field(default="Task", alias="Type")
    resource: str = Field(alias="Resource")
    parameters: dict[str, Any] | None = Field(default=None, alias="Parameters")
    result_selector: dict[str, Any] | None = Field(default=None, alias="ResultSelector")
    # ResultPath null (discard the result) must survive exclude_none: it is carried as the string "null"
    # and turned into JSON null by `dump`.
    result_path: str | None = Field(default=None, alias="ResultPath")
    timeout_seconds: int | None = Field(default=None, alias="TimeoutSeconds")
    heartbeat_seconds: int | None = Field(default=None, alias="HeartbeatSeconds")
    retry: list[Retrier] | None = Field(default=None, alias="Retry")
    catch: list[Catcher] | None = Field(default=None, alias="Catch")


class PassState(StateBase):
    type: Literal["Pass"] = Field(default="Pass", alias="Type")
    result: Any = Field(default=None, alias="Result")
    parameters: dict[str, Any] | None = Field(default=None, alias="Parameters")
    result_path: str | None = Field(default=None, alias="ResultPath")


class WaitState(StateBase):
    type: Literal["Wait"] = Field(default="Wait", alias="Type")
    seconds: int | None = Field(default=None, alias="Seconds")
    seconds_path: str | None = Field(default=None, alias="SecondsPath")


class ChoiceState(AslModel):
    type: Literal["Choice"] = Field(default="Choice", alias="Type")
    comment: str | None = Field(default=None, alias="Comment")
    choices: list[dict[str, Any]] = Field(alias="Choices")
    default: str | None = Field(default=None, alias="Default")


class SucceedState(AslModel):
    type: Literal["Succeed"] = Field(default="Succeed", alias="Type")
    comment: str | None = Field(default=None, alias="Comment")


class FailState(AslModel):
    type: Literal["Fail"] = Field(default="Fail", alias="Type")
    comment: str | None = Field(default=None, alias="Comment")
    error: str | None = Field(default=None, alias="Error")
    cause: str | None = Field(default=None, alias="Cause")
    error_path: str | None = Field(default=None, alias="ErrorPath")
    cause_path: str | None = Field(default=None, alias="CausePath")


class ParallelState(StateBase):
    type: Literal["Parallel"] = Field(default="Parallel", alias="Type")
    branches: list[dict[str, Any]] = Field(alias="Branches")
    result_path: str | None = Field(default=None, alias="ResultPath")
    retry: list[Retrier] | None = Field(default=None, alias="Retry")
    catch: list[Catcher] | None = Field(default=None, alias="Catch")


class MapState(StateBase):
    type: Literal["Map"] = Field(default="Map", alias="Type")
    items_path: str | None = Field(default=None, alias="ItemsPath")
    item_reader: dict[str, Any] | None = Field(default=None, alias="ItemReader")
    item_batcher: dict[str, Any] | None = Field(default=None, alias="ItemBatcher")
    result_writer: dict[str, Any] | None = Field(default=None, alias="ResultWriter")
    item_selector: dict[str, Any] | None = Field(default=None, alias="ItemSelector")
    item_processor: dict[str, Any] = Field(alias="ItemProcessor")
    max_concurrency: int | None = Field(default=None, alias="MaxConcurrency")
    tolerated_failure_percentage: int | None = Field(default=None, alias="ToleratedFailurePercentage")
    result_path: str | None = Field(default=None, alias="ResultPath")
    catch: list[Catcher] | None = Field(default=None, alias="Catch")


State = TaskState | PassState | WaitState | ChoiceState | SucceedState | FailState | ParallelState | MapState

DISCARD = "null"  # ResultPath value meaning "discard the result" (emitted as JSON null)


def dump_state(state: State) -> AslJson:
    """The state's ASL JSON, with ResultPath "null" emitted as JSON null."""
    data = state.dump()
    if data.get("ResultPath") == DISCARD:
        data["ResultPath"] = None
    return data
