"""Run a state machine definition on moto's Step Functions interpreter, with in-process Lambda handlers."""

from __future__ import annotations

import json
import logging
import os
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from unittest import mock

import boto3
from moto import mock_aws

from stratoflow.cloudsim.lambdas import Handler, InProcessLambdas, in_process_lambdas

if TYPE_CHECKING:
    from mypy_boto3_stepfunctions.type_defs import HistoryEventTypeDef

ENVIRONMENT = {
    "AWS_ACCOUNT_ID_ENDPOINT_MODE": "disabled",
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
}
_TRUST = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Principal": {"Service": "states.amazonaws.com"}, "Action": "sts:AssumeRole"}
        ],
    }
)


class MotoTimeout(TimeoutError):
    """A moto execution did not finish in time."""


@dataclass(frozen=True)
class MotoResult:
    status: str
    output: Any
    error: str | None
    cause: str | None
    execution_arn: str

    def as_tuple(self) -> tuple[str, Any, str | None, str | None]:
        return self.status, self.output, self.error, self.cause


@contextmanager
def moto_environment() -> Iterator[None]:
    """Fake credentials and region, and the endpoint mode boto3 1.44 needs under moto."""
    with mock.patch.dict(os.environ, ENVIRONMENT):
        yield


def parse_output(raw: str | None) -> Any:
    """An execution's output; moto writes a string result without JSON quotes, so accept that too."""
    if raw is None:
        return None
    try:
        return json.loads(raw)
    except json.JSONDecodeError:
        return raw


class MotoStepFunctions:
    """A Step Functions client on a running moto mock, with helpers to run definitions to their end."""

    def __init__(self, lambdas: InProcessLambdas | None = None, poll_seconds: float = 0.02):
        self.lambdas = lambdas
        """The Lambda hook: add handlers with `lambdas.functions[name] = handler`."""
        self.client = boto3.client("stepfunctions")
        self.poll_seconds = poll_seconds
        iam = boto3.client("iam")
        self.role_arn = iam.create_role(
            RoleName=f"sfn-{uuid.uuid4().hex[:12]}", AssumeRolePolicyDocument=_TRUST
        )["Role"]["Arn"]

    def create(self, definition: Mapping[str, Any], name: str | None = None) -> str:
        """Create a state machine; returns its ARN."""
        name = name or f"sm-{uuid.uuid4().hex[:12]}"
        response = self.client.create_state_machine(
            name=name, definition=json.dumps(definition), roleArn=self.role_arn
        )
        return str(response["stateMachineArn"])

    def start(self, state_machine_arn: str, input: Any, name: str) -> str:
        response = self.client.start_execution(
            stateMachineArn=state_machine_arn, name=name, input=json.dumps(input)
        )
        return str(response["executionArn"])

    def wait(self, execution_arn: str, timeout: float = 30.0) -> MotoResult:
        """Poll until the execution ends; raises MotoTimeout after `timeout` real seconds."""
        deadline = time.monotonic() + timeout
        while True:
            described = self.client.describe_execution(executionArn=execution_arn)
            if described["status"] != "RUNNING":
                return MotoResult(
                    status=described["status"],
                    output=parse_output(described.get("output")),
                    error=described.get("error"),
                    cause=described.get("cause"),
                    execution_arn=execution_arn,
                )
            if time.monotonic() > deadline:
                raise MotoTimeout(f"moto execution {execution_arn} still RUNNING after {timeout} s")
            time.sleep(self.poll_seconds)  # moto runs executions on its own threads: poll

    def run(self, definition: Mapping[str, Any], input: Any, name: str, timeout: float = 30.0) -> MotoResult:
        return self.wait(self.start(self.create(definition), input, name), timeout)

    def history(self, execution_arn: str) -> list[HistoryEventTypeDef]:
        """Every history event of an execution, oldest first."""
        events: list[HistoryEventTypeDef] = []
        kwargs: dict[str, Any] = {"executionArn": execution_arn}
        while True:
            page = self.client.get_execution_history(**kwargs)
            events.extend(page["events"])
            if not page.get("nextToken"):
                return events
            kwargs["nextToken"] = page["nextToken"]


@contextmanager
def moto_stepfunctions(
    functions: Mapping[str, Handler] | None = None, quiet: bool = True
) -> Iterator[MotoStepFunctions]:
    """A moto mock that really executes state machines, with Lambda answered by `functions`."""
    moto_logger = logging.getLogger("moto")
    previous = moto_logger.level
    if quiet:  # moto logs every failure event with its internal state: too loud for tests
        moto_logger.setLevel(logging.CRITICAL)
    try:
        with (
            moto_environment(),
            mock_aws(config={"stepfunctions": {"execute_state_machine": True}}),
            in_process_lambdas(functions or {}) as lambdas,
        ):
            yield MotoStepFunctions(lambdas)
    finally:
        moto_logger.setLevel(previous)


def run_on_moto(
    definition: Mapping[str, Any],
    input: Any,
    functions: Mapping[str, Callable[[Any, Any], Any]] | None = None,
    name: str | None = None,
    timeout: float = 30.0,
) -> tuple[str, Any, str | None, str | None]:
    """Run one execution on moto to its end: (status, output, error, cause)."""
    with moto_stepfunctions(functions) as sfn:
        return sfn.run(definition, input, name or f"run-{uuid.uuid4().hex[:12]}", timeout).as_tuple()


def moto_history(
    definition: Mapping[str, Any],
    input: Any,
    functions: Mapping[str, Callable[[Any, Any], Any]] | None = None,
    name: str | None = None,
    timeout: float = 30.0,
) -> tuple[MotoResult, list[HistoryEventTypeDef]]:
    """Run one execution on moto and return its result with its history events."""
    with moto_stepfunctions(functions) as sfn:
        result = sfn.run(definition, input, name or f"run-{uuid.uuid4().hex[:12]}", timeout)
        return result, sfn.history(result.execution_arn)
