"""Parallel and Map: outputs, failure, cancellation, MaxConcurrency and nesting."""

import threading
from typing import Any

import pytest

from stratoflow.engine import LambdaIntegration, LocalEngine, RealClock, TaskCall, VirtualClock
from tests.unit.engine.engine_test_helpers import START, elapsed, lambda_task, run, single


def branch(*states: tuple[str, dict[str, Any]]) -> dict[str, Any]:
    names = [name for name, _ in states]
    built = {}
    for index, (name, state) in enumerate(states):
        last = index == len(states) - 1
        terminal = state["Type"] in ("Succeed", "Fail")
        built[name] = (
            state if terminal else {**state, **({"End": True} if last else {"Next": names[index + 1]})}
        )
    return {"StartAt": names[0], "States": built}


def map_state(processor: dict[str, Any], **fields: Any) -> dict[str, Any]:
    return {"Type": "Map", "ItemProcessor": processor, **fields}


class Concurrency:
    """A Lambda handler counting how many invocations run at once."""

    def __init__(self, barrier: int = 0):
        self.lock = threading.Lock()
        self.active = 0
        self.most = 0
        self.threads: set[int] = set()
        self.barrier = threading.Barrier(barrier) if barrier else None

    def __call__(self, event: Any, context: Any) -> Any:
        with self.lock:
            self.active += 1
            self.most = max(self.most, self.active)
            self.threads.add(threading.get_ident())
        try:
            if self.barrier is not None:
                self.barrier.wait(10)  # passes only when `barrier` calls are in flight together
            return event
        finally:
            with self.lock:
                self.active -= 1


def test_parallel_output_is_the_list_of_branch_outputs_in_order() -> None:
    state = {
        "Type": "Parallel",
        "Parameters": {"v.$": "$.value"},
        "Branches": [
            branch(("Slow", {"Type": "Wait", "Seconds": 20}), ("First", {"Type": "Pass", "Result": "first"})),
            branch(("Second", {"Type": "Pass", "InputPath": "$.v"})),
            branch(("Fast", {"Type": "Wait", "Seconds": 10})),
        ],
        "ResultPath": "$.results",
    }
    result = run(single(state), {"value": 7})
    assert result.output == {"value": 7, "results": ["first", 7, {"v": 7}]}
    assert elapsed(result) == 20  # branches wait concurrently


def test_a_failed_branch_fails_the_parallel_state_and_stops_the_others() -> None:
    # Given a branch that waits for a token nobody sends, and one that fails
    started = threading.Event()

    class Waits:
        def invoke(self, resource: str, parameters: Any, call: TaskCall) -> Any:
            started.set()
            return None

    waiting = branch(("Wait", {"Type": "Task", "Resource": "arn:aws:states:::x.waitForTaskToken"}))
    failing = branch(
        ("Hold", {"Type": "Pass"}), ("Boom", {"Type": "Fail", "Error": "Branch.Broke", "Cause": "b"})
    )
    definition = {
        "StartAt": "Fan",
        "States": {
            "Fan": {
                "Type": "Parallel",
                "Branches": [waiting, failing],
                "Catch": [{"ErrorEquals": ["Branch.Broke"], "ResultPath": "$.error", "Next": "Caught"}],
                "End": True,
            },
            "Caught": {"Type": "Pass", "End": True},
        },
    }
    # When
    result = run(definition, {"in": 1}, resources=Waits(), record_history=True)
    # Then
    assert result.output == {"in": 1, "error": {"Error": "Branch.Broke", "Cause": "b"}}
    types = [event.type for event in result.history]
    assert "ParallelStateFailed" in types


def test_a_token_sent_from_another_branch_handler_completes_the_waiting_branch() -> None:
    # Given branch A waits on a token that branch B's handler reads and answers
    tokens: list[str] = []
    token_ready = threading.Event()
    engine_box: list[LocalEngine] = []

    class Handlers:
        def invoke(self, resource: str, parameters: Any, call: TaskCall) -> Any:
            if call.task_token is not None:
                tokens.append(call.task_token)
                token_ready.set()
                return None
            assert token_ready.wait(10)
            engine_box[0].send_task_success(tokens[0], {"answered_by": call.state_name})
            return "sent"

    definition = single(
        {
            "Type": "Parallel",
            "Branches": [
                branch(("Waiting", {"Type": "Task", "Resource": "arn:aws:states:::x.waitForTaskToken"})),
                branch(("Answer", {"Type": "Task", "Resource": "arn:aws:states:::x"})),
            ],
        }
    )
    engine = LocalEngine(definition, Handlers(), VirtualClock(START))
    engine_box.append(engine)
    # When / Then
    assert engine.run({}).output == [{"answered_by": "Answer"}, "sent"]


@pytest.mark.parametrize("clock", [VirtualClock(START), RealClock()], ids=["virtual", "real"])
def test_map_honours_max_concurrency(clock: Any) -> None:
    # Given 9 items, at most 3 at once, and a barrier that needs 3 calls in flight together
    counter = Concurrency(barrier=3)
    state = map_state(branch(("Call", lambda_task("f"))), MaxConcurrency=3)
    # When
    result = run(single(state), list(range(9)), {"f": counter}, clock=clock)
    # Then
    assert result.output == list(range(9))
    assert counter.most == 3


@pytest.mark.parametrize("clock", [VirtualClock(START), RealClock()], ids=["virtual", "real"])
def test_max_concurrency_zero_is_capped_per_state(clock: Any) -> None:
    counter = Concurrency()
    result = run(
        single(map_state(branch(("Call", lambda_task("f"))))), list(range(300)), {"f": counter}, clock=clock
    )
    assert result.output == list(range(300))
    assert counter.most <= 64


def test_max_concurrency_one_runs_items_in_order_on_one_thread() -> None:
    # Given
    order: list[int] = []
    counter = Concurrency()

    def record(event: Any, context: Any) -> Any:
        order.append(event)
        return counter(event, context)

    state = map_state(
        branch(("Wait", {"Type": "Wait", "Seconds": 10}), ("Call", lambda_task("f"))), MaxConcurrency=1
    )
    # When
    result = run(single(state), [3, 1, 2], {"f": record})
    # Then
    assert order == [3, 1, 2]
    assert len(counter.threads) == 1
    assert elapsed(result) == 30


def test_max_concurrency_path_and_virtual_time_of_concurrent_items() -> None:
    state = map_state(
        branch(("Wait", {"Type": "Wait", "Seconds": 10})), ItemsPath="$.items", MaxConcurrencyPath="$.limit"
    )
    result = run(single(state), {"items": [1, 2, 3, 4], "limit": 2}, {})
    assert result.output == [1, 2, 3, 4]
    assert elapsed(result) == 20


def test_item_selector_sees_the_item_its_index_and_the_state_input() -> None:
    state = map_state(
        branch(("Echo", {"Type": "Pass"})),
        ItemsPath="$.items",
        ItemSelector={"value.$": "$$.Map.Item.Value", "index.$": "$$.Map.Item.Index", "shared.$": "$.shared"},
    )
    result = run(single(state), {"items": ["a", "b"], "shared": 1})
    assert result.output == [{"value": "a", "index": 0, "shared": 1}, {"value": "b", "index": 1, "shared": 1}]


def test_legacy_iterator_and_parameters() -> None:
    state = {
        "Type": "Map",
        "Parameters": {"v.$": "$$.Map.Item.Value"},
        "Iterator": branch(("Echo", {"Type": "Pass"})),
    }
    assert run(single(state), [1, 2]).output == [{"v": 1}, {"v": 2}]


def test_map_result_selector_result_path_and_output_path() -> None:
    state = map_state(
        branch(("Echo", {"Type": "Pass"})),
        ItemsPath="$.items",
        ResultSelector={"count.$": "States.ArrayLength($)", "all.$": "$"},
        ResultPath="$.summary",
        OutputPath="$.summary",
    )
    assert run(single(state), {"items": [1, 2]}).output == {"count": 2, "all": [1, 2]}


def test_an_empty_map_returns_an_empty_list() -> None:
    assert run(single(map_state(branch(("Echo", {"Type": "Pass"})))), []).output == []


def test_items_that_are_not_an_array_are_a_runtime_error() -> None:
    result = run(single(map_state(branch(("Echo", {"Type": "Pass"})), ItemsPath="$.items")), {"items": "abc"})
    assert result.error == "States.Runtime"


def test_a_failed_iteration_fails_the_map_and_later_items_never_start() -> None:
    # Given items run one at a time, the second one failing
    seen: list[int] = []

    def handler(event: Any, context: Any) -> Any:
        seen.append(event)
        if event == 2:
            raise ValueError("two")
        return event

    state = map_state(branch(("Call", lambda_task("f"))), MaxConcurrency=1)
    # When
    result = run(single(state), [1, 2, 3, 4], {"f": handler}, record_history=True)
    # Then
    assert (result.status, result.error) == ("FAILED", "ValueError")
    assert seen == [1, 2]
    types = [event.type for event in result.history]
    assert types.count("MapIterationSucceeded") == 1
    assert "MapIterationFailed" in types and "MapStateFailed" in types


@pytest.mark.parametrize("clock", [VirtualClock(START), RealClock()], ids=["virtual", "real"])
def test_nested_maps_do_not_deadlock(clock: Any) -> None:
    # Given 20 x 20 items with unlimited concurrency at both levels
    counter = Concurrency()
    inner = map_state(branch(("Call", lambda_task("f"))), ItemsPath="$.inner")
    outer = map_state(branch(("Inner", inner)), ItemsPath="$.outer")
    items = {"outer": [{"inner": list(range(20))} for _ in range(20)]}
    # When
    result = run(single(outer), items, {"f": counter}, clock=clock)
    # Then
    assert result.output == [list(range(20))] * 20
    assert result.transitions == 1 + 20 + 400


def test_parallel_retry_runs_every_branch_again() -> None:
    calls = {"a": 0, "b": 0}
    a_done = threading.Event()

    def a(event: Any, context: Any) -> str:
        calls["a"] += 1
        a_done.set()
        return "a"

    def b(event: Any, context: Any) -> str:
        calls["b"] += 1
        if calls["b"] == 1:
            assert a_done.wait(10)  # fail only once branch A is done, so that it is not cancelled
            raise RuntimeError("first time")
        return "b"

    state = {
        "Type": "Parallel",
        "Branches": [branch(("A", lambda_task("a"))), branch(("B", lambda_task("b")))],
        "Retry": [{"ErrorEquals": ["RuntimeError"], "IntervalSeconds": 5}],
    }
    result = run(single(state), {}, {"a": a, "b": b})
    assert (result.output, calls, elapsed(result)) == (["a", "b"], {"a": 2, "b": 2}, 5)


@pytest.mark.parametrize("max_concurrency", [0, 1])
def test_a_thousand_item_map_of_lambda_tasks(max_concurrency: int) -> None:
    task = {
        "Type": "Task",
        "Resource": "arn:aws:states:::lambda:invoke",
        "Parameters": {"FunctionName": "f", "Payload": {"action": "run", "item.$": "$"}},
        "ResultSelector": {"v.$": "$.Payload.item"},
        "OutputPath": "$.v",
    }
    state = map_state(branch(("Run", task)), MaxConcurrency=max_concurrency)
    engine = LocalEngine(single(state), LambdaIntegration({"f": lambda e, _c: e}), VirtualClock(START))
    result = engine.run(list(range(1000)))
    assert result.output == list(range(1000))
    assert result.transitions == 1001
