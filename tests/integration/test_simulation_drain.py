"""The cloud simulation's end waits for the functions still running (a killed task run stopping its
sandboxed script goes through moto and the loopback S3, which the end tears down)."""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from typing import Any

from stratoflow.cloudsim.lambdas import InProcessLambdas

BOUND_SECONDS = 30.0


@dataclass
class FakeRequest:
    url: str
    body: bytes = json.dumps({}).encode()
    headers: dict[str, str] = field(default_factory=dict)


def test_the_simulation_waits_for_a_running_function_and_no_longer() -> None:
    # Given a function that runs until it is released
    entered, release = threading.Event(), threading.Event()

    def slow(event: Any, context: Any) -> str:
        entered.set()
        release.wait(BOUND_SECONDS)
        return "done"

    hook = InProcessLambdas({"slow": slow})
    invoke = threading.Thread(
        target=hook, args=(FakeRequest("https://lambda.test/2015-03-31/functions/slow/invocations"),)
    )
    invoke.start()
    assert entered.wait(BOUND_SECONDS)

    # When the simulation's end asks whether it is idle, before and after the function returned
    busy = hook.wait_idle(0)
    release.set()
    idle = hook.wait_idle(BOUND_SECONDS)
    invoke.join()

    # Then it was not idle while the function ran, and is once it returned
    assert (busy, idle) == (False, True)


def test_a_failing_function_does_not_hold_the_end() -> None:
    # Given a function that raises (answered as a function error)
    def broken(event: Any, context: Any) -> str:
        raise RuntimeError("boom")

    hook = InProcessLambdas({"broken": broken})

    # When it is invoked
    response = hook(FakeRequest("https://lambda.test/2015-03-31/functions/broken/invocations"))

    # Then it answered its error, and nothing is counted as running
    assert response is not None and response.status_code == 200
    assert hook.wait_idle(0)
