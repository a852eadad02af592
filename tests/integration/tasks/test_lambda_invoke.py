"""`aws.lambda.Invoke` on moto, with the function answered in-process (moto runs no Lambda code)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from stratoflow.cloudsim import InProcessLambdas, in_process_lambdas
from stratoflow.local import LocalPlatform
from stratoflow.states import State
from tests.unit.tasks.task_helpers import RunFlow, flow_source, outputs_of, task_run


class QuotaExceeded(Exception):
    pass


def resize(event: Any, context: Any) -> Any:
    return {"width": event["width"] // 2, "by": context.function_name}


def reject(event: Any, context: Any) -> Any:
    raise QuotaExceeded(f"too many images for {event['user']}")


@pytest.fixture
def functions(aws: None) -> Iterator[InProcessLambdas]:
    with in_process_lambdas({"resize": resize, "reject": reject, "echo-text": lambda e, c: "plain"}) as hook:
        yield hook


def test_invoke_outputs_the_functions_payload(
    run_flow: RunFlow, platform: LocalPlatform, functions: InProcessLambdas
) -> None:
    # Given
    source = flow_source(
        """
        - {id: call, type: aws.lambda.Invoke, functionArn: resize, payload: {width: "{{ 640 }}"}}
        - {id: legacy, type: io.kestra.plugin.aws.lambda.Invoke, functionArn: echo-text, functionPayload: {}}
        - {id: use, type: Return, format: "{{ outputs.call.payload.width }}"}
        """
    )

    # When
    outcome = run_flow(source)

    # Then
    assert outcome.execution.state == State.SUCCESS, [(r.task_id, r.error) for r in outcome.task_runs]
    call = outputs_of(platform, outcome, "call")
    assert call["statusCode"] == 200 and call["payload"] == {"width": 320, "by": "resize"}
    # Kestra's `uri` output: the response as a file
    assert json.loads(platform.blobs.get(call["uri"])) == {"width": 320, "by": "resize"}
    assert call["contentLength"] == len(platform.blobs.get(call["uri"]))
    assert outputs_of(platform, outcome, "legacy")["payload"] == "plain"
    assert outputs_of(platform, outcome, "use")["value"] == 320
    assert functions.invocations[0] == ("resize", {"width": 640})


def test_a_function_error_fails_the_task_with_its_error_type(
    run_flow: RunFlow, functions: InProcessLambdas
) -> None:
    outcome = run_flow(
        flow_source("- {id: call, type: aws.lambda.Invoke, functionArn: reject, payload: {user: ada}}")
    )

    run = task_run(outcome, "call")
    assert run.state == State.FAILED
    assert "function reject failed with QuotaExceeded: too many images for ada" in (run.error or "")
