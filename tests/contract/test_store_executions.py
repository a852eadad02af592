"""Executions: conditional create, guarded updates, listings, on every ExecutionStore."""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta
from typing import Any

import pytest

from stratoflow.domain import Execution
from stratoflow.errors import ConflictError, NotFoundError
from stratoflow.states import State
from stratoflow.store import ExecutionStore, ItemTooLargeError, rules

FakeClock = Any  # the `clock` fixture: .start, .now, .advance(seconds)

NewExecution = Callable[..., Execution]


def test_create_and_get_round_trip(store: ExecutionStore, new_execution: NewExecution) -> None:
    # Given an execution with every kind of field
    created = new_execution(
        "e1",
        inputs={"n": 1.5, "names": ["a", "b"], "nested": {"deep": [1, {"x": None}]}, "empty": {}},
        labels={"team": "data"},
        trigger={"type": "Schedule", "date": "2024-05-01T12:00:00Z"},
        variables={"v": True},
        parent_execution_id="p0",
    )

    # When it is read back
    stored = store.get_execution("e1")

    # Then it is equal, field for field
    assert stored == created
    assert store.get_execution("missing") is None


def test_create_same_id_conflicts(store: ExecutionStore, new_execution: NewExecution) -> None:
    new_execution("e1", inputs={"a": 1})

    with pytest.raises(ConflictError):
        new_execution("e1", inputs={"a": 2})

    stored = store.get_execution("e1")
    assert stored is not None and stored.inputs == {"a": 1}


def test_state_change_appends_history(
    store: ExecutionStore, new_execution: NewExecution, clock: FakeClock
) -> None:
    new_execution("e1")

    clock.advance(5)
    running = store.update_execution("e1", state=State.RUNNING)
    clock.advance(5)
    done = store.update_execution(
        "e1", state=State.SUCCESS, outputs={"rows": 3}, end_date=clock.now, error="none"
    )

    assert running.state == State.RUNNING
    assert [(c.state, c.date) for c in running.state_history] == [
        (State.RUNNING, clock.start + timedelta(seconds=5))
    ]
    assert done.state == State.SUCCESS
    assert [c.state for c in done.state_history] == [State.RUNNING, State.SUCCESS]
    assert done.state_history[-1].date == clock.start + timedelta(seconds=10)
    assert (done.outputs, done.end_date, done.error) == ({"rows": 3}, clock.now, "none")
    assert store.get_execution("e1") == done


def test_same_state_update_adds_no_history(store: ExecutionStore, new_execution: NewExecution) -> None:
    new_execution("e1")
    store.update_execution("e1", state=State.RUNNING)

    again = store.update_execution("e1", state=State.RUNNING, labels={"step": "2"})
    unchanged = store.update_execution("e1", state=State.RUNNING)

    assert [c.state for c in again.state_history] == [State.RUNNING]
    assert again.labels == {"step": "2"}
    assert unchanged == again


def test_labels_are_merged(store: ExecutionStore, new_execution: NewExecution) -> None:
    new_execution("e1", labels={"team": "data", "env": "dev"})

    updated = store.update_execution("e1", labels={"env": "prod", "run": "7"})

    assert updated.labels == {"team": "data", "env": "prod", "run": "7"}
    with pytest.raises(ValueError):
        store.update_execution("e1", labels={"": "x"})


def test_transition_not_allowed_is_refused(store: ExecutionStore, new_execution: NewExecution) -> None:
    new_execution("e1")
    store.update_execution("e1", state=State.RUNNING)
    store.update_execution("e1", state=State.SUCCESS)

    with pytest.raises(ConflictError, match="SUCCESS"):
        store.update_execution("e1", state=State.RUNNING, outputs={"lost": True})

    stored = store.get_execution("e1")
    assert stored is not None and stored.state == State.SUCCESS and stored.outputs == {}


def test_nothing_moves_into_created(store: ExecutionStore, new_execution: NewExecution) -> None:
    new_execution("e1")
    store.update_execution("e1", state=State.RUNNING)

    with pytest.raises(ConflictError):
        store.update_execution("e1", state=State.CREATED)


def test_restart_moves_a_failed_execution_back_to_running(
    store: ExecutionStore, new_execution: NewExecution
) -> None:
    new_execution("e1")
    store.update_execution("e1", state=State.RUNNING)
    store.update_execution("e1", state=State.FAILED, error="boom")

    restarted = store.update_execution(
        "e1", state=State.RUNNING, expected_states={State.FAILED, State.KILLED}
    )

    assert [c.state for c in restarted.state_history] == [State.RUNNING, State.FAILED, State.RUNNING]


def test_expected_states_guard_updates(store: ExecutionStore, new_execution: NewExecution) -> None:
    new_execution("e1")

    # A kill that expects the execution to be running loses against one still CREATED
    with pytest.raises(ConflictError, match="expected"):
        store.update_execution("e1", state=State.KILLED, expected_states=[State.RUNNING])
    # Expected states also guard updates that do not change the state
    with pytest.raises(ConflictError):
        store.update_execution("e1", outputs={"x": 1}, expected_states=[State.RUNNING])
    with pytest.raises(ConflictError):
        store.update_execution("e1", expected_states=[State.RUNNING])
    with pytest.raises(ConflictError):
        store.update_execution("e1", state=State.CREATED, expected_states=[State.RUNNING])

    stored = store.get_execution("e1")
    assert stored is not None and stored.state == State.CREATED and stored.outputs == {}

    # And let them through when they match
    queued = store.update_execution("e1", state=State.QUEUED, expected_states=[State.CREATED])
    kept = store.update_execution("e1", outputs={"x": 1}, expected_states=[State.QUEUED])
    assert queued.state == kept.state == State.QUEUED and kept.outputs == {"x": 1}
    assert store.update_execution("e1", expected_states=[State.QUEUED]) == kept


def test_update_of_missing_execution_is_not_found(store: ExecutionStore) -> None:
    with pytest.raises(NotFoundError):
        store.update_execution("missing", state=State.RUNNING)
    with pytest.raises(NotFoundError):
        store.update_execution("missing", outputs={"a": 1})
    with pytest.raises(NotFoundError):
        store.update_execution("missing")
    assert store.get_execution("missing") is None


def test_only_one_of_racing_transitions_wins(store: ExecutionStore, new_execution: NewExecution) -> None:
    # Given a running execution that two writers try to finish differently
    new_execution("e1", state=State.RUNNING)
    store.update_execution("e1", state=State.SUCCESS, expected_states=[State.RUNNING])

    # Then the second one, guarded on RUNNING, loses
    with pytest.raises(ConflictError):
        store.update_execution("e1", state=State.FAILED, expected_states=[State.RUNNING])


def test_oversized_outputs_are_refused(store: ExecutionStore, new_execution: NewExecution) -> None:
    new_execution("e1")

    with pytest.raises(ItemTooLargeError):
        store.update_execution("e1", outputs={"blob": "x" * 400_000})
    with pytest.raises(ItemTooLargeError):
        new_execution("e2", inputs={"blob": "x" * 400_000})


def test_list_newest_first_with_filters(store: ExecutionStore, new_execution: NewExecution) -> None:
    # Given executions of two flows in two namespaces, one minute apart
    new_execution("a1", minute=1)
    new_execution("a2", minute=2)
    new_execution("b3", flow_id="load", minute=3)
    new_execution("c4", namespace="other", minute=4)
    new_execution("a5", minute=5)
    store.update_execution("a2", state=State.RUNNING)
    store.update_execution("a5", state=State.RUNNING)
    store.update_execution("a5", state=State.FAILED)
    store.update_execution("c4", state=State.RUNNING)

    def ids(**filters: Any) -> list[str]:
        return [e.id for e in store.list_executions(**filters)]

    assert ids() == ["a5", "c4", "b3", "a2", "a1"]
    assert ids(limit=2) == ["a5", "c4"]
    assert ids(namespace="team") == ["a5", "b3", "a2", "a1"]
    assert ids(namespace="team", flow_id="etl") == ["a5", "a2", "a1"]
    assert ids(namespace="team", flow_id="etl", limit=1) == ["a5"]
    assert ids(state=State.RUNNING) == ["c4", "a2"]
    assert ids(namespace="team", state=State.RUNNING) == ["a2"]
    assert ids(namespace="team", flow_id="etl", state=State.FAILED) == ["a5"]
    assert ids(namespace="team", flow_id="etl", state=State.RUNNING) == ["a2"]
    assert ids(namespace="team", flow_id="etl", state=State.CREATED) == ["a1"]
    assert ids(namespace="team", flow_id="load", state=State.RUNNING) == []
    assert ids(namespace="nobody") == []
    assert ids(limit=0) == []


def test_list_time_window_is_since_inclusive_until_exclusive(
    store: ExecutionStore, new_execution: NewExecution, clock: FakeClock
) -> None:
    for minute in range(5):
        new_execution(f"e{minute}", minute=minute)

    def ids(**filters: Any) -> list[str]:
        return [e.id for e in store.list_executions(**filters)]

    start: datetime = clock.start

    def at(minutes: int) -> datetime:
        return start + timedelta(minutes=minutes)

    assert ids(since=at(minutes=1), until=at(minutes=3)) == ["e2", "e1"]
    assert ids(since=at(minutes=3)) == ["e4", "e3"]
    assert ids(until=at(minutes=1)) == ["e0"]
    assert ids(namespace="team", flow_id="etl", since=at(minutes=4)) == ["e4"]
    assert ids(namespace="team", state=State.CREATED, until=at(minutes=2), since=at(minutes=1)) == ["e1"]


def test_equal_start_dates_order_by_id(store: ExecutionStore, new_execution: NewExecution) -> None:
    for execution_id in ("m", "z", "a"):
        new_execution(execution_id, minute=1)

    assert [e.id for e in store.list_executions()] == ["z", "m", "a"]


def test_pages_continue_after_the_cursor_with_every_filter(
    store: ExecutionStore, new_execution: NewExecution, clock: FakeClock
) -> None:
    # Given seven executions, two of them starting at the same instant
    for minute, execution_id in enumerate(["e0", "e1", "e2", "e3", "e4"]):
        new_execution(execution_id, minute=minute)
    new_execution("e3b", minute=3)
    new_execution("x9", namespace="other", minute=2)
    start: datetime = clock.start

    def pages(size: int, **filters: Any) -> list[list[str]]:
        found: list[list[str]] = []
        before = None
        while True:
            page = store.list_executions(limit=size, before=before, **filters)
            if not page:
                return found
            found.append([e.id for e in page])
            before = rules.execution_sort_key(page[-1].start_date, page[-1].id)

    # When they are read two at a time, Then each comes once, in order, ties by id
    assert pages(2) == [["e4", "e3b"], ["e3", "x9"], ["e2", "e1"], ["e0"]]
    assert pages(2, namespace="team") == [["e4", "e3b"], ["e3", "e2"], ["e1", "e0"]]
    assert pages(3, namespace="team", flow_id="etl") == [["e4", "e3b", "e3"], ["e2", "e1", "e0"]]
    assert pages(1, namespace="team", state=State.CREATED, until=start + timedelta(minutes=3)) == [
        ["e2"],
        ["e1"],
        ["e0"],
    ]
    assert pages(2, namespace="team", since=start + timedelta(minutes=2)) == [["e4", "e3b"], ["e3", "e2"]]


def test_flow_filter_needs_namespace(store: ExecutionStore) -> None:
    with pytest.raises(ValueError):
        store.list_executions(flow_id="etl")


def test_concurrent_finishers_exactly_one_wins(store: ExecutionStore, new_execution: NewExecution) -> None:
    # Given a running execution and 20 writers each trying to finish it
    new_execution("e1", state=State.RUNNING)
    finals = [State.SUCCESS, State.FAILED, State.WARNING, State.KILLED]

    def finish(n: int) -> State | None:
        try:
            return store.update_execution("e1", state=finals[n % 4], expected_states=[State.RUNNING]).state
        except ConflictError:
            return None

    with ThreadPoolExecutor(max_workers=20) as pool:
        outcomes = list(pool.map(finish, range(20)))

    # Then exactly one moved it, and the history shows one change
    winners = [state for state in outcomes if state is not None]
    assert len(winners) == 1
    stored = store.get_execution("e1")
    assert stored is not None and stored.state == winners[0]
    assert [change.state for change in stored.state_history] == winners


def test_store_implements_the_protocol(store: ExecutionStore) -> None:
    assert isinstance(store, ExecutionStore)


def test_exit_state_is_recorded_without_moving_the_state(
    store: ExecutionStore, new_execution: NewExecution
) -> None:
    new_execution("e1", state=State.RUNNING)

    updated = store.update_execution("e1", exit_state=State.WARNING)

    assert (updated.state, updated.exit_state) == (State.RUNNING, State.WARNING)
    stored = store.get_execution("e1")
    assert stored is not None and stored.exit_state == State.WARNING and stored.state_history == []


def test_state_names_are_accepted(store: ExecutionStore, new_execution: NewExecution) -> None:
    new_execution("e1")

    running = store.update_execution("e1", state="RUNNING", expected_states=["CREATED"])  # type: ignore[arg-type]

    assert running.state == State.RUNNING and isinstance(running.state, State)
    with pytest.raises(ConflictError):
        store.update_execution("e1", state="SUCCESS", expected_states=["CREATED"])  # type: ignore[arg-type]
