"""Every AWS call the deployer, the task runner and admission make on a moto run is one the declared
list (stratoflow/cloud/config/aws_calls.py) names: a new boto3 call fails here until it is declared,
and once declared, tests/infrastructure/test_iam_simulated.py fails until the stack grants it."""

from __future__ import annotations

import os
import sys
import threading
from collections.abc import Callable, Iterator
from typing import Any

import boto3
import pytest

from stratoflow.cloud.config.aws_calls import ADMISSION, DEPLOYER, TASK_RUNNER, AwsCall
from stratoflow.cloud.config.clients import AwsClients
from stratoflow.cloudsim.platform import CloudSimulation

QUEUE = "https://sqs.us-east-1.amazonaws.com/123456789012/recorded"
FLOWS = {
    "every.yaml": f"""id: every
namespace: team.a
triggers:
  - {{id: nightly, type: Schedule, cron: "0 2 * * *"}}
  - {{id: inbox, type: aws.sqs.Trigger, queueUrl: {QUEUE}}}
  - {{id: events, type: aws.eventbridge.Trigger, pattern: {{source: [shop]}}}}
  - {{id: hook, type: Webhook, key: a-key-of-sixteen-characters}}
sla:
  - {{id: quick, type: MAX_DURATION, duration: PT1H, behavior: FAIL}}
tasks:
  - {{id: put, type: aws.s3.Upload, bucket: lake, key: raw/x.json, content: '{{"rows": 1}}'}}
  - {{id: hello, type: Log, message: hi}}
""",
    "child.yaml": """id: child
namespace: team.a
inputs:
  - {id: n, type: INT, defaults: 1}
tasks:
  - {id: kv, type: kv.Set, key: seen, value: "{{ inputs.n }}"}
  - {id: get, type: kv.Get, key: seen}
  - {id: out, type: Return, format: "{{ 'x' * 40000 }}"}
  - {id: loop, type: ForEach, values: [1, 2], tasks: [{id: each, type: Log, message: "{{ taskrun.value }}"}]}
  - {id: sh, type: scripts.Shell, script: "echo '::{\\"outputs\\": {\\"ok\\": 1}}::'"}
""",
}


class Recorder:
    """(service, operation) of each call, by the function that made it (a thread-local role)."""

    _ACTING: Any = None

    def __init__(self) -> None:
        self.who = threading.local()
        self.calls: dict[str, set[tuple[str, str]]] = {
            "deployer": set(),
            "task_runner": set(),
            "admission": set(),
        }

    def __call__(self, model: Any, **_: Any) -> None:
        role = getattr(self.who, "role", None)
        if role is not None and not self._by_the_simulation():
            self.calls[role].add((model.service_model.service_name, model.name))

    def _by_the_simulation(self) -> bool:
        """The call comes from the simulation's own machinery (its hooks follow executions with
        DescribeExecution), not from the function: a frame of `stratoflow/cloudsim` below the function."""
        frame = sys._getframe(1)
        while frame is not None and frame.f_code is not Recorder._ACTING:
            if f"{os.sep}stratoflow{os.sep}cloudsim{os.sep}" in frame.f_code.co_filename:
                return True
            frame = frame.f_back  # type: ignore[assignment]
        return False

    def acting(self, role: str, function: Callable[..., Any]) -> Callable[..., Any]:
        def call(*args: Any, **kwargs: Any) -> Any:
            outer = getattr(self.who, "role", None)
            self.who.role = role
            try:
                return function(*args, **kwargs)
            finally:
                self.who.role = outer

        Recorder._ACTING = call.__code__
        return call


@pytest.fixture(scope="module")
def recorded() -> Iterator[dict[str, set[tuple[str, str]]]]:
    with CloudSimulation(stack_name="Recorded") as sim:
        recorder = Recorder()
        for service in (*AwsClients.SERVICES, "logs"):  # the sandboxes' log groups use `client("logs")`
            sim.clients.client(service).meta.events.register("before-call", recorder)
        boto3.client("sqs").create_queue(QueueName="recorded")
        boto3.client("s3").create_bucket(Bucket="lake")
        sim.deployer.handle = recorder.acting("deployer", sim.deployer.handle)  # type: ignore[method-assign]
        # What the simulated Lambdas call (the simulation's own wrappers are not the functions' code).
        sim.runner.handle = recorder.acting("task_runner", sim.runner.handle)  # type: ignore[method-assign]
        sim.starter.start = recorder.acting("admission", sim.starter.start)  # type: ignore[method-assign]

        for key, source in [*FLOWS.items(), ("child.yaml", FLOWS["child.yaml"] + "description: again\n")]:
            verdict = sim.upload(key, source)  # the second child.yaml updates its state machine
            assert verdict.status == "DEPLOYED", verdict.errors
        for flow_id in ("child", "every"):
            started = sim.admit({"namespace": "team.a", "flowId": flow_id})
            sim.wait(started["executionArn"])
        for key in FLOWS:
            sim.delete(key)
        yield recorder.calls


def declared(calls: tuple[AwsCall, ...]) -> set[tuple[str, str]]:
    return {(call.service, call.operation) for call in calls}


@pytest.mark.parametrize(
    ("function", "calls"), [("deployer", DEPLOYER), ("task_runner", TASK_RUNNER), ("admission", ADMISSION)]
)
def test_every_call_a_function_makes_on_moto_is_declared(
    recorded: dict[str, set[tuple[str, str]]], function: str, calls: tuple[AwsCall, ...]
) -> None:
    # Given what the function called while flows were deployed, run and deleted on moto
    made = recorded[function]

    # Then each call is in its declared list (and the run did call AWS)
    assert made, function
    assert made - declared(calls) == set()
