"""Task timeouts, heartbeats, `.waitForTaskToken` and the execution's own timeout."""

import threading
from datetime import datetime, timedelta
from typing import Any

import pytest

from stratoflow.engine import (
    EngineEvent,
    InvalidTaskToken,
    LambdaIntegration,
    LocalEngine,
    RealClock,
    TaskCall,
    VirtualClock,
)
from tests.unit.engine.engine_test_helpers import START, elapsed, run, single

TOKEN_TASK = "arn:aws:states:::sqs:sendMessage.waitForTaskToken"


class Sleeper:
    """Takes `seconds` of clock time, then returns."""

    def __init__(self, seconds: float):
        self.seconds = seconds
        self.calls: list[TaskCall] = []

    def invoke(self, resource: str, parameters: Any, call: TaskCall) -> Any:
        self.calls.append(call)
        call.clock.sleep(self.seconds, call.cancelled)
        return {"slept": self.seconds}


@pytest.mark.parametrize(
    ("seconds", "status", "error"), [(3, "SUCCEEDED", None), (10, "FAILED", "States.Timeout")]
)
def test_task_timeout_counts_the_handlers_virtual_time(
    seconds: float, status: str, error: str | None
) -> None:
    sleeper = Sleeper(seconds)
    result = run(
        single({"Type": "Task", "Resource": "arn:aws:states:::x", "TimeoutSeconds": 5}), resources=sleeper
    )
    assert (result.status, result.error) == (status, error)
    assert sleeper.calls[0].deadline == START + timedelta(seconds=5)


def test_timeout_seconds_path() -> None:
    state = {"Type": "Task", "Resource": "arn:aws:states:::x", "TimeoutSecondsPath": "$.limit"}
    assert run(single(state), {"limit": 2}, resources=Sleeper(3)).error == "States.Timeout"
    assert run(single(state), {"limit": 0}, resources=Sleeper(3)).error == "States.Runtime"


def test_a_sync_task_without_heartbeats_times_out_after_heartbeat_seconds() -> None:
    state = {"Type": "Task", "Resource": "arn:aws:states:::x", "TimeoutSeconds": 60, "HeartbeatSeconds": 5}
    assert run(single(state), resources=Sleeper(7)).error == "States.HeartbeatTimeout"


class SteppingClock(VirtualClock):
    """A clock the engine treats as real (handlers run on a helper thread) whose sleeps end at once."""

    virtual = False


def test_on_a_real_clock_a_hung_handler_is_abandoned_at_its_timeout() -> None:
    # Given a handler that blocks until released
    release, cancelled_seen = threading.Event(), threading.Event()

    class Hung:
        def invoke(self, resource: str, parameters: Any, call: TaskCall) -> Any:
            release.wait(10)
            if call.cancelled.is_set():
                cancelled_seen.set()
            return "too late"

    state = {"Type": "Task", "Resource": "arn:aws:states:::x", "TimeoutSeconds": 30}
    engine = LocalEngine(single(state), Hung(), SteppingClock(START))
    # When
    result = engine.run({})
    release.set()
    # Then
    assert (result.status, result.error) == ("FAILED", "States.Timeout")
    assert elapsed(result) == 30
    assert cancelled_seen.wait(10)


def test_on_a_real_clock_a_prompt_handler_with_a_timeout_succeeds() -> None:
    state = {
        "Type": "Task",
        "Resource": "arn:aws:states:::lambda:invoke",
        "Parameters": {"FunctionName": "f"},
        "TimeoutSeconds": 60,
    }
    engine = LocalEngine(single(state), LambdaIntegration({"f": lambda _e, _c: "fast"}), RealClock())
    assert engine.run({}).output["Payload"] == "fast"


class TokenSender:
    """A handler of a `.waitForTaskToken` task that plays a script against the engine."""

    def __init__(self, script: list[tuple[str, Any]]):
        self.script = script
        self.engine: LocalEngine | None = None
        self.tokens: list[str] = []
        self.errors: list[Exception] = []

    def invoke(self, resource: str, parameters: Any, call: TaskCall) -> Any:
        assert self.engine is not None and call.task_token is not None
        assert parameters == {"token": call.task_token}
        self.tokens.append(call.task_token)
        for action, value in self.script:
            try:
                if action == "sleep":
                    call.clock.sleep(value, call.cancelled)
                elif action == "beat":
                    self.engine.send_task_heartbeat(call.task_token)
                elif action == "succeed":
                    self.engine.send_task_success(call.task_token, value)
                elif action == "fail":
                    self.engine.send_task_failure(call.task_token, *value)
            except InvalidTaskToken as error:
                self.errors.append(error)
        return "ignored"


def token_state(**fields: Any) -> dict[str, Any]:
    return {"Type": "Task", "Resource": TOKEN_TASK, "Parameters": {"token.$": "$$.Task.Token"}, **fields}


def run_tokens(script: list[tuple[str, Any]], **fields: Any) -> tuple[Any, TokenSender]:
    sender = TokenSender(script)
    engine = LocalEngine(single(token_state(**fields)), sender, VirtualClock(START))
    sender.engine = engine
    return engine.run({}), sender


def test_a_token_answered_by_the_handler_completes_the_task() -> None:
    result, sender = run_tokens([("sleep", 4), ("succeed", {"done": True})], TimeoutSeconds=10)
    assert (result.status, result.output, elapsed(result)) == ("SUCCEEDED", {"done": True}, 4)
    assert sender.errors == []


def test_send_task_failure_fails_the_task_with_its_error() -> None:
    result, _ = run_tokens([("fail", ("Job.Failed", "disk full"))])
    assert (result.status, result.error, result.cause) == ("FAILED", "Job.Failed", "disk full")


def test_an_unanswered_token_times_out() -> None:
    result, _ = run_tokens([], TimeoutSeconds=300)
    assert (result.error, elapsed(result)) == ("States.Timeout", 300)


def test_an_answer_after_the_timeout_is_refused() -> None:
    result, sender = run_tokens([("sleep", 20), ("succeed", 1)], TimeoutSeconds=10)
    assert result.error == "States.Timeout"
    assert len(sender.errors) == 1


def test_heartbeats_keep_the_task_alive() -> None:
    script = [("sleep", 5), ("beat", None), ("sleep", 5), ("beat", None), ("sleep", 5), ("succeed", "ok")]
    result, sender = run_tokens(script, TimeoutSeconds=100, HeartbeatSeconds=6)
    assert (result.status, result.output, elapsed(result)) == ("SUCCEEDED", "ok", 15)
    assert sender.errors == []


def test_a_late_heartbeat_is_a_heartbeat_timeout() -> None:
    script = [("sleep", 5), ("beat", None), ("sleep", 8), ("succeed", "ok")]
    result, sender = run_tokens(script, TimeoutSeconds=100, HeartbeatSeconds=6)
    assert result.error == "States.HeartbeatTimeout"
    assert len(sender.errors) == 1


def test_no_heartbeat_at_all_is_a_heartbeat_timeout_after_heartbeat_seconds() -> None:
    result, _ = run_tokens([], HeartbeatSeconds=6)
    assert (result.error, elapsed(result)) == ("States.HeartbeatTimeout", 6)


def test_a_token_can_be_answered_only_once() -> None:
    result, sender = run_tokens([("succeed", 1), ("succeed", 2), ("beat", None)])
    assert result.output == 1
    assert len(sender.errors) == 2


def test_unknown_tokens_are_refused() -> None:
    engine = LocalEngine(single({"Type": "Pass"}), LambdaIntegration({}))
    with pytest.raises(InvalidTaskToken):
        engine.send_task_success("nope", {})
    with pytest.raises(InvalidTaskToken):
        engine.send_task_heartbeat("nope")


def test_a_token_answered_from_another_thread_while_the_state_waits() -> None:
    # Given a token task without a deadline, and a listener that reports the submitted token
    submitted = threading.Event()
    tokens: list[str] = []

    class Submit:
        def invoke(self, resource: str, parameters: Any, call: TaskCall) -> Any:
            assert call.task_token is not None
            tokens.append(call.task_token)
            return None

    def listen(event: EngineEvent) -> None:
        if event.type == "TaskSubmitted":
            submitted.set()

    engine = LocalEngine(single(token_state()), Submit(), VirtualClock(START), listen)
    # When
    execution = engine.start({}, name="waits")
    assert submitted.wait(10)
    assert execution.owns_token(tokens[0]) and execution.waits_for_token()
    execution.send_task_success(tokens[0], {"from": "outside"})
    # Then
    result = execution.wait(10)
    assert (result.status, result.output) == ("SUCCEEDED", {"from": "outside"})
    assert not execution.owns_token(tokens[0]) and not execution.waits_for_token()


def test_lambda_wait_for_task_token_ignores_the_functions_return_value() -> None:
    # Given a Lambda that answers its own token through the engine
    engine_box: list[LocalEngine] = []

    def function(event: Any, context: Any) -> str:
        engine_box[0].send_task_success(event["token"], {"answer": event["n"] + 1})
        return "ignored"

    state = {
        "Type": "Task",
        "Resource": "arn:aws:states:::lambda:invoke.waitForTaskToken",
        "Parameters": {"FunctionName": "f", "Payload": {"token.$": "$$.Task.Token", "n.$": "$.n"}},
    }
    engine = LocalEngine(single(state), LambdaIntegration({"f": function}), VirtualClock(START))
    engine_box.append(engine)
    # When / Then
    assert engine.run({"n": 41}).output == {"answer": 42}


def test_execution_timeout_ends_a_long_wait_as_timed_out() -> None:
    definition = {**single({"Type": "Wait", "Seconds": 1000}), "TimeoutSeconds": 60}
    result = run(definition)
    assert (result.status, result.error, elapsed(result)) == ("TIMED_OUT", "States.Timeout", 60)


def test_execution_timeout_ends_a_token_wait() -> None:
    definition = {**single(token_state()), "TimeoutSeconds": 30}
    result = run(definition, resources=Sleeper(0))
    assert (result.status, elapsed(result)) == ("TIMED_OUT", 30)


class GateClock(VirtualClock):
    """A clock the engine treats as real whose sleeps wait until the test opens the gate."""

    virtual = False

    def __init__(self) -> None:
        super().__init__(START)
        self.gate = threading.Event()

    def sleep(self, seconds: float, cancel: threading.Event) -> None:
        while not cancel.is_set() and not self.gate.wait(0.01):
            pass
        super().sleep(seconds, cancel)


def test_execution_timeout_on_a_real_clock_stops_a_hung_handler() -> None:
    # Given a handler blocking until cancelled, on a clock whose time passes when the test says so
    started, cancelled = threading.Event(), threading.Event()

    class Hung:
        def invoke(self, resource: str, parameters: Any, call: TaskCall) -> Any:
            started.set()
            if call.cancelled.wait(10):
                cancelled.set()
            return None

    clock = GateClock()
    definition = {**single({"Type": "Task", "Resource": "arn:aws:states:::x"}), "TimeoutSeconds": 5}
    execution = LocalEngine(definition, Hung(), clock).start({})
    assert started.wait(10)
    # When the execution's 5 s pass
    clock.gate.set()
    # Then
    result = execution.wait(10)
    assert (result.status, result.error) == ("TIMED_OUT", "States.Timeout")
    assert cancelled.wait(10)


def test_task_call_deadline_is_none_without_timeout() -> None:
    sleeper = Sleeper(0)
    run(single({"Type": "Task", "Resource": "arn:aws:states:::x"}), resources=sleeper)
    assert sleeper.calls[0].deadline is None
    assert isinstance(sleeper.calls[0].clock.now(), datetime)
