"""Concurrency slots and the queue of waiting executions, on every ExecutionStore."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import timedelta

import pytest

from stratoflow.domain import Execution
from stratoflow.store import ExecutionStore, SlotOutcome
from tests.contract.conftest import T0

NewExecution = Callable[..., Execution]


def _execution(execution_id: str, minute: int = 0, flow_id: str = "etl") -> Execution:
    return Execution(
        id=execution_id,
        namespace="team",
        flow_id=flow_id,
        revision=1,
        start_date=T0 + timedelta(minutes=minute),
    )


def test_slots_are_taken_up_to_the_limit(store: ExecutionStore) -> None:
    # Given a limit of 2
    first, second, third = _execution("a"), _execution("b"), _execution("c")

    # When three executions ask for a slot
    outcomes = [store.take_slot(e, 2) for e in (first, second, third)]

    # Then two hold one and the third is refused
    assert outcomes == [SlotOutcome.TAKEN, SlotOutcome.TAKEN, SlotOutcome.FULL]
    assert store.slot_holders("team", "etl") == ["a", "b"]


def test_taking_a_held_slot_again_does_not_count_twice(store: ExecutionStore) -> None:
    execution = _execution("a")

    assert store.take_slot(execution, 2) == SlotOutcome.TAKEN
    assert store.take_slot(execution, 2) == SlotOutcome.TAKEN
    assert store.take_slot(_execution("b"), 2) == SlotOutcome.TAKEN
    assert store.slot_holders("team", "etl") == ["a", "b"]


def test_a_released_slot_can_be_taken_again(store: ExecutionStore) -> None:
    store.take_slot(_execution("a"), 1)

    assert store.release_slot("team", "etl", "a") is True
    assert store.release_slot("team", "etl", "a") is False
    assert store.slot_holders("team", "etl") == []
    assert store.take_slot(_execution("b"), 1) == SlotOutcome.TAKEN


def test_slots_are_per_flow(store: ExecutionStore) -> None:
    assert store.take_slot(_execution("a", flow_id="etl"), 1) == SlotOutcome.TAKEN
    assert store.take_slot(_execution("b", flow_id="report"), 1) == SlotOutcome.TAKEN
    assert store.take_slot(_execution("c", flow_id="etl"), 1) == SlotOutcome.FULL
    assert store.release_slot("team", "report", "a") is False


def test_a_lowered_limit_lets_nobody_in_until_enough_slots_are_free(store: ExecutionStore) -> None:
    for name in "abc":
        store.take_slot(_execution(name), 3)

    assert store.take_slot(_execution("d"), 2) == SlotOutcome.FULL
    store.release_slot("team", "etl", "a")
    assert store.take_slot(_execution("d"), 2) == SlotOutcome.FULL
    store.release_slot("team", "etl", "b")
    assert store.take_slot(_execution("d"), 2) == SlotOutcome.TAKEN


def test_the_queue_is_oldest_first_and_idempotent(store: ExecutionStore) -> None:
    # Given executions queued out of order (and one queued twice)
    for execution in (
        _execution("late", 5),
        _execution("early", 1),
        _execution("b-mid", 3),
        _execution("a-mid", 3),
    ):
        store.enqueue_execution(execution)
    store.enqueue_execution(_execution("early", 1))

    # Then the queue is by start date, then id
    assert store.queued_executions("team", "etl") == ["early", "a-mid", "b-mid", "late"]
    assert store.queued_executions("team", "etl", limit=2) == ["early", "a-mid"]
    assert store.queued_executions("team", "other") == []


def test_taking_from_the_queue_removes_the_entry_in_the_same_write(store: ExecutionStore) -> None:
    # Given two queued executions and a limit of 1
    first, second = _execution("first", 1), _execution("second", 2)
    store.enqueue_execution(first)
    store.enqueue_execution(second)

    # When the first is promoted
    assert store.take_slot(first, 1, from_queue=True) == SlotOutcome.TAKEN

    # Then it left the queue; the second cannot be promoted while the slot is held
    assert store.queued_executions("team", "etl") == ["second"]
    assert store.take_slot(second, 1, from_queue=True) == SlotOutcome.FULL
    assert store.queued_executions("team", "etl") == ["second"]
    # And promoting the first again says it is not queued any more, without taking a slot
    store.release_slot("team", "etl", "first")
    assert store.take_slot(first, 1, from_queue=True) == SlotOutcome.NOT_QUEUED
    assert store.slot_holders("team", "etl") == []


def test_a_burst_of_takers_never_exceeds_the_limit(store: ExecutionStore) -> None:
    # Given 20 threads asking for one of 3 slots at once
    outcomes: list[SlotOutcome] = []
    barrier = threading.Barrier(20)

    def take(index: int) -> None:
        barrier.wait()
        outcomes.append(store.take_slot(_execution(f"e{index:02d}"), 3))

    threads = [threading.Thread(target=take, args=(i,)) for i in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    # Then exactly 3 got one
    assert outcomes.count(SlotOutcome.TAKEN) == 3
    assert len(store.slot_holders("team", "etl")) == 3


def test_two_promoters_of_one_queued_execution_promote_it_once(store: ExecutionStore) -> None:
    queued = _execution("q")
    store.enqueue_execution(queued)
    outcomes: list[SlotOutcome] = []
    barrier = threading.Barrier(8)

    def promote() -> None:
        barrier.wait()
        outcomes.append(store.take_slot(queued, 5, from_queue=True))

    threads = [threading.Thread(target=promote) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    # Then one of them promoted it; the others found it gone from the queue
    assert sorted(outcomes) == [SlotOutcome.NOT_QUEUED] * 7 + [SlotOutcome.TAKEN]
    assert store.slot_holders("team", "etl") == ["q"]
    assert store.queued_executions("team", "etl") == []


def test_a_promoted_execution_holding_its_slot_is_not_promoted_again(store: ExecutionStore) -> None:
    # Given a queued execution promoted once
    execution = _execution("q")
    store.enqueue_execution(execution)
    assert store.take_slot(execution, 2, from_queue=True) == SlotOutcome.TAKEN

    # Then a second promoter finds it gone from the queue, and it still holds one slot
    assert store.take_slot(execution, 2, from_queue=True) == SlotOutcome.NOT_QUEUED
    assert store.slot_holders("team", "etl") == ["q"]


def test_a_plain_take_leaves_the_queue_alone(store: ExecutionStore) -> None:
    execution = _execution("q")
    store.enqueue_execution(execution)

    assert store.take_slot(execution, 2) == SlotOutcome.TAKEN
    assert store.queued_executions("team", "etl") == ["q"]


def test_limits_below_one_are_refused(store: ExecutionStore) -> None:
    with pytest.raises(ValueError, match="at least 1"):
        store.take_slot(_execution("a"), 0)
