"""Small builders shared by the engine tests."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

from stratoflow.engine import (
    Clock,
    ExecutionResult,
    LambdaIntegration,
    LocalEngine,
    ResourceHandler,
    VirtualClock,
)

START = datetime(2024, 1, 1, tzinfo=UTC)
INVOKE = "arn:aws:states:::lambda:invoke"


def lambda_task(function: str, **fields: Any) -> dict[str, Any]:
    """A lambda:invoke Task passing the state input as payload and keeping only the returned payload."""
    return {
        "Type": "Task",
        "Resource": INVOKE,
        "Parameters": {"FunctionName": function, "Payload.$": "$"},
        "ResultSelector": {"value.$": "$.Payload"},
        "OutputPath": "$.value",
        **({"End": True} if "Next" not in fields and "End" not in fields else {}),
        **fields,
    }


def single(state: dict[str, Any], name: str = "Only") -> dict[str, Any]:
    """A machine of one state (End is added when the state type needs it)."""
    if state["Type"] not in ("Choice", "Succeed", "Fail") and "Next" not in state:
        state = {**state, "End": True}
    return {"StartAt": name, "States": {name: state}}


def run(
    definition: dict[str, Any],
    input: Any = None,
    functions: Mapping[str, Callable[[Any, Any], Any]] | None = None,
    resources: ResourceHandler | None = None,
    clock: Clock | None = None,
    **engine_options: Any,
) -> ExecutionResult:
    """Run to the end on a virtual clock starting at START."""
    engine = LocalEngine(
        definition,
        resources or LambdaIntegration(functions or {}),
        clock or VirtualClock(START),
        **engine_options,
    )
    return engine.run({} if input is None else input, name="test")


def elapsed(result: ExecutionResult) -> float:
    return (result.stop_date - result.start_date).total_seconds()


class Flaky:
    """A Lambda handler that raises `error` the first `failures` times, then returns `value`."""

    def __init__(self, failures: int, error: type[Exception] = RuntimeError, value: Any = "ok"):
        self.failures = failures
        self.error = error
        self.value = value
        self.calls = 0

    def __call__(self, event: Any, context: Any) -> Any:
        self.calls += 1
        if self.calls <= self.failures:
            raise self.error(f"failure {self.calls}")
        return self.value
